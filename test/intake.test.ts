import { describe, expect, it } from 'vitest';
import { SAMPLES } from '../src/events/samples';
import { sendSigned, setupAgent } from './support/harness';

describe('intake: exactly one workflow per event', () => {
  const t = setupAgent();

  it('starts a workflow for a signed event and runs it to completion on the real worker', async () => {
    const orderId = `ORD-${Date.now()}`;
    const res = await sendSigned(t.receiver.url, 'oms', { ...SAMPLES['order.status_updated'], order_id: orderId });
    expect(res.status).toBe(202);
    expect(res.body.duplicate).toBe(false);
    const workflowId = res.body.workflowId as string;
    expect(workflowId).toBe(`oms:order.status_updated:${orderId}:shipped:2023-10-27T10:30:00Z`);
    const result = await t.env.client.workflow.getHandle(workflowId).result();
    expect(result).toEqual({ applied: true, notified: 'order-shipped' });
  });
});

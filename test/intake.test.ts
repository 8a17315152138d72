import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { connectTestEnv, sendSigned, startAgent, startReceiver, testDatabases, type Agent, type Receiver } from './support/harness';

const shipped = (orderId: string) => ({
  event_type: 'order.status_updated',
  timestamp: '2023-10-27T10:30:00Z',
  order_id: orderId,
  customer_id: 'CUST-67890',
  previous_status: 'processing',
  new_status: 'shipped',
  tracking_number: 'TRK-ABCDEF123',
  carrier: 'FedEx',
  eta: '2023-10-30',
});

describe('intake: exactly one workflow per event', () => {
  let env: TestWorkflowEnvironment;
  let agent: Agent;
  let receiver: Receiver;

  beforeAll(async () => {
    env = await connectTestEnv();
    agent = await startAgent({ env, databaseUrl: testDatabases()[0]!.url() });
    receiver = await startReceiver({ env, taskQueue: agent.taskQueue });
  });
  afterAll(async () => {
    await receiver?.close();
    await agent?.close();
    await env?.teardown();
  });

  it('starts a workflow for a signed event and runs it to completion on the real worker', async () => {
    const orderId = `ORD-${Date.now()}`;
    const res = await sendSigned(receiver.url, 'oms', shipped(orderId));
    expect(res.status).toBe(202);
    expect(res.body.duplicate).toBe(false);
    const workflowId = res.body.workflowId as string;
    expect(workflowId).toBe(`oms:order.status_updated:${orderId}:shipped:2023-10-27T10:30:00Z`);
    const result = await env.client.workflow.getHandle(workflowId).result();
    expect(result).toEqual({ applied: true, notified: 'order-shipped' });
  });
});

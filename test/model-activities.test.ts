import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { createModelActivities, type DraftStep, type ModelActivities } from '../activities/model';
import { createChatModel } from '../src/llm/model';
import { startSandbox, type RunningSandbox } from '../src/sandbox';
import { SAMPLES } from '../src/events/samples';

/** The model's activities in Temporal's activity context, against the sandbox's endpoint over HTTP. */
describe('model activities', () => {
  let sandbox: RunningSandbox;
  let activities: ModelActivities;
  const env = new MockActivityEnvironment();
  const inquiry = { ...SAMPLES['customer.inquiry.new'], summary: 'Where is my order ORD-12345?', message: undefined };

  beforeAll(async () => {
    sandbox = await startSandbox();
    activities = createModelActivities({
      model: createChatModel({ baseUrl: `${sandbox.url}/llm/v1`, model: 'sandbox-model', timeoutMs: 5_000, maxTokens: 256 }),
    });
  });
  afterAll(() => sandbox.close());
  beforeEach(() => sandbox.sandbox.reset());

  it('understands an inquiry and reports what it cost', async () => {
    const result = (await env.run(activities.understandInquiry, { inquiry })) as Awaited<ReturnType<ModelActivities['understandInquiry']>>;
    expect(result.understanding).toMatchObject({ intent: 'order_status', needs_person: false });
    expect(result.usage).toMatchObject({ model: 'sandbox-model' });
    expect(result.usage.tokensIn).toBeGreaterThan(0);
  });

  it('drafts in turns: a lookup first, then the reply from its answer', async () => {
    const first: DraftStep = await env.run(activities.draftTurn, { inquiry, facts: {}, turns: [], allowLookups: true });
    expect(first).toMatchObject({ kind: 'lookups', calls: [{ name: 'lookup_order', arguments: { order_id: 'ORD-12345' } }] });
    if (first.kind !== 'lookups') throw new Error('expected lookups');
    const answer = { order_id: 'ORD-12345', status: 'shipped', eta: '2026-12-04' };
    const second = await env.run(activities.draftTurn, {
      inquiry,
      facts: {},
      turns: [first.assistant, { role: 'tool' as const, tool_call_id: first.calls[0]!.id, content: JSON.stringify(answer) }],
      allowLookups: true,
    });
    expect(second).toMatchObject({ kind: 'reply', text: 'Your order ORD-12345 is shipped. It should arrive by 2026-12-04.' });
    // The last turn may not ask for more: tool_choice none.
    await env.run(activities.draftTurn, { inquiry, facts: {}, turns: [], allowLookups: false });
    expect(sandbox.sandbox.llmRequests().at(-1)).toMatchObject({ tool_choice: 'none' });
  });

  it('a lookup of a tool that does not exist, or with bad arguments, is invalid output', async () => {
    sandbox.sandbox.scriptLlm([
      { tool_calls: [{ name: 'refund_customer', arguments: { amount: 5000 } }] },
      { tool_calls: [{ name: 'lookup_order', arguments: { order: 'ORD-1' } }] },
      { content: '   ' },
    ]);
    for (const expected of [/^model asked for an unknown tool$/, /lookup_order arguments that break its schema/, /empty reply/]) {
      const err = await env.run(activities.draftTurn, { inquiry, facts: {}, turns: [], allowLookups: true }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApplicationFailure);
      expect((err as ApplicationFailure).type).toBe('ModelOutputInvalid');
      expect((err as Error).message).toMatch(expected);
    }
  });
});

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { createModelActivities, type ModelActivities } from '../activities/model';
import { createChatModel } from '../src/llm/model';
import { startSandbox, type RunningSandbox } from '../src/sandbox';
import { SAMPLES } from '../src/events/samples';

/** The model's activities in Temporal's activity context, against the sandbox's endpoint over HTTP. */
describe('model activities', () => {
  let sandbox: RunningSandbox;
  let activities: ModelActivities;
  const env = new MockActivityEnvironment();
  const inquiry = { ...SAMPLES['customer.inquiry.new'], summary: 'Where is my order ORD-12345?', message: undefined };
  const assessment = { facts: { orderId: 'ORD-12345', orderStatus: 'shipped', eta: '2026-12-04' } };
  const run = <I, R>(activity: (input: I) => Promise<R>, input: I): Promise<R> => env.run(activity, input);
  const invalid = async (promise: Promise<unknown>, message: RegExp) => {
    const err = await promise.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe('ModelOutputInvalid');
    expect((err as Error).message).toMatch(message);
  };

  beforeAll(async () => {
    sandbox = await startSandbox();
    activities = createModelActivities({
      model: createChatModel({ baseUrl: `${sandbox.url}/llm/v1`, model: 'sandbox-model', timeoutMs: 5_000, maxTokens: 256 }),
    });
  });
  afterAll(() => sandbox.close());
  beforeEach(() => sandbox.sandbox.reset());

  it('understands an inquiry and reports what it cost', async () => {
    const result = await run(activities.understandInquiry, { inquiry });
    expect(result.understanding).toMatchObject({ intent: 'order_status', needs_person: false });
    expect(result.usage).toMatchObject({ model: 'sandbox-model' });
    expect(result.usage.tokensIn).toBeGreaterThan(0);
  });

  it('chooses a reply by naming facts hookline holds', async () => {
    const result = await run(activities.planReply, { inquiry, assessment });
    expect(result.plan).toEqual({ intent: 'order_status', facts: ['status', 'eta'], opening: 'thanks' });
    expect(sandbox.sandbox.llmRequests().at(-1)).toMatchObject({ response_format: { json_schema: { name: 'reply_plan' } } });
  });

  it('a plan naming a fact hookline does not hold, or breaking the schema, is invalid output', async () => {
    sandbox.sandbox.scriptLlm([
      { content: JSON.stringify({ intent: 'order_status', facts: ['carrier'], opening: 'thanks' }) },
      { content: JSON.stringify({ intent: 'order_status', facts: ['status'], opening: 'thanks', message: 'Refunded!' }) },
      { content: 'Your order has been cancelled and refunded.' },
    ]);
    await invalid(run(activities.planReply, { inquiry, assessment }), /cannot be said: hookline holds no carrier for this order/);
    await invalid(run(activities.planReply, { inquiry, assessment }), /breaks the reply_plan schema/);
    await invalid(run(activities.planReply, { inquiry, assessment }), /not JSON/);
  });

  it('suggests a reply in the model’s words; an empty one, or a tool call instead, is invalid output', async () => {
    const result = await run(activities.suggestReply, { inquiry, assessment });
    expect(result.text).toBe('Thank you for your message. We have it and will follow up shortly.');
    // Free text: no response format, no tools.
    const sent = sandbox.sandbox.llmRequests().at(-1);
    expect(sent?.response_format).toBeUndefined();
    expect(sent?.tools).toBeUndefined();
    sandbox.sandbox.scriptLlm([{ content: '   ' }, { tool_calls: [{ name: 'refund_customer', arguments: { amount: 5000 } }] }]);
    await invalid(run(activities.suggestReply, { inquiry, assessment }), /empty reply/);
    await invalid(run(activities.suggestReply, { inquiry, assessment }), /empty reply/);
  });
});

import { Context } from '@temporalio/activity';
import { ApplicationFailure, type MetricCounter, type MetricHistogram } from '@temporalio/common';
import { planMessages, suggestMessages, understandMessages } from '../src/agent/prompts';
import { planProblem, ReplyPlan, REPLY_PLAN_JSON_SCHEMA } from '../src/agent/reply';
import type { CustomerContext, InquiryAssessment } from '../src/agent/types';
import { Understanding, UNDERSTANDING_JSON_SCHEMA } from '../src/agent/understanding';
import type { CustomerInquiryNew } from '../src/events/schemas';
import { ModelErrorType, type ChatModel, type ModelCall } from '../src/llm/model';

/**
 * The model's activities: one call to the model each, so each has its own timeout and retries
 * (workflows/activities.ts, the `languageModel` profile) and a failure is classified where it
 * happens (src/llm/model.ts). The workflow decides what to do with the answer and what to do when
 * there is none; nothing here sends, writes or promises anything.
 */

/** What one model call cost, for the inquiry's record, its log line and the metrics. */
export interface ModelUsage {
  model: string;
  tokensIn: number;
  tokensOut: number;
  latencyMs: number;
}

/** What a model's answer is given to work from. */
interface AnswerInput {
  inquiry: CustomerInquiryNew;
  customer?: CustomerContext;
  understanding?: Understanding;
  /** The rules' assessment: its facts are what hookline holds about the inquiry's order. */
  assessment: Pick<InquiryAssessment, 'facts'>;
}

/** Within the model profile's heartbeat timeout, with room to spare. */
const HEARTBEAT_EVERY_MS = 2_000;

interface Meters {
  calls: MetricCounter;
  tokens: MetricCounter;
  latency: MetricHistogram;
}

let meters: Meters | undefined;
/** Created once per worker, on the first call (the meter belongs to the running activity's runtime). */
function metersFor(context: Context): Meters {
  meters ??= {
    calls: context.metricMeter.createCounter('hookline_model_calls', 'calls', 'Model calls by step and outcome'),
    tokens: context.metricMeter.createCounter('hookline_model_tokens', 'tokens', 'Tokens sent to (in) and received from (out) the model'),
    latency: context.metricMeter.createHistogram('hookline_model_latency', 'int', 'ms', 'Latency of one model call'),
  };
  return meters;
}

export function createModelActivities(deps: { model: ChatModel }) {
  const { model } = deps;

  /** One model call, heartbeating while it waits, measured whatever its outcome. */
  async function call<T>(
    step: 'understand' | 'plan' | 'suggest',
    run: (signal: AbortSignal) => Promise<ModelCall<T>>,
  ): Promise<ModelCall<T>> {
    const context = Context.current();
    const m = metersFor(context);
    context.heartbeat();
    const beat = setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
    const started = performance.now();
    try {
      const result = await run(context.cancellationSignal);
      m.calls.add(1, { step, outcome: 'ok' });
      m.tokens.add(result.tokensIn, { step, direction: 'in' });
      m.tokens.add(result.tokensOut, { step, direction: 'out' });
      m.latency.record(result.latencyMs, { step });
      return result;
    } catch (err) {
      // Temporal cancelled the attempt (timeout, reset, the workflow gave up): report the
      // cancellation itself, so the worker records a cancelled attempt rather than a model failure.
      if (context.cancellationSignal.aborted) {
        m.calls.add(1, { step, outcome: 'cancelled' });
        throw context.cancellationSignal.reason;
      }
      const type = err instanceof ApplicationFailure ? (err.type ?? 'error') : 'error';
      m.calls.add(1, { step, outcome: type });
      m.latency.record(Math.round(performance.now() - started), { step });
      throw err;
    } finally {
      clearInterval(beat);
    }
  }

  const usage = (c: ModelCall<unknown>): ModelUsage => ({
    model: c.model,
    tokensIn: c.tokensIn,
    tokensOut: c.tokensOut,
    latencyMs: c.latencyMs,
  });

  return {
    /** The model's reading of an inquiry, schema-checked. */
    async understandInquiry(input: {
      inquiry: CustomerInquiryNew;
      customer?: CustomerContext;
    }): Promise<{ understanding: Understanding; usage: ModelUsage }> {
      const result = await call('understand', (signal) =>
        model.structured(
          { messages: understandMessages(input.inquiry, input.customer), temperature: 0 },
          { name: 'inquiry_understanding', schema: Understanding, jsonSchema: UNDERSTANDING_JSON_SCHEMA },
          { signal },
        ),
      );
      return { understanding: { ...result.value, reason: result.value.reason.slice(0, 300) }, usage: usage(result) };
    },

    /**
     * The model's choice of reply, schema-checked and checked against the facts hookline holds: a
     * plan naming a fact hookline does not hold for this order is invalid output, retried like a
     * schema break (the model may do better), then the rules answer.
     */
    async planReply(input: AnswerInput): Promise<{ plan: ReplyPlan; usage: ModelUsage }> {
      const result = await call('plan', (signal) =>
        model.structured(
          { messages: planMessages(input.inquiry, input.customer, input.understanding, input.assessment), temperature: 0 },
          { name: 'reply_plan', schema: ReplyPlan, jsonSchema: REPLY_PLAN_JSON_SCHEMA },
          { signal },
        ),
      );
      const problem = planProblem(result.value, input.assessment);
      if (problem)
        throw ApplicationFailure.create({
          type: ModelErrorType.InvalidOutput,
          message: `model chose a reply that cannot be said: ${problem}`,
        });
      return { plan: result.value, usage: usage(result) };
    },

    /** A reply in the model's own words for the person who takes the inquiry over; never sent as it is. */
    async suggestReply(input: AnswerInput): Promise<{ text: string; usage: ModelUsage }> {
      const messages = suggestMessages(input.inquiry, input.customer, input.understanding, input.assessment);
      const result = await call('suggest', (signal) => model.complete({ messages, temperature: 0.2 }, { signal }));
      const text = result.value.choices[0]!.message.content?.trim() ?? '';
      if (!text) throw ApplicationFailure.create({ type: ModelErrorType.InvalidOutput, message: 'model suggested an empty reply' });
      return { text, usage: usage(result) };
    },
  };
}

export type ModelActivities = ReturnType<typeof createModelActivities>;

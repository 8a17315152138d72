import { Context } from '@temporalio/activity';
import { ApplicationFailure, type MetricCounter, type MetricHistogram } from '@temporalio/common';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { DRAFT_TOOLS, draftMessages, isToolName, TOOL_ARGUMENTS, understandMessages, type ToolName } from '../src/agent/prompts';
import type { CustomerContext } from '../src/agent/types';
import { Understanding, UNDERSTANDING_JSON_SCHEMA } from '../src/agent/understanding';
import type { CustomerInquiryNew } from '../src/events/schemas';
import { ModelErrorType, type ChatModel, type ModelCall } from '../src/llm/model';

/**
 * The model's activities: one call to the model each, so each has its own timeout and retries
 * (workflows/activities.ts, the `model` profile) and a failure is classified where it happens
 * (src/llm/model.ts). The workflow decides what to do with the answer and what to do when there
 * is none; nothing here sends, writes or promises anything.
 */

/** What one model call cost, for the inquiry's record, its log line and the metrics. */
export interface ModelUsage {
  model: string;
  tokensIn: number;
  tokensOut: number;
  latencyMs: number;
}

export type DraftStep =
  | { kind: 'reply'; text: string; usage: ModelUsage }
  | {
      kind: 'lookups';
      calls: { id: string; name: ToolName; arguments: Record<string, string> }[];
      assistant: ChatCompletionMessageParam;
      usage: ModelUsage;
    };

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
  async function call<T>(step: 'understand' | 'draft', run: (signal: AbortSignal) => Promise<ModelCall<T>>): Promise<ModelCall<T>> {
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
     * One turn of drafting: the model either writes the reply or asks for lookups, which the
     * workflow runs as activities and hands back in `messages` for the next turn.
     */
    async draftTurn(input: {
      inquiry: CustomerInquiryNew;
      customer?: CustomerContext;
      understanding?: Understanding;
      facts: Record<string, string>;
      /** The turns so far: the model's lookup requests and their answers. */
      turns: ChatCompletionMessageParam[];
      /** False on the last turn: the model must answer now. */
      allowLookups: boolean;
    }): Promise<DraftStep> {
      const messages = [...draftMessages(input.inquiry, input.customer, input.understanding, input.facts), ...input.turns];
      const result = await call('draft', (signal) =>
        model.complete({ messages, tools: DRAFT_TOOLS, tool_choice: input.allowLookups ? 'auto' : 'none', temperature: 0.2 }, { signal }),
      );
      const message = result.value.choices[0]!.message;
      const requested = (message.tool_calls ?? []).filter((c) => c.type === 'function');
      if (requested.length > 0 && input.allowLookups) {
        const calls = requested.map((c) => {
          const args = parseArguments(c.function.name, c.function.arguments);
          return { id: c.id, name: args.name, arguments: args.value };
        });
        const assistant: ChatCompletionMessageParam = {
          role: 'assistant',
          content: message.content ?? null,
          tool_calls: requested.map((c) => ({
            id: c.id,
            type: 'function',
            function: { name: c.function.name, arguments: c.function.arguments },
          })),
        };
        return { kind: 'lookups', calls, assistant, usage: usage(result) };
      }
      const text = message.content?.trim() ?? '';
      if (!text) throw ApplicationFailure.create({ type: ModelErrorType.InvalidOutput, message: 'model drafted an empty reply' });
      return { kind: 'reply', text, usage: usage(result) };
    },
  };
}

/** A lookup the model asked for, checked against the tool's schema: an unknown tool or bad arguments is invalid output. */
function parseArguments(name: string, raw: string): { name: ToolName; value: Record<string, string> } {
  // The name is the model's choice of words: kept out of the message, which reaches records and logs.
  if (!isToolName(name))
    throw ApplicationFailure.create({
      type: ModelErrorType.InvalidOutput,
      message: 'model asked for an unknown tool',
    });
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw ApplicationFailure.create({ type: ModelErrorType.InvalidOutput, message: `model sent ${name} arguments that are not JSON` });
  }
  const parsed = TOOL_ARGUMENTS[name].safeParse(json);
  if (!parsed.success)
    throw ApplicationFailure.create({ type: ModelErrorType.InvalidOutput, message: `model sent ${name} arguments that break its schema` });
  return { name, value: parsed.data as Record<string, string> };
}

export type ModelActivities = ReturnType<typeof createModelActivities>;

import { ApplicationFailure } from '@temporalio/common';
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import type { ChatCompletion, ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import type { z } from 'zod';

/**
 * The one adapter for any OpenAI-compatible endpoint (OpenAI, Azure OpenAI's v1 API, vLLM,
 * Ollama, llama.cpp's server): the official `openai` client, typed with its own request types,
 * so what hookline sends is what the API documents. It runs inside activities only; Temporal
 * owns retries, so the client's own retries are off and every failure is classified here, where
 * it arises, into a retryable or non-retryable ApplicationFailure.
 *
 * Why not `@temporalio/ai-sdk`: its 1.23.0 pins `@temporalio/*` at exactly 1.23.0 while hookline
 * is on 1.24.0, and two copies of the SDK in one workflow bundle break it; and Vercel's `ai` 7
 * needs Node 22. The model is called from activities either way, which is all that integration
 * would give us here.
 */

export interface ModelConfig {
  /** e.g. https://api.openai.com/v1, http://127.0.0.1:11434/v1 (Ollama). */
  baseUrl: string;
  apiKey?: string;
  model: string;
  /** One call's limit; the activity's start-to-close timeout sits above it. */
  timeoutMs: number;
  /** The most tokens one answer may use. */
  maxTokens: number;
}

/** Error types the model's activities fail with; the workflow's fallbacks key on them. */
export const ModelErrorType = {
  /** 429: retried after the endpoint's Retry-After. */
  RateLimited: 'ModelRateLimited',
  /** 5xx, timeouts, refused connections: retried. */
  Unavailable: 'ModelUnavailable',
  /** 400 (context length, bad parameter), 401, 403, 404: the same request fails again, not retried. */
  Rejected: 'ModelRequestRejected',
  /** The answer was not the JSON asked for, or broke its schema: retried (a model may do better), a few times. */
  InvalidOutput: 'ModelOutputInvalid',
} as const;
export type ModelErrorType = (typeof ModelErrorType)[keyof typeof ModelErrorType];

export interface ModelCall<T> {
  value: T;
  model: string;
  tokensIn: number;
  tokensOut: number;
  latencyMs: number;
}

/** The longest Retry-After worth waiting out inside one inquiry; longer, the rules answer instead. */
export const MAX_RETRY_AFTER_MS = 30_000;

/** Seconds or an HTTP date, as Retry-After allows; `retry-after-ms` (OpenAI's own) first. */
export function retryAfterMs(headers: Headers | undefined, now = Date.now()): number | undefined {
  const ms = Number(headers?.get('retry-after-ms'));
  if (headers?.get('retry-after-ms') && Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers?.get('retry-after');
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/** A failed call to the model, as Temporal should treat it. */
export function classifyModelError(err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof SyntaxError) {
    // The endpoint's body was not JSON at all (a proxy's error page, a truncated answer).
    return ApplicationFailure.create({
      type: ModelErrorType.InvalidOutput,
      message: `model endpoint sent unparseable JSON: ${err.message}`,
    });
  }
  if (err instanceof APIUserAbortError) {
    // The activity was cancelled (timeout or the workflow gave up): retrying is Temporal's call.
    return ApplicationFailure.create({ type: ModelErrorType.Unavailable, message: 'model call cancelled', cause: err });
  }
  if (err instanceof APIConnectionTimeoutError) {
    return ApplicationFailure.create({ type: ModelErrorType.Unavailable, message: 'model call timed out', cause: err });
  }
  if (err instanceof APIConnectionError) {
    return ApplicationFailure.create({ type: ModelErrorType.Unavailable, message: `model unreachable: ${err.message}`, cause: err });
  }
  if (err instanceof APIError) {
    const status = err.status ?? 0;
    const message = `model endpoint answered ${status}: ${err.message}`;
    if (status === 429) {
      const delay = retryAfterMs(err.headers);
      // An endpoint asking for a long wait (a quota, not a burst) is not waited for: the inquiry
      // falls back to the rules now rather than sitting for minutes with its customer waiting.
      if (delay !== undefined && delay > MAX_RETRY_AFTER_MS) {
        return ApplicationFailure.create({
          type: ModelErrorType.RateLimited,
          message: `${message} (Retry-After too long)`,
          nonRetryable: true,
          cause: err,
        });
      }
      return ApplicationFailure.create({
        type: ModelErrorType.RateLimited,
        message,
        cause: err,
        ...(delay !== undefined ? { nextRetryDelay: Math.max(delay, 1) } : {}),
      });
    }
    if (status >= 500 || status === 408 || status === 409) {
      return ApplicationFailure.create({ type: ModelErrorType.Unavailable, message, cause: err });
    }
    return ApplicationFailure.create({ type: ModelErrorType.Rejected, message, nonRetryable: true, cause: err });
  }
  return ApplicationFailure.create({
    type: ModelErrorType.Unavailable,
    message: err instanceof Error ? err.message : String(err),
    cause: err instanceof Error ? err : undefined,
  });
}

export interface ChatModel {
  readonly config: ModelConfig;
  /** One chat completion. Throws a classified ApplicationFailure. */
  complete(
    params: Omit<ChatCompletionCreateParamsNonStreaming, 'model' | 'max_completion_tokens' | 'max_tokens'>,
    options?: { signal?: AbortSignal },
  ): Promise<ModelCall<ChatCompletion>>;
  /** A completion whose content must be JSON matching `schema`, asked for with `response_format: json_schema`. */
  structured<S extends z.ZodType>(
    params: Omit<ChatCompletionCreateParamsNonStreaming, 'model' | 'max_completion_tokens' | 'max_tokens' | 'response_format'>,
    format: { name: string; schema: S; jsonSchema: Record<string, unknown> },
    options?: { signal?: AbortSignal },
  ): Promise<ModelCall<z.output<S>>>;
}

export function createChatModel(config: ModelConfig, clock: () => number = () => performance.now()): ChatModel {
  const client = new OpenAI({
    baseURL: config.baseUrl,
    // Local servers (Ollama, llama.cpp) take no key; the client insists on a string.
    apiKey: config.apiKey ?? 'unused',
    timeout: config.timeoutMs,
    maxRetries: 0,
  });

  async function complete(
    params: Omit<ChatCompletionCreateParamsNonStreaming, 'model' | 'max_completion_tokens' | 'max_tokens'>,
    options: { signal?: AbortSignal } = {},
  ): Promise<ModelCall<ChatCompletion>> {
    const started = clock();
    let completion: ChatCompletion;
    try {
      // max_tokens, not max_completion_tokens: the one every OpenAI-compatible server knows.
      completion = await client.chat.completions.create(
        { ...params, model: config.model, max_tokens: config.maxTokens },
        { signal: options.signal },
      );
    } catch (err) {
      throw classifyModelError(err);
    }
    if (
      !Array.isArray(completion?.choices) ||
      typeof completion.choices[0]?.message !== 'object' ||
      completion.choices[0].message === null
    ) {
      throw ApplicationFailure.create({ type: ModelErrorType.InvalidOutput, message: 'model answer has no message' });
    }
    return {
      value: completion,
      model: completion.model ?? config.model,
      tokensIn: completion.usage?.prompt_tokens ?? 0,
      tokensOut: completion.usage?.completion_tokens ?? 0,
      latencyMs: Math.round(clock() - started),
    };
  }

  return {
    config,
    complete,
    async structured(params, format, options) {
      const call = await complete(
        {
          ...params,
          response_format: { type: 'json_schema', json_schema: { name: format.name, schema: format.jsonSchema, strict: true } },
        },
        options,
      );
      const content = call.value.choices[0]?.message.content ?? '';
      let json: unknown;
      try {
        json = JSON.parse(content);
      } catch {
        throw ApplicationFailure.create({
          type: ModelErrorType.InvalidOutput,
          message: `model answer is not JSON (${content.length} chars)`,
        });
      }
      const parsed = format.schema.safeParse(json);
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(answer)'}: ${i.message}`).join('; ');
        throw ApplicationFailure.create({
          type: ModelErrorType.InvalidOutput,
          message: `model answer breaks the ${format.name} schema: ${issues}`,
        });
      }
      return { ...call, value: parsed.data };
    },
  };
}

import { z } from 'zod';

/**
 * SANDBOX: an OpenAI-compatible chat completions endpoint (`POST /llm/v1/chat/completions`), so
 * hookline's model path runs in tests and `npm start` without a real model. It is a script, not
 * a model: answers come from a queue tests fill (`POST /_sandbox/llm/script`), else from a few
 * transparent rules (below) good enough to drive the sample inquiries end to end. Faults (429
 * with Retry-After, 500, hangs, resets) come from the sandbox's fault book like any system's;
 * malformed and schema-violating output are scripted answers.
 */

/**
 * The request body, checked the way the OpenAI API checks it: known fields only (an unknown
 * one is a 400 there too), each with its documented shape. hookline's adapter is typed with the
 * `openai` package's own request types; this catches what those types cannot (values built at
 * run time), so a request the sandbox accepts is one a real endpoint accepts.
 */
const TextPart = z.object({ type: z.literal('text'), text: z.string() }).strict();
const Content = z.union([z.string(), z.array(TextPart)]);
const ToolCall = z
  .object({
    id: z.string().min(1),
    type: z.literal('function'),
    function: z.object({ name: z.string().min(1), arguments: z.string() }).strict(),
  })
  .strict();
const Message = z.discriminatedUnion('role', [
  z.object({ role: z.literal('system'), content: Content, name: z.string().optional() }).strict(),
  z.object({ role: z.literal('developer'), content: Content, name: z.string().optional() }).strict(),
  z.object({ role: z.literal('user'), content: Content, name: z.string().optional() }).strict(),
  z
    .object({
      role: z.literal('assistant'),
      content: Content.nullable().optional(),
      tool_calls: z.array(ToolCall).optional(),
      name: z.string().optional(),
      refusal: z.string().nullable().optional(),
    })
    .strict(),
  z.object({ role: z.literal('tool'), content: Content, tool_call_id: z.string().min(1) }).strict(),
]);
const FunctionName = z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'function names are 1-64 of a-z, A-Z, 0-9, _ and -');
const Tool = z
  .object({
    type: z.literal('function'),
    function: z
      .object({
        name: FunctionName,
        description: z.string().optional(),
        parameters: z.record(z.string(), z.unknown()).optional(),
        strict: z.boolean().nullable().optional(),
      })
      .strict(),
  })
  .strict();
const ResponseFormat = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }).strict(),
  z.object({ type: z.literal('json_object') }).strict(),
  z
    .object({
      type: z.literal('json_schema'),
      json_schema: z
        .object({
          name: FunctionName,
          description: z.string().optional(),
          schema: z.record(z.string(), z.unknown()).optional(),
          strict: z.boolean().nullable().optional(),
        })
        .strict(),
    })
    .strict(),
]);
export const ChatCompletionRequest = z
  .object({
    model: z.string().min(1),
    messages: z.array(Message).min(1),
    tools: z.array(Tool).optional(),
    tool_choice: z
      .union([
        z.enum(['none', 'auto', 'required']),
        z.object({ type: z.literal('function'), function: z.object({ name: FunctionName }).strict() }).strict(),
      ])
      .optional(),
    parallel_tool_calls: z.boolean().optional(),
    response_format: ResponseFormat.optional(),
    max_tokens: z.number().int().positive().nullable().optional(),
    max_completion_tokens: z.number().int().positive().nullable().optional(),
    temperature: z.number().min(0).max(2).nullable().optional(),
    top_p: z.number().min(0).max(1).nullable().optional(),
    seed: z.number().int().nullable().optional(),
    user: z.string().optional(),
    stream: z.literal(false).nullable().optional(),
    n: z.literal(1).nullable().optional(),
  })
  .strict();
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequest>;

/** One scripted answer: text, tool calls, or a raw body (for output that is not even JSON). */
export const ScriptedAnswer = z
  .object({
    content: z.string().optional(),
    tool_calls: z.array(z.object({ name: FunctionName, arguments: z.record(z.string(), z.unknown()) }).strict()).optional(),
    finish_reason: z.enum(['stop', 'length', 'tool_calls', 'content_filter']).optional(),
    /** Sent as the whole response body, as is (`{"choices": [` — truncated JSON). */
    raw: z.string().optional(),
    /**
     * Served only to a request whose messages contain this text (an order ID, say), so tests
     * running many conversations at once each script their own; without it, to the next request.
     */
    match: z.string().min(1).optional(),
    /**
     * Served only to requests of this kind: the `response_format` JSON schema's name
     * (`inquiry_understanding`, `reply_plan`) or `text` for a plain completion. Without it, to a
     * request of any kind; with it, an answer meant for one call can never be taken by another,
     * such as a retry of an earlier call whose answer was lost on its way back.
     */
    format: z.string().min(1).optional(),
    /** How many requests this answer serves before it is used up (every attempt of a retried call). */
    times: z.number().int().positive().default(1),
  })
  .strict()
  .refine((a) => a.content !== undefined || a.tool_calls !== undefined || a.raw !== undefined, 'needs content, tool_calls or raw');
export type ScriptedAnswer = z.input<typeof ScriptedAnswer>;

export interface LlmReply {
  status: number;
  body?: unknown;
  raw?: string;
}

export interface LlmSandbox {
  answer(body: unknown): LlmReply;
  /** Queue answers, served first in first out (each to the requests it matches) before the rules apply. */
  script(answers: unknown): number;
  /** Every request received, in order (for tests to read what the adapter sent). */
  requests(): ChatCompletionRequest[];
  reset(): void;
}

const text = (content: z.infer<typeof Content> | null | undefined): string =>
  typeof content === 'string' ? content : (content ?? []).map((p) => p.text).join('');

/** A rough token count (4 characters a token), so usage figures move with the request's size. */
const tokens = (s: string) => Math.max(1, Math.ceil(s.length / 4));

const INTENTS: [RegExp, string][] = [
  [/\b(complain\w*|angry|furious|terrible|awful|unacceptable|worst|lawyer|scam|disappointed)\b/i, 'complaint'],
  [/\b(refund\w*|money back|chargeback)\b/i, 'refund'],
  [/\b(return\w*|send (it )?back)\b/i, 'return'],
  [/\b(where|status|track\w*|ship\w*|deliver\w*|arriv\w*|eta)\b/i, 'order_status'],
];

/**
 * The rules standing in for a model: an understanding from keywords; a reply plan stating every
 * fact of the order hookline sent (or asking for the order number when it sent none); and, asked
 * for free text, a holding reply. The customer's text is read only from the last user message, as
 * a model would see it.
 */
function ruleAnswer(request: ChatCompletionRequest): { content: string } {
  const lastUser = [...request.messages].reverse().find((m) => m.role === 'user');
  // What the customer wrote: hookline sends it as `customer_message` inside JSON data; anything
  // else is read whole. The rest of the data (order lists, statuses) is not the customer talking.
  const raw = text(lastUser?.content);
  const data = safeJson(raw) as
    | { customer_message?: unknown; inquiry?: { customer_message?: unknown }; known_order?: { facts?: Record<string, unknown> } | null }
    | undefined;
  const message = data?.customer_message ?? data?.inquiry?.customer_message;
  const said = typeof message === 'string' ? message : raw;
  const format = request.response_format;
  if (format?.type === 'json_schema' && format.json_schema.name === 'reply_plan') {
    const facts = Object.keys(data?.known_order?.facts ?? {});
    return {
      content: JSON.stringify(
        facts.length > 0
          ? { intent: 'order_status', facts, opening: 'thanks' }
          : { intent: 'ask_for_order_number', facts: [], opening: 'thanks' },
      ),
    };
  }
  if (format?.type === 'json_schema' || format?.type === 'json_object') {
    const intent = INTENTS.find(([re]) => re.test(said))?.[1] ?? 'other';
    const angry = intent === 'complaint';
    return {
      content: JSON.stringify({
        intent,
        sentiment: angry ? 'negative' : 'neutral',
        urgency: angry ? 'high' : 'normal',
        needs_person: angry || intent === 'refund',
        reason: angry ? 'the customer is upset' : intent === 'refund' ? 'money is involved' : 'a routine question',
      }),
    };
  }
  return { content: 'Thank you for your message. We have it and will follow up shortly.' };
}

/** The kind of answer a request asks for: its JSON schema's name, `json_object`, or `text`. */
function formatOf(request: ChatCompletionRequest): string {
  const format = request.response_format;
  if (format?.type === 'json_schema') return format.json_schema.name;
  return format?.type ?? 'text';
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

export function createLlmSandbox(now: () => Date = () => new Date()): LlmSandbox {
  const queue: z.output<typeof ScriptedAnswer>[] = [];
  const received: ChatCompletionRequest[] = [];
  let seq = 0;

  return {
    script(answers) {
      const list = z.array(ScriptedAnswer).parse(Array.isArray(answers) ? answers : [answers]);
      queue.push(...list);
      return queue.length;
    },
    requests: () => received.map((r) => structuredClone(r)),
    reset() {
      queue.length = 0;
      received.length = 0;
    },
    answer(body) {
      const parsed = ChatCompletionRequest.safeParse(body);
      if (!parsed.success) {
        const message = parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
        return { status: 400, body: { error: { message, type: 'invalid_request_error', param: null, code: null } } };
      }
      const request = parsed.data;
      received.push(request);
      const prompt = request.messages.map((m) => ('content' in m ? text(m.content) : '')).join('\n');
      const kind = formatOf(request);
      const next = queue.findIndex(
        (a) => (a.match === undefined || prompt.includes(a.match)) && (a.format === undefined || a.format === kind),
      );
      const scripted = next === -1 ? undefined : queue[next];
      if (scripted && --scripted.times === 0) queue.splice(next, 1);
      if (scripted?.raw !== undefined) return { status: 200, raw: scripted.raw };
      const answer = scripted ?? ruleAnswer(request);
      const id = `chatcmpl-sandbox-${++seq}`;
      const toolCalls = scripted?.tool_calls?.map((c, i) => ({
        id: `call_${seq}_${i}`,
        type: 'function' as const,
        function: { name: c.name, arguments: JSON.stringify(c.arguments) },
      }));
      const completion = answer.content ?? JSON.stringify(toolCalls ?? []);
      return {
        status: 200,
        body: {
          id,
          object: 'chat.completion',
          created: Math.floor(now().getTime() / 1000),
          model: request.model,
          choices: [
            {
              index: 0,
              message: {
                role: 'assistant',
                content: answer.content ?? null,
                refusal: null,
                ...(toolCalls ? { tool_calls: toolCalls } : {}),
              },
              finish_reason: scripted?.finish_reason ?? (toolCalls ? 'tool_calls' : 'stop'),
              logprobs: null,
            },
          ],
          usage: {
            prompt_tokens: tokens(prompt),
            completion_tokens: tokens(completion),
            total_tokens: tokens(prompt) + tokens(completion),
          },
        },
      };
    },
  };
}

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
  /** Queue answers, served first in first out before the rules apply. */
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
 * The rules standing in for a model: an understanding from keywords; an order lookup when the
 * question names an order and no tool has answered yet; then a reply from the tool's answer.
 * The customer's text is read only from the last user message, as a model would see it.
 */
function ruleAnswer(request: ChatCompletionRequest): { content?: string; toolCalls?: { name: string; arguments: object }[] } {
  const lastUser = [...request.messages].reverse().find((m) => m.role === 'user');
  // What the customer wrote: hookline sends it as `customer_message` inside JSON data; anything
  // else is read whole. The rest of the data (order lists, statuses) is not the customer talking.
  const raw = text(lastUser?.content);
  const data = safeJson(raw) as
    { customer_message?: unknown; order_id?: unknown; inquiry?: { customer_message?: unknown; order_id?: unknown } } | undefined;
  const message = data?.customer_message ?? data?.inquiry?.customer_message;
  const named = data?.order_id ?? data?.inquiry?.order_id;
  const said = typeof message === 'string' ? `${message} ${typeof named === 'string' ? named : ''}` : raw;
  const format = request.response_format;
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
  const toolResults = request.messages.filter((m) => m.role === 'tool').map((m) => text(m.content));
  const orderId = /\bORD-[A-Z0-9-]+\b/.exec(said)?.[0];
  const lookup = request.tool_choice === 'none' ? undefined : request.tools?.find((t) => t.function.name === 'lookup_order');
  if (toolResults.length === 0 && lookup && orderId) return { toolCalls: [{ name: 'lookup_order', arguments: { order_id: orderId } }] };
  const order = toolResults.map((r) => safeJson(r)).find((r): r is Record<string, unknown> => typeof r === 'object' && r !== null);
  if (order && typeof order.status === 'string') {
    const eta = typeof order.eta === 'string' ? ` It should arrive by ${order.eta}.` : '';
    return { content: `Your order ${String(order.order_id ?? orderId ?? '')} is ${order.status.replace(/_/g, ' ')}.${eta}` };
  }
  return { content: 'Thank you for your message. We have it and will follow up shortly.' };
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
      const scripted = queue.shift();
      if (scripted?.raw !== undefined) return { status: 200, raw: scripted.raw };
      const answer = scripted ? { content: scripted.content, toolCalls: scripted.tool_calls } : ruleAnswer(request);
      const id = `chatcmpl-sandbox-${++seq}`;
      const toolCalls = answer.toolCalls?.map((c, i) => ({
        id: `call_${seq}_${i}`,
        type: 'function' as const,
        function: { name: c.name, arguments: JSON.stringify(c.arguments) },
      }));
      const prompt = request.messages.map((m) => ('content' in m ? text(m.content) : '')).join('\n');
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

import { z } from 'zod';

/**
 * What the model makes of an inquiry. It informs the agent; it never overrides the hard rules
 * (src/agent/policy.ts): a refund over the threshold, a repeat contact, a complaint or an
 * unknown customer reaches a person whatever the model says.
 */
export const INTENTS = ['order_status', 'return', 'refund', 'complaint', 'other'] as const;
export const SENTIMENTS = ['positive', 'neutral', 'negative'] as const;
export const URGENCIES = ['low', 'normal', 'high'] as const;

export const Understanding = z.strictObject({
  intent: z.enum(INTENTS),
  sentiment: z.enum(SENTIMENTS),
  urgency: z.enum(URGENCIES),
  needs_person: z.boolean(),
  /** Cut to 300 characters where it is kept; no maxLength, which strict structured output does not take. */
  reason: z.string(),
});
export type Understanding = z.infer<typeof Understanding>;

/** The JSON Schema sent as `response_format` (strict: every field required, nothing else allowed). */
export const UNDERSTANDING_JSON_SCHEMA: Record<string, unknown> = (() => {
  // `$schema` is not part of what OpenAI's json_schema response format accepts.
  const { $schema: _, ...schema } = z.toJSONSchema(Understanding, { target: 'draft-7' }) as Record<string, unknown>;
  return schema;
})();

export type VerificationFailure =
  | 'missing-header' // the scheme's header(s) are absent
  | 'malformed-header' // present but unparsable
  | 'timestamp-too-old'
  | 'timestamp-too-new'
  | 'no-secret' // the source has no secret configured: refuse everything
  | 'bad-signature';

// Fixed wording per reason, so nothing derived from a secret or an expected signature can leak into a response.
const MESSAGES: Record<VerificationFailure, string> = {
  'missing-header': 'Missing webhook signature header',
  'malformed-header': 'Malformed webhook signature header',
  'timestamp-too-old': 'Webhook timestamp is too old',
  'timestamp-too-new': 'Webhook timestamp is too far in the future',
  'no-secret': 'No webhook secret is configured for this source',
  'bad-signature': 'No matching webhook signature',
};

/** Thrown by verifyWebhook(). `message` is safe to show a sender: it never includes secrets or the expected signature. */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';

  constructor(
    readonly reason: VerificationFailure,
    message: string = MESSAGES[reason],
  ) {
    super(message);
  }
}

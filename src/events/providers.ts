/**
 * The providers whose payloads hookline reads (src/providers/, one folder each), by name. The
 * names sit down here, beside the built-in senders' names, so an envelope can say which provider's
 * payload it was read from without the events layer knowing the providers.
 */
export const PROVIDER_NAMES = ['hookline', 'shopify', 'stripe', 'easypost', 'zendesk'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

export function isProviderName(value: unknown): value is ProviderName {
  return typeof value === 'string' && (PROVIDER_NAMES as readonly string[]).includes(value);
}

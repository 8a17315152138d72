import { PROVIDER_NAMES, type ProviderName } from '../events/providers';
import { easypost } from './easypost';
import { hookline } from './hookline';
import { shopify } from './shopify';
import { stripe } from './stripe';
import type { Provider } from './types';
import { zendesk } from './zendesk';

export { isProviderName, PROVIDER_NAMES, type ProviderName } from '../events/providers';
export type { Example, Handler, Ignore, MapContext, Mapped, Provider } from './types';
export { UnmappableError } from './types';

/**
 * Every provider hookline reads, by name: a new provider is a folder and one line here, and one
 * left out (or missing a piece of {@link Provider}) is a compile error.
 */
export const PROVIDERS = {
  hookline,
  shopify,
  stripe,
  easypost,
  zendesk,
} as const satisfies Record<ProviderName, Provider>;

/**
 * The providers with a built-in source of their own (`/webhooks/<name>`), enabled when
 * WEBHOOK_SECRET_<NAME> is set. hookline's own format has the seed's four sources instead.
 */
export const PROVIDER_SOURCE_NAMES = PROVIDER_NAMES.filter((name) => name !== 'hookline') as Exclude<ProviderName, 'hookline'>[];

export function providerOf(name: ProviderName): Provider {
  return PROVIDERS[name];
}

import { z } from 'zod';
import { ConfigError, duration, envSuffix, parseEnv, url, type Env } from '../config/env';
import { loadShopifyConfig } from '../config/providers';
import type { SourceConfig } from '../receiver/sources';

/**
 * Which sources the reconciler asks their provider about, and how often. A source is reconciled
 * when its provider has an API to list its events and hookline holds a key for it:
 *
 * - Stripe sources: STRIPE_API_KEY_<SOURCE>, else STRIPE_API_KEY (the outbound key: a restricted
 *   key needs `Events: read` as well); STRIPE_API_BASE_URL_<SOURCE>, else STRIPE_API_BASE_URL.
 * - EasyPost sources: EASYPOST_API_KEY_<SOURCE>, else EASYPOST_API_KEY; EASYPOST_API_BASE_URL_<SOURCE>,
 *   else EASYPOST_API_BASE_URL (up to `/v2`).
 * - Zendesk sources: ZENDESK_API_TOKEN, ZENDESK_EMAIL, ZENDESK_SUBDOMAIN (each _<SOURCE> first, as
 *   above: the credentials the agent answers tickets with; the token's agent must be an admin to
 *   read the incremental export); ZENDESK_API_BASE_URL_<SOURCE>, else ZENDESK_API_BASE_URL.
 * - Shopify sources: the shop the agent acts in (SHOPIFY_SHOP_DOMAIN_<SOURCE> + SHOPIFY_ADMIN_TOKEN_<SOURCE>,
 *   else SHOPIFY_SHOP_DOMAIN + SHOPIFY_ADMIN_TOKEN; SHOPIFY_API_BASE_URL), read as src/config/providers.ts
 *   reads them for the agent. The token needs `read_orders`, `read_returns` and `read_customers`, and
 *   `read_all_orders` for orders created more than 60 days ago.
 * - RECONCILE_EVERY_<SOURCE>, else RECONCILE_EVERY (default 5m): the schedule's interval; `off`
 *   leaves the source out.
 * - RECONCILE_OVERLAP (default 2m): how far a pass reaches back before its cursor, for events the
 *   provider lists a little after they happened. RECONCILE_FIRST_LOOKBACK (default 1h): where a
 *   source's first pass starts.
 */
export interface ReconcileSourceConfig {
  source: Pick<SourceConfig, 'name' | 'provider' | 'eventTypes' | 'orderKey'>;
  provider: ReconciledProvider;
  everyMs: number;
  /** The provider API's key and base URL for this source. */
  api: { apiKey: string; baseUrl?: string; timeoutMs: number };
  /** Zendesk's: the agent the API token belongs to, and the account's subdomain. */
  zendesk?: { email: string; subdomain: string };
  /** Shopify's: the shop (`api.apiKey` is its Admin API access token). */
  shopify?: { shopDomain: string };
}

/** The providers with an API to list their events. */
export type ReconciledProvider = 'stripe' | 'easypost' | 'zendesk' | 'shopify';
const RECONCILED: readonly string[] = ['stripe', 'easypost', 'zendesk', 'shopify'] satisfies ReconciledProvider[];

const KEYS: Record<Exclude<ReconciledProvider, 'shopify'>, { variable: string; pattern: RegExp; expected: string }> = {
  stripe: { variable: 'STRIPE_API_KEY', pattern: /^(sk|rk)_(test|live)_\S+$/, expected: 'a secret key (sk_…) or a restricted key (rk_…)' },
  easypost: { variable: 'EASYPOST_API_KEY', pattern: /^\S{8,}$/, expected: 'an EasyPost API key (EZAK… or EZTK…)' },
  zendesk: { variable: 'ZENDESK_API_TOKEN', pattern: /^\S{8,}$/, expected: 'a Zendesk API token' },
};
const BASE_URLS: Record<Exclude<ReconciledProvider, 'shopify'>, string> = {
  stripe: 'STRIPE_API_BASE_URL',
  easypost: 'EASYPOST_API_BASE_URL',
  zendesk: 'ZENDESK_API_BASE_URL',
};

export interface ReconcileConfig {
  sources: ReadonlyMap<string, ReconcileSourceConfig>;
  overlapMs: number;
  firstLookbackMs: number;
}

const Common = z.object({
  RECONCILE_EVERY: duration('5m'),
  RECONCILE_OVERLAP: duration('2m'),
  RECONCILE_FIRST_LOOKBACK: duration('1h'),
  PROVIDER_TIMEOUT: duration('10s'),
});

export function loadReconcileConfig(env: Env, sources: Iterable<SourceConfig>): ReconcileConfig {
  const common = parseEnv(Common, env);
  const reconciled = new Map<string, ReconcileSourceConfig>();
  // Read once, and only when there is a Shopify source (the agent's configuration reads the same variables).
  let shopify: ReturnType<typeof loadShopifyConfig> | null = null;
  for (const source of sources) {
    if (!RECONCILED.includes(source.provider)) continue;
    const provider = source.provider as ReconciledProvider;
    const suffix = envSuffix(source.name);
    /** A per-source variable, else the shared one. */
    const pick = (variable: string) => (env[`${variable}_${suffix}`] !== undefined ? `${variable}_${suffix}` : variable);
    const everyVar = `RECONCILE_EVERY_${suffix}`;
    const every = env[everyVar]?.trim();
    if (every === 'off') continue;
    const everyMs = every ? parseEnv(z.object({ [everyVar]: duration('5m') }), env)[everyVar]! : common.RECONCILE_EVERY;
    const base = { name: source.name, provider: source.provider, eventTypes: source.eventTypes, orderKey: source.orderKey };
    if (provider === 'shopify') {
      if (shopify === null) shopify = loadShopifyConfig(env);
      // Its own shop, else the provider-wide one; with neither it is not reconciled, as a source without its key is not.
      const shop = shopify?.shops[source.name] ?? shopify?.shops.default;
      if (!shop) continue;
      reconciled.set(source.name, {
        source: base,
        provider,
        everyMs: everyMs as number,
        api: { apiKey: shop.accessToken, ...(shopify?.baseUrl ? { baseUrl: shopify.baseUrl } : {}), timeoutMs: shopify!.timeoutMs },
        shopify: { shopDomain: shop.shopDomain },
      });
      continue;
    }
    const key = KEYS[provider];
    const keyVar = env[`${key.variable}_${suffix}`] !== undefined ? `${key.variable}_${suffix}` : key.variable;
    const apiKey = env[keyVar]?.trim();
    if (!apiKey) continue;
    if (!key.pattern.test(apiKey)) throw new ConfigError(`${keyVar}: expected ${key.expected}`);
    const baseName = BASE_URLS[provider];
    const baseVar = env[`${baseName}_${suffix}`] !== undefined ? `${baseName}_${suffix}` : baseName;
    const baseUrl = env[baseVar]?.trim();
    if (baseUrl && !url('a URL').safeParse(baseUrl).success) throw new ConfigError(`${baseVar}: expected the API's base URL`);
    let zendesk: ReconcileSourceConfig['zendesk'];
    if (provider === 'zendesk') {
      const emailVar = pick('ZENDESK_EMAIL');
      const subdomainVar = pick('ZENDESK_SUBDOMAIN');
      const email = env[emailVar]?.trim();
      const subdomain = env[subdomainVar]?.trim();
      if (!email || !/^[^\s@]+@[^\s@]+$/.test(email))
        throw new ConfigError(`${emailVar}: expected the email of the Zendesk agent the API token belongs to`);
      if (!subdomain || !/^[a-z0-9][a-z0-9-]*$/i.test(subdomain))
        throw new ConfigError(`${subdomainVar}: expected the account's subdomain (<subdomain>.zendesk.com)`);
      zendesk = { email, subdomain };
    }
    reconciled.set(source.name, {
      source: base,
      provider,
      everyMs: everyMs as number,
      api: { apiKey, ...(baseUrl ? { baseUrl } : {}), timeoutMs: common.PROVIDER_TIMEOUT },
      ...(zendesk ? { zendesk } : {}),
    });
  }
  return { sources: reconciled, overlapMs: common.RECONCILE_OVERLAP, firstLookbackMs: common.RECONCILE_FIRST_LOOKBACK };
}

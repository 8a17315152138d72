import { ConfigError, type Env } from './env';
import { shopDomains, type OutboundProvidersConfig } from './providers';
import { PARTNERS, type Partner } from '../../workflows/contracts/partners';

/**
 * A partner's rate: activities a second the server hands out from its queue, or undefined for no
 * limit of ours (the server's own default, about 100,000 a second).
 */
export type PartnerRates = Record<Partner, number | undefined>;

/**
 * Defaults, in activities a second. Each partner activity makes one request, except an EasyPost
 * label (a shipment, its purchase and a tracker: three requests, plus a CRM read for the address).
 *
 * - `payments` through Stripe: 25/s. Stripe allows 100 requests a second in live mode and 25 in
 *   test mode for the whole account, and 25 a second to any one endpoint unless it says otherwise
 *   (docs.stripe.com/rate-limits); the queue carries refunds and payment lookups, so 25 keeps both
 *   modes and every endpoint inside its limit.
 * - `carrier` through EasyPost: 5/s. EasyPost publishes a fixed 5 requests a second for its index
 *   endpoints and limits buying and rating by its own load, answering 429 when it must
 *   (docs.easypost.com/guides/rate-limiting-guide).
 * - `store`, the Shopify Admin API: 2/s for each shop. Its GraphQL limit is a cost bucket per app and shop, 100
 *   points a second on the Standard plan (shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits);
 *   an order read with its fulfillments, returns and transactions costs tens of points, so about two
 *   such calls a second keep a Standard shop's bucket from emptying. The client also waits on the
 *   bucket's own `throttleStatus`, so a bigger plan only needs a higher rate here.
 * - `helpdesk`, Zendesk's API: 3/s, its lowest plan's 200 requests a minute (Team; 400 and 700 on
 *   the larger ones, 2,500 with its High Volume add-on: developer.zendesk.com/api-reference/
 *   introduction/rate-limits). A 429 still waits out its `Retry-After`.
 * - The seed's systems (src/clients: CRM, carrier, warehouse, inventory, payments) publish none:
 *   10/s each, a limit to raise to what the real system allows.
 */
export function defaultPartnerRates(providers: OutboundProvidersConfig = {}): PartnerRates {
  return {
    crm: 10,
    carrier: providers.easypost ? 5 : 10,
    warehouse: 10,
    inventory: 10,
    payments: providers.stripe ? 25 : 10,
    store: 2,
    helpdesk: 3,
  };
}

/**
 * How many shops the per-shop partners' queue serves (workflows/contracts/partners.ts): the distinct
 * Shopify shops configured, provider-wide and per source, at least one. The queue as a whole is
 * paced at the store's rate times this, each shop at the rate.
 */
export function shopsConfigured(providers: OutboundProvidersConfig = {}): number {
  return Math.max(1, new Set(Object.values(shopDomains(providers.shopify?.shops))).size);
}

const UNIT_SECONDS: Record<string, number> = { s: 1, sec: 1, m: 60, min: 60, h: 3600 };

/** `25`, `25/s`, `700/min`, `off` → activities a second (`off`: undefined); null when unreadable. */
export function parsePartnerRate(text: string): number | undefined | null {
  const value = text.trim().toLowerCase();
  if (value === 'off') return undefined;
  const match = /^(\d+(?:\.\d+)?)(?:\s*\/\s*(s|sec|m|min|h))?$/.exec(value);
  if (!match) return null;
  const rate = Number(match[1]) / UNIT_SECONDS[match[2] ?? 's']!;
  return rate > 0 && Number.isFinite(rate) ? rate : null;
}

/**
 * `PARTNER_RATE_<PARTNER>` (e.g. `PARTNER_RATE_PAYMENTS=25`, `PARTNER_RATE_CRM=700/min`,
 * `PARTNER_RATE_CARRIER=off`) over the defaults for the providers configured. Every worker
 * process applies them to the partners' queues at start, so they belong in every worker's
 * environment alike.
 */
export function loadPartnerRates(env: Env, providers: OutboundProvidersConfig = {}): PartnerRates {
  const rates = defaultPartnerRates(providers);
  const problems: string[] = [];
  for (const partner of PARTNERS) {
    const name = `PARTNER_RATE_${partner.toUpperCase()}`;
    const text = env[name]?.trim();
    if (!text) continue;
    const rate = parsePartnerRate(text);
    if (rate === null)
      problems.push(`  ${name}: expected requests a second (25), a rate per period (700/min) or off (got ${JSON.stringify(text)})`);
    else rates[partner] = rate;
  }
  if (problems.length > 0) throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);
  return rates;
}

import { z } from 'zod';
import { ConfigError, duration, envSuffix, parseEnv, positiveInt, shownValue, url, type Env } from './env';

/**
 * Which outside systems the agent acts through, from what is configured: a provider with its
 * credentials is used for the steps it serves, one without is not, and a step the agent must take
 * through a provider that has none is a start-up error naming the variable, not a failure at 3 a.m.
 *
 * - Stripe (STRIPE_API_KEY): refunds of payments that came through Stripe (their ids are Stripe's,
 *   `pi_…`/`ch_…`), and a dispute's order looked up through its charge and payment intent.
 *   Required when Stripe's webhooks are enabled (WEBHOOK_SECRET_STRIPE, or a source with
 *   WEBHOOK_PROVIDER_<SOURCE>=stripe): those payments can be refunded nowhere else.
 * - EasyPost (EASYPOST_API_KEY + EASYPOST_RETURN_ADDRESS_ID): every return label, bought from
 *   EasyPost, voided there when the return is undone, with a tracker for the parcel. A test-mode
 *   return (a provider's test event, a Shopify test order) buys its label in EasyPost's test mode:
 *   with EASYPOST_TEST_API_KEY (EZTK…) + EASYPOST_TEST_RETURN_ADDRESS_ID when set (EasyPost keeps
 *   each mode's addresses apart), else with EASYPOST_API_KEY if that is itself a test key; never
 *   with a production key (EZAK…), which refuses the label for a person to see.
 * - Shopify (SHOPIFY_SHOP_DOMAIN + SHOPIFY_ADMIN_TOKEN, per source SHOPIFY_SHOP_DOMAIN_<SOURCE> +
 *   SHOPIFY_ADMIN_TOKEN_<SOURCE>, the provider-wide pair as the default): the order read (fulfillments,
 *   tracking, returns, payments) for enrichment and the return policy's facts, refunds of orders
 *   Shopify took the payment for, and a person's decision on a return shown in the store (approved
 *   or declined). Required for every source that delivers Shopify's webhooks (WEBHOOK_SECRET_SHOPIFY,
 *   or WEBHOOK_PROVIDER_<SOURCE>=shopify): its returns are decided in its store.
 * - Zendesk (ZENDESK_SUBDOMAIN + ZENDESK_EMAIL + ZENDESK_API_TOKEN): the requester and their earlier
 *   tickets for an inquiry that is a Zendesk ticket, and the agent's answers posted on the ticket.
 *   Required when Zendesk's webhooks are enabled (WEBHOOK_SECRET_ZENDESK, or WEBHOOK_PROVIDER_<SOURCE>=zendesk).
 * Unset, the steps use the seed's systems (CARRIER_BASE_URL, PAYMENTS_BASE_URL): `npm start`'s
 * sandbox with no configuration.
 */

/** The Admin API answers at the shop's own `.myshopify.com` domain, never at a custom one. */
const shopDomain = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]*\.myshopify\.com$/, "expected the shop's myshopify domain, e.g. hookline-dev.myshopify.com");
const adminToken = z.string().min(8, 'expected an Admin API access token (shpat_…)');

const ShopifyEnv = z.object({
  SHOPIFY_SHOP_DOMAIN: shopDomain.optional(),
  SHOPIFY_ADMIN_TOKEN: adminToken.optional(),
  SHOPIFY_API_BASE_URL: url("Shopify's Admin API base URL instead of https://<shop>, e.g. http://127.0.0.1:4010/shopify").optional(),
  PROVIDER_TIMEOUT: duration('10s'),
});

const ProvidersEnv = z
  .object({
    STRIPE_API_KEY: z
      .string()
      .regex(/^(sk|rk)_(test|live)_\S+$/, 'expected a secret key (sk_test_… or sk_live_…) or a restricted key (rk_…)')
      .optional(),
    STRIPE_API_BASE_URL: url("Stripe's API base URL, e.g. http://127.0.0.1:12111 for stripe-mock").optional(),
    // The payment intent's metadata key holding hookline's order id (as WEBHOOK_ORDER_KEY_<SOURCE> for the webhooks).
    STRIPE_ORDER_KEY: z.string().min(1).default('order_id'),
    EASYPOST_API_KEY: z.string().min(8, 'expected an EasyPost API key (EZAK… or EZTK…)').optional(),
    EASYPOST_API_BASE_URL: url("EasyPost's API base URL up to /v2, e.g. http://127.0.0.1:4010/easypost/v2").optional(),
    EASYPOST_RETURN_ADDRESS_ID: z
      .string()
      .regex(/^adr_\w+$/, 'expected an EasyPost address id (adr_…): where returned parcels go')
      .optional(),
    EASYPOST_TEST_API_KEY: z
      .string()
      .regex(/^EZTK\S{4,}$/, 'expected an EasyPost test key (EZTK…): test-mode returns buy their labels with it')
      .optional(),
    EASYPOST_TEST_RETURN_ADDRESS_ID: z
      .string()
      .regex(/^adr_\w+$/, 'expected an EasyPost test-mode address id (adr_…): where test labels send parcels')
      .optional(),
    EASYPOST_PARCEL_WEIGHT_OZ: positiveInt(16, 'a weight in ounces'),
    ...ShopifyEnv.shape,
    ZENDESK_SUBDOMAIN: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/i, 'expected the account subdomain: acme for https://acme.zendesk.com')
      .optional(),
    ZENDESK_EMAIL: z.email('expected the email of the Zendesk agent the API token belongs to').optional(),
    ZENDESK_API_TOKEN: z.string().min(8, 'expected a Zendesk API token').optional(),
    ZENDESK_API_BASE_URL: url("Zendesk's API base URL up to /api/v2 (exclusive), e.g. http://127.0.0.1:4010/zendesk").optional(),
    PROVIDER_TIMEOUT: duration('10s'),
  })
  .superRefine((e, ctx) => {
    if (e.EASYPOST_API_KEY && !e.EASYPOST_RETURN_ADDRESS_ID) {
      ctx.addIssue({
        code: 'custom',
        path: ['EASYPOST_RETURN_ADDRESS_ID'],
        message: 'required with EASYPOST_API_KEY: the EasyPost address (adr_…) return labels send parcels to',
      });
    }
    if (e.EASYPOST_TEST_API_KEY && !e.EASYPOST_API_KEY) {
      ctx.addIssue({
        code: 'custom',
        path: ['EASYPOST_API_KEY'],
        message: 'required with EASYPOST_TEST_API_KEY: the key live returns buy their labels with',
      });
    }
    if (e.EASYPOST_TEST_API_KEY && !e.EASYPOST_TEST_RETURN_ADDRESS_ID) {
      ctx.addIssue({
        code: 'custom',
        path: ['EASYPOST_TEST_RETURN_ADDRESS_ID'],
        message:
          'required with EASYPOST_TEST_API_KEY: the test-mode address (adr_…) test labels send parcels to ' +
          "(EasyPost's test and production modes do not share addresses)",
      });
    }
    if (!e.EASYPOST_TEST_API_KEY && e.EASYPOST_TEST_RETURN_ADDRESS_ID) {
      ctx.addIssue({
        code: 'custom',
        path: ['EASYPOST_TEST_API_KEY'],
        message: 'required with EASYPOST_TEST_RETURN_ADDRESS_ID: the test key (EZTK…) test-mode returns buy their labels with',
      });
    }
    const zendesk = ['ZENDESK_SUBDOMAIN', 'ZENDESK_EMAIL', 'ZENDESK_API_TOKEN'] as const;
    const given = zendesk.filter((name) => e[name] !== undefined);
    if (given.length > 0 && given.length < zendesk.length) {
      for (const name of zendesk.filter((n) => e[n] === undefined)) {
        ctx.addIssue({ code: 'custom', path: [name], message: `required with ${given.join(' and ')}: Zendesk's API needs all three` });
      }
    }
    if (!e.EASYPOST_API_KEY && e.EASYPOST_RETURN_ADDRESS_ID) {
      ctx.addIssue({
        code: 'custom',
        path: ['EASYPOST_API_KEY'],
        message: 'required with EASYPOST_RETURN_ADDRESS_ID: the key the agent buys return labels with',
      });
    }
  });

export interface StripeProviderConfig {
  apiKey: string;
  baseUrl?: string;
  timeoutMs: number;
  orderKey: string;
}

export interface EasyPostProviderConfig {
  apiKey: string;
  baseUrl?: string;
  timeoutMs: number;
  returnAddressId: string;
  parcelWeightOz: number;
  /** EASYPOST_TEST_API_KEY + EASYPOST_TEST_RETURN_ADDRESS_ID: what test-mode returns buy their labels with. */
  test?: { apiKey: string; returnAddressId: string };
}

export interface ShopifyShopConfig {
  shopDomain: string;
  accessToken: string;
}

/**
 * Each source's shop (and `default`'s) by its domain in lower case: what identifies a shop to
 * Shopify's per-shop cost bucket, so the key its calls are paced under and what the shops
 * configured are counted by (src/config/partners.ts, workflows/contracts/partners.ts).
 */
export function shopDomains(shops: Record<string, ShopifyShopConfig> = {}): Record<string, string> {
  return Object.fromEntries(Object.entries(shops).map(([source, shop]) => [source, shop.shopDomain.toLowerCase()]));
}

export interface ShopifyProviderConfig {
  /**
   * The shop each source's webhooks come from, by source name, and `default` (the provider-wide
   * SHOPIFY_SHOP_DOMAIN + SHOPIFY_ADMIN_TOKEN) for any source without its own pair.
   */
  shops: Record<string, ShopifyShopConfig>;
  baseUrl?: string;
  timeoutMs: number;
}

export interface ZendeskProviderConfig {
  subdomain: string;
  email: string;
  apiToken: string;
  baseUrl?: string;
  timeoutMs: number;
}

/** The providers the agent acts through; absent: the seed's system for that step. */
export interface OutboundProvidersConfig {
  stripe?: StripeProviderConfig;
  easypost?: EasyPostProviderConfig;
  shopify?: ShopifyProviderConfig;
  zendesk?: ZendeskProviderConfig;
}

/**
 * The sources that deliver Shopify's webhooks, each with the variable that says so: the provider's
 * own source (`shopify`, WEBHOOK_SECRET_SHOPIFY) and every WEBHOOK_PROVIDER_<SOURCE>=shopify.
 */
export function shopifySources(env: Env): { source: string; because: string }[] {
  const found: { source: string; because: string }[] = [];
  if ((env.WEBHOOK_SECRET_SHOPIFY?.trim() ?? '') !== '') found.push({ source: 'shopify', because: 'WEBHOOK_SECRET_SHOPIFY' });
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('WEBHOOK_PROVIDER_') || env[name]?.trim().toLowerCase() !== 'shopify') continue;
    const source = name.slice('WEBHOOK_PROVIDER_'.length).toLowerCase().replace(/_/g, '-');
    if (!found.some((f) => f.source === source)) found.push({ source, because: name });
  }
  return found;
}

/**
 * Each Shopify source's shop: its own SHOPIFY_SHOP_DOMAIN_<SOURCE> + SHOPIFY_ADMIN_TOKEN_<SOURCE>,
 * else the provider-wide pair. A source with neither is a start-up error naming both variables.
 */
function shopifyShops(
  env: Env,
  wide: { domain?: string; token?: string },
): { shops: Record<string, ShopifyShopConfig>; problems: string[] } {
  const shops: Record<string, ShopifyShopConfig> = {};
  const problems: string[] = [];
  if (wide.domain && wide.token) shops.default = { shopDomain: wide.domain, accessToken: wide.token };
  else if (wide.domain)
    problems.push('  SHOPIFY_ADMIN_TOKEN: required with SHOPIFY_SHOP_DOMAIN: the token the agent acts in the shop with (not set)');
  else if (wide.token) problems.push("  SHOPIFY_SHOP_DOMAIN: required with SHOPIFY_ADMIN_TOKEN: the shop's myshopify domain (not set)");
  for (const { source, because } of shopifySources(env)) {
    const suffix = envSuffix(source);
    const domainVar = `SHOPIFY_SHOP_DOMAIN_${suffix}`;
    const tokenVar = `SHOPIFY_ADMIN_TOKEN_${suffix}`;
    const domain = env[domainVar]?.trim() || undefined;
    const token = env[tokenVar]?.trim() || undefined;
    if (domain !== undefined && !shopDomain.safeParse(domain).success) {
      problems.push(
        `  ${domainVar}: expected the shop's myshopify domain, e.g. hookline-dev.myshopify.com (got ${shownValue(domainVar, domain)})`,
      );
      continue;
    }
    if (token !== undefined && !adminToken.safeParse(token).success) {
      problems.push(`  ${tokenVar}: expected an Admin API access token (shpat_…) (got ${shownValue(tokenVar, token)})`);
      continue;
    }
    const shop = { domain: domain ?? wide.domain, token: token ?? wide.token };
    if (!shop.domain || !shop.token) {
      const missing = [
        !shop.domain ? `${domainVar} (or SHOPIFY_SHOP_DOMAIN)` : undefined,
        !shop.token ? `${tokenVar} (or SHOPIFY_ADMIN_TOKEN)` : undefined,
      ]
        .filter(Boolean)
        .join(' and ');
      problems.push(
        `  ${missing}: required: source ${source} delivers Shopify's webhooks (${because} is set), and the agent reads its orders, ` +
          'refunds them and shows its return decisions in that shop (not set)',
      );
      continue;
    }
    if (domain || token) shops[source] = { shopDomain: shop.domain, accessToken: shop.token };
  }
  return { shops, problems };
}

/**
 * The Shopify part of {@link loadProvidersConfig} alone: each Shopify source's shop (its own pair, else
 * the provider-wide one under `default`) and the API's base URL. The reconciler lists a source's
 * orders with the same credentials the agent acts with (src/reconcile/config.ts).
 */
export function loadShopifyConfig(env: Env): ShopifyProviderConfig | undefined {
  const e = parseEnv(ShopifyEnv, env);
  const shopify = shopifyShops(env, { domain: e.SHOPIFY_SHOP_DOMAIN, token: e.SHOPIFY_ADMIN_TOKEN });
  if (shopify.problems.length > 0) throw new ConfigError(`Invalid configuration:\n${shopify.problems.join('\n')}`);
  if (Object.keys(shopify.shops).length === 0) return undefined;
  return {
    shops: shopify.shops,
    ...(e.SHOPIFY_API_BASE_URL ? { baseUrl: e.SHOPIFY_API_BASE_URL } : {}),
    timeoutMs: e.PROVIDER_TIMEOUT,
  };
}

/** Why Stripe must be configured here, if it must: the variable that enables its webhooks. */
export function stripeRequiredBy(env: Env): string | undefined {
  if ((env.WEBHOOK_SECRET_STRIPE?.trim() ?? '') !== '') return 'WEBHOOK_SECRET_STRIPE';
  return Object.keys(env)
    .sort()
    .find((name) => name.startsWith('WEBHOOK_PROVIDER_') && env[name]?.trim().toLowerCase() === 'stripe');
}

/** Why Zendesk's API must be configured here, if it must: the variable that enables its webhooks. */
export function zendeskRequiredBy(env: Env): string | undefined {
  if ((env.WEBHOOK_SECRET_ZENDESK?.trim() ?? '') !== '') return 'WEBHOOK_SECRET_ZENDESK';
  return Object.keys(env)
    .sort()
    .find((name) => name.startsWith('WEBHOOK_PROVIDER_') && env[name]?.trim().toLowerCase() === 'zendesk');
}

export function loadProvidersConfig(env: Env = process.env): OutboundProvidersConfig {
  const e = parseEnv(ProvidersEnv, env);
  const zendeskBy = zendeskRequiredBy(env);
  if (zendeskBy && !e.ZENDESK_API_TOKEN) {
    throw new ConfigError(
      'Invalid configuration:\n' +
        `  ZENDESK_SUBDOMAIN, ZENDESK_EMAIL, ZENDESK_API_TOKEN: required: tickets come from Zendesk (${zendeskBy} is set), ` +
        'and the agent answers on the ticket through its API (not set)',
    );
  }
  const requiredBy = stripeRequiredBy(env);
  if (requiredBy && !e.STRIPE_API_KEY) {
    throw new ConfigError(
      'Invalid configuration:\n' +
        `  STRIPE_API_KEY: required: payments come through Stripe (${requiredBy} is set), and the agent refunds them ` +
        'through Stripe (not set)',
    );
  }
  const shopify = loadShopifyConfig(env);
  return {
    ...(shopify ? { shopify } : {}),
    ...(e.STRIPE_API_KEY
      ? {
          stripe: {
            apiKey: e.STRIPE_API_KEY,
            ...(e.STRIPE_API_BASE_URL ? { baseUrl: e.STRIPE_API_BASE_URL } : {}),
            timeoutMs: e.PROVIDER_TIMEOUT,
            orderKey: e.STRIPE_ORDER_KEY,
          },
        }
      : {}),
    ...(e.EASYPOST_API_KEY && e.EASYPOST_RETURN_ADDRESS_ID
      ? {
          easypost: {
            apiKey: e.EASYPOST_API_KEY,
            ...(e.EASYPOST_API_BASE_URL ? { baseUrl: e.EASYPOST_API_BASE_URL } : {}),
            timeoutMs: e.PROVIDER_TIMEOUT,
            returnAddressId: e.EASYPOST_RETURN_ADDRESS_ID,
            parcelWeightOz: e.EASYPOST_PARCEL_WEIGHT_OZ,
            ...(e.EASYPOST_TEST_API_KEY && e.EASYPOST_TEST_RETURN_ADDRESS_ID
              ? { test: { apiKey: e.EASYPOST_TEST_API_KEY, returnAddressId: e.EASYPOST_TEST_RETURN_ADDRESS_ID } }
              : {}),
          },
        }
      : {}),
    ...(e.ZENDESK_SUBDOMAIN && e.ZENDESK_EMAIL && e.ZENDESK_API_TOKEN
      ? {
          zendesk: {
            subdomain: e.ZENDESK_SUBDOMAIN,
            email: e.ZENDESK_EMAIL,
            apiToken: e.ZENDESK_API_TOKEN,
            ...(e.ZENDESK_API_BASE_URL ? { baseUrl: e.ZENDESK_API_BASE_URL } : {}),
            timeoutMs: e.PROVIDER_TIMEOUT,
          },
        }
      : {}),
  };
}

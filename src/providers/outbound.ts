import { shopDomains, type OutboundProvidersConfig } from '../config/providers';
import { createEasyPostClient, type EasyPostClient } from './easypost/client';
import { createShopifyClient, type ShopifyClient } from './shopify/client';
import { createStripeClient, stripePaymentRef, type StripeClient, type StripePaymentRef } from './stripe/client';
import { createZendeskClient, type ZendeskClient } from './zendesk/client';

/**
 * The providers the agent acts through, built once by the worker from src/config/providers.ts.
 * Absent: the step goes to the seed's system (src/clients).
 */
export interface OutboundProviders {
  stripe?: { client: StripeClient; orderKey: string; mode: 'test' | 'live' };
  easypost?: EasyPostAccount;
  shopify?: ShopifyShops;
  /** The helpdesk: an inquiry that is a Zendesk ticket is enriched from it and answered on it. */
  zendesk?: { client: ZendeskClient };
}

/** Which of EasyPost's modes a key acts in, by its prefix: `EZTK…` test, `EZAK…` production (anything else: not known). */
export type EasyPostKeyMode = 'test' | 'production' | 'unknown';
export const easyPostKeyMode = (key: string): EasyPostKeyMode =>
  key.startsWith('EZTK') ? 'test' : key.startsWith('EZAK') ? 'production' : 'unknown';

/** EasyPost as the agent buys labels from it: the account's key (EASYPOST_API_KEY), and the test key when one is configured. */
export interface EasyPostAccount {
  client: EasyPostClient;
  returnAddressId: string;
  parcelWeightOz: number;
  /** The mode EASYPOST_API_KEY acts in. */
  keyMode: EasyPostKeyMode;
  /** EASYPOST_TEST_API_KEY: test-mode returns' labels. */
  test?: { client: EasyPostClient; returnAddressId: string };
}

/**
 * The client and return address a return's label is bought (and voided) with: a live return's with
 * EASYPOST_API_KEY; a test-mode one's with EASYPOST_TEST_API_KEY, else with EASYPOST_API_KEY when
 * that is a test key. A test return is never given a production (or unrecognised) key: the answer
 * is then why, for the caller to refuse the step with.
 */
export function easyPostFor(
  account: EasyPostAccount,
  testMode: boolean,
): { client: EasyPostClient; returnAddressId: string } | { refused: string } {
  if (!testMode) return account;
  if (account.test) return account.test;
  if (account.keyMode === 'test') return account;
  const key =
    account.keyMode === 'production'
      ? 'a production key (EASYPOST_API_KEY is EZAK…)'
      : 'a key not known to be a test key (EASYPOST_API_KEY is not EZTK…)';
  return {
    refused:
      `a test-mode return is never given a label bought with ${key}; ` +
      'set EASYPOST_TEST_API_KEY (EZTK…) and EASYPOST_TEST_RETURN_ADDRESS_ID',
  };
}

/** The shops the agent acts in, one client each (the same shop configured twice shares one, and its cost bucket). */
export interface ShopifyShops {
  /** The shop a source's webhooks come from: its own, else the provider-wide one. */
  forSource(source: string | undefined): ShopifyClient | undefined;
  /** Every shop, each once: where an order whose source is not known is looked for. */
  all(): readonly ShopifyClient[];
  /**
   * Each source with a shop of its own, and `default` for the provider-wide one, mapped to its
   * shop's domain (lower case): the key its Shopify calls are paced under (workflows/contracts/partners.ts).
   */
  readonly domains: Readonly<Record<string, string>>;
}

export function createOutboundProviders(config: OutboundProvidersConfig = {}): OutboundProviders {
  const { stripe, easypost, shopify, zendesk } = config;
  return {
    ...(shopify ? { shopify: shopifyShops(shopify) } : {}),
    ...(stripe
      ? {
          stripe: {
            client: createStripeClient({ apiKey: stripe.apiKey, baseUrl: stripe.baseUrl, timeoutMs: stripe.timeoutMs }),
            orderKey: stripe.orderKey,
            // A restricted or secret key names its mode: `sk_test_…`, `rk_live_…`.
            mode: /^(sk|rk)_live_/.test(stripe.apiKey) ? 'live' : 'test',
          },
        }
      : {}),
    ...(easypost
      ? {
          easypost: {
            client: createEasyPostClient({ apiKey: easypost.apiKey, baseUrl: easypost.baseUrl, timeoutMs: easypost.timeoutMs }),
            returnAddressId: easypost.returnAddressId,
            parcelWeightOz: easypost.parcelWeightOz,
            keyMode: easyPostKeyMode(easypost.apiKey),
            ...(easypost.test
              ? {
                  test: {
                    client: createEasyPostClient({
                      apiKey: easypost.test.apiKey,
                      baseUrl: easypost.baseUrl,
                      timeoutMs: easypost.timeoutMs,
                    }),
                    returnAddressId: easypost.test.returnAddressId,
                  },
                }
              : {}),
          },
        }
      : {}),
    ...(zendesk ? { zendesk: { client: createZendeskClient(zendesk) } } : {}),
  };
}

function shopifyShops(config: NonNullable<OutboundProvidersConfig['shopify']>): ShopifyShops {
  const byDomain = new Map<string, ShopifyClient>();
  const bySource = new Map<string, ShopifyClient>();
  for (const [source, shop] of Object.entries(config.shops)) {
    const key = `${shop.shopDomain}\n${shop.accessToken}`;
    const client =
      byDomain.get(key) ??
      createShopifyClient({
        shopDomain: shop.shopDomain,
        accessToken: shop.accessToken,
        ...(config.baseUrl ? { baseUrl: config.baseUrl } : {}),
        timeoutMs: config.timeoutMs,
      });
    byDomain.set(key, client);
    bySource.set(source, client);
  }
  const all = [...new Set(byDomain.values())];
  return {
    forSource: (source) => (source !== undefined ? bySource.get(source) : undefined) ?? bySource.get('default'),
    all: () => all,
    domains: shopDomains(config.shops),
  };
}

/** A payment as the knowledge base recorded it. */
export interface RecordedPayment {
  id: string;
  status: string;
}

/** Where an order's refund goes: to Stripe, against the payment that came through it, or to the seed's payments system. */
export type RefundRoute = { via: 'stripe'; paymentId: string; payment: StripePaymentRef } | { via: 'payments' };

/**
 * The refund's route for an order's payments (newest first): through Stripe when the payment was
 * Stripe's (a succeeded one first, else one already partly refunded), otherwise the seed's
 * payments system, which refunds by order.
 */
export function refundRoute(payments: readonly RecordedPayment[]): RefundRoute {
  const stripes = payments.flatMap((p) => {
    const ref = stripePaymentRef(p.id);
    return ref ? [{ ...p, ref }] : [];
  });
  const chosen = stripes.find((p) => p.status === 'succeeded') ?? stripes.find((p) => p.status === 'refunded');
  return chosen ? { via: 'stripe', paymentId: chosen.id, payment: chosen.ref } : { via: 'payments' };
}

/**
 * Why a payment must not be refunded with this key, if it must not: a test payment (Stripe's
 * `livemode: false`) only through a test key, a live one only through a live key. Stripe would
 * refuse the other with "No such payment_intent"; saying so names the real cause.
 */
export function modeMismatch(payment: { testMode: boolean }, keyMode: 'test' | 'live'): string | undefined {
  if (payment.testMode && keyMode === 'live') return 'a test payment is never refunded with a live key (STRIPE_API_KEY is sk_live_…)';
  if (!payment.testMode && keyMode === 'test') return 'a live payment cannot be refunded with a test key (STRIPE_API_KEY is sk_test_…)';
  return undefined;
}

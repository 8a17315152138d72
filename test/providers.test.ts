import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EVENTS } from '../src/events/registry';
import { PROVIDER_SOURCE_NAMES, PROVIDERS, type Provider } from '../src/providers';
import { ignoredTypeLabel, readDelivery } from '../src/providers/read';
import { loadSources } from '../src/receiver/sources';

/** A provider's published example of a handled type, as bytes (examples are kept as received). */
export function exampleBytes(provider: Provider, type: string): Buffer {
  const example = provider.handles[type]!.example;
  return 'file' in example
    ? readFileSync(join(__dirname, '..', 'src', 'providers', provider.name, 'examples', example.file))
    : Buffer.from(JSON.stringify(example.body));
}

// The registry's types make a missing piece a compile error; these are what TS cannot see.
describe('the provider registry', () => {
  const handled = (Object.values(PROVIDERS) as Provider[]).flatMap((provider) =>
    Object.keys(provider.handles).map((type) => ({ provider, type, name: `${provider.name} ${type}` })),
  );

  it.each(handled)('$name: its published example maps to a valid event of a type it declares', ({ provider, type }) => {
    const rawBody = exampleBytes(provider, type);
    const headers = provider.delivery?.(type, rawBody) ?? {};
    const reading = readDelivery(provider, {
      rawBody,
      headers,
      ctx: { source: provider.name, rawBody, orderKey: provider.orderKey?.default },
    });
    expect(reading.kind, JSON.stringify(reading)).toBe('event');
    if (reading.kind !== 'event') return;
    const { event, identity } = reading.mapped;
    expect(provider.handles[type]!.produces).toContain(event.event_type);
    expect(EVENTS[event.event_type].schema.parse(event)).toEqual(event);
    expect(identity.length).toBeGreaterThan(0);
  });

  it('lists no type as both handled and known-but-ignored, and every provider by its own name', () => {
    for (const [name, provider] of Object.entries(PROVIDERS) as [string, Provider][]) {
      expect(provider.name).toBe(name);
      expect(provider.knownTypes.filter((t) => Object.hasOwn(provider.handles, t))).toEqual([]);
      if (provider.name !== 'hookline') expect(provider.scheme, name).toBeDefined();
    }
  });

  it('counts a type the provider is not known to send as other, so made-up types cannot grow the metric', () => {
    const stripe = PROVIDERS.stripe;
    expect(ignoredTypeLabel(stripe, 'x'.repeat(5000))).toBe('other');
    for (const type of stripe.knownTypes) expect(ignoredTypeLabel(stripe, type)).toBe(type);
  });
});

describe('provider sources', () => {
  it('enables a provider source only when its secret is set, with the provider and its scheme', () => {
    expect([...loadSources({}).keys()]).toEqual(['oms', 'crm', 'payments', 'carrier']);
    const sources = loadSources({
      WEBHOOK_SECRET_STRIPE: 'whsec_0123456789abcdef0123456789',
      WEBHOOK_SECRET_SHOPIFY: 'shpss_0123456789abcdef0123',
    });
    expect([...sources.keys()]).toEqual(['oms', 'crm', 'payments', 'carrier', 'shopify', 'stripe']);
    expect(sources.get('stripe')).toMatchObject({ provider: 'stripe', scheme: 'stripe', orderKey: 'order_id' });
    expect(sources.get('shopify')).toMatchObject({ provider: 'shopify', scheme: 'hmac-sha256-base64' });
    expect(sources.get('shopify')?.orderKey).toBeUndefined();
    // The seed's sources stay hookline's format with their own schemes.
    expect(sources.get('payments')).toMatchObject({ provider: 'hookline', scheme: 'stripe' });
    expect(sources.get('oms')).toMatchObject({ provider: 'hookline', scheme: 'hmac-sha256-hex' });
    expect(PROVIDER_SOURCE_NAMES).toEqual(['shopify', 'stripe', 'easypost', 'zendesk']);
  });

  it('lets any source name its provider, which sets its format and default scheme; WEBHOOK_SCHEME_ still wins', () => {
    const sources = loadSources({
      WEBHOOK_SOURCES: 'stripe-eu,shop-b',
      WEBHOOK_PROVIDER_STRIPE_EU: 'stripe',
      WEBHOOK_ORDER_KEY_STRIPE_EU: 'shop_order',
      WEBHOOK_PROVIDER_SHOP_B: 'shopify',
      WEBHOOK_SCHEME_SHOP_B: 'hmac-sha256-hex',
      WEBHOOK_PROVIDER_PAYMENTS: 'stripe',
    });
    expect(sources.get('stripe-eu')).toMatchObject({ provider: 'stripe', scheme: 'stripe', orderKey: 'shop_order' });
    expect(sources.get('shop-b')).toMatchObject({ provider: 'shopify', scheme: 'hmac-sha256-hex' });
    // A seed source named another provider: that provider's format and the types its mappings produce.
    const payments = sources.get('payments')!;
    expect(payments).toMatchObject({ provider: 'stripe', scheme: 'stripe' });
    expect([...payments.eventTypes].sort()).toEqual(
      [...loadSources({ WEBHOOK_SECRET_STRIPE: 'whsec_0123456789abcdef0123456789' }).get('stripe')!.eventTypes].sort(),
    );
  });

  it('refuses a provider it does not know and an order key where the provider has none, naming the variable', () => {
    expect(() => loadSources({ WEBHOOK_PROVIDER_OMS: 'paypal' })).toThrow(
      /WEBHOOK_PROVIDER_OMS: expected one of hookline, shopify, stripe, easypost/,
    );
    expect(() => loadSources({ WEBHOOK_ORDER_KEY_OMS: 'order_id' })).toThrow(
      /WEBHOOK_ORDER_KEY_OMS: the hookline provider has no order key/,
    );
    expect(() => loadSources({ WEBHOOK_SECRET_STRIPE: 'whsec_0123456789abcdef0123456789', WEBHOOK_ORDER_KEY_STRIPE: 'a b' })).toThrow(
      /WEBHOOK_ORDER_KEY_STRIPE: expected a metadata key/,
    );
  });
});

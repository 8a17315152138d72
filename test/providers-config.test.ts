import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config/env';
import { loadProvidersConfig } from '../src/config/providers';
import { loadWorkerConfig } from '../src/config/worker';
import { createOutboundProviders, modeMismatch, refundRoute } from '../src/providers/outbound';
import { sandboxProvidersEnv, startSandbox, type RunningSandbox } from '../src/sandbox';
import { checkProviders } from '../scripts/providers';
import { startStripeMock } from './support/stripe-mock';

const systems = Object.fromEntries(
  ['CRM', 'CARRIER', 'WAREHOUSE', 'INVENTORY', 'PAYMENTS'].map((s) => [`${s}_BASE_URL`, `http://127.0.0.1:4010/${s.toLowerCase()}`]),
);

describe('which system does what, from configuration', () => {
  it('nothing set: the seed’s systems for every step', () => {
    expect(loadProvidersConfig({})).toEqual({});
    expect(loadWorkerConfig(systems).providers).toEqual({});
  });

  it('each provider from its variables, with its base URL override', () => {
    const config = loadProvidersConfig(sandboxProvidersEnv('http://127.0.0.1:4010'));
    expect(config.stripe).toMatchObject({
      apiKey: 'sk_test_hooklinesandbox',
      baseUrl: 'http://127.0.0.1:4010/stripe',
      orderKey: 'order_id',
    });
    expect(config.easypost).toMatchObject({
      baseUrl: 'http://127.0.0.1:4010/easypost/v2',
      returnAddressId: 'adr_sandboxwarehouse',
      parcelWeightOz: 16,
    });
  });

  it('Stripe’s webhooks on without its key: a start-up error naming STRIPE_API_KEY and why', () => {
    expect(() => loadWorkerConfig({ ...systems, WEBHOOK_SECRET_STRIPE: 'whsec_x' })).toThrow(ConfigError);
    expect(() => loadWorkerConfig({ ...systems, WEBHOOK_SECRET_STRIPE: 'whsec_x' })).toThrow(
      /STRIPE_API_KEY: required: payments come through Stripe \(WEBHOOK_SECRET_STRIPE is set\)/,
    );
    expect(() => loadProvidersConfig({ WEBHOOK_PROVIDER_SHOP_PAY: 'stripe' })).toThrow(/WEBHOOK_PROVIDER_SHOP_PAY is set/);
    expect(loadProvidersConfig({ WEBHOOK_SECRET_STRIPE: 'whsec_x', STRIPE_API_KEY: 'sk_live_abc123' }).stripe?.apiKey).toBe(
      'sk_live_abc123',
    );
  });

  it('EasyPost’s key and return address go together; a malformed key is named, never echoed', () => {
    expect(() => loadProvidersConfig({ EASYPOST_API_KEY: 'EZTK0123456789' })).toThrow(
      /EASYPOST_RETURN_ADDRESS_ID: required with EASYPOST_API_KEY/,
    );
    expect(() => loadProvidersConfig({ EASYPOST_RETURN_ADDRESS_ID: 'adr_1' })).toThrow(
      /EASYPOST_API_KEY: required with EASYPOST_RETURN_ADDRESS_ID/,
    );
    let message = '';
    try {
      loadProvidersConfig({ STRIPE_API_KEY: 'pk_live_publishable_not_secret' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/STRIPE_API_KEY: expected a secret key/);
    expect(message).not.toContain('pk_live_publishable_not_secret');
  });

  it('EasyPost’s test key: an EZTK… key with its own test-mode address, beside the account key; a production key there is refused', () => {
    const account = { EASYPOST_API_KEY: 'EZAKlive0123456789', EASYPOST_RETURN_ADDRESS_ID: 'adr_live' };
    expect(
      loadProvidersConfig({ ...account, EASYPOST_TEST_API_KEY: 'EZTKtest0123456789', EASYPOST_TEST_RETURN_ADDRESS_ID: 'adr_test' }).easypost
        ?.test,
    ).toEqual({ apiKey: 'EZTKtest0123456789', returnAddressId: 'adr_test' });
    expect(loadProvidersConfig(account).easypost?.test).toBeUndefined();
    // EasyPost keeps each mode's addresses apart: the live address is no test label's.
    expect(() => loadProvidersConfig({ ...account, EASYPOST_TEST_API_KEY: 'EZTKtest0123456789' })).toThrow(
      /EASYPOST_TEST_RETURN_ADDRESS_ID: required with EASYPOST_TEST_API_KEY/,
    );
    expect(() => loadProvidersConfig({ ...account, EASYPOST_TEST_RETURN_ADDRESS_ID: 'adr_test' })).toThrow(
      /EASYPOST_TEST_API_KEY: required with EASYPOST_TEST_RETURN_ADDRESS_ID/,
    );
    expect(() => loadProvidersConfig({ EASYPOST_TEST_API_KEY: 'EZTKtest0123456789', EASYPOST_TEST_RETURN_ADDRESS_ID: 'adr_test' })).toThrow(
      /EASYPOST_API_KEY: required with EASYPOST_TEST_API_KEY/,
    );
    let message = '';
    try {
      loadProvidersConfig({ ...account, EASYPOST_TEST_API_KEY: 'EZAKlive_by_mistake_99', EASYPOST_TEST_RETURN_ADDRESS_ID: 'adr_test' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/EASYPOST_TEST_API_KEY: expected an EasyPost test key \(EZTK…\)/);
    expect(message).not.toContain('EZAKlive_by_mistake_99');
  });
});

describe('Shopify: a shop per source, the provider-wide one as the default', () => {
  const shop = (domain: string, token: string) => ({ shopDomain: domain, accessToken: token });

  it('the provider-wide pair, a source’s own pair beside WEBHOOK_PROVIDER_<SOURCE>=shopify, and the base URL override', () => {
    const config = loadProvidersConfig({
      SHOPIFY_SHOP_DOMAIN: 'main-shop.myshopify.com',
      SHOPIFY_ADMIN_TOKEN: 'shpat_main_0123456789',
      SHOPIFY_API_BASE_URL: 'http://127.0.0.1:4010/shopify',
      WEBHOOK_SECRET_SHOPIFY: 'shopify-secret',
      WEBHOOK_PROVIDER_OUTLET: 'shopify',
      SHOPIFY_SHOP_DOMAIN_OUTLET: 'outlet-shop.myshopify.com',
      SHOPIFY_ADMIN_TOKEN_OUTLET: 'shpat_outlet_0123456789',
    });
    expect(config.shopify).toEqual({
      shops: {
        default: shop('main-shop.myshopify.com', 'shpat_main_0123456789'),
        outlet: shop('outlet-shop.myshopify.com', 'shpat_outlet_0123456789'),
      },
      baseUrl: 'http://127.0.0.1:4010/shopify',
      timeoutMs: 10_000,
    });
    const providers = createOutboundProviders(config);
    expect(providers.shopify?.forSource('outlet')?.shopDomain).toBe('outlet-shop.myshopify.com');
    // The provider's own source, and any source without a pair of its own: the default shop.
    expect(providers.shopify?.forSource('shopify')?.shopDomain).toBe('main-shop.myshopify.com');
    expect(providers.shopify?.all()).toHaveLength(2);
  });

  it('Shopify’s webhooks on without a shop: a start-up error naming the variables and why; a token never echoed', () => {
    expect(() => loadWorkerConfig({ ...systems, WEBHOOK_SECRET_SHOPIFY: 'shopify-secret' })).toThrow(
      new RegExp(
        'SHOPIFY_SHOP_DOMAIN_SHOPIFY \\(or SHOPIFY_SHOP_DOMAIN\\) and SHOPIFY_ADMIN_TOKEN_SHOPIFY \\(or SHOPIFY_ADMIN_TOKEN\\): ' +
          "required: source shopify delivers Shopify's webhooks \\(WEBHOOK_SECRET_SHOPIFY is set\\)",
      ),
    );
    expect(() =>
      loadProvidersConfig({ WEBHOOK_PROVIDER_OUTLET: 'shopify', SHOPIFY_SHOP_DOMAIN_OUTLET: 'outlet-shop.myshopify.com' }),
    ).toThrow(
      new RegExp(
        'SHOPIFY_ADMIN_TOKEN_OUTLET \\(or SHOPIFY_ADMIN_TOKEN\\): ' +
          "required: source outlet delivers Shopify's webhooks \\(WEBHOOK_PROVIDER_OUTLET is set\\)",
      ),
    );
    expect(() => loadProvidersConfig({ SHOPIFY_SHOP_DOMAIN: 'main-shop.myshopify.com' })).toThrow(
      /SHOPIFY_ADMIN_TOKEN: required with SHOPIFY_SHOP_DOMAIN/,
    );
    let message = '';
    try {
      loadProvidersConfig({
        WEBHOOK_PROVIDER_OUTLET: 'shopify',
        SHOPIFY_SHOP_DOMAIN_OUTLET: 'outlet.example.com',
        SHOPIFY_ADMIN_TOKEN: 'shpat_secret_value_123',
      });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/SHOPIFY_SHOP_DOMAIN_OUTLET: expected the shop's myshopify domain/);
    try {
      loadProvidersConfig({
        WEBHOOK_PROVIDER_OUTLET: 'shopify',
        SHOPIFY_SHOP_DOMAIN: 'main-shop.myshopify.com',
        SHOPIFY_ADMIN_TOKEN_OUTLET: 'shpat_x',
      });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/SHOPIFY_ADMIN_TOKEN_OUTLET: expected an Admin API access token/);
    expect(message).not.toContain('shpat_x');
  });
});

describe('refund routing and test mode (pure decisions)', () => {
  it('through Stripe when the order’s payment came through Stripe, else the payments system', () => {
    expect(refundRoute([{ id: 'PMT-1', status: 'succeeded' }])).toEqual({ via: 'payments' });
    expect(refundRoute([])).toEqual({ via: 'payments' });
    expect(refundRoute([{ id: 'pi_123', status: 'succeeded' }])).toEqual({
      via: 'stripe',
      paymentId: 'pi_123',
      payment: { payment_intent: 'pi_123' },
    });
    expect(
      refundRoute([
        { id: 'pi_failed', status: 'failed' },
        { id: 'ch_9', status: 'refunded' },
      ]),
    ).toMatchObject({ paymentId: 'ch_9' });
  });

  it('a test payment never through a live key, a live one never through a test key', () => {
    expect(modeMismatch({ testMode: true }, 'live')).toMatch(/test payment/);
    expect(modeMismatch({ testMode: false }, 'test')).toMatch(/live payment/);
    expect(modeMismatch({ testMode: true }, 'test')).toBeUndefined();
    expect(modeMismatch({ testMode: false }, 'live')).toBeUndefined();
  });
});

describe('npm run providers -- check', () => {
  let sandbox: RunningSandbox;
  let mock: Awaited<ReturnType<typeof startStripeMock>>;
  beforeAll(async () => {
    sandbox = await startSandbox();
    mock = await startStripeMock();
  });
  afterAll(async () => {
    await sandbox?.close();
    await mock?.close();
  });

  it('calls each configured provider once and says what it found', async () => {
    const config = loadProvidersConfig({ ...sandboxProvidersEnv(sandbox.url), STRIPE_API_BASE_URL: mock.url });
    const { ok, lines } = await checkProviders(config);
    expect(ok).toBe(true);
    expect(lines[0]).toMatch(/^Stripe {5}ok: test key valid for account acct_\w+ .* API version 2026-10-28\.endive accepted$/);
    expect(lines[1]).toMatch(/^EasyPost {3}ok: key valid for user user_sandbox .* returns go to adr_sandboxwarehouse$/);
    expect(lines[2]).toMatch(/^Shopify {4}ok: token valid for hookline sandbox \(hookline-dev\.myshopify\.com\) at /);
    expect(lines[2]).toMatch(/ Admin API 2026-10 accepted; shop of the default$/);
    expect(sandbox.sandbox.calls().filter((c) => c.system === 'easypost')).toHaveLength(1);
    expect(sandbox.sandbox.calls().filter((c) => c.system === 'shopify')).toHaveLength(1);
  });

  it('a provider that refuses the key fails the check, naming it; unconfigured ones say where the step goes', async () => {
    const guarded = await startSandbox({ token: 'sandbox-token-abc' });
    try {
      const config = loadProvidersConfig({ ...sandboxProvidersEnv(guarded.url), STRIPE_API_KEY: 'sk_test_wrong' });
      const { ok, lines } = await checkProviders({ stripe: config.stripe! });
      expect(ok).toBe(false);
      expect(lines[0]).toMatch(/^Stripe {5}FAILED at .*: Stripe GET \/v1\/account: 401/);
      expect(lines[1]).toMatch(/^EasyPost {3}not configured \(EASYPOST_API_KEY unset\)/);
      const refused = await checkProviders({
        shopify: { ...config.shopify!, shops: { default: { shopDomain: 'hookline-dev.myshopify.com', accessToken: 'shpat_wrong_token' } } },
      });
      expect(refused.ok).toBe(false);
      expect(refused.lines[2]).toMatch(/^Shopify {4}FAILED for hookline-dev\.myshopify\.com at .*: Shopify query shop: 401/);
      expect(refused.lines[2]).not.toContain('shpat_wrong_token');
    } finally {
      await guarded.close();
    }
  });

  it('checks the EasyPost test key on its own: a refused test key fails the check though the main key is good', async () => {
    // A guarded stand-in takes only its own token as a key (EasyPost's Basic auth, the key as user name).
    const key = 'EZTKsandboxguardkey';
    const guarded = await startSandbox({ token: key });
    try {
      const env = {
        ...sandboxProvidersEnv(guarded.url),
        EASYPOST_API_KEY: key,
        EASYPOST_TEST_RETURN_ADDRESS_ID: 'adr_sandboxtestwarehouse',
      };
      const easypost = (testKey: string) => ({ easypost: loadProvidersConfig({ ...env, EASYPOST_TEST_API_KEY: testKey }).easypost! });

      const good = await checkProviders(easypost(key));
      expect(good.ok).toBe(true);
      expect(good.lines.filter((line) => line.startsWith('EasyPost'))).toEqual([
        expect.stringMatching(/^EasyPost {3}ok: key valid for user user_sandbox .* returns go to adr_sandboxwarehouse$/),
        expect.stringMatching(
          /^EasyPost {3}ok: test key \(EASYPOST_TEST_API_KEY\) valid for user user_sandbox .* test returns go to adr_sandboxtestwarehouse$/,
        ),
      ]);

      const refused = await checkProviders(easypost('EZTKwrongtestkey'));
      expect(refused.ok).toBe(false);
      expect(refused.lines.filter((line) => line.startsWith('EasyPost'))).toEqual([
        expect.stringMatching(/^EasyPost {3}ok: key valid for user user_sandbox /),
        expect.stringMatching(/^EasyPost {3}FAILED for the test key \(EASYPOST_TEST_API_KEY\) at .*: .*401/),
      ]);
      expect(refused.lines.join('\n')).not.toContain('EZTKwrongtestkey');
    } finally {
      await guarded.close();
    }
  });
});

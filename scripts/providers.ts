/**
 * `npm run providers -- check`: calls each provider the agent is configured to act through once,
 * with the same variables the worker reads (src/config/providers.ts), and says what it found: the
 * key valid and the pinned API version accepted, or why not. Exits 1 when a configured provider
 * fails the check (or the configuration itself is invalid), 0 otherwise.
 *
 *   STRIPE_API_KEY=sk_test_… EASYPOST_API_KEY=EZAK… EASYPOST_RETURN_ADDRESS_ID=adr_… \
 *   EASYPOST_TEST_API_KEY=EZTK… EASYPOST_TEST_RETURN_ADDRESS_ID=adr_… \
 *   SHOPIFY_SHOP_DOMAIN=<shop>.myshopify.com SHOPIFY_ADMIN_TOKEN=shpat_… npm run providers -- check
 *   ZENDESK_SUBDOMAIN=acme ZENDESK_EMAIL=you@acme.com ZENDESK_API_TOKEN=… npm run providers -- check
 */
import { ApplicationFailure } from '@temporalio/common';
import { ConfigError } from '../src/config/env';
import { loadProvidersConfig, type OutboundProvidersConfig } from '../src/config/providers';
import { createOutboundProviders } from '../src/providers/outbound';
import { zendeskBaseUrl } from '../src/providers/zendesk/client';

function reason(err: unknown): string {
  if (err instanceof ApplicationFailure) return `${err.message}${err.nonRetryable ? '' : ' (may pass when retried)'}`;
  return err instanceof Error ? err.message : String(err);
}

/** One line per provider; `ok` false when a configured provider did not answer as it should. */
export async function checkProviders(config: OutboundProvidersConfig): Promise<{ ok: boolean; lines: string[] }> {
  const providers = createOutboundProviders(config);
  const lines: string[] = [];
  let ok = true;
  const where = (baseUrl: string | undefined, fallback: string) => (baseUrl ? new URL(baseUrl).origin : fallback);

  if (providers.stripe && config.stripe) {
    const { client, mode } = providers.stripe;
    const at = where(config.stripe.baseUrl, 'https://api.stripe.com');
    try {
      const account = await client.account();
      lines.push(`Stripe     ok: ${mode} key valid for account ${account.id} at ${at}; API version ${client.apiVersion} accepted`);
    } catch (err) {
      ok = false;
      lines.push(`Stripe     FAILED at ${at} (API version ${client.apiVersion}): ${reason(err)}`);
    }
  } else {
    lines.push('Stripe     not configured (STRIPE_API_KEY unset): refunds go to the payments system (PAYMENTS_BASE_URL)');
  }

  if (providers.easypost && config.easypost) {
    const { client, returnAddressId } = providers.easypost;
    const at = where(config.easypost.baseUrl, 'https://api.easypost.com');
    try {
      const user = await client.me();
      lines.push(
        `EasyPost   ok: key valid for user ${user.id}${user.name ? ` (${user.name})` : ''} at ${at}, API ${client.apiVersion}; ` +
          `returns go to ${returnAddressId}`,
      );
    } catch (err) {
      ok = false;
      lines.push(`EasyPost   FAILED at ${at} (API ${client.apiVersion}): ${reason(err)}`);
    }
    // The test key is a second credential (test-mode returns' labels): checked on its own, since a
    // valid main key says nothing of it.
    if (providers.easypost.test) {
      const test = providers.easypost.test;
      try {
        const user = await test.client.me();
        lines.push(
          `EasyPost   ok: test key (EASYPOST_TEST_API_KEY) valid for user ${user.id}${user.name ? ` (${user.name})` : ''} at ${at}; ` +
            `test returns go to ${test.returnAddressId}`,
        );
      } catch (err) {
        ok = false;
        lines.push(`EasyPost   FAILED for the test key (EASYPOST_TEST_API_KEY) at ${at} (API ${client.apiVersion}): ${reason(err)}`);
      }
    }
  } else {
    lines.push('EasyPost   not configured (EASYPOST_API_KEY unset): return labels come from the carrier (CARRIER_BASE_URL)');
  }

  if (providers.shopify && config.shopify) {
    const at = config.shopify.baseUrl ? new URL(config.shopify.baseUrl).origin : undefined;
    for (const shop of providers.shopify.all()) {
      const where = at ?? `https://${shop.shopDomain}`;
      const sources = Object.entries(config.shopify.shops)
        .filter(([, s]) => s.shopDomain === shop.shopDomain)
        .map(([source]) => (source === 'default' ? 'the default' : source))
        .join(', ');
      try {
        const found = await shop.shop();
        lines.push(
          `Shopify    ok: token valid for ${found.name} (${found.domain}) at ${where}, Admin API ${shop.apiVersion} accepted; ` +
            `shop of ${sources}`,
        );
      } catch (err) {
        ok = false;
        lines.push(`Shopify    FAILED for ${shop.shopDomain} at ${where} (Admin API ${shop.apiVersion}): ${reason(err)}`);
      }
    }
  } else {
    lines.push('Shopify    not configured (SHOPIFY_SHOP_DOMAIN, SHOPIFY_ADMIN_TOKEN unset): orders are read from the knowledge base only');
  }
  if (providers.zendesk && config.zendesk) {
    const { client } = providers.zendesk;
    const at = zendeskBaseUrl(config.zendesk);
    try {
      const user = await client.me();
      lines.push(
        `Zendesk    ok: API token valid for ${user.name} (user ${user.id}, ${user.role ?? 'agent'}) at ${at}, API ${client.apiVersion}`,
      );
    } catch (err) {
      ok = false;
      lines.push(`Zendesk    FAILED at ${at} (API ${client.apiVersion}): ${reason(err)}`);
    }
  } else {
    lines.push('Zendesk    not configured (ZENDESK_API_TOKEN unset): inquiries are answered by email');
  }
  return { ok, lines };
}

async function main(args: string[]): Promise<number> {
  if (args[0] !== 'check') {
    process.stderr.write('usage: npm run providers -- check\n');
    return 2;
  }
  let config: OutboundProvidersConfig;
  try {
    config = loadProvidersConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const { ok, lines } = await checkProviders(config);
  for (const line of lines) process.stdout.write(`${line}\n`);
  return ok ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`providers check failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}

import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { ClientsConfig } from '../clients';
import { SANDBOX_RETURN_ADDRESS_ID } from './easypost';
import { SANDBOX_ZENDESK_AGENT } from './zendesk';
import { createSandboxApp, type SandboxControl, type SandboxOptions, type SandboxState } from './app';

export * from './app';
export { SANDBOX_RETURN_ADDRESS_ID } from './easypost';
export { SANDBOX_ZENDESK_AGENT } from './zendesk';
export { FaultKind, FaultPhase, FaultSpec, SYSTEMS, parseFaultHeader, type ActiveFault, type FaultAction, type SystemName } from './faults';
export { SEEDED_CUSTOMERS, GENERATED_CUSTOMER_ID, findCustomer, generateCustomer, type SandboxCustomer } from './seed';

export interface StartSandboxOptions extends SandboxOptions {
  /** Default 0: any free port (read it back from `url`). */
  port?: number;
  /** Default `127.0.0.1`. */
  host?: string;
}

export interface RunningSandbox {
  /** e.g. `http://127.0.0.1:4010`; each system lives at `<url>/<system>`. */
  url: string;
  /** Live view of what the fake systems have done. */
  state: SandboxState;
  /** Faults, call log and reset, without going through HTTP. */
  sandbox: SandboxControl;
  server: Server;
  /** Stops listening and drops every open connection, hung requests included. */
  close(): Promise<void>;
}

/** Start the SANDBOX on `host:port`. */
export async function startSandbox(options: StartSandboxOptions = {}): Promise<RunningSandbox> {
  const { port = 0, host = '127.0.0.1', ...appOptions } = options;
  const app = createSandboxApp(appOptions);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, host, (err?: Error) => (err ? reject(err) : resolve(s)));
    s.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${address.port}`,
    state: app.sandbox.state,
    sandbox: app.sandbox,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/**
 * The worker's `<SYSTEM>_BASE_URL` variables pointing every system at a sandbox running at `url`,
 * for a worker started as its own process (`npm start`, the bench, the tests that kill it).
 */
export function sandboxWorkerEnv(url: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(sandboxClientsConfig(url)).map(([system, config]) => [`${system.toUpperCase()}_BASE_URL`, config.baseUrl]),
  );
}

/** Client configuration pointing every system at a sandbox running at `url`. */
export function sandboxClientsConfig(url: string, options: { token?: string; timeoutMs?: number } = {}): ClientsConfig {
  const base = url.replace(/\/+$/, '');
  const one = (system: string) => ({ baseUrl: `${base}/${system}`, ...options });
  return {
    crm: one('crm'),
    carrier: one('carrier'),
    warehouse: one('warehouse'),
    inventory: one('inventory'),
    payments: one('payments'),
  };
}

/**
 * What `npm start` and `npm run cluster` give their processes for the providers: Stripe's, Shopify's
 * and Zendesk's webhooks are on (dev secrets), so the agent needs their APIs, and each goes to the
 * sandbox's stand-in unless the caller gave credentials of their own. HOOKLINE_PROVIDERS=sandbox adds
 * EasyPost's for labels (and every stand-in, unless the caller has an EasyPost key).
 */
export function sandboxProviderDefaults(env: NodeJS.ProcessEnv, url: string): Record<string, string> {
  const standIns = sandboxProvidersEnv(url);
  const pick = (...names: string[]) => Object.fromEntries(names.map((name) => [name, standIns[name]!]));
  return {
    ...(env.STRIPE_API_KEY?.trim() ? {} : pick('STRIPE_API_KEY', 'STRIPE_API_BASE_URL')),
    ...(env.SHOPIFY_ADMIN_TOKEN?.trim() || env.SHOPIFY_SHOP_DOMAIN?.trim()
      ? {}
      : pick('SHOPIFY_SHOP_DOMAIN', 'SHOPIFY_ADMIN_TOKEN', 'SHOPIFY_API_BASE_URL')),
    ...(env.ZENDESK_API_TOKEN?.trim() ? {} : pick('ZENDESK_SUBDOMAIN', 'ZENDESK_EMAIL', 'ZENDESK_API_TOKEN', 'ZENDESK_API_BASE_URL')),
    ...(env.HOOKLINE_PROVIDERS?.trim() === 'sandbox' && !env.EASYPOST_API_KEY?.trim() ? standIns : {}),
  };
}

/**
 * The variables pointing Stripe, EasyPost, Shopify and Zendesk at the sandbox's stand-ins running at `url`, with keys
 * of the providers' own shapes (`npm start` with HOOKLINE_PROVIDERS=sandbox, and the tests).
 */
export function sandboxProvidersEnv(url: string): Record<string, string> {
  const base = url.replace(/\/+$/, '');
  return {
    STRIPE_API_KEY: 'sk_test_hooklinesandbox',
    STRIPE_API_BASE_URL: `${base}/stripe`,
    EASYPOST_API_KEY: 'EZTKhooklinesandbox',
    EASYPOST_API_BASE_URL: `${base}/easypost/v2`,
    EASYPOST_RETURN_ADDRESS_ID: SANDBOX_RETURN_ADDRESS_ID,
    SHOPIFY_SHOP_DOMAIN: 'hookline-dev.myshopify.com',
    SHOPIFY_ADMIN_TOKEN: 'shpat_hooklinesandbox',
    SHOPIFY_API_BASE_URL: `${base}/shopify`,
    ZENDESK_SUBDOMAIN: 'hookline-sandbox',
    ZENDESK_EMAIL: SANDBOX_ZENDESK_AGENT.email,
    ZENDESK_API_TOKEN: 'hooklinesandboxzendesktoken',
    ZENDESK_API_BASE_URL: `${base}/zendesk`,
  };
}

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { dataDir } from '../config/env';
import { BUILTIN_SCHEMES } from '../receiver/sources';
import { PROVIDER_SOURCE_NAMES, PROVIDERS } from '../providers';
import { generateSecret, type SchemeName } from '../signatures';
import { isOperatorTokenShape, newOperatorToken } from '../operators/directory';

/**
 * Local development only: `npm start` invents a secret per built-in source and per provider
 * source (Stripe, Shopify, EasyPost: each enabled by it), in the source's own format, and a token
 * for the first lead operator on first run, and keeps them in `.data/dev-secrets.json`
 * (git-ignored, mode 0600) so restarts and `npm run send` agree, and so `npm start` can print
 * the lead's token every time. Production sets the WEBHOOK_SECRET_* variables and creates
 * operators with `npm run operators -- add`, whose tokens are shown once.
 */
export interface DevSecrets {
  webhookSecrets: Record<string, string>;
  /** The token of the operator `npm start` creates (DEV_LEAD_OPERATOR, role lead). */
  leadToken: string;
}

/** The first operator `npm start` creates, so a fresh install can use the inbox at once. */
export const DEV_LEAD_OPERATOR = 'lead';

/** `npm start` keeps its data in `.data/` unless HOOKLINE_DATA_DIR says otherwise (see dataDir). */
export const DATA_DIR = dataDir();
export const DEV_SECRETS_FILE = join(DATA_DIR, 'dev-secrets.json');

export function loadOrCreateDevSecrets(file = DEV_SECRETS_FILE): { secrets: DevSecrets; created: boolean } {
  const existing = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<DevSecrets>) : {};
  const webhookSecrets = { ...existing.webhookSecrets };
  let created = false;
  // The seed's sources, and a source of each provider (enabled by its secret: src/receiver/sources.ts).
  const schemes: [string, SchemeName][] = [
    ...Object.entries(BUILTIN_SCHEMES),
    ...PROVIDER_SOURCE_NAMES.flatMap((name) => {
      const scheme = PROVIDERS[name].scheme;
      return scheme ? [[name, scheme] as [string, SchemeName]] : [];
    }),
  ];
  for (const [source, scheme] of schemes) {
    if (!webhookSecrets[source]) {
      webhookSecrets[source] = generateSecret(scheme);
      created = true;
    }
  }
  // A file from before operators had their own tokens holds a shared `operatorToken`: replaced.
  const kept = typeof existing.leadToken === 'string' && isOperatorTokenShape(existing.leadToken) ? existing.leadToken : undefined;
  const leadToken = kept ?? newOperatorToken();
  if (!kept) created = true;
  const secrets = { webhookSecrets, leadToken };
  if (created) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
  }
  return { secrets, created };
}

/** The environment the receiver needs to use the dev secrets (real variables win). */
export function devSecretsEnv(secrets: DevSecrets, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [source, secret] of Object.entries(secrets.webhookSecrets)) {
    const name = `WEBHOOK_SECRET_${source.toUpperCase()}`;
    out[name] = env[name] || secret;
  }
  return out;
}

import { BlockList, isIP } from 'node:net';
import { ConfigError, csv, duration, envSuffix, type Env } from '../config/env';
import { EVENTS } from '../events/registry';
import { EVENT_TYPES, type EventType } from '../events/schemas';
import { BUILTIN_SOURCE_NAMES, type BuiltinSource } from '../events/sources';
import { isProviderName, PROVIDER_NAMES, PROVIDER_SOURCE_NAMES, PROVIDERS, type ProviderName } from '../providers';
import { isSchemeName, SCHEME_TABLE, SCHEMES, type SchemeName } from '../signatures';

/**
 * Everything the receiver knows about one sender. Built once at start-up from the
 * environment (`WEBHOOK_<SETTING>_<SOURCE>`), never per request.
 */
export interface SourceConfig {
  name: string;
  /**
   * Whose payloads it sends (src/providers/): the format its bodies are read in, and its default
   * scheme. `WEBHOOK_PROVIDER_<SOURCE>`; `hookline` for the seed's four and WEBHOOK_SOURCES extras,
   * the provider itself for a provider's own source (`stripe`, …).
   */
  provider: ProviderName;
  /** Where the provider's payload names hookline's order (`WEBHOOK_ORDER_KEY_<SOURCE>`), for a provider that has one. */
  orderKey?: string;
  scheme: SchemeName;
  /** Empty means the source refuses every request: nothing runs unsigned. */
  secrets: readonly string[];
  signatureHeader?: string;
  toleranceSeconds: number;
  /** undefined: any address may deliver. */
  allowlist?: { cidrs: string[]; contains(ip: string): boolean };
  rateLimit: RateLimit;
  /** The hookline event types this sender may deliver, once its provider has read them (least privilege); others are quarantined. */
  eventTypes: ReadonlySet<EventType>;
}

export interface RateLimit {
  requests: number;
  perSeconds: number;
}

interface SourceDefaults {
  scheme: SchemeName;
  eventTypes: EventType[];
}

/** The seed's four senders (src/events/sources.ts), each with the scheme its kind of system customarily uses. */
export const BUILTIN_SCHEMES = {
  oms: 'hmac-sha256-hex',
  crm: 'standard-webhooks',
  payments: 'stripe',
  carrier: 'hmac-sha256-base64',
} as const satisfies Record<BuiltinSource, SchemeName>;

/** Each built-in source with its scheme and the event types the registry (src/events/registry.ts) lets it send. */
export const BUILTIN_SOURCES = Object.fromEntries(
  BUILTIN_SOURCE_NAMES.map((name) => [
    name,
    { scheme: BUILTIN_SCHEMES[name], eventTypes: EVENT_TYPES.filter((type) => (EVENTS[type].sources as readonly string[]).includes(name)) },
  ]),
) as { readonly [S in BuiltinSource]: SourceDefaults } & { readonly [name: string]: SourceDefaults | undefined };

const SOURCE_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/**
 * The least a webhook secret may hold. HMAC-SHA256 is only as strong as its key, and one captured
 * delivery is enough to guess a short one offline.
 */
export const MIN_SECRET_BYTES = 16;

const DEFAULT_RATE_LIMIT = '100/s';

export function parseRateLimit(value: string): RateLimit | undefined {
  const match = /^(\d+)\s*\/\s*(\d*)\s*(s|sec|second|m|min|minute|h|hr|hour)$/i.exec(value.trim());
  if (!match) return undefined;
  const requests = Number(match[1]);
  const count = match[2] ? Number(match[2]) : 1;
  const unit = match[3]!.toLowerCase();
  const unitSeconds = unit.startsWith('h') ? 3600 : unit.startsWith('m') ? 60 : 1;
  if (requests <= 0 || count <= 0) return undefined;
  return { requests, perSeconds: count * unitSeconds };
}

export function parseAllowlist(variable: string, cidrs: string[]): SourceConfig['allowlist'] {
  if (cidrs.length === 0) return undefined;
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, bits] = cidr.split('/');
    const family = address ? isIP(address) : 0;
    const prefix = bits === undefined ? (family === 6 ? 128 : 32) : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
    if (!address || family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32)) {
      throw new ConfigError(
        `Invalid configuration:\n  ${variable}: expected a comma-separated list of IPs or CIDRs such as 203.0.113.0/24 ` +
          `(got ${JSON.stringify(cidr)})`,
      );
    }
    list.addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4');
  }
  return {
    cidrs,
    contains: (ip) => {
      const family = isIP(ip);
      return family !== 0 && list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
    },
  };
}

/** The hookline event types a provider's mappings produce: what one of its sources may send by default. */
function producedBy(provider: ProviderName): EventType[] {
  const produced = new Set(Object.values(PROVIDERS[provider].handles).flatMap((h) => h.produces));
  return EVENT_TYPES.filter((type) => produced.has(type));
}

function sourceConfig(name: string, env: Env, seed: SourceDefaults | undefined): SourceConfig {
  const suffix = envSuffix(name);
  const v = (setting: string) => `WEBHOOK_${setting}_${suffix}`;
  const problems: string[] = [];
  const read = (setting: string) => {
    const value = env[v(setting)]?.trim();
    return value === '' ? undefined : value;
  };

  // The provider first: it sets the format, and with it the defaults of the scheme and the event types.
  const providerValue = read('PROVIDER') ?? (isProviderName(name) ? name : 'hookline');
  if (!isProviderName(providerValue))
    problems.push(`${v('PROVIDER')}: expected one of ${PROVIDER_NAMES.join(', ')} (got ${JSON.stringify(providerValue)})`);
  const provider = isProviderName(providerValue) ? PROVIDERS[providerValue] : PROVIDERS.hookline;
  // A seed source keeps its own scheme and types while it sends hookline's format; named another
  // provider, it takes that provider's.
  const defaults: Partial<SourceDefaults> =
    provider.name === 'hookline' ? (seed ?? {}) : { scheme: provider.scheme, eventTypes: producedBy(provider.name) };

  const schemeValue = read('SCHEME') ?? defaults.scheme;
  if (!schemeValue)
    problems.push(`${v('SCHEME')}: expected one of ${SCHEMES.join(', ')} (not set; required for a source that is not built in)`);
  else if (!isSchemeName(schemeValue))
    problems.push(`${v('SCHEME')}: expected one of ${SCHEMES.join(', ')} (got ${JSON.stringify(schemeValue)})`);
  const scheme = schemeValue as SchemeName;

  const tolerance = duration('300s').safeParse(read('TOLERANCE'));
  if (!tolerance.success)
    problems.push(`${v('TOLERANCE')}: expected a duration such as 300s or 5m (got ${JSON.stringify(read('TOLERANCE'))})`);

  const rateText = read('RATE_LIMIT') ?? DEFAULT_RATE_LIMIT;
  const rateLimit = parseRateLimit(rateText);
  if (!rateLimit)
    problems.push(`${v('RATE_LIMIT')}: expected requests per period such as 100/s, 600/min or 1000/5m (got ${JSON.stringify(rateText)})`);

  const eventsText = read('EVENTS');
  let eventTypes: EventType[] = defaults.eventTypes ?? [...EVENT_TYPES];
  if (eventsText !== undefined) {
    const listed = csv.parse(eventsText);
    const unknown = listed.filter((t) => t !== '*' && !(EVENT_TYPES as string[]).includes(t));
    if (unknown.length > 0)
      problems.push(`${v('EVENTS')}: expected event types from ${EVENT_TYPES.join(', ')} or * (unknown: ${unknown.join(', ')})`);
    eventTypes = listed.includes('*') ? [...EVENT_TYPES] : (listed as EventType[]);
  }

  const orderKeyValue = read('ORDER_KEY');
  if (orderKeyValue !== undefined && !provider.orderKey)
    problems.push(`${v('ORDER_KEY')}: the ${provider.name} provider has no order key (set for a provider that has one, such as stripe)`);
  else if (orderKeyValue !== undefined && !/^[A-Za-z0-9_.-]{1,40}$/.test(orderKeyValue))
    problems.push(`${v('ORDER_KEY')}: expected a metadata key such as order_id (got ${JSON.stringify(orderKeyValue)})`);
  const orderKey = provider.orderKey ? (orderKeyValue ?? provider.orderKey.default) : undefined;

  const secrets = csv.parse(read('SECRET'));
  // Judged as the scheme reads them (its entry in the scheme table), and here, not on the first
  // delivery: every request would otherwise be a 500. An unknown scheme is reported above.
  const format = isSchemeName(scheme) ? SCHEME_TABLE[scheme].secret : undefined;
  if (format && secrets.some((secret) => format.key(secret).length === 0)) {
    problems.push(`${v('SECRET')}: expected ${format.format} for the ${scheme} scheme (the value is not shown)`);
  } else if (format) {
    const short = secrets.map((secret, i) => ({ i, bytes: format.bytes(secret) })).filter(({ bytes }) => bytes < MIN_SECRET_BYTES);
    if (short.length > 0) {
      const which = short
        .map(({ i, bytes }) => (secrets.length === 1 ? `${bytes} bytes` : `secret ${i + 1} of ${secrets.length}: ${bytes} bytes`))
        .join(', ');
      problems.push(
        `${v('SECRET')}: expected secrets of at least ${MIN_SECRET_BYTES} bytes${format.measured}, such as 32 random bytes ` +
          `(got ${which}; the value is not shown)`,
      );
    }
  }

  if (problems.length > 0) throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);

  const header = read('HEADER')?.toLowerCase();
  return {
    name,
    provider: provider.name,
    ...(orderKey === undefined ? {} : { orderKey }),
    scheme,
    secrets,
    signatureHeader: header,
    toleranceSeconds: Math.round((tolerance.data ?? 300_000) / 1000),
    allowlist: parseAllowlist(v('ALLOW_IPS'), csv.parse(read('ALLOW_IPS'))),
    rateLimit: rateLimit!,
    eventTypes: new Set(eventTypes),
  };
}

/**
 * The provider sources (`stripe`, `shopify`, `easypost`) that are enabled: those whose
 * WEBHOOK_SECRET_<PROVIDER> is set. One that is not is no route at all (404), unlike a seed
 * source, which is always there and refuses everything until it has a secret.
 */
export function enabledProviderSources(env: Env): string[] {
  return PROVIDER_SOURCE_NAMES.filter((name) => (env[`WEBHOOK_SECRET_${envSuffix(name)}`]?.trim() ?? '') !== '');
}

/**
 * The four built-in sources, the provider sources whose secret is set, and any named in
 * `WEBHOOK_SOURCES` (e.g. `github,shop`), each configured from its `WEBHOOK_*_<SOURCE>` variables.
 */
export function loadSources(env: Env = process.env): Map<string, SourceConfig> {
  const extra = csv.parse(env.WEBHOOK_SOURCES);
  const bad = extra.filter((name) => !SOURCE_NAME.test(name));
  if (bad.length > 0) {
    throw new ConfigError(
      `Invalid configuration:\n  WEBHOOK_SOURCES: expected lowercase source names such as github,shop (bad: ${bad.join(', ')})`,
    );
  }
  const names = [...new Set([...Object.keys(BUILTIN_SOURCES), ...enabledProviderSources(env), ...extra])];
  const sources = new Map(names.map((name) => [name, sourceConfig(name, env, BUILTIN_SOURCES[name])]));
  refuseSharedSecrets(sources);
  return sources;
}

/**
 * One secret on two sources lets one sender's signature pass as the other's: whoever holds the
 * carrier's secret could sign payment events. The same string counts, and so does the same HMAC
 * key reached another way (a Standard Webhooks secret with and without `whsec_`).
 */
function refuseSharedSecrets(sources: ReadonlyMap<string, SourceConfig>): void {
  const owners = new Map<string, string>();
  const clashes = new Set<string>();
  for (const source of sources.values()) {
    const variable = `WEBHOOK_SECRET_${envSuffix(source.name)}`;
    for (const secret of source.secrets) {
      for (const identity of [`string:${secret}`, `key:${SCHEME_TABLE[source.scheme].secret.key(secret).toString('hex')}`]) {
        const owner = owners.get(identity);
        if (owner === undefined) owners.set(identity, variable);
        else if (owner !== variable) clashes.add(`${owner} and ${variable}`);
      }
    }
  }
  if (clashes.size > 0) {
    const lines = [...clashes].map(
      (pair) =>
        `${pair}: expected a different secret per source (one is configured on both, ` +
        "so either sender's signature would pass as the other's; the value is not shown)",
    );
    throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
}

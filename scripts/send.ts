/**
 * `npm run send -- <source> <event_type> [key=value ...] [--fresh] [--url http://localhost:3000]`
 *
 * Signs a sample event (the seed's payloads) the way that source's real sender would, with the
 * secret the receiver uses, and posts it. Sending the same sample twice shows deduplication;
 * `--fresh` gives it new IDs so it runs again. A provider's source (`stripe`, or any source with
 * WEBHOOK_PROVIDER_<SOURCE>) sends that provider's own published example of the type, as bytes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEV_SECRETS_FILE, loadOrCreateDevSecrets } from '../src/dev/secrets';
import { DEFAULT_SOURCE, SAMPLES } from '../src/events/samples';
import { EVENTS } from '../src/events/registry';
import { EVENT_TYPES, isEventType } from '../src/events/schemas';
import { envSuffix } from '../src/config/env';
import { isBuiltinSource } from '../src/events/sources';
import { isProviderName, PROVIDER_SOURCE_NAMES, PROVIDERS, type Provider } from '../src/providers';
import { BUILTIN_SCHEMES } from '../src/receiver/sources';
import { SCHEMES, signWebhook, type SchemeName } from '../src/signatures';

const USAGE = `Usage: npm run send -- <source> <event_type> [field=value ...] [--fresh] [--url URL]
       npm run send -- <event_type>            (uses the event's usual source)

  sources:     ${Object.keys(BUILTIN_SCHEMES).join(', ')} (or any in WEBHOOK_SOURCES, with WEBHOOK_SCHEME_<SOURCE>)
  event types (and the built-in sources that may send them, the usual one first):
${EVENT_TYPES.map((type) => `    ${type} (${EVENTS[type].sources.join(', ')})`).join('\n')}

  provider sources send the provider's own published example of one of its types:
${PROVIDER_SOURCE_NAMES.map((name) => `    ${name}: ${handledTypes(name)}`).join('\n')}

  field=value  override a field of the sample, e.g. order_id=ORD-1 new_status=delivered
               (numbers and JSON are parsed: amount=250 items='[{"product_id":"P","quantity":1}]');
               a dotted path reaches into a provider's example: data.object.metadata.order_id=ORD-12345
  --fresh      replace the sample's IDs with new ones, so it is a new event
  --url        the receiver (default $RECEIVER_URL or http://localhost:$PORT, PORT defaulting to 3000)

Examples:
  npm run send -- oms order.status_updated
  npm run send -- payments payment.succeeded
  npm run send -- stripe payment_intent.succeeded data.object.metadata.order_id=ORD-12345 --fresh
  npm run send -- easypost tracker.updated result.status=out_for_delivery result.tracking_code=TRK-ABCDEF123 --fresh
  npm run send -- zendesk ticket.created --fresh
  npm run send -- crm customer.inquiry.new summary="This is unacceptable, my order arrived broken" --fresh`;

const ID_FIELDS = ['order_id', 'payment_id', 'inquiry_id', 'return_id', 'tracking_number', 'event_id', 'id'];

function handledTypes(provider: keyof typeof PROVIDERS): string {
  return Object.keys(PROVIDERS[provider].handles).join(', ') || '(no types handled yet)';
}

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { fresh: { type: 'boolean', default: false }, url: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help || positionals.length === 0 || positionals[0] === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let [source, eventType, ...overrides] = positionals as [string, string | undefined, ...string[]];
  const providerName = process.env[`WEBHOOK_PROVIDER_${envSuffix(source)}`]?.trim() || source;
  if (isProviderName(providerName) && providerName !== 'hookline') {
    return sendExample(source, PROVIDERS[providerName], eventType, overrides, values.fresh === true, values.url);
  }
  if (isEventType(source)) {
    overrides = eventType ? [eventType, ...overrides] : overrides;
    eventType = source;
    source = DEFAULT_SOURCE[source];
  }
  if (!eventType) fail('Missing the event type.');
  if (!isEventType(eventType)) fail(`Unknown event type ${JSON.stringify(eventType)}.`);

  const scheme = (process.env[`WEBHOOK_SCHEME_${envSuffix(source)}`] ?? (isBuiltinSource(source) ? BUILTIN_SCHEMES[source] : undefined)) as
    SchemeName | undefined;
  if (!scheme || !SCHEMES.includes(scheme))
    fail(`Unknown source ${JSON.stringify(source)}: set WEBHOOK_SCHEME_${envSuffix(source)} for a custom source.`);
  const secret = secretOf(source);

  const event: Record<string, unknown> = structuredClone(SAMPLES[eventType]) as Record<string, unknown>;
  if (values.fresh) {
    const suffix = randomBytes(3).toString('hex').toUpperCase();
    for (const field of ID_FIELDS) if (typeof event[field] === 'string') event[field] = `${event[field] as string}-${suffix}`;
    event.timestamp = new Date().toISOString();
  }
  for (const pair of overrides) {
    const eq = pair.indexOf('=');
    if (eq <= 0) fail(`Expected field=value, got ${JSON.stringify(pair)}.`);
    event[pair.slice(0, eq)] = parseValue(pair.slice(eq + 1));
  }
  // Stripe events carry their own id; a stable one per payload makes a resend a true duplicate.
  const body = JSON.stringify(scheme === 'stripe' && !event.id ? { id: `evt_${hash(JSON.stringify(event))}`, ...event } : event);
  // Standard Webhooks requires a message id; a stable one per payload makes a resend a duplicate.
  const headers = signWebhook(scheme, body, secret, scheme === 'standard-webhooks' ? { id: `msg_${hash(body)}` } : {});
  await post(source, scheme, body, headers, values.url);
}

/** The secret the receiver checks `source` with: WEBHOOK_SECRET_<SOURCE>, else the one `npm start` generated. */
function secretOf(source: string): string {
  const envSecret = process.env[`WEBHOOK_SECRET_${envSuffix(source)}`]?.split(',')[0]?.trim();
  if (!envSecret && !existsSync(DEV_SECRETS_FILE)) {
    fail(
      `No secret for ${source}: start hookline with \`npm start\` first (it creates ${DEV_SECRETS_FILE}), ` +
        `or set WEBHOOK_SECRET_${envSuffix(source)}.`,
    );
  }
  const secret = envSecret || loadOrCreateDevSecrets().secrets.webhookSecrets[source];
  if (!secret) fail(`No secret for ${source}: set WEBHOOK_SECRET_${envSuffix(source)}.`);
  return secret;
}

/**
 * A provider's own published example of `type` (src/providers/<provider>/examples/), signed with its
 * scheme and sent with the headers a genuine delivery carries. Sent as the bytes published, unless
 * `--fresh` or an override changes it (then re-serialised).
 */
async function sendExample(
  source: string,
  provider: Provider,
  type: string | undefined,
  overrides: string[],
  fresh: boolean,
  url: string | undefined,
): Promise<void> {
  const types = Object.keys(provider.handles);
  // A type may be named without its provider's prefix: `ticket.created` for `zen:event-type:ticket.created`.
  if (type && !Object.hasOwn(provider.handles, type)) type = types.find((t) => t.endsWith(`:${type}`)) ?? type;
  if (!type || !Object.hasOwn(provider.handles, type)) {
    fail(
      `${type ? `${provider.name} type ${JSON.stringify(type)} is not one hookline handles` : 'Missing the type'}: ` +
        `${provider.name} sends ${types.join(', ') || '(none handled yet)'}.`,
    );
  }
  const scheme = (process.env[`WEBHOOK_SCHEME_${envSuffix(source)}`]?.trim() || provider.scheme) as SchemeName | undefined;
  if (!scheme || !SCHEMES.includes(scheme)) fail(`No scheme for ${source}: set WEBHOOK_SCHEME_${envSuffix(source)}.`);
  const secret = secretOf(source);
  const example = provider.handles[type]!.example;
  let body: Buffer =
    'file' in example
      ? readFileSync(join(__dirname, '..', 'src', 'providers', provider.name, 'examples', example.file))
      : Buffer.from(JSON.stringify(example.body));
  if (fresh || overrides.length > 0) {
    // The provider's own reading (Shopify's 64-bit IDs stay exact, as digit strings its schemas accept).
    let parsed = (provider.parse ? provider.parse(body) : JSON.parse(body.toString('utf8'))) as Record<string, unknown>;
    if (fresh) parsed = (provider.fresh?.(parsed) ?? parsed) as Record<string, unknown>;
    for (const pair of overrides) {
      const eq = pair.indexOf('=');
      if (eq <= 0) fail(`Expected field=value, got ${JSON.stringify(pair)}.`);
      setPath(parsed, pair.slice(0, eq).split('.'), parseValue(pair.slice(eq + 1)));
    }
    body = Buffer.from(JSON.stringify(parsed, null, 2));
  }
  const headers = { ...provider.delivery?.(type, body), ...signWebhook(scheme, body, secret) };
  await post(source, `${provider.name}, ${scheme}`, body, headers, url);
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  const last = path.pop()!;
  let at = target;
  for (const key of path) {
    const next = at[key];
    if (typeof next !== 'object' || next === null) at[key] = {};
    at = at[key] as Record<string, unknown>;
  }
  at[last] = value;
}

async function post(source: string, how: string, body: string | Buffer, headers: Record<string, string>, base: string | undefined) {
  const url = `${base ?? process.env.RECEIVER_URL ?? `http://localhost:${process.env.PORT ?? 3000}`}/webhooks/${source}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: new Uint8Array(body instanceof Buffer ? body : Buffer.from(body)),
    });
  } catch (err) {
    process.stderr.write(`Could not reach the receiver at ${url}: ${(err as Error).message}. Is \`npm start\` running?\n`);
    process.exit(1);
  }
  const text = await res.text();
  process.stdout.write(`POST ${url} (${how})\n→ ${res.status} ${res.statusText}\n${text}\n`);
  try {
    const answer = JSON.parse(text) as { workflowId?: string };
    if (answer.workflowId)
      process.stdout.write(
        `\nSee it in the Temporal UI: http://localhost:${process.env.HOOKLINE_UI_PORT ?? 8233}` +
          `/namespaces/default/workflows/${encodeURIComponent(answer.workflowId)}\n`,
      );
  } catch {
    // not JSON: already printed as is
  }
  if (res.status >= 300) process.exit(1);
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 24);
}

void main();

/**
 * The providers' own example payloads and signature test vectors (src/providers/<provider>/examples/), checked with the
 * providers' official packages where they exist: stripe, @easypost/api, @shopify/shopify-api. Zendesk has none, so its
 * published signature example is checked with Node's crypto, the way its docs compute it.
 *
 * Every file is read as bytes and signed as bytes. Shopify's IDs can exceed JavaScript's safe integers
 * (820982911946154508), so a JSON.parse/stringify round trip would change both the signed bytes and the IDs.
 */
import '@shopify/shopify-api/adapters/node';
import EasyPost from '@easypost/api';
import { ApiVersion, LogSeverity, shopifyApi } from '@shopify/shopify-api';
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shopify as shopifyProvider } from '../src/providers/shopify';
import { signWebhook } from '../src/signatures';

const EXAMPLES = join(__dirname, '..', 'src', 'providers');
const PROVIDERS = ['shopify', 'stripe', 'easypost', 'zendesk'] as const;
const VECTOR = 'signature-test-vector.json';

const dir = (provider: string) => join(EXAMPLES, provider, 'examples');
const bytes = (provider: string, file: string) => readFileSync(join(dir(provider), file));
const jsonFiles = (provider: string) => readdirSync(dir(provider)).filter((f) => f.endsWith('.json'));
const payloadFiles = (provider: string) => jsonFiles(provider).filter((f) => f !== VECTOR);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** The README's table rows: `| \`file.json\` | … | \`<sha256>\` |` → file → sha256. */
function readmeHashes(provider: string): Map<string, string> {
  const rows = readFileSync(join(dir(provider), 'README.md'), 'utf8')
    .split('\n')
    .map((line) => /^\| `([^`]+\.json)` \|.*`([0-9a-f]{64})` \|$/.exec(line))
    .filter((m) => m !== null);
  return new Map(rows.map((m) => [m[1]!, m[2]!]));
}

/** The number literals of a JSON text, as written (outside strings), so their precision can be judged before parsing. */
function numberLiterals(json: string): string[] {
  const found: string[] = [];
  for (let i = 0; i < json.length; i++) {
    if (json[i] === '"') {
      for (i++; json[i] !== '"'; i++) if (json[i] === '\\') i++;
    } else if (/[-\d]/.test(json[i]!)) {
      const literal = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(json.slice(i))![0];
      found.push(literal);
      i += literal.length - 1;
    }
  }
  return found;
}
const unsafeIntegers = (json: string) => numberLiterals(json).filter((n) => /^-?\d+$/.test(n) && !Number.isSafeInteger(Number(n)));

/**
 * The README's documented exceptions: files whose source rounded the integers above 2^53
 * (`| \`file.json\` | … | 15 rounded | \`<sha256>\` |`) → how many. Any other file must have none.
 */
function readmeRounded(provider: string): Map<string, number> {
  const rows = readFileSync(join(dir(provider), 'README.md'), 'utf8')
    .split('\n')
    .map((line) => /^\| `([^`]+\.json)` \|.*\| (\d+) rounded \| `[0-9a-f]{64}` \|$/.exec(line))
    .filter((m) => m !== null);
  return new Map(rows.map((m) => [m[1]!, Number(m[2])]));
}

describe('every example file', () => {
  it('finds its number literals outside strings, and flags the IDs JSON.parse would change', () => {
    // Shopify's sample order id: what a parse/stringify round trip does to it.
    const raw = '{"id":820982911946154508,"gid":"gid://shopify/Order/820982911946154508","weight":17.6,"n":-3}';
    expect(numberLiterals(raw)).toEqual(['820982911946154508', '17.6', '-3']);
    expect(unsafeIntegers(raw)).toEqual(['820982911946154508']);
    expect(JSON.stringify(JSON.parse(raw))).toContain('"id":820982911946154500,');
  });

  describe.each(PROVIDERS)('%s', (provider) => {
    it('has a README row naming each file, and each file has the bytes its row names', () => {
      const hashes = readmeHashes(provider);
      expect([...hashes.keys()].sort()).toEqual(jsonFiles(provider).sort());
      for (const file of jsonFiles(provider)) expect(sha256(bytes(provider, file)), file).toBe(hashes.get(file));
    });

    it.each(jsonFiles(provider))('%s parses as JSON with every integer a safe one, or the ones its README says were rounded', (file) => {
      const text = bytes(provider, file).toString('utf8');
      expect(() => JSON.parse(text)).not.toThrow();
      // A file whose IDs exceed 2^53 must be read from the raw text. The only such files are those whose
      // source rounded them (the Shopify README's second table): exactly the count it names, each the
      // text a double prints (the rounding a parse/stringify does), so nothing else in them was changed.
      const unsafe = unsafeIntegers(text);
      expect(unsafe.length).toBe(readmeRounded(provider).get(file) ?? 0);
      for (const literal of unsafe) expect(String(Number(literal)), literal).toBe(literal);
    });
  });
});

describe('stripe: stripe.webhooks signs and verifies each example', () => {
  const stripe = new Stripe('sk_test_x'); // no request is made
  const secret = 'whsec_hooklineProviderExamples';
  const objects: Record<string, string> = {
    'payment_intent.succeeded': 'payment_intent',
    'payment_intent.payment_failed': 'payment_intent',
    'charge.refunded': 'charge',
    'charge.dispute.created': 'dispute',
  };

  it('has one example per handled type', () => {
    expect(payloadFiles('stripe').sort()).toEqual(
      Object.keys(objects)
        .map((t) => `${t}.json`)
        .sort(),
    );
  });

  it.each(Object.keys(objects))('%s: generateTestHeaderString, then constructEvent accepts it', (type) => {
    const raw = bytes('stripe', `${type}.json`);
    const header = stripe.webhooks.generateTestHeaderString({ payload: raw.toString('utf8'), secret });
    const event = stripe.webhooks.constructEvent(raw, header, secret);
    expect(event.type).toBe(type);
    expect(event.id).toMatch(/^evt_[A-Za-z0-9]{24}$/);
    expect(event.object).toBe('event');
    expect((event.data.object as { object: string }).object).toBe(objects[type]);
  });

  it('each example is its own event: no two share an id', () => {
    const ids = payloadFiles('stripe').map((f) => (JSON.parse(bytes('stripe', f).toString('utf8')) as { id: string }).id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('constructEvent refuses the example with one byte changed', () => {
    const raw = bytes('stripe', 'charge.dispute.created.json');
    const header = stripe.webhooks.generateTestHeaderString({ payload: raw.toString('utf8'), secret });
    const tampered = Buffer.from(raw.toString('utf8').replace('"amount": 1000', '"amount": 1001'));
    expect(tampered.equals(raw)).toBe(false);
    expect(() => stripe.webhooks.constructEvent(tampered, header, secret)).toThrow(Stripe.errors.StripeSignatureVerificationError);
  });
});

describe("easypost: @easypost/api's Utils.validateWebhook", () => {
  const client = new EasyPost('EZTK_not_a_key'); // no request is made
  const vector = JSON.parse(bytes('easypost', VECTOR).toString('utf8')) as {
    header: string;
    signature: string;
    secret: string;
    bodyFile: string;
  };
  const sign = (body: Buffer | string, secret: string) =>
    `hmac-sha256-hex=${createHmac('sha256', Buffer.from(secret.normalize('NFKD'), 'utf8'))
      .update(body)
      .digest('hex')}`;

  it("accepts EasyPost's published test vector over the example's bytes", () => {
    const body = bytes('easypost', vector.bodyFile);
    const event = client.Utils.validateWebhook(body, { [vector.header]: vector.signature }, vector.secret) as Record<string, unknown>;
    expect(event).toMatchObject({ id: 'evt_1', description: 'tracker.updated', result: { status: 'in_transit', weight: 614.4 } });
  });

  it('Node crypto reproduces the vector from the raw bytes and the NFKD secret (what a signer must do)', () => {
    expect(vector.secret).toBe('s\u00e9cret');
    expect(sign(bytes('easypost', vector.bodyFile), vector.secret)).toBe(vector.signature);
    const nfcKey = createHmac('sha256', vector.secret).update(bytes('easypost', vector.bodyFile)).digest('hex');
    expect(`hmac-sha256-hex=${nfcKey}`).not.toBe(vector.signature);
  });

  it('normalises the secret itself: the same secret written decomposed (NFD) is accepted too', () => {
    const nfd = vector.secret.normalize('NFD');
    expect(nfd).not.toBe(vector.secret);
    const body = bytes('easypost', vector.bodyFile);
    expect(() => client.Utils.validateWebhook(body, { [vector.header]: vector.signature }, nfd)).not.toThrow();
  });

  it('refuses the vector with one byte of the body changed, or with no signature header', () => {
    const body = Buffer.from(bytes('easypost', vector.bodyFile).toString('utf8').replace('"evt_1"', '"evt_2"'));
    expect(() => client.Utils.validateWebhook(body, { [vector.header]: vector.signature }, vector.secret)).toThrow(
      /did not originate from EasyPost/,
    );
    expect(() => client.Utils.validateWebhook(bytes('easypost', vector.bodyFile), {}, vector.secret)).toThrow(
      /does not contain a valid HMAC signature/,
    );
  });

  it('accepts the delivered example signed over its bytes', () => {
    const body = bytes('easypost', 'tracker.updated-delivered.json');
    const event = client.Utils.validateWebhook(body, { 'x-hmac-signature': sign(body, vector.secret) }, vector.secret);
    expect(event).toMatchObject({ description: 'tracker.updated', result: { status: 'delivered', tracking_code: 'EZ4000000004' } });
  });

  it('HMACs an integer weight rewritten as N.0, not the raw bytes (easypost-node issue 467)', () => {
    const body = '{"description":"tracker.updated","result":{"weight":17}}';
    expect(() => client.Utils.validateWebhook(Buffer.from(body), { [vector.header]: sign(body, vector.secret) }, vector.secret)).toThrow();
    const rewritten = sign(body.replace('"weight":17', '"weight":17.0'), vector.secret);
    expect(() => client.Utils.validateWebhook(Buffer.from(body), { [vector.header]: rewritten }, vector.secret)).not.toThrow();
  });
});

describe("shopify: @shopify/shopify-api's webhooks.validate over real HTTP accepts each example signed as Shopify signs", () => {
  const secret = 'shpss_hooklineProviderExamples';
  const shopify = shopifyApi({
    apiKey: 'hookline-provider-examples',
    apiSecretKey: secret,
    apiVersion: ApiVersion.July26,
    hostName: '127.0.0.1',
    isEmbeddedApp: false,
    logger: { level: LogSeverity.Error },
  });
  let server: Server;
  let url: string;

  beforeAll(async () => {
    // The Node adapter reads the headers from the IncomingMessage; the raw body is passed as the string received.
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const rawBody = Buffer.concat(chunks).toString('utf8');
        shopify.webhooks
          .validate({ rawBody, rawRequest: req, rawResponse: res })
          .then((result) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result)))
          .catch((error: unknown) => res.writeHead(500).end(String(error)));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/shopify`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const hmac = (body: Buffer) => createHmac('sha256', secret).update(body).digest('base64');
  const topicOf = (file: string) => file.replace(/\.json$/, '').replace('-', '/');
  const post = async (body: Buffer, headers: Record<string, string>): Promise<Record<string, unknown>> => {
    const response = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
    return (await response.json()) as Record<string, unknown>;
  };
  const headersFor = (file: string, body: Buffer) => ({
    'X-Shopify-Hmac-Sha256': hmac(body),
    'X-Shopify-Topic': topicOf(file),
    'X-Shopify-Shop-Domain': 'hookline-test.myshopify.com',
    'X-Shopify-API-Version': '2026-07',
    'X-Shopify-Webhook-Id': randomUUID(),
    'X-Shopify-Event-Id': '98880550-7158-44d4-b7cd-2c97c8a091b5',
    'X-Shopify-Triggered-At': '2026-07-15T12:00:00.000000000Z',
  });

  it.each(payloadFiles('shopify'))('%s', async (file) => {
    const body = bytes('shopify', file);
    expect(await post(body, headersFor(file, body))).toMatchObject({
      valid: true,
      webhookType: 'webhooks',
      topic: topicOf(file).toUpperCase().replace('/', '_'),
      domain: 'hookline-test.myshopify.com',
      apiVersion: '2026-07',
      eventId: '98880550-7158-44d4-b7cd-2c97c8a091b5',
      triggeredAt: '2026-07-15T12:00:00.000000000Z',
    });
  });

  it("accepts hookline's own signer and delivery headers (npm run send) for every handled topic", async () => {
    for (const [topic, handled] of Object.entries(shopifyProvider.handles)) {
      const body = bytes('shopify', (handled.example as { file: string }).file);
      const headers = { ...shopifyProvider.delivery!(topic as never, body), ...signWebhook('hmac-sha256-base64', body, secret) };
      expect(await post(body, headers), topic).toMatchObject({ valid: true, topic: topic.toUpperCase().replace('/', '_') });
    }
  });

  it('an order example keeps its exact IDs in the gid strings: what hookline reads', () => {
    const text = bytes('shopify', 'orders-create.json').toString('utf8');
    expect(text).toContain('"admin_graphql_api_id": "gid://shopify/Order/820982911946154508"');
    expect(text).toContain('"id": 820982911946154500,');
  });

  it('refuses an example with one byte changed: invalid_hmac', async () => {
    const body = bytes('shopify', 'customers-redact.json');
    const headers = headersFor('customers-redact.json', body);
    const tampered = Buffer.from(body.toString('utf8').replace('191167', '191168'));
    expect(await post(tampered, headers)).toEqual({ valid: false, reason: 'invalid_hmac' });
  });

  it('signs the body only: another topic or shop domain on the same signed body still validates', async () => {
    const body = bytes('shopify', 'returns-approve.json');
    const headers = {
      ...headersFor('returns-approve.json', body),
      'X-Shopify-Topic': 'returns/decline',
      'X-Shopify-Shop-Domain': 'x.myshopify.com',
    };
    expect(await post(body, headers)).toMatchObject({ valid: true, topic: 'RETURNS_DECLINE', domain: 'x.myshopify.com' });
  });

  it('requires the delivery headers: missing_headers names the one left out', async () => {
    const body = bytes('shopify', 'shop-redact.json');
    const { 'X-Shopify-Webhook-Id': _dropped, ...headers } = headersFor('shop-redact.json', body);
    expect(await post(body, headers)).toEqual({ valid: false, reason: 'missing_headers', missingHeaders: ['X-Shopify-Webhook-Id'] });
  });
});

describe("zendesk: its published signature example, with Node's crypto", () => {
  const vector = JSON.parse(bytes('zendesk', VECTOR).toString('utf8')) as {
    secret: string;
    timestamp: string;
    body: string;
    signature: string;
  };
  const sign = (message: string) => createHmac('sha256', vector.secret).update(message).digest('base64');

  it('is reproduced over body then timestamp, with the secret used as the string it is', () => {
    expect(sign(vector.body + vector.timestamp)).toBe(vector.signature);
  });

  it('is not reproduced over timestamp then body (the current docs), nor with the secret base64-decoded', () => {
    expect(sign(vector.timestamp + vector.body)).not.toBe(vector.signature);
    const withDecodedKey = createHmac('sha256', Buffer.from(vector.secret, 'base64')).update(vector.body + vector.timestamp);
    expect(withDecodedKey.digest('base64')).not.toBe(vector.signature);
  });
});

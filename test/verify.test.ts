import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { SCHEMES, WebhookVerificationError, generateSecret, signWebhook, verifyWebhook, type VerificationFailure } from '../src/signatures';

// Every input below is signed by the provider's own library or published example, never by our
// signWebhook, except in the round trip at the end.

const NOW = new Date('2025-06-01T12:00:00Z');
const NOW_S = NOW.getTime() / 1000;
const now = () => NOW;
const BODY = '{"id":"evt_1","type":"order.created","total":"12.50 €"}';
const body = (text = BODY) => Buffer.from(text);

function expectFailure(run: () => unknown, reason: VerificationFailure, ...mustNotContain: string[]): void {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(WebhookVerificationError);
  const error = caught as WebhookVerificationError;
  expect(error.reason).toBe(reason);
  for (const text of mustNotContain) expect(error.message).not.toContain(text);
}

// ESM-only package; a dynamic import keeps this CommonJS test file type-checking.
async function octokitSign(secret: string, payload: string): Promise<string> {
  const { sign } = await import('@octokit/webhooks-methods');
  return sign(secret, payload);
}

describe('standard-webhooks', () => {
  // The specification's published test vector.
  const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const OTHER_SECRET = 'whsec_c2VjcmV0LW9mLWEtcm90YXRlZC1lbmRwb2ludA==';

  function signed(payload = BODY, { id = 'msg_2Kx', at = NOW, secret = SECRET } = {}): Record<string, string> {
    return {
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign(id, at, payload),
    };
  }
  const verify = (headers: Record<string, string>, secrets = [SECRET], payload = body()) =>
    verifyWebhook('standard-webhooks', payload, headers, secrets, { now });

  it("accepts the specification's published test vector", () => {
    const headers = {
      'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      'webhook-timestamp': '1614265330',
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    };
    const payload = '{"test": 2432232314}';
    expect(new Webhook(SECRET).sign(headers['webhook-id'], new Date(1614265330_000), payload)).toBe(headers['webhook-signature']);
    const delivery = verifyWebhook('standard-webhooks', Buffer.from(payload), headers, [SECRET], {
      now: () => new Date(1614265330_000),
    });
    expect(delivery).toEqual({ signedId: 'msg_p5jXN8AQM9LWM0D4loKWxJek', signedAt: new Date(1614265330_000) });
  });

  it('accepts a delivery signed by the standardwebhooks library and returns its id and signed time', () => {
    expect(verify(signed())).toEqual({ signedId: 'msg_2Kx', signedAt: NOW });
  });

  it('accepts the svix- header names', () => {
    const h = signed();
    const svix = { 'svix-id': h['webhook-id']!, 'svix-timestamp': h['webhook-timestamp']!, 'svix-signature': h['webhook-signature']! };
    expect(verify(svix).signedId).toBe('msg_2Kx');
  });

  it('skips v1a and non-matching v1 entries and accepts a later valid v1', () => {
    const h = signed();
    const wrong = new Webhook(OTHER_SECRET).sign('msg_2Kx', NOW, BODY);
    const headers = { ...h, 'webhook-signature': `v1a,bm90LWFuLWVkMjU1MTktc2lnbmF0dXJl ${wrong} ${h['webhook-signature']}` };
    expect(verify(headers).signedId).toBe('msg_2Kx');
  });

  it('hashes the raw bytes, even a body that is not valid UTF-8', () => {
    // Computed by the spec's formula with Node's crypto: the library would decode the Buffer to a string first.
    const raw = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
    const key = Buffer.from(SECRET.slice('whsec_'.length), 'base64');
    const sig = createHmac('sha256', key).update(`msg_raw.${NOW_S}.`).update(raw).digest('base64');
    const headers = { 'webhook-id': 'msg_raw', 'webhook-timestamp': String(NOW_S), 'webhook-signature': `v1,${sig}` };
    expect(verify(headers, [SECRET], raw).signedId).toBe('msg_raw');
  });

  it.each(['webhook-id', 'webhook-timestamp', 'webhook-signature'])('rejects a delivery without %s: missing-header', (name) => {
    const headers = signed();
    delete headers[name];
    expectFailure(() => verify(headers), 'missing-header', SECRET);
  });

  it('rejects a non-numeric timestamp: malformed-header', () => {
    expectFailure(() => verify({ ...signed(), 'webhook-timestamp': '2025-06-01T12:00:00Z' }), 'malformed-header', SECRET);
  });

  it('rejects a signature header with no v1 entry: malformed-header', () => {
    expectFailure(() => verify({ ...signed(), 'webhook-signature': 'v1a,bm90LWFuLWVkMjU1MTktc2lnbmF0dXJl' }), 'malformed-header', SECRET);
  });

  it('rejects a tampered body: bad-signature', () => {
    const tampered = BODY.replace('12.50', '0.01');
    const expected = new Webhook(SECRET).sign('msg_2Kx', NOW, tampered).slice(3);
    expectFailure(() => verify(signed(), [SECRET], body(tampered)), 'bad-signature', SECRET, expected);
  });

  it('rejects a delivery signed with another secret: bad-signature', () => {
    expectFailure(() => verify(signed(BODY, { secret: OTHER_SECRET })), 'bad-signature', SECRET, OTHER_SECRET);
  });

  it('rejects a timestamp older than the tolerance: timestamp-too-old', () => {
    expectFailure(() => verify(signed(BODY, { at: new Date(NOW.getTime() - 301_000) })), 'timestamp-too-old', SECRET);
  });

  it('rejects a timestamp further in the future than the tolerance: timestamp-too-new', () => {
    expectFailure(() => verify(signed(BODY, { at: new Date(NOW.getTime() + 301_000) })), 'timestamp-too-new', SECRET);
  });

  it('accepts timestamps exactly at the tolerance, which is configurable', () => {
    expect(verify(signed(BODY, { at: new Date(NOW.getTime() - 300_000) })).signedAt).toBeDefined();
    expect(verify(signed(BODY, { at: new Date(NOW.getTime() + 300_000) })).signedAt).toBeDefined();
    const old = signed(BODY, { at: new Date(NOW.getTime() - 3_600_000) });
    expect(verifyWebhook('standard-webhooks', body(), old, [SECRET], { now, toleranceSeconds: 3_600 }).signedId).toBe('msg_2Kx');
  });

  it('accepts a delivery matching the second of two rotated secrets', () => {
    expect(verify(signed(BODY, { secret: OTHER_SECRET }), [SECRET, OTHER_SECRET]).signedId).toBe('msg_2Kx');
  });

  it('refuses everything when no secret is configured: no-secret', () => {
    expectFailure(() => verify(signed(), []), 'no-secret');
    expectFailure(() => verify(signed(), ['']), 'no-secret');
  });

  it('treats a secret that is not base64 as a configuration error, without echoing it', () => {
    expect(() => verify(signed(), ['whsec_not base64!'])).toThrow(TypeError);
    expect(() => verify(signed(), ['whsec_not base64!'])).not.toThrow(/not base64!/);
  });
});

describe('stripe', () => {
  const stripe = new Stripe('sk_test_x');
  // Deliberately the same string as the Standard Webhooks vector: valid base64 after whsec_, so
  // only the key derivation tells the two schemes apart.
  const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const OTHER_SECRET = 'whsec_4eC39HqLyjWDarjtT1zdp7dc';

  const header = (payload = BODY, { at = NOW_S, secret = SECRET } = {}) =>
    stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: at });
  const verify = (value: string | undefined, secrets = [SECRET], payload = body()) =>
    verifyWebhook('stripe', payload, { 'stripe-signature': value }, secrets, { now });
  const v1Of = (value: string) => /v1=([0-9a-f]{64})/.exec(value)![1]!;

  it("accepts a header from Stripe's generateTestHeaderString and returns the signed time", () => {
    expect(verify(header())).toEqual({ signedAt: NOW });
  });

  it('keys the HMAC with the whsec_ secret exactly as given, not base64-decoded like standard-webhooks', () => {
    expect(verify(header()).signedAt).toEqual(NOW);
    const decodedKey = Buffer.from(SECRET.slice('whsec_'.length), 'base64');
    const asIfStandardWebhooks = createHmac('sha256', decodedKey).update(`${NOW_S}.${BODY}`).digest('hex');
    expectFailure(() => verify(`t=${NOW_S},v1=${asIfStandardWebhooks}`), 'bad-signature', SECRET);
  });

  it('ignores v0 and a non-matching first v1 and accepts the second v1', () => {
    const good = v1Of(header());
    const bad = v1Of(header(BODY, { secret: OTHER_SECRET }));
    expect(verify(`t=${NOW_S},v1=${bad},v1=${good},v0=${'0'.repeat(64)}`).signedAt).toEqual(NOW);
  });

  it('rejects a delivery without Stripe-Signature: missing-header', () => {
    expectFailure(() => verify(undefined), 'missing-header', SECRET);
    expectFailure(() => verify(''), 'missing-header', SECRET);
  });

  it.each([
    ['no key=value pairs', 'garbage'],
    ['no timestamp', `v1=${'a'.repeat(64)}`],
    ['a non-numeric timestamp', `t=soon,v1=${'a'.repeat(64)}`],
    ['only v0 signatures', `t=${NOW_S},v0=${'a'.repeat(64)}`],
    ['two timestamps', `t=${NOW_S},t=${NOW_S + 1},v1=${'a'.repeat(64)}`],
  ])('rejects a header with %s: malformed-header', (_, value) => {
    expectFailure(() => verify(value), 'malformed-header', SECRET);
  });

  it('rejects a tampered body: bad-signature', () => {
    const tampered = BODY.replace('12.50', '0.01');
    expectFailure(() => verify(header(), [SECRET], body(tampered)), 'bad-signature', SECRET, v1Of(header(tampered)));
  });

  it('rejects a delivery signed with another secret: bad-signature', () => {
    expectFailure(() => verify(header(BODY, { secret: OTHER_SECRET })), 'bad-signature', SECRET, OTHER_SECRET);
  });

  it('rejects a timestamp older than the tolerance: timestamp-too-old', () => {
    expectFailure(() => verify(header(BODY, { at: NOW_S - 301 })), 'timestamp-too-old', SECRET);
  });

  it('rejects a timestamp further in the future than the tolerance: timestamp-too-new', () => {
    expectFailure(() => verify(header(BODY, { at: NOW_S + 301 })), 'timestamp-too-new', SECRET);
  });

  it('honours a custom tolerance', () => {
    const old = header(BODY, { at: NOW_S - 600 });
    expect(verifyWebhook('stripe', body(), { 'stripe-signature': old }, [SECRET], { now, toleranceSeconds: 600 }).signedAt).toBeDefined();
    expectFailure(
      () => verifyWebhook('stripe', body(), { 'stripe-signature': old }, [SECRET], { now, toleranceSeconds: 599 }),
      'timestamp-too-old',
    );
  });

  it('accepts a delivery matching the second of two rotated secrets', () => {
    expect(verify(header(BODY, { secret: OTHER_SECRET }), [SECRET, OTHER_SECRET]).signedAt).toEqual(NOW);
  });

  it('refuses everything when no secret is configured: no-secret', () => {
    expectFailure(() => verify(header(), []), 'no-secret');
  });
});

describe('hmac-sha256-hex (GitHub)', () => {
  const SECRET = 'gh-secret-9f2c';
  const OTHER_SECRET = 'gh-secret-rotated';
  const github = { signatureHeader: 'X-Hub-Signature-256' };
  const verify = (headers: Record<string, string>, secrets = [SECRET], payload = body()) =>
    verifyWebhook('hmac-sha256-hex', payload, headers, secrets, github);

  it("accepts GitHub's published example from 'Validating webhook deliveries'", () => {
    const secret = "It's a Secret to Everybody";
    const signature = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
    expect(verify({ 'x-hub-signature-256': signature }, [secret], Buffer.from('Hello, World!'))).toEqual({});
  });

  it('accepts an @octokit/webhooks-methods signature; X-GitHub-Delivery comes back as an unsigned reference, not a signed id', async () => {
    const signature = await octokitSign(SECRET, BODY);
    const delivery = verify({ 'x-hub-signature-256': signature, 'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958' });
    expect(delivery).toEqual({ deliveryRef: '72d3162e-cc78-11e3-81ab-4c9367dc0958' });
  });

  it('reads X-Webhook-Signature by default and tolerates a bare hex value', async () => {
    const hex = (await octokitSign(SECRET, BODY)).slice('sha256='.length);
    expect(verifyWebhook('hmac-sha256-hex', body(), { 'x-webhook-signature': hex }, [SECRET])).toEqual({});
  });

  it('hashes the raw bytes, even a body that is not valid UTF-8', () => {
    const raw = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
    const signature = `sha256=${createHmac('sha256', SECRET).update(raw).digest('hex')}`;
    expect(verify({ 'x-hub-signature-256': signature }, [SECRET], raw)).toBeDefined();
  });

  it('rejects a delivery without the configured header: missing-header', async () => {
    const signature = await octokitSign(SECRET, BODY);
    expectFailure(() => verify({ 'x-webhook-signature': signature }), 'missing-header', SECRET);
  });

  it.each([
    ['another algorithm', `sha1=${'a'.repeat(40)}`],
    ['non-hex digits', `sha256=${'z'.repeat(64)}`],
    ['a truncated digest', `sha256=${'a'.repeat(63)}`],
  ])('rejects a value with %s: malformed-header', (_, value) => {
    expectFailure(() => verify({ 'x-hub-signature-256': value }), 'malformed-header', SECRET);
  });

  it('rejects a tampered body: bad-signature', async () => {
    const tampered = BODY.replace('12.50', '0.01');
    const expected = (await octokitSign(SECRET, tampered)).slice('sha256='.length);
    const signature = await octokitSign(SECRET, BODY);
    expectFailure(() => verify({ 'x-hub-signature-256': signature }, [SECRET], body(tampered)), 'bad-signature', SECRET, expected);
  });

  it('rejects a delivery signed with another secret: bad-signature', async () => {
    const signature = await octokitSign(OTHER_SECRET, BODY);
    expectFailure(() => verify({ 'x-hub-signature-256': signature }), 'bad-signature', SECRET, OTHER_SECRET);
  });

  it('accepts a delivery matching the second of two rotated secrets', async () => {
    const signature = await octokitSign(OTHER_SECRET, BODY);
    expect(verify({ 'x-hub-signature-256': signature }, [SECRET, OTHER_SECRET])).toBeDefined();
  });

  it('refuses everything when no secret is configured: no-secret', async () => {
    const signature = await octokitSign(SECRET, BODY);
    expectFailure(() => verify({ 'x-hub-signature-256': signature }, []), 'no-secret');
  });
});

describe('hmac-sha256-base64 (Shopify)', () => {
  const SECRET = 'shpss_0a1b2c3d4e5f';
  const OTHER_SECRET = 'shpss_rotated';
  // As Shopify documents it: base64 of HMAC-SHA256 over the raw body, keyed with the app's secret string.
  const shopifyHmac = (secret: string, payload: string) => createHmac('sha256', secret).update(payload, 'utf8').digest('base64');
  const verify = (headers: Record<string, string>, secrets = [SECRET], payload = body()) =>
    verifyWebhook('hmac-sha256-base64', payload, headers, secrets);

  it('accepts X-Shopify-Hmac-Sha256 and returns X-Shopify-Webhook-Id as an unsigned reference', () => {
    const headers = { 'x-shopify-hmac-sha256': shopifyHmac(SECRET, BODY), 'x-shopify-webhook-id': 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043' };
    expect(verify(headers)).toEqual({ deliveryRef: 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043' });
  });

  it('reads a configured header instead, whatever its case', () => {
    const delivery = verifyWebhook('hmac-sha256-base64', body(), { 'x-signature': shopifyHmac(SECRET, BODY) }, [SECRET], {
      signatureHeader: 'X-Signature',
    });
    expect(delivery).toEqual({});
  });

  it('rejects a delivery without the header: missing-header', () => {
    expectFailure(() => verify({ 'x-shopify-topic': 'orders/create' }), 'missing-header', SECRET);
  });

  it.each([
    ['a hex digest', createHmac('sha256', SECRET).update(BODY).digest('hex')],
    ['a short value', 'c2hvcnQ='],
  ])('rejects %s: malformed-header', (_, value) => {
    expectFailure(() => verify({ 'x-shopify-hmac-sha256': value }), 'malformed-header', SECRET);
  });

  it('rejects a tampered body: bad-signature', () => {
    const tampered = BODY.replace('12.50', '0.01');
    expectFailure(
      () => verify({ 'x-shopify-hmac-sha256': shopifyHmac(SECRET, BODY) }, [SECRET], body(tampered)),
      'bad-signature',
      SECRET,
      shopifyHmac(SECRET, tampered),
    );
  });

  it('rejects a delivery signed with another secret: bad-signature', () => {
    expectFailure(() => verify({ 'x-shopify-hmac-sha256': shopifyHmac(OTHER_SECRET, BODY) }), 'bad-signature', SECRET, OTHER_SECRET);
  });

  it('accepts a delivery matching the second of two rotated secrets', () => {
    expect(verify({ 'x-shopify-hmac-sha256': shopifyHmac(OTHER_SECRET, BODY) }, [SECRET, OTHER_SECRET])).toBeDefined();
  });

  it('refuses everything when no secret is configured: no-secret', () => {
    expectFailure(() => verify({ 'x-shopify-hmac-sha256': shopifyHmac(SECRET, BODY) }, []), 'no-secret');
  });
});

describe('signWebhook and generateSecret', () => {
  it.each(SCHEMES)('%s: what signWebhook sends, verifyWebhook accepts', (scheme) => {
    const secret = generateSecret(scheme);
    const headers = signWebhook(scheme, BODY, secret, { timestamp: NOW, id: 'evt_rt' });
    const delivery = verifyWebhook(scheme, body(), headers, [secret], { now });
    const timestamped = scheme === 'stripe' || scheme === 'standard-webhooks' || scheme === 'zendesk';
    expect(delivery.signedAt).toEqual(timestamped ? NOW : undefined);
    // Only standard-webhooks signs its id; the HMAC schemes' id header is a reference.
    expect(delivery.signedId).toBe(scheme === 'standard-webhooks' ? 'evt_rt' : undefined);
    expect(delivery.deliveryRef).toBe(scheme.startsWith('hmac') ? 'evt_rt' : undefined);
  });

  // The `npm run send` command must look genuine to real receivers, not only to ours.
  it("produces headers the providers' own verifiers accept", async () => {
    const { verify: octokitVerify } = await import('@octokit/webhooks-methods');
    const github = signWebhook('hmac-sha256-hex', BODY, 'gh', { signatureHeader: 'X-Hub-Signature-256' });
    expect(await octokitVerify('gh', BODY, github['x-hub-signature-256']!)).toBe(true);

    const whsec = generateSecret('standard-webhooks');
    expect(() => new Webhook(whsec).verify(BODY, signWebhook('standard-webhooks', BODY, whsec))).not.toThrow();

    const stripeSecret = generateSecret('stripe');
    const stripeHeader = signWebhook('stripe', BODY, stripeSecret)['stripe-signature']!;
    expect(new Stripe('sk_test_x').webhooks.constructEvent(BODY, stripeHeader, stripeSecret).id).toBe('evt_1');
  });

  it.each([
    ['hmac-sha256-hex', /^[0-9a-f]{64}$/],
    ['hmac-sha256-base64', /^[0-9a-f]{64}$/],
    ['stripe', /^whsec_[A-Za-z0-9+/]{43}=$/],
    ['standard-webhooks', /^whsec_[A-Za-z0-9+/]{43}=$/],
  ] as const)('generateSecret(%s) has the customary format and is fresh each time', (scheme, format) => {
    expect(generateSecret(scheme)).toMatch(format);
    expect(generateSecret(scheme)).not.toBe(generateSecret(scheme));
  });

  it('refuses a parsed body: verification needs the raw bytes', () => {
    const parsed = JSON.parse(BODY) as unknown as Buffer;
    expect(() => verifyWebhook('hmac-sha256-hex', parsed, {}, ['s'])).toThrow(TypeError);
  });
});

import type { AddressInfo } from 'node:net';
import express, { type Request, type Response } from 'express';
import Stripe from 'stripe';

/**
 * SANDBOX: a stand-in for Stripe as a sender of events — it "sends" each event to a webhook
 * endpoint (signed with the endpoint's secret by the `stripe` package, as Stripe signs) or drops it
 * on the way, as a host that is down, a misrouted proxy or a rotated secret would, and it answers
 * `GET /v1/events` as Stripe does: newest first, `types[]`, `created[gte|gt|lte|lt]`,
 * `delivery_success`, `starting_after`/`ending_before` and `limit` (1–100), in Stripe's list shape
 * (`{object: "list", url, has_more, data}`), errors as `{error: {type, message, param}}`. An event
 * whose delivery failed keeps `pending_webhooks` above 0, which is what `delivery_success=false`
 * selects. Faults: a 429 with `Retry-After` at a chosen request, as Stripe's rate limiter answers.
 */

export type StripeEventObject = Stripe.Event;

export interface StripeEventsStandIn {
  /** `http://127.0.0.1:<port>`: the base URL a Stripe client is pointed at (STRIPE_API_BASE_URL). */
  url: string;
  /**
   * Records `event` as created and delivers it to `endpoint` unless `drop`: resolves to the
   * receiver's status, or undefined for a dropped delivery. A delivery that is not 2xx counts as failed.
   */
  send(event: StripeEventObject, endpoint: { url: string; secret: string }, options?: { drop?: boolean }): Promise<number | undefined>;
  /** Delivers an already recorded event again (a late delivery): resolves to the receiver's status. */
  deliver(id: string, endpoint: { url: string; secret: string }): Promise<number>;
  /** Records an event without delivering it (a backlog built for a test or a benchmark). */
  record(event: StripeEventObject, delivered: boolean): void;
  /** Answer the `n`th request from now (1 = the next) with 429 and `Retry-After: seconds`. */
  rateLimitAt(n: number, retryAfterSeconds: number): void;
  /**
   * Hold the `n`th request from now unanswered until `release` is called (a provider slow enough
   * that the worker dies mid-page); resolves `held` once it arrives.
   */
  holdAt(n: number): { held: Promise<void>; release: () => void };
  /** Requests to `GET /v1/events` so far, and the 429s among them. */
  readonly requests: { total: number; rateLimited: number; queries: URLSearchParams[] };
  close(): Promise<void>;
}

const LIST_LIMIT_MAX = 100;

/** `types[0]=a&types[1]=b` (as stripe-node encodes arrays) or `types[]=a`: the values, in order. */
function arrayParam(query: URLSearchParams, name: string): string[] {
  const values: string[] = [];
  for (const [key, value] of query) {
    if (key === name || key === `${name}[]` || new RegExp(`^${name}\\[\\d+\\]$`).test(key)) values.push(value);
  }
  return values;
}

/**
 * `GET /v1/events` over `events` (oldest first), as Stripe answers it: shared by this stand-in and
 * the sandbox's Stripe (`<sandbox>/stripe/v1/events`, what `npm start`'s schedules ask).
 */
export function listStripeEvents(events: readonly StripeEventObject[], query: URLSearchParams): { status: number; body: unknown } {
  const error = (status: number, message: string, param?: string) => ({
    status,
    body: { error: { type: 'invalid_request_error', message, ...(param ? { param } : {}) } },
  });
  const limit = Number(query.get('limit') ?? '10');
  if (!Number.isInteger(limit) || limit < 1 || limit > LIST_LIMIT_MAX) return error(400, 'Invalid integer: limit', 'limit');
  const types = arrayParam(query, 'types');
  const type = query.get('type');
  const bound = (op: string) => {
    const value = query.get(`created[${op}]`);
    return value === null ? undefined : Number(value);
  };
  const [gte, gt, lte, lt] = [bound('gte'), bound('gt'), bound('lte'), bound('lt')];
  const delivery = query.get('delivery_success');
  let matching = [...events]
    .reverse()
    .filter(
      (e) =>
        (types.length === 0 || types.includes(e.type)) &&
        (type === null || e.type === type) &&
        (gte === undefined || e.created >= gte) &&
        (gt === undefined || e.created > gt) &&
        (lte === undefined || e.created <= lte) &&
        (lt === undefined || e.created < lt) &&
        (delivery === null || (delivery === 'true') === (e.pending_webhooks === 0)),
    );
  const after = query.get('starting_after');
  const before = query.get('ending_before');
  if (after !== null) {
    const at = matching.findIndex((e) => e.id === after);
    if (at < 0) return error(400, `No such event: '${after}'`, 'starting_after');
    matching = matching.slice(at + 1);
  } else if (before !== null) {
    const at = matching.findIndex((e) => e.id === before);
    if (at < 0) return error(400, `No such event: '${before}'`, 'ending_before');
    matching = matching.slice(Math.max(0, at - limit), at);
  }
  return { status: 200, body: { object: 'list', url: '/v1/events', has_more: matching.length > limit, data: matching.slice(0, limit) } };
}

export async function startStripeEventsStandIn(): Promise<StripeEventsStandIn> {
  // Newest last; listed reversed. Ties on `created` keep the order of creation, as Stripe's ids do.
  const events: StripeEventObject[] = [];
  const requests = { total: 0, rateLimited: 0, queries: [] as URLSearchParams[] };
  let limitAt: { n: number; seconds: number } | undefined;
  let holding: { n: number; arrived: () => void; released: Promise<void> } | undefined;

  const app = express();
  app.get('/v1/events', async (req: Request, res: Response) => {
    requests.total += 1;
    if (holding && --holding.n === 0) {
      const { arrived, released } = holding;
      holding = undefined;
      arrived();
      await released;
    }
    const query = new URLSearchParams(req.originalUrl.split('?')[1] ?? '');
    requests.queries.push(query);
    if (limitAt && --limitAt.n === 0) {
      const { seconds } = limitAt;
      limitAt = undefined;
      requests.rateLimited += 1;
      res
        .status(429)
        .set('Retry-After', String(seconds))
        .json({ error: { type: 'invalid_request_error', code: 'rate_limit', message: 'Too many requests made to the API too quickly' } });
      return;
    }
    if (!/^Bearer (sk|rk)_(test|live)_\S+$/.test(req.get('authorization') ?? '')) {
      res.status(401).json({ error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } });
      return;
    }
    const reply = listStripeEvents(events, query);
    res.status(reply.status).json(reply.body);
  });

  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;

  async function post(event: StripeEventObject, endpoint: { url: string; secret: string }): Promise<number> {
    const payload = JSON.stringify(event);
    const header = Stripe.webhooks.generateTestHeaderString({ payload, secret: endpoint.secret });
    const res = await fetch(endpoint.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': header },
      body: payload,
    });
    await res.arrayBuffer();
    if (res.ok) event.pending_webhooks = 0;
    return res.status;
  }

  return {
    url: `http://127.0.0.1:${port}`,
    record(event, delivered) {
      events.push({ ...event, pending_webhooks: delivered ? 0 : 1 });
    },
    async send(event, endpoint, options = {}) {
      const kept = { ...event, pending_webhooks: 1 };
      events.push(kept);
      return options.drop ? undefined : post(kept, endpoint);
    },
    deliver(id, endpoint) {
      const event = events.find((e) => e.id === id);
      if (!event) throw new Error(`no event ${id}`);
      return post(event, endpoint);
    },
    holdAt(n) {
      let arrived!: () => void;
      let release!: () => void;
      const held = new Promise<void>((resolve) => (arrived = resolve));
      const released = new Promise<void>((resolve) => (release = resolve));
      holding = { n, arrived, released };
      return { held, release };
    },
    rateLimitAt(n, retryAfterSeconds) {
      limitAt = { n, seconds: retryAfterSeconds };
    },
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

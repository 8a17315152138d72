import { createHash } from 'node:crypto';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { FaultBook, parseFaultHeader, SYSTEMS, type ActiveFault, type FaultAction, type SystemName } from './faults';
import { createEasyPostSandbox, type EasyPostSandboxState } from './easypost';
import { createLlmSandbox, type ChatCompletionRequest } from './llm';
import {
  easyPostEventPayloads,
  easyPostPayload,
  listEasyPostEvents,
  type EasyPostEventObject,
  type EasyPostEventRecord,
} from './easypost-events';
import { listStripeEvents, type StripeEventObject } from './stripe-events';
import { createShopifySandbox, shopifyRootField, type ShopifyOrderSeed, type ShopifySandboxState } from './shopify';
import { createStripeSandbox, type StripePaymentSeed, type StripeSandboxState } from './stripe';
import { createZendeskSandbox, zendeskAuthorized, type ZendeskSandboxState } from './zendesk';
import { findCustomer } from './seed';
// The same constant-time check the receiver makes of its own bearer tokens.
import { bearerMatches } from '../receiver/bearer';

/**
 * SANDBOX: a fake CRM, carrier, warehouse, inventory and payment gateway in one Express app,
 * for `npm start` and tests. Nothing here talks to a real system; point a client's base URL
 * elsewhere to do that.
 */

export interface SandboxOptions {
  /**
   * When set, every system route and every `/_sandbox/*` control route but health requires
   * `Authorization: Bearer <token>` (401 otherwise).
   */
  token?: string;
  /** Make up customers for unseeded `CUST-…` ids (see `findCustomer`). Default true. */
  generateCustomers?: boolean;
  /**
   * Take unknown `pi_…` ids for paid Stripe payment intents, unknown Shopify orders for paid ones
   * (./stripe.ts, ./shopify.ts). Default true.
   */
  generatePayments?: boolean;
  /** Clock for timestamps in state and the call log. */
  now?: () => Date;
  /**
   * Requests a second a system takes before it answers 429 with `Retry-After`, as a partner
   * enforces its rate limit (a token bucket holding one second's worth, like Stripe's per-second
   * limits); unset: no limit. `SANDBOX_RATE_LIMIT_<SYSTEM>` for the standalone sandbox.
   */
  rateLimits?: Partial<Record<SystemName, number>>;
}

/** One request to a system route, as listed by `GET /_sandbox/calls`. */
export interface SandboxCall {
  system: SystemName;
  method: string;
  /** Inside the system: `/return-labels`, not `/carrier/return-labels`. */
  path: string;
  idempotencyKey: string | null;
  /** `null` while in flight, or forever for `hang` and `reset`. */
  status: number | null;
  at: string;
  /** Set when a fault (registered or `X-Sandbox-Fault`) acted on this call. */
  fault?: string;
  /** True when the answer was replayed from an earlier call with the same idempotency key. */
  replayed?: boolean;
  /** Shopify: the GraphQL operation's first root field (`order`, `refundCreate`), as faults match it after a `#`. */
  operation?: string;
}

export interface ReturnItemRecord {
  product_id: string;
  quantity: number;
}

export interface LabelRecord {
  label_id: string;
  tracking_number: string;
  label_url: string;
  carrier: string;
  return_id: string;
  order_id: string;
  customer_id: string;
  items: ReturnItemRecord[];
  voided: boolean;
  voided_at: string | null;
  created_at: string;
  idempotency_key: string;
}

export interface ExpectedReturnRecord {
  expected_return_id: string;
  return_id: string;
  order_id: string;
  tracking_number: string;
  items: ReturnItemRecord[];
  status: 'awaiting_arrival';
  created_at: string;
  idempotency_key: string;
}

export interface RestockRecord {
  restock_id: string;
  return_id: string;
  items: ReturnItemRecord[];
  status: 'applied';
  created_at: string;
  idempotency_key: string;
}

export interface RefundRecord {
  refund_id: string;
  order_id: string;
  payment_id: string | null;
  amount: number;
  currency: string;
  reason: string;
  status: 'succeeded';
  created_at: string;
  idempotency_key: string;
}

/** Everything the fake systems have done, as shown by `GET /_sandbox/state`. Live: mutated in place, never replaced. */
export interface SandboxState {
  labels: LabelRecord[];
  expectedReturns: ExpectedReturnRecord[];
  restocks: RestockRecord[];
  refunds: RefundRecord[];
  /** Units put back per product by restocks. */
  stock: Record<string, number>;
  /** The Stripe stand-in's payment intents, charges and refunds (./stripe.ts). */
  stripe: StripeSandboxState;
  /** The EasyPost stand-in's shipments, purchases and trackers (./easypost.ts). */
  easypost: EasyPostSandboxState;
  /** The Shopify stand-in's orders, returns, refunds and cost bucket (./shopify.ts). */
  shopify: ShopifySandboxState;
  /** The Zendesk stand-in's users, tickets and their comments (./zendesk.ts). */
  zendesk: ZendeskSandboxState;
  /**
   * The events each provider lists (`GET /stripe/v1/events`, `GET /easypost/v2/events` with each
   * Event's payloads: what the reconciler asks), oldest first; `POST /_sandbox/events/:provider`
   * adds one as if sent and its delivery failed.
   */
  events: { stripe: StripeEventObject[]; easypost: EasyPostEventRecord[] };
}

/** Programmatic access to the sandbox behind an app (the same things the `/_sandbox` routes do). */
export interface SandboxControl {
  readonly state: SandboxState;
  calls(): SandboxCall[];
  addFault(spec: unknown): ActiveFault;
  faults(): ActiveFault[];
  clearFaults(): void;
  /** Queue answers for the chat completions endpoint (see ./llm.ts); returns the queue's length. */
  scriptLlm(answers: unknown): number;
  /** Every chat completions request received, in order. */
  llmRequests(): ChatCompletionRequest[];
  /** A payment intent (and its charge) the Stripe stand-in knows, as a payment the webhooks reported. */
  addStripePaymentIntent(seed: StripePaymentSeed): void;
  /** An order Shopify holds (with its payment, fulfillments and returns): what the Shopify client reads and refunds. */
  addShopifyOrder(seed: ShopifyOrderSeed): void;
  /** A return requested on an order Shopify holds. */
  addShopifyReturn(seed: { returnId: string; orderId: string }): void;
  /** A customer Shopify holds: what `customers(query: "updated_at:…")` lists. */
  addShopifyCustomer(seed: Parameters<ReturnType<typeof createShopifySandbox>['addCustomer']>[0]): void;
  /** Sets Shopify's cost bucket (to see THROTTLED answered). */
  setShopifyBucket(bucket: { currentlyAvailable?: number; maximumAvailable?: number; restoreRate?: number }): void;
  /** A Zendesk ticket (and its requester) as a customer would open it: its description is its first comment. */
  addZendeskTicket(ticket: {
    id: number;
    requester: { id: number; email: string; name: string };
    subject: string;
    description: string;
    /** When it was opened (default: now). */
    createdAt?: string;
  }): void;
  /**
   * Makes Zendesk's stand-in ignore the Idempotency-Key on `PUT /tickets/{id}` (true) or honour it
   * (false, the default; `reset` restores it): Zendesk's documentation names the key for ticket
   * creation only. Answers the setting.
   */
  zendeskIgnoresUpdateKeys(ignore?: boolean): boolean;
  /** Clears state, the call log, idempotency memory, faults and the model's script. Seeded customers stay. */
  reset(): void;
}

export type SandboxApp = Express & { readonly sandbox: SandboxControl };

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  raw?: { contentType: string; data: string };
}

interface HandlerContext {
  params: Record<string, string>;
  /** A GET's query string. */
  query?: URLSearchParams;
  body: unknown;
  idempotencyKey: string;
  origin: string;
  /** Shopify's `X-Shopify-Access-Token`; EasyPost's key (its Basic auth user). */
  accessToken?: string | null;
}

interface Route {
  system: SystemName;
  method: 'GET' | 'POST' | 'PUT';
  /** A POST with no effect to repeat (a chat completion): no Idempotency-Key needed, nothing replayed. */
  query?: boolean;
  regex: RegExp;
  keys: string[];
  handler: (ctx: HandlerContext) => Reply;
}

const errorReply = (status: number, code: string, message: string, extra: Record<string, unknown> = {}): Reply => ({
  status,
  body: { error: { code, message, ...extra } },
});

const Item = z.object({ product_id: z.string().min(1), quantity: z.number().int().positive() });
const Items = z.array(Item).min(1, 'at least one item is required');
const Id = z.string().min(1).max(128);
const LabelRequest = z.object({ return_id: Id, order_id: Id, customer_id: Id, items: Items });
const ExpectedReturnRequest = z.object({ return_id: Id, order_id: Id, items: Items, tracking_number: Id });
const RestockRequest = z.object({ return_id: Id, items: Items });
const RefundRequest = z.object({
  order_id: Id,
  payment_id: Id.optional(),
  amount: z.number().positive().finite(),
  currency: z.string().regex(/^[A-Z]{3}$/, 'expected an upper-case ISO 4217 code such as USD'),
  reason: z.string().min(1).max(500),
});

function validate<S extends z.ZodType>(schema: S, body: unknown): { ok: true; data: z.output<S> } | { ok: false; reply: Reply } {
  const result = schema.safeParse(body);
  if (result.success) return { ok: true, data: result.data };
  const issues = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  const summary = issues.map((i) => `${i.path || '(body)'}: ${i.message}`).join('; ');
  return { ok: false, reply: errorReply(400, 'invalid_request', summary, { issues }) };
}

const seq = (prefix: string, n: number) => `${prefix}-${String(n).padStart(6, '0')}`;

/**
 * The sandbox as an Express app that never listens by itself (see `startSandbox`). Mounts
 * `/crm`, `/carrier`, `/warehouse`, `/inventory`, `/payments` and the `/_sandbox` control routes.
 */
export function createSandboxApp(options: SandboxOptions = {}): SandboxApp {
  const now = options.now ?? (() => new Date());
  const generate = options.generateCustomers ?? true;
  const token = options.token && options.token.length > 0 ? options.token : undefined;

  const stripe = createStripeSandbox(now, options.generatePayments ?? true);
  const easypost = createEasyPostSandbox(now);
  const shopify = createShopifySandbox(now, options.generatePayments ?? true);
  const zendesk = createZendeskSandbox(now, options.generatePayments ?? true);
  const state: SandboxState = {
    labels: [],
    expectedReturns: [],
    restocks: [],
    refunds: [],
    stock: {},
    stripe: stripe.state,
    easypost: easypost.state,
    shopify: shopify.state,
    zendesk: zendesk.state,
    events: { stripe: [], easypost: [] },
  };
  const calls: SandboxCall[] = [];
  const faults = new FaultBook(now);
  const idempotency = new Map<string, { fingerprint: string; reply: Reply }>();
  const counters = { label: 0, expected: 0, restock: 0, refund: 0 };
  const llm = createLlmSandbox(now);

  const control: SandboxControl = {
    state,
    calls: () => calls.map((c) => ({ ...c })),
    addFault: (spec) => faults.add(spec),
    faults: () => faults.list(),
    clearFaults: () => faults.clear(),
    scriptLlm: (answers) => llm.script(answers),
    llmRequests: () => llm.requests(),
    addStripePaymentIntent: (seed) => {
      stripe.addPaymentIntent(seed);
    },
    addShopifyOrder: (seed) => {
      shopify.addOrder(seed);
    },
    addShopifyReturn: (seed) => {
      shopify.addReturn(seed);
    },
    addShopifyCustomer: (seed) => {
      shopify.addCustomer(seed);
    },
    setShopifyBucket: (bucket) => shopify.setBucket(bucket),
    addZendeskTicket: ({ requester, ...ticket }) => {
      zendesk.addUser(requester);
      zendesk.addTicket({ ...ticket, requesterId: requester.id });
    },
    zendeskIgnoresUpdateKeys: (ignore) => zendesk.ignoreUpdateKeys(ignore),
    reset: () => {
      llm.reset();
      stripe.reset();
      easypost.reset();
      shopify.reset();
      zendesk.reset();
      state.events.stripe.length = 0;
      state.events.easypost.length = 0;
      state.labels.length = 0;
      state.expectedReturns.length = 0;
      state.restocks.length = 0;
      state.refunds.length = 0;
      for (const key of Object.keys(state.stock)) delete state.stock[key];
      calls.length = 0;
      idempotency.clear();
      faults.clear();
      counters.label = counters.expected = counters.restock = counters.refund = 0;
    },
  };

  const routes: Route[] = [];
  const route = (system: SystemName, method: Route['method'], pattern: string, handler: Route['handler'], query = false) => {
    const keys: string[] = [];
    const source = pattern.replace(/:([a-zA-Z]+)/g, (_, key: string) => {
      keys.push(key);
      return '([^/]+)';
    });
    routes.push({ system, method, regex: new RegExp(`^${source}$`), keys, handler, query });
  };

  // ---- CRM ---------------------------------------------------------------------------------
  route('crm', 'GET', '/customers/:id/details', ({ params }) => {
    const id = params.id ?? '';
    const customer = findCustomer(id, generate);
    return customer ? { status: 200, body: customer } : errorReply(404, 'customer_not_found', `no customer ${id}`);
  });

  // ---- Carrier -----------------------------------------------------------------------------
  const labelView = (l: LabelRecord) => ({
    label_id: l.label_id,
    tracking_number: l.tracking_number,
    label_url: l.label_url,
    carrier: l.carrier,
  });
  route('carrier', 'POST', '/return-labels', ({ body, idempotencyKey, origin }) => {
    const v = validate(LabelRequest, body);
    if (!v.ok) return v.reply;
    const label_id = seq('LBL', ++counters.label);
    const hash = createHash('sha256').update(`${label_id}:${v.data.return_id}`).digest('hex');
    const label: LabelRecord = {
      label_id,
      tracking_number: `TRK-${hash.slice(0, 12).toUpperCase()}`,
      label_url: `${origin}/carrier/return-labels/${label_id}/label.pdf`,
      carrier: 'FedEx',
      ...v.data,
      voided: false,
      voided_at: null,
      created_at: now().toISOString(),
      idempotency_key: idempotencyKey,
    };
    state.labels.push(label);
    return { status: 201, body: labelView(label) };
  });
  route('carrier', 'GET', '/return-labels/:id', ({ params }) => {
    const label = state.labels.find((l) => l.label_id === params.id);
    return label
      ? { status: 200, body: { ...labelView(label), voided: label.voided } }
      : errorReply(404, 'label_not_found', `no label ${params.id}`);
  });
  route('carrier', 'GET', '/return-labels/:id/label.pdf', ({ params }) => {
    const label = state.labels.find((l) => l.label_id === params.id);
    if (!label) return errorReply(404, 'label_not_found', `no label ${params.id}`);
    const data = `%PDF-1.4\n% SANDBOX return label ${label.label_id} ${label.tracking_number}${label.voided ? ' VOID' : ''}\n%%EOF\n`;
    return { status: 200, body: null, raw: { contentType: 'application/pdf', data } };
  });
  route('carrier', 'POST', '/return-labels/:id/void', ({ params }) => {
    const label = state.labels.find((l) => l.label_id === params.id);
    if (!label) return errorReply(404, 'label_not_found', `no label ${params.id}`);
    // Already void is fine: compensations run at least once, not exactly once.
    if (!label.voided) {
      label.voided = true;
      label.voided_at = now().toISOString();
    }
    return { status: 200, body: { label_id: label.label_id, status: 'voided' } };
  });

  // ---- Warehouse ---------------------------------------------------------------------------
  route('warehouse', 'POST', '/expected-returns', ({ body, idempotencyKey }) => {
    const v = validate(ExpectedReturnRequest, body);
    if (!v.ok) return v.reply;
    const record: ExpectedReturnRecord = {
      expected_return_id: seq('EXR', ++counters.expected),
      ...v.data,
      status: 'awaiting_arrival',
      created_at: now().toISOString(),
      idempotency_key: idempotencyKey,
    };
    state.expectedReturns.push(record);
    return {
      status: 201,
      body: { expected_return_id: record.expected_return_id, return_id: record.return_id, status: record.status },
    };
  });

  // ---- Inventory ---------------------------------------------------------------------------
  route('inventory', 'POST', '/restocks', ({ body, idempotencyKey }) => {
    const v = validate(RestockRequest, body);
    if (!v.ok) return v.reply;
    const record: RestockRecord = {
      restock_id: seq('RST', ++counters.restock),
      ...v.data,
      status: 'applied',
      created_at: now().toISOString(),
      idempotency_key: idempotencyKey,
    };
    state.restocks.push(record);
    for (const item of record.items) state.stock[item.product_id] = (state.stock[item.product_id] ?? 0) + item.quantity;
    return { status: 201, body: { restock_id: record.restock_id, return_id: record.return_id, status: record.status } };
  });

  // ---- Payments ----------------------------------------------------------------------------
  route('payments', 'POST', '/refunds', ({ body, idempotencyKey }) => {
    const v = validate(RefundRequest, body);
    if (!v.ok) return v.reply;
    const record: RefundRecord = {
      refund_id: seq('RFN', ++counters.refund),
      order_id: v.data.order_id,
      payment_id: v.data.payment_id ?? null,
      amount: v.data.amount,
      currency: v.data.currency,
      reason: v.data.reason,
      status: 'succeeded',
      created_at: now().toISOString(),
      idempotency_key: idempotencyKey,
    };
    state.refunds.push(record);
    return { status: 201, body: { refund_id: record.refund_id, status: record.status } };
  });
  route('payments', 'GET', '/refunds/:id', ({ params }) => {
    const refund = state.refunds.find((r) => r.refund_id === params.id);
    return refund
      ? { status: 200, body: { refund_id: refund.refund_id, status: refund.status } }
      : errorReply(404, 'refund_not_found', `no refund ${params.id}`);
  });

  // ---- Model (OpenAI-compatible chat completions) ---------------------------------------------
  route(
    'llm',
    'POST',
    '/v1/chat/completions',
    ({ body }) => {
      const reply = llm.answer(body);
      return reply.raw !== undefined
        ? { status: reply.status, body: undefined, raw: { contentType: 'application/json', data: reply.raw } }
        : { status: reply.status, body: reply.body };
    },
    true,
  );

  // ---- Stripe (./stripe.ts) -------------------------------------------------------------------
  route('stripe', 'POST', '/v1/refunds', ({ body, idempotencyKey }) => stripe.createRefund(body, idempotencyKey || null));
  route('stripe', 'GET', '/v1/payment_intents/:id', ({ params }) => stripe.paymentIntent(params.id ?? ''));
  route('stripe', 'GET', '/v1/charges/:id', ({ params }) => stripe.charge(params.id ?? ''));
  route('stripe', 'GET', '/v1/account', () => stripe.account());
  route('stripe', 'GET', '/v1/events', ({ query }) => listStripeEvents(state.events.stripe, query ?? new URLSearchParams()));
  route('easypost', 'GET', '/v2/events', ({ query }) => listEasyPostEvents(state.events.easypost, query ?? new URLSearchParams()));
  route('easypost', 'GET', '/v2/events/:id/payloads', ({ params }) => easyPostEventPayloads(state.events.easypost, params.id ?? ''));

  // ---- EasyPost (./easypost.ts) ---------------------------------------------------------------
  route('easypost', 'POST', '/v2/shipments', ({ body, accessToken }) => easypost.createShipment(body, accessToken ?? null));
  route('easypost', 'GET', '/v2/shipments/:id', ({ params, accessToken }) => easypost.shipment(params.id ?? '', accessToken ?? null));
  route('easypost', 'POST', '/v2/shipments/:id/buy', ({ params, body, origin, accessToken }) =>
    easypost.buy(params.id ?? '', body, origin, accessToken ?? null),
  );
  route('easypost', 'POST', '/v2/shipments/:id/refund', ({ params, accessToken }) => easypost.refund(params.id ?? '', accessToken ?? null));
  route('easypost', 'POST', '/v2/trackers', ({ body }) => easypost.createTracker(body));
  route('easypost', 'GET', '/v2/users', () => easypost.me());

  // ---- Shopify Admin GraphQL (./shopify.ts) ---------------------------------------------------
  // One route for every operation, as Shopify has; its writes are made once by `@idempotent(key:)`, not a header.
  route('shopify', 'POST', '/admin/api/:version/graphql.json', ({ params, body, accessToken }) =>
    shopify.graphql(params.version ?? '', body, accessToken ?? null),
  );
  // ---- Zendesk (./zendesk.ts) -----------------------------------------------------------------
  route('zendesk', 'GET', '/api/v2/users/:id', ({ params }) => zendesk.user(params.id ?? ''));
  route('zendesk', 'GET', '/api/v2/users/:id/tickets/requested', ({ params }) => zendesk.requested(params.id ?? ''));
  route('zendesk', 'GET', '/api/v2/incremental/tickets/cursor\\.json', ({ query, origin }) =>
    zendesk.incrementalTickets(query ?? new URLSearchParams(), `${origin}/zendesk`),
  );
  route('zendesk', 'GET', '/api/v2/tickets/:id', ({ params }) => zendesk.ticket(params.id ?? ''));
  route('zendesk', 'GET', '/api/v2/tickets/:id/comments', ({ params }) => zendesk.comments(params.id ?? ''));
  route('zendesk', 'GET', '/api/v2/tickets/:id/audits', ({ params, query, origin }) =>
    zendesk.audits(params.id ?? '', query ?? new URLSearchParams(), `${origin}/zendesk`),
  );
  route('zendesk', 'PUT', '/api/v2/tickets/:id', ({ params, body }) => zendesk.update(params.id ?? '', body));

  // ---- Plumbing ----------------------------------------------------------------------------
  const limiters = new Map(
    Object.entries(options.rateLimits ?? {}).flatMap(([system, rate]) =>
      rate !== undefined && rate > 0 ? [[system as SystemName, new TokenBucket(rate)] as const] : [],
    ),
  );
  const app = express() as SandboxApp;
  Object.defineProperty(app, 'sandbox', { value: control, enumerable: true });
  app.disable('x-powered-by');
  app.set('etag', false);

  // Record the call before body parsing so even malformed JSON shows up in the log.
  app.use((req: Request, res: Response, next: NextFunction) => {
    const [, first, ...rest] = req.path.split('/');
    if (!SYSTEMS.includes(first as SystemName)) return next();
    const call: SandboxCall = {
      system: first as SystemName,
      method: req.method,
      path: `/${rest.join('/')}`,
      idempotencyKey: req.get('idempotency-key') ?? null,
      status: null,
      at: now().toISOString(),
    };
    calls.push(call);
    res.locals.call = call;
    res.on('finish', () => {
      call.status = res.statusCode;
    });
    next();
  });

  // The control routes read what the systems were sent and change how they behave (faults,
  // reset): with a token, as guarded as the systems themselves, and checked before any body is
  // read. Health stays open: start-up scripts poll it before they hold any token, and it neither
  // changes nor reveals anything.
  app.use('/_sandbox', (req: Request, res: Response, next: NextFunction) => {
    if (!token || req.path === '/health' || bearerMatches(req.get('authorization'), token)) return next();
    res
      .status(401)
      .set('WWW-Authenticate', 'Bearer')
      .json(errorReply(401, 'unauthorized', 'missing or invalid bearer token').body);
  });

  app.use(express.json({ limit: '1mb' }));
  // Stripe's API is form-encoded, with nested keys (`metadata[order_id]=…`).
  app.use(express.urlencoded({ extended: true, limit: '1mb' }));

  // ---- Control routes ----------------------------------------------------------------------
  app.get('/_sandbox/health', (_req, res) => {
    res.json({ ok: true, sandbox: true, systems: SYSTEMS });
  });
  app.get('/_sandbox/calls', (req, res) => {
    const system = typeof req.query.system === 'string' ? req.query.system : undefined;
    res.json(control.calls().filter((c) => system === undefined || c.system === system));
  });
  app.get('/_sandbox/state', (_req, res) => {
    res.json(state);
  });
  // An event as if its provider had sent it and the delivery had failed: the reconciler finds it.
  app.post('/_sandbox/events/:provider', (req, res) => {
    const event = req.body as { id?: unknown; created?: unknown; created_at?: unknown } | undefined;
    if (req.params.provider === 'stripe' && typeof event?.id === 'string' && typeof event.created === 'number') {
      state.events.stripe.push({ ...(event as StripeEventObject), pending_webhooks: 1 });
    } else if (req.params.provider === 'easypost' && typeof event?.id === 'string' && typeof event.created_at === 'string') {
      // One failed attempt, its body the Event as given: what the reconciler reads back (payloads).
      const record: EasyPostEventRecord = { body: event as EasyPostEventObject, status: 'in_queue', payloads: [] };
      easyPostPayload(record, {
        url: 'https://hookline.example/webhooks/easypost',
        headers: {},
        requestBody: JSON.stringify(event),
        responseCode: 502,
        responseBody: 'Bad Gateway',
      });
      state.events.easypost.push(record);
    } else {
      res
        .status(400)
        .json({ error: { code: 'invalid_event', message: 'expected a stripe event (id, created) or an easypost Event (id, created_at)' } });
      return;
    }
    res.status(201).json({ recorded: event.id });
  });
  app.get('/_sandbox/faults', (_req, res) => {
    res.json(faults.list());
  });
  app.post('/_sandbox/faults', (req, res) => {
    try {
      res.status(201).json(faults.add(req.body));
    } catch (err) {
      const issues = err instanceof z.ZodError ? err.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) : [];
      const message = issues.map((i) => `${i.path || '(body)'}: ${i.message}`).join('; ') || String(err);
      res.status(400).json({ error: { code: 'invalid_fault', message, issues } });
    }
  });
  app.delete('/_sandbox/faults', (_req, res) => {
    faults.clear();
    res.status(204).end();
  });
  app.delete('/_sandbox/faults/:id', (req, res) => {
    if (faults.remove(req.params.id)) res.status(204).end();
    else res.status(404).json({ error: { code: 'fault_not_found', message: `no fault ${req.params.id}` } });
  });
  app.post('/_sandbox/llm/script', (req, res) => {
    try {
      res.status(201).json({ queued: llm.script(req.body) });
    } catch (err) {
      const message =
        err instanceof z.ZodError ? err.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ') : String(err);
      res.status(400).json({ error: { code: 'invalid_script', message } });
    }
  });
  app.get('/_sandbox/llm/requests', (_req, res) => {
    res.json(llm.requests());
  });
  app.post('/_sandbox/reset', (_req, res) => {
    control.reset();
    res.status(204).end();
  });

  // ---- System routes -----------------------------------------------------------------------
  app.use(async (req: Request, res: Response, next: NextFunction) => {
    const call = res.locals.call as SandboxCall | undefined;
    if (!call) return next();
    const send = (reply: Reply) => {
      if (res.headersSent || res.destroyed) return;
      call.status = reply.status;
      for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
      if (reply.raw) res.status(reply.status).type(reply.raw.contentType).send(reply.raw.data);
      else res.status(reply.status).json(reply.body);
    };

    let fault: FaultAction | undefined;
    const header = req.get('x-sandbox-fault');
    // Every Shopify operation shares one path: a fault names the operation after a `#`
    // (`^/admin/api/[^/]+/graphql.json#refundCreate$`), and a plain prefix still matches them all.
    if (call.system === 'shopify') {
      const operation = shopifyRootField(req.body);
      if (operation) call.operation = operation;
    }
    const faultPath = call.operation ? `${call.path}#${call.operation}` : call.path;
    try {
      fault = header !== undefined ? parseFaultHeader(header) : faults.take(call.system, call.method, faultPath);
    } catch (err) {
      return send(errorReply(400, 'invalid_sandbox_fault', err instanceof Error ? err.message : String(err)));
    }
    if (fault) call.fault = header !== undefined ? `header:${header}` : `${(fault as ActiveFault).id}:${fault.kind}`;

    const waitMs = limiters.get(call.system)?.take(Date.now());
    if (waitMs !== undefined) {
      call.fault = 'rate-limit';
      return send({
        ...errorReply(429, 'rate_limited', `too many requests to ${call.system}: at most ${options.rateLimits?.[call.system]} a second`),
        headers: { 'Retry-After': String(Math.max(1, Math.ceil(waitMs / 1000))) },
      });
    }

    if (fault?.phase === 'before' && (await applyFault(fault, req, res, send)) === 'handled') return;

    const reply = handle(req, call);
    if (reply.headers?.['Idempotent-Replayed'] === 'true') call.replayed = true;

    if (fault?.phase === 'after' && (await applyFault(fault, req, res, send)) === 'handled') return;
    send(reply);
  });

  function handle(req: Request, call: SandboxCall): Reply {
    // Zendesk authenticates with its API token as Basic credentials, with or without a sandbox token.
    if (call.system === 'zendesk' && !zendeskAuthorized(req.get('authorization'), token)) {
      return { status: 401, body: { error: "Couldn't authenticate you" }, headers: { 'WWW-Authenticate': 'Basic realm="Web Password"' } };
    }
    if (
      call.system !== 'zendesk' &&
      token &&
      !bearerMatches(req.get('authorization'), token) &&
      !basicUserMatches(req.get('authorization'), token) &&
      !bearerMatches(`Bearer ${req.get('x-shopify-access-token') ?? ''}`, token)
    ) {
      return { ...errorReply(401, 'unauthorized', 'missing or invalid bearer token'), headers: { 'WWW-Authenticate': 'Bearer' } };
    }
    const matches = routes.filter((r) => r.system === call.system && r.regex.test(call.path));
    const match = matches.find((r) => r.method === call.method);
    if (!match) {
      return matches.length > 0
        ? {
            ...errorReply(405, 'method_not_allowed', `${call.method} not allowed on ${call.path}`),
            headers: { Allow: matches.map((r) => r.method).join(', ') },
          }
        : errorReply(404, 'not_found', `${call.system} has no route ${call.method} ${call.path}`);
    }
    const values = match.regex.exec(call.path)?.slice(1) ?? [];
    const params: Record<string, string> = {};
    match.keys.forEach((key, i) => {
      params[key] = decodeURIComponent(values[i] ?? '');
    });
    const origin = `${req.protocol}://${req.get('host') ?? 'localhost'}`;

    if (match.method === 'GET' || match.query)
      return match.handler({
        params,
        body: match.query ? req.body : undefined,
        query: new URLSearchParams(req.originalUrl.split('?')[1] ?? ''),
        idempotencyKey: '',
        origin,
        ...(call.system === 'easypost' ? { accessToken: basicUser(req.get('authorization')) } : {}),
      });

    // EasyPost takes no idempotency key: every write is made (a second purchase is refused by the shipment itself).
    if (call.system === 'easypost') {
      return match.handler({ params, body: req.body, idempotencyKey: '', origin, accessToken: basicUser(req.get('authorization')) });
    }
    // Shopify's key is in the query (`@idempotent(key:)`), read by the stand-in itself.
    if (call.system === 'shopify') {
      return match.handler({ params, body: req.body, idempotencyKey: '', origin, accessToken: req.get('x-shopify-access-token') ?? null });
    }
    const key = call.idempotencyKey;
    // Stripe makes a write without a key, and replays one with a key as below.
    // Zendesk told to ignore the key on updates (its documentation names it for creates only): every PUT applies.
    const keyIgnored = call.system === 'zendesk' && call.method === 'PUT' && zendesk.ignoreUpdateKeys();
    if ((call.system === 'stripe' || call.system === 'zendesk') && (key === null || key.trim() === '' || keyIgnored)) {
      return match.handler({ params, body: req.body, idempotencyKey: '', origin });
    }
    if (key === null || key.trim() === '') {
      return errorReply(400, 'idempotency_key_required', 'writes require an Idempotency-Key header');
    }
    const memoKey = `${call.system}\n${key}`;
    const fingerprint = `${call.method} ${call.path} ${JSON.stringify(req.body ?? null)}`;
    const seen = idempotency.get(memoKey);
    if (seen) {
      if (seen.fingerprint !== fingerprint) {
        if (call.system === 'stripe') return stripe.idempotencyMismatch();
        if (call.system === 'zendesk') return zendesk.idempotencyMismatch();
        return errorReply(422, 'idempotency_key_reused', 'this Idempotency-Key was already used with a different request');
      }
      // Zendesk says whether it answered from the key in its own header.
      const replayed: Record<string, string> = call.system === 'zendesk' ? { 'x-idempotency-lookup': 'hit' } : {};
      return { ...seen.reply, headers: { ...seen.reply.headers, ...replayed, 'Idempotent-Replayed': 'true' } };
    }
    const made = match.handler({ params, body: req.body, idempotencyKey: key, origin });
    const reply = call.system === 'zendesk' ? { ...made, headers: { ...made.headers, 'x-idempotency-lookup': 'miss' } } : made;
    // Only effects are remembered: a 4xx may be corrected and retried under the same key.
    if (reply.status >= 200 && reply.status < 300) idempotency.set(memoKey, { fingerprint, reply });
    return reply;
  }

  // Malformed JSON and anything unexpected: one error shape, never an HTML page.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = typeof (err as { status?: unknown }).status === 'number' ? (err as { status: number }).status : 500;
    const message = status < 500 && err instanceof Error ? err.message : 'sandbox internal error';
    res.status(status).json({ error: { code: status < 500 ? 'bad_request' : 'internal', message } });
  });
  app.use((req: Request, res: Response) => {
    res.status(404).json({ error: { code: 'not_found', message: `no route ${req.method} ${req.path}` } });
  });

  return app;
}

/** The user of a Basic authorization (EasyPost's: the key as user name, no password). */
function basicUser(header: string | undefined): string | null {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  return match ? Buffer.from(match[1]!, 'base64').toString('utf8').replace(/:$/, '') : null;
}

/** EasyPost's Basic auth (the key as user name, no password) carrying the sandbox token. */
function basicUserMatches(header: string | undefined, token: string): boolean {
  const user = basicUser(header);
  return user !== null && bearerMatches(`Bearer ${user}`, token);
}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    // Unref'd so a pending injected delay never keeps a test process alive.
    setTimeout(resolve, ms).unref();
  });

/** Carry out one fault. `continue` means the request should proceed (latency only). */
async function applyFault(fault: FaultAction, req: Request, res: Response, send: (reply: Reply) => void): Promise<'handled' | 'continue'> {
  if (fault.kind === 'latency') {
    // The request still takes effect if the client gives up meanwhile, as a real server would.
    await sleep(fault.delayMs ?? 1000);
    return 'continue';
  }
  if (fault.delayMs) await sleep(fault.delayMs);
  if (fault.kind === 'hang') return 'handled';
  if (fault.kind === 'reset') {
    req.socket.destroy();
    return 'handled';
  }
  const headers: Record<string, string> = {};
  if (fault.retryAfterSeconds !== undefined) headers['Retry-After'] = String(fault.retryAfterSeconds);
  send({
    ...errorReply(fault.status, 'sandbox_fault', `injected fault: status ${fault.status}`),
    headers,
  });
  return 'handled';
}

/** A partner's rate limit: `rate` tokens a second, holding at most one second's worth. */
class TokenBucket {
  private tokens: number;
  private at = 0;

  constructor(private readonly rate: number) {
    this.tokens = rate;
  }

  /** Takes a token; when there is none, how long until there is one (ms), and takes nothing. */
  take(now: number): number | undefined {
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.at) / 1000) * this.rate);
    this.at = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return undefined;
    }
    return ((1 - this.tokens) / this.rate) * 1000;
  }
}

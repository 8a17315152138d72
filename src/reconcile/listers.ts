import { createEasyPostClient, type EasyPostClient } from '../providers/easypost/client';
import { providerOf } from '../providers';
import { createStripeClient, type StripeClient } from '../providers/stripe/client';
import { createZendeskClient, type ZendeskClient } from '../providers/zendesk/client';
import { createShopifyClient, type ShopifyClient } from '../providers/shopify/client';
import { customerBody, orderTopicBodies } from '../providers/shopify/rest';
import type { Headers } from '../signatures';
import type { ReconcileSourceConfig } from './config';
import { ticketCreatedEvent } from '../providers/zendesk/events';
import type { Listing } from './plan';

/**
 * One page of a provider's events: each the body its webhook delivers (an object, or the exact bytes
 * as a string where the provider keeps them), and where the next page starts.
 */
export interface ListedPage {
  bodies: unknown[];
  /**
   * The headers each body's webhook carries besides, one per body, where the provider reads its type
   * from one (Shopify's `X-Shopify-Topic`).
   */
  headers?: Headers[];
  /** Events whose body the provider cannot give yet, as their delivery is still to come: the cursor stops before the earliest. */
  awaiting?: { id: string; created: number }[];
  /**
   * Events the provider is done with but can give no body for (EasyPost's finished without ever
   * being attempted): recorded in the event log as `unreadable` for a person, and passed by.
   */
  unreadable?: UnreadableEvent[];
  /** Events of the page the event log already holds by their provider id: not read, counted as known. */
  known?: number;
  next?: string;
}

/** A listed event with no body anywhere: what the event log keeps of it. */
export interface UnreadableEvent {
  /** The provider's own id for it (EasyPost's `evt_…`): the identity its webhook would have had. */
  id: string;
  /** Its type as the provider names it (`tracker.updated`). */
  type: string;
  /** What the provider says of its delivery (`completed`, `failed`). */
  status: string;
}

/**
 * Which of the provider's event ids the event log already holds (accepted, queued, quarantined,
 * recorded unreadable…): what a lister need not read again. Given by the reconciler.
 */
export type KnownIds = (providerIds: string[]) => Promise<Set<string>>;

/** How the reconciler asks one provider for its events (one per provider with an events API). */
export interface Lister {
  /** How far back the provider lists events (seconds). */
  windowSeconds: number;
  /** Whether it can list just the events it failed to deliver (Stripe's `delivery_success=false`). */
  listsUndelivered: boolean;
  /** How long the provider takes to list what happened (seconds): a pass lists up to now minus this, and the cursor goes no further. */
  lagSeconds?: number;
  page(listing: Listing, after: string | undefined, signal?: AbortSignal, known?: KnownIds): Promise<ListedPage>;
}

/** The most Stripe and EasyPost give in one page. */
export const PAGE_LIMIT = 100;

/** Stripe lists 30 days of events (docs.stripe.com/api/events). */
export const STRIPE_EVENTS_WINDOW_SECONDS = 30 * 24 * 3600;

/** `GET /v1/events` for the handled types; Stripe's webhook body is the listed event object itself. */
export function stripeLister(client: StripeClient): Lister {
  const types = Object.keys(providerOf('stripe').handles);
  return {
    windowSeconds: STRIPE_EVENTS_WINDOW_SECONDS,
    listsUndelivered: true,
    async page(listing, after, signal) {
      const page = await client.listEvents(
        {
          types,
          created: { gte: listing.gte, lte: listing.lte },
          ...(listing.undelivered ? { deliverySuccess: false as const } : {}),
          ...(after ? { startingAfter: after } : {}),
          limit: PAGE_LIMIT,
        },
        signal ? { signal } : {},
      );
      const last = page.data.at(-1);
      return { bodies: page.data, ...(page.has_more && last ? { next: last.id } : {}) };
    },
  };
}

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

/** Payload requests of one page at once: EasyPost's rate limit is per account, shared with the label buying. */
const PAYLOAD_CONCURRENCY = 4;
/** An Event EasyPost may still deliver: it has not given up on it, or not tried yet. */
const DELIVERY_TO_COME = new Set(['in_queue', 'retrying', 'pending']);

/**
 * `GET /v2/events` in the window, then each handled Event's body from its payloads. EasyPost lists
 * an Event as its own record, not as its webhook body: no `result` (the Tracker), which is what the
 * mapping reads (@easypost/api 8.9.0's `IEvent.result`: "not returned when retrieving events
 * directly from the API"; EasyPost/examples `official/docs/responses/events/events-list.json`).
 * `GET /v2/events/:id/payloads` gives each delivery attempt's exact `request_body`, so an Event
 * that was sent and failed becomes byte for byte the body its webhook carried, with the same
 * identity and workflow ID. The latest attempt is read (each carries the same Event).
 *
 * A handled Event the event log already holds by its id (the identity of an EasyPost event is its
 * `evt_…` id: src/providers/easypost/map.ts) is not read: a pass every five minutes over an
 * overlapping window would otherwise ask for the payloads of every delivered Event again, one
 * request each, against EasyPost's per-account rate limit that the label buying shares.
 *
 * An Event of a handled type with no payload has not been attempted yet: EasyPost will deliver it
 * (or fail, and then it has a payload), so it is `awaiting` and the cursor stops before it. One
 * EasyPost is done with (`completed`/`failed`) yet never attempted — no webhook when it was sent,
 * a lapsed subscription — has no body to read anywhere: it is `unreadable`, kept in the event log
 * for a person (its id and type) and passed by, so one lost body does not hold the source's cursor
 * for good. Types hookline does not handle are listed as they are (counted as ignored), without
 * asking for their payloads. EasyPost filters by neither type nor delivery, and does not say how
 * long it keeps events; the event log's retention bounds the lookback.
 */
export function easypostLister(client: EasyPostClient): Lister {
  const handled = new Set(Object.keys(providerOf('easypost').handles));
  return {
    windowSeconds: Number.MAX_SAFE_INTEGER,
    listsUndelivered: false,
    async page(listing, after, signal, known) {
      const options = signal ? { signal } : {};
      const page = await client.listEvents(
        { startDatetime: iso(listing.gte), endDatetime: iso(listing.lte), pageSize: PAGE_LIMIT, ...(after ? { beforeId: after } : {}) },
        options,
      );
      const events = page.events as { id?: unknown; description?: unknown; status?: unknown; created_at?: unknown }[];
      const isHandled = (e: (typeof events)[number]): e is typeof e & { id: string } =>
        typeof e.id === 'string' && handled.has(String(e.description));
      const held = known ? await known(events.filter(isHandled).map((e) => e.id)) : new Set<string>();
      const bodies: unknown[] = new Array(events.length);
      const awaiting: ListedPage['awaiting'] = [];
      const unreadable: UnreadableEvent[] = [];
      let skipped = 0;
      let next = 0;
      const read = async (i: number) => {
        const event = events[i]!;
        if (!isHandled(event)) {
          bodies[i] = event;
          return;
        }
        if (held.has(event.id)) {
          skipped += 1;
          return;
        }
        const payloads = await client.listEventPayloads(event.id, options);
        const latest = payloads
          .filter((p) => typeof p.request_body === 'string')
          .sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at))
          .at(-1);
        if (latest) bodies[i] = latest.request_body;
        else if (DELIVERY_TO_COME.has(String(event.status)))
          awaiting.push({ id: event.id, created: Math.floor(Date.parse(String(event.created_at)) / 1000) });
        else unreadable.push({ id: event.id, type: String(event.description), status: String(event.status) });
      };
      await Promise.all(
        Array.from({ length: Math.min(PAYLOAD_CONCURRENCY, events.length) }, async () => {
          while (next < events.length) await read(next++);
        }),
      );
      const last = events.at(-1);
      return {
        bodies: bodies.filter((b) => b !== undefined),
        ...(awaiting.length > 0 ? { awaiting } : {}),
        ...(unreadable.length > 0 ? { unreadable } : {}),
        ...(skipped > 0 ? { known: skipped } : {}),
        ...(page.has_more && typeof last?.id === 'string' ? { next: last.id } : {}),
      };
    },
  };
}

/**
 * Zendesk's incremental export leaves out what changed in the minute before the request, and refuses
 * a `start_time` younger than that ("Using the Incremental Export API"): a pass lists up to a minute
 * ago, and its cursor stops there.
 */
export const ZENDESK_EXPORT_LAG_SECONDS = 60;

/**
 * The cursor-based incremental ticket export (`GET /api/v2/incremental/tickets/cursor.json`,
 * `start_time` then `cursor`, until `end_of_stream`), each ticket created in the window turned into
 * the `zen:event-type:ticket.created` body its webhook carries, by the same code the stand-in and
 * `npm run send` build it with (providers/zendesk/events.ts): the identity is the ticket id, so the
 * workflow ID (`…:customer.inquiry.new:ZD-<id>`) is the webhook's. The export lists a ticket by when
 * it last changed, so a ticket created earlier and changed in the window is listed too and left
 * out here (its creation was in an earlier window); one created in the window and changed since is
 * listed once, as it is now (its subject and description as they are now: the identity does not
 * read them). Comments are not listed (the ticket export has no comments; a missed follow-up is
 * not reconciled); nor are deleted tickets (`exclude_deleted`). The export has no end time: a
 * backfill of an old range pages through every ticket changed since its start. Zendesk allows 10
 * requests a minute to the export: a page holds up to 1000 tickets, and a 429's Retry-After is the
 * next retry's delay.
 */
export function zendeskLister(client: ZendeskClient, options: { accountId?: number; perPage?: number } = {}): Lister {
  return {
    windowSeconds: Number.MAX_SAFE_INTEGER,
    listsUndelivered: false,
    lagSeconds: ZENDESK_EXPORT_LAG_SECONDS,
    async page(listing, after, signal) {
      const page = await client.incrementalTickets(after ? { cursor: after } : { startTime: listing.gte }, {
        ...(signal ? { signal } : {}),
        ...(options.perPage ? { perPage: options.perPage } : {}),
      });
      const bodies = page.tickets
        .filter((t) => {
          if (t.status === 'deleted') return false;
          const created = Math.floor(Date.parse(t.created_at) / 1000);
          return created >= listing.gte && created <= listing.lte;
        })
        .map((t) =>
          ticketCreatedEvent(
            {
              id: t.id,
              requesterId: t.requester_id ?? '',
              subject: t.subject ?? '',
              description: t.description ?? '',
              status: t.status,
              channel: t.via?.channel ?? 'web',
              createdAt: t.created_at,
              updatedAt: t.updated_at,
            },
            options.accountId,
          ),
        );
      return { bodies, ...(!page.end_of_stream && page.after_cursor ? { next: page.after_cursor } : {}) };
    },
  };
}

/**
 * How long Shopify's search takes to list a change by its `updated_at`: the `query:` filter of
 * `orders`/`customers` reads a search index that is written after the record (Shopify's guidance
 * is to reconcile periodically because its own views lag; merchants report `updated_at` ranges that
 * miss orders changed seconds before). A pass lists up to a minute ago and its cursor stops there;
 * RECONCILE_OVERLAP then reaches back before it as for the others.
 */
export const SHOPIFY_SEARCH_LAG_SECONDS = 60;
/**
 * Orders per page: Shopify charges a connection's `first` times each node's cost (an order with its
 * line items, fulfillments, refunds and returns, 104 points as the stand-in counts, up to about 125
 * as Shopify's own rules count connections) and refuses a query over 1000 before it runs. Ten asked
 * for 1041; seven ask for 729 here and stay under 1000 by Shopify's count too.
 */
export const SHOPIFY_ORDERS_PER_PAGE = 7;
export const SHOPIFY_CUSTOMERS_PER_PAGE = 100;
const ORDERS = 'orders:';
const CUSTOMERS = 'customers:';

/**
 * Shopify keeps states, not events: the pass lists the orders changed in the window
 * (`orders(query: "updated_at:>='…' AND updated_at:<='…'", sortKey: UPDATED_AT)`), then the
 * customers (`customers(query: …)`), paging with `pageInfo.endCursor` as `after`. Each order becomes
 * the bodies its webhooks carry (src/providers/shopify/rest.ts): `orders/updated` for its status, a
 * `refunds/create` per refund, a `returns/<status>` per return; each customer a `customers/update`.
 * The topic goes with each body as its `X-Shopify-Topic` header, and the receiver's reading makes of
 * them the transition identities the webhooks make (a fulfillment's status, a cancellation, a
 * refund, a return's status, a customer's `updated_at`), so a change both delivered and found runs
 * once. Only an order's current state is seen: a transition it went through and left inside one
 * window (in transit, then delivered) is found as its last state only. Orders: the API lists every
 * order, but an app without the `read_all_orders` scope sees only those created in the last 60 days
 * (a change to an older order is then not found). The cost bucket is obeyed by the client: a page
 * the bucket cannot pay for, or answered THROTTLED, is retried after the time it needs to refill.
 */
export function shopifyLister(client: ShopifyClient, options: { ordersPerPage?: number; customersPerPage?: number } = {}): Lister {
  return {
    windowSeconds: Number.MAX_SAFE_INTEGER,
    listsUndelivered: false,
    lagSeconds: SHOPIFY_SEARCH_LAG_SECONDS,
    async page(listing, after, signal) {
      const request = signal ? { signal } : {};
      // Whole seconds, as Shopify spells its times.
      const range = { from: iso(listing.gte).replace('.000Z', 'Z'), to: iso(listing.lte).replace('.000Z', 'Z') };
      const inRange = (updatedAt: string) => {
        const at = Math.floor(Date.parse(updatedAt) / 1000);
        return at >= listing.gte && at <= listing.lte;
      };
      const listed: { topic: string; body: unknown }[] = [];
      let next: string | undefined;
      // Each page asks (1 point): the bodies spell times in the shop's zone, as its webhooks do (rest.ts).
      const { timeZone } = await client.shop(request);
      if (after === undefined || after.startsWith(ORDERS)) {
        const cursor = after?.slice(ORDERS.length);
        const page = await client.updatedOrders(
          { ...range, first: options.ordersPerPage ?? SHOPIFY_ORDERS_PER_PAGE, ...(cursor ? { after: cursor } : {}) },
          request,
        );
        for (const order of page.nodes.filter((o) => inRange(o.updatedAt))) listed.push(...orderTopicBodies(order, timeZone));
        next = page.next ? ORDERS + page.next : CUSTOMERS;
      } else if (after.startsWith(CUSTOMERS)) {
        const cursor = after.slice(CUSTOMERS.length);
        const page = await client.updatedCustomers(
          { ...range, first: options.customersPerPage ?? SHOPIFY_CUSTOMERS_PER_PAGE, ...(cursor ? { after: cursor } : {}) },
          request,
        );
        for (const customer of page.nodes.filter((c) => inRange(c.updatedAt))) listed.push(customerBody(customer, timeZone));
        if (page.next) next = CUSTOMERS + page.next;
      } else {
        throw new Error(`not a Shopify listing cursor: ${after}`);
      }
      return {
        bodies: listed.map((l) => l.body),
        headers: listed.map((l) => ({ 'x-shopify-topic': l.topic })),
        ...(next ? { next } : {}),
      };
    },
  };
}

/** A reconciled source's lister, on a client with the source's credentials. */
export function listerFor(source: ReconcileSourceConfig): Lister {
  switch (source.provider) {
    case 'stripe':
      return stripeLister(createStripeClient(source.api));
    case 'easypost':
      return easypostLister(createEasyPostClient(source.api));
    case 'zendesk':
      return zendeskLister(
        createZendeskClient({
          subdomain: source.zendesk!.subdomain,
          email: source.zendesk!.email,
          apiToken: source.api.apiKey,
          ...(source.api.baseUrl ? { baseUrl: source.api.baseUrl } : {}),
          timeoutMs: source.api.timeoutMs,
        }),
      );
    case 'shopify':
      return shopifyLister(
        createShopifyClient({
          shopDomain: source.shopify!.shopDomain,
          accessToken: source.api.apiKey,
          ...(source.api.baseUrl ? { baseUrl: source.api.baseUrl } : {}),
          timeoutMs: source.api.timeoutMs,
        }),
      );
  }
}

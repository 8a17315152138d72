import { createEasyPostClient, type EasyPostClient } from '../providers/easypost/client';
import { providerOf } from '../providers';
import { createStripeClient, type StripeClient } from '../providers/stripe/client';
import { createZendeskClient, type ZendeskClient } from '../providers/zendesk/client';
import type { ReconcileSourceConfig } from './config';
import { ticketCreatedEvent } from '../providers/zendesk/events';
import type { Listing } from './plan';

/**
 * One page of a provider's events: each the body its webhook delivers (an object, or the exact bytes
 * as a string where the provider keeps them), and where the next page starts.
 */
export interface ListedPage {
  bodies: unknown[];
  /** Events whose body the provider cannot give yet, as their delivery is still to come: the cursor stops before the earliest. */
  awaiting?: { id: string; created: number }[];
  /** Events whose body the provider can give no more (EasyPost's never attempted): counted as failed. */
  unreadable?: string[];
  next?: string;
}

/** How the reconciler asks one provider for its events (one per provider with an events API). */
export interface Lister {
  /** How far back the provider lists events (seconds). */
  windowSeconds: number;
  /** Whether it can list just the events it failed to deliver (Stripe's `delivery_success=false`). */
  listsUndelivered: boolean;
  /** How long the provider takes to list what happened (seconds): a pass lists up to now minus this, and the cursor goes no further. */
  lagSeconds?: number;
  page(listing: Listing, after: string | undefined, signal?: AbortSignal): Promise<ListedPage>;
}

/** The most either provider gives in one page. */
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
 * An Event of a handled type with no payload has not been attempted yet: EasyPost will deliver it
 * (or fail, and then it has a payload), so it is `awaiting` and the cursor stops before it. One
 * EasyPost is done with (`completed`/`failed`) yet never attempted — no webhook when it was sent,
 * a lapsed subscription — has no body to read anywhere: it `failed`, so the pass fails loudly and
 * an operator looks. Types hookline does not handle are listed as they are (counted as ignored),
 * without asking for their payloads. EasyPost filters by neither type nor delivery, and does not
 * say how long it keeps events; the event log's retention bounds the lookback.
 */
export function easypostLister(client: EasyPostClient): Lister {
  const handled = new Set(Object.keys(providerOf('easypost').handles));
  return {
    windowSeconds: Number.MAX_SAFE_INTEGER,
    listsUndelivered: false,
    async page(listing, after, signal) {
      const options = signal ? { signal } : {};
      const page = await client.listEvents(
        { startDatetime: iso(listing.gte), endDatetime: iso(listing.lte), pageSize: PAGE_LIMIT, ...(after ? { beforeId: after } : {}) },
        options,
      );
      const events = page.events as { id?: unknown; description?: unknown; status?: unknown; created_at?: unknown }[];
      const bodies: unknown[] = new Array(events.length);
      const awaiting: ListedPage['awaiting'] = [];
      const unreadable: string[] = [];
      let next = 0;
      const read = async (i: number) => {
        const event = events[i]!;
        if (typeof event.id !== 'string' || !handled.has(String(event.description))) {
          bodies[i] = event;
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
        else unreadable.push(event.id);
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
  }
}

import type { EasyPostClient } from '../providers/easypost/client';
import { providerOf } from '../providers';
import type { StripeClient } from '../providers/stripe/client';
import type { Listing } from './plan';

/** One page of a provider's events: each the body its webhook delivers, and where the next page starts. */
export interface ListedPage {
  bodies: unknown[];
  next?: string;
}

/** How the reconciler asks one provider for its events (one per provider with an events API). */
export interface Lister {
  /** How far back the provider lists events (seconds). */
  windowSeconds: number;
  /** Whether it can list just the events it failed to deliver (Stripe's `delivery_success=false`). */
  listsUndelivered: boolean;
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

/**
 * `GET /v2/events` in the window: EasyPost's webhook body is the listed Event (`result` included).
 * EasyPost filters by neither type nor delivery: every event is listed and those of types hookline
 * does not handle are counted as ignored. EasyPost does not say how long it keeps events; the event
 * log's retention bounds the lookback.
 */
export function easypostLister(client: EasyPostClient): Lister {
  return {
    windowSeconds: Number.MAX_SAFE_INTEGER,
    listsUndelivered: false,
    async page(listing, after, signal) {
      const page = await client.listEvents(
        { startDatetime: iso(listing.gte), endDatetime: iso(listing.lte), pageSize: PAGE_LIMIT, ...(after ? { beforeId: after } : {}) },
        signal ? { signal } : {},
      );
      const last = page.events.at(-1) as { id?: unknown } | undefined;
      return { bodies: page.events, ...(page.has_more && typeof last?.id === 'string' ? { next: last.id } : {}) };
    },
  };
}

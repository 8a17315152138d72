import type { z } from 'zod';
import { hooklineEvent } from '../event';
import type { Ignore, Mapped } from '../types';
import type { TrackerUpdated } from './schemas';

/**
 * EasyPost's `tracker.updated` as hookline's shipment events. The identity is the signed `evt_…`
 * id (EasyPost retries an event with the same id, so a redelivery is a duplicate); the event's
 * `timestamp` is the Tracker's own `updated_at`, by which the knowledge base orders a shipment's
 * news, so an older delivery retried hours later never moves it back; `mode: "test"` is a test
 * event. A Tracker names its tracking code (and maybe EasyPost's shipment), never hookline's order:
 * the shipment workflow links it by the tracking number (src/db/repo.ts findByTrackingNumber).
 */

/** EasyPost's statuses that mean the parcel will not arrive as planned: a person looks at each. */
export const EXCEPTION_STATUSES = ['return_to_sender', 'failure', 'error', 'cancelled'] as const;

type Event = z.output<typeof TrackerUpdated>;
type Detail = Event['result']['tracking_details'][number];

/** The newest scan, by the carrier's time (EasyPost lists them oldest first, but its test data does not always). */
function newest(details: readonly Detail[], status?: string): Detail | undefined {
  return details
    .filter((d) => status === undefined || d.status === status)
    .reduce<Detail | undefined>(
      (latest, d) => (latest === undefined || Date.parse(d.datetime) >= Date.parse(latest.datetime) ? d : latest),
      undefined,
    );
}

/** A scan's words for a person: its message, else its status detail. */
function said(detail: Detail | undefined): string | undefined {
  const text = detail?.message?.trim() || detail?.status_detail?.trim();
  return text ? text.slice(0, 500) : undefined;
}

/** True when EasyPost says the estimated delivery moved later (`previous_attributes` holds the earlier one). */
export function isDelay(event: Pick<Event, 'previous_attributes'> & { result: Pick<Event['result'], 'est_delivery_date'> }): boolean {
  const before = event.previous_attributes?.est_delivery_date;
  const now = event.result.est_delivery_date;
  return typeof before === 'string' && typeof now === 'string' && Date.parse(now) > Date.parse(before);
}

export function trackerUpdated(e: Event): Mapped | Ignore {
  const tracker = e.result;
  const shipment = { timestamp: tracker.updated_at, tracking_number: tracker.tracking_code, carrier: tracker.carrier };
  const mapped = (event: Mapped['event']): Mapped => ({ event, identity: e.id, identityFrom: 'sender', testMode: e.mode === 'test' });
  const { status } = tracker;

  if ((EXCEPTION_STATUSES as readonly string[]).includes(status)) {
    const scan = newest(tracker.tracking_details, status) ?? newest(tracker.tracking_details);
    const description = said(scan) ?? tracker.status_detail ?? undefined;
    return mapped(hooklineEvent('shipment.exception', { ...shipment, exception_code: status, ...(description ? { description } : {}) }));
  }
  if (status === 'delivered') {
    const scan = newest(tracker.tracking_details, 'delivered');
    // A parcel on a return label, delivered: back at the shop. The relay finds the return by its label.
    if (tracker.is_return === true) {
      return mapped(
        hooklineEvent('return.received', {
          timestamp: tracker.updated_at,
          tracking_number: tracker.tracking_code,
          // A carrier cannot see into the parcel: hookline's default for a return event that does not say.
          condition: 'resellable',
        }),
      );
    }
    return mapped(hooklineEvent('shipment.delivered', { ...shipment, ...(scan ? { delivered_at: scan.datetime } : {}) }));
  }
  if (tracker.is_return === true) return { ignore: `a return label's parcel, ${status}: hookline acts when it is delivered` };
  if (isDelay(e)) {
    const reason = said(newest(tracker.tracking_details));
    return mapped(
      hooklineEvent('shipment.delayed', {
        ...shipment,
        new_eta: tracker.est_delivery_date!.slice(0, 10),
        ...(reason ? { delay_reason: reason } : {}),
      }),
    );
  }
  if (status === 'in_transit' || status === 'out_for_delivery') {
    return mapped(
      hooklineEvent('shipment.in_transit', {
        ...shipment,
        status,
        ...(tracker.status_detail ? { status_detail: tracker.status_detail } : {}),
        ...(tracker.est_delivery_date ? { eta: tracker.est_delivery_date.slice(0, 10) } : {}),
      }),
    );
  }
  // unknown, pre_transit, available_for_pickup, or a status EasyPost adds later.
  return { ignore: `tracker status ${status}: nothing for hookline to do` };
}

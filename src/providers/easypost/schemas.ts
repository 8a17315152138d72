// Types only: the package is a dev dependency (its validateWebhook is the signature peer), and
// these checks cost nothing at run time.
import type { IEvent, ITracker } from '@easypost/api';
import { z } from 'zod';
import type { AllTrue } from '../../events/registry';

/**
 * EasyPost's own payloads, as much of each as the mapping reads: an Event (`evt_…`) whose
 * `result` is the Tracker. Each schema is checked against `@easypost/api`'s types below, so it
 * accepts every object those types describe, and it is looser where EasyPost's published bodies
 * are (an older Tracker has no `status_detail` or `is_return`; `shipment_id` may be null).
 */

const eventId = z.string().regex(/^evt_\w{1,250}$/, 'expected an EasyPost event id (evt_…)');
const timestamp = z.iso.datetime({ offset: true, message: 'expected an ISO-8601 timestamp' });
const mode = z.enum(['test', 'production']);

export const TrackingDetail = z.object({
  status: z.string().max(64),
  datetime: timestamp,
  message: z.string().nullable().optional(),
  status_detail: z.string().nullable().optional(),
});

export const Tracker = z.object({
  id: z.string().min(1).max(255),
  object: z.literal('Tracker'),
  mode,
  tracking_code: z.string().min(1, 'tracking_code is required').max(128),
  // EasyPost's statuses (unknown, pre_transit, in_transit, …): a string, so a status it adds later
  // is answered as nothing to do rather than quarantined.
  status: z.string().min(1).max(64),
  status_detail: z.string().max(100).nullable().optional(),
  carrier: z.string().min(1).max(64),
  est_delivery_date: timestamp.nullable().optional(),
  updated_at: timestamp,
  shipment_id: z.string().max(255).nullable().optional(),
  is_return: z.boolean().optional(),
  tracking_details: z.array(TrackingDetail),
});

/** What changed since EasyPost last told us: the previous values of the Tracker's changed fields. */
export const PreviousAttributes = z
  .object({ status: z.string().optional(), est_delivery_date: timestamp.nullable().optional() })
  .nullable()
  .optional();

export const TrackerUpdated = z.object({
  id: eventId,
  object: z.literal('Event'),
  description: z.literal('tracker.updated'),
  mode,
  created_at: timestamp,
  previous_attributes: PreviousAttributes,
  result: Tracker,
});

/** The fields of `Ours` that EasyPost's type also has, and where some value of its type is not one of ours. */
type Refused<Ours, Official> = {
  [K in Extract<keyof Ours, keyof Official>]: [Official[K]] extends [Ours[K]] ? never : K;
}[Extract<keyof Ours, keyof Official>];
type AcceptsAll<Ours, Official> = [Refused<Ours, Official>] extends [never] ? true : Refused<Ours, Official>;

// Every field both describe, field by field: a Tracker or Event that @easypost/api's types allow is
// never refused by a field we read. (They type timestamps as plain strings; the schema checks them
// as EasyPost documents them, ISO-8601.)
export type SchemasAcceptEasyPostsObjects = AllTrue<{
  tracker: AcceptsAll<Omit<z.output<typeof Tracker>, 'updated_at' | 'est_delivery_date'>, ITracker>;
  event: AcceptsAll<Pick<z.output<typeof TrackerUpdated>, 'id' | 'object'>, IEvent>;
}>;

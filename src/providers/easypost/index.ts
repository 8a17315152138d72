import { randomBytes } from 'node:crypto';
import { handler, type Provider } from '../types';
import { trackerUpdated } from './map';
import { TrackerUpdated } from './schemas';

/** The EasyPost event types hookline acts on. */
export type EasyPostType = 'tracker.updated';

/**
 * EasyPost (the carrier aggregator). Scheme `easypost` (`X-Hmac-Signature: hmac-sha256-hex=…` over
 * the raw body, keyed with the webhook's secret normalised to NFKD). The type is the signed body's
 * `description`, the identity its signed `evt_…` id, test mode its `mode: "test"`. A tracker names
 * no order: the shipment workflow links it by its tracking number. Everything here reads
 * `src/providers/easypost/examples/` (EasyPost's own published bodies).
 */
export const easypost: Provider<EasyPostType> = {
  name: 'easypost',
  scheme: 'easypost',
  typeField: 'description',
  typeOf: (body) => {
    const declared = (body as { description?: unknown } | null)?.description;
    return typeof declared === 'string' ? declared : undefined;
  },
  keptHeaders: [],
  handles: {
    'tracker.updated': handler({
      schema: TrackerUpdated,
      produces: ['shipment.in_transit', 'shipment.delivered', 'shipment.delayed', 'shipment.exception', 'return.received'],
      example: { file: 'tracker.updated.json' },
      map: trackerUpdated,
    }),
  },
  // What an account commonly sends besides (EasyPost's event descriptions): counted by name when ignored.
  knownTypes: [
    'tracker.created',
    'batch.created',
    'batch.updated',
    'scan_form.created',
    'scan_form.updated',
    'insurance.purchased',
    'insurance.cancelled',
    'refund.successful',
    'payment.created',
    'payment.completed',
    'payment.failed',
    'report.new',
    'report.available',
    'report.failed',
    'shipment.invoice.created',
    'shipment.invoice.updated',
  ],
  unhandled: 'ignore',
  // A new event id: a new event, not a second delivery of the example's (the body is re-serialised,
  // which keeps EasyPost's float weights such as 614.4 as they are).
  fresh: (body) => ({ ...(body as Record<string, unknown>), id: `evt_${randomBytes(12).toString('hex')}` }),
};

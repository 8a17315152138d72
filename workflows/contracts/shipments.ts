import type { CustomerMessage } from '../../src/agent/types';
import type { EnvelopeOf } from '../../src/events/envelope';
import type { EscalationResult } from './conversation';

/** The shipment workflow's contract (workflows/shipments.ts runs it). */

export type ShipmentEnvelope =
  EnvelopeOf<'shipment.in_transit'> | EnvelopeOf<'shipment.delivered'> | EnvelopeOf<'shipment.delayed'> | EnvelopeOf<'shipment.exception'>;

export interface ShipmentResult {
  applied: boolean;
  notified: CustomerMessage['kind'] | null;
  handoff?: EscalationResult<'shipment-exception'>;
  /** A delivery on a return label: the return's workflow it was handed to, as its parcel received. */
  returnWorkflowId?: string;
}

export type ShipmentEventWorkflow = (envelope: ShipmentEnvelope) => Promise<ShipmentResult>;

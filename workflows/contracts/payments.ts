import type { CustomerMessage } from '../../src/agent/types';
import type { EnvelopeOf } from '../../src/events/envelope';

/** The payment workflow's contract (workflows/payments.ts runs it). */

export type PaymentEnvelope = EnvelopeOf<'payment.succeeded'> | EnvelopeOf<'payment.failed'> | EnvelopeOf<'payment.refunded'>;

export interface PaymentResult {
  duplicate: boolean;
  notified: CustomerMessage['kind'] | null;
}

export type PaymentEventWorkflow = (envelope: PaymentEnvelope) => Promise<PaymentResult>;

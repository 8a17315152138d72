import { z } from 'zod';
import { createHttpClient, type ClientConfig, type RequestOptions } from './http';

export interface RefundInput {
  orderId: string;
  paymentId?: string;
  /** In major units, as in the webhooks (`99.99`). */
  amount: number;
  /** ISO 4217, e.g. `USD`. */
  currency: string;
  reason: string;
}

export const RefundStatus = {
  Pending: 'pending',
  Succeeded: 'succeeded',
  Failed: 'failed',
} as const;
export type RefundStatus = (typeof RefundStatus)[keyof typeof RefundStatus];

export const Refund = z.object({
  refund_id: z.string().min(1),
  status: z.enum([RefundStatus.Pending, RefundStatus.Succeeded, RefundStatus.Failed]),
});
export type Refund = z.infer<typeof Refund>;

export interface PaymentsClient {
  /** `POST /refunds`. The same key returns the same refund: money moves once. */
  refund(input: RefundInput, idempotencyKey: string, options?: RequestOptions): Promise<Refund>;
}

export function createPaymentsClient(config: ClientConfig): PaymentsClient {
  const http = createHttpClient('Payments', config);
  return {
    refund: (input, idempotencyKey, options) =>
      http.post(
        '/refunds',
        {
          order_id: input.orderId,
          ...(input.paymentId !== undefined ? { payment_id: input.paymentId } : {}),
          amount: input.amount,
          currency: input.currency,
          reason: input.reason,
        },
        Refund,
        { ...options, idempotencyKey },
      ),
  };
}

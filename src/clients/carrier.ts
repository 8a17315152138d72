import { z } from 'zod';
import { createHttpClient, seg, type ClientConfig, type RequestOptions } from './http';

/** A returned line, in the webhook's own shape so event items pass straight through. */
export interface ReturnItem {
  product_id: string;
  quantity: number;
}

export interface CreateReturnLabelInput {
  returnId: string;
  orderId: string;
  customerId: string;
  items: ReturnItem[];
}

export const ReturnLabel = z.object({
  label_id: z.string().min(1),
  tracking_number: z.string().min(1),
  label_url: z.string().min(1),
  carrier: z.string().min(1),
});
export type ReturnLabel = z.infer<typeof ReturnLabel>;

export const VoidedLabel = z.object({
  label_id: z.string().min(1),
  status: z.literal('voided'),
});
export type VoidedLabel = z.infer<typeof VoidedLabel>;

export interface CarrierClient {
  /** `POST /return-labels`. The same key returns the same label instead of buying a second one. */
  createReturnLabel(input: CreateReturnLabelInput, idempotencyKey: string, options?: RequestOptions): Promise<ReturnLabel>;
  /** `POST /return-labels/{id}/void`. Voiding an already-void label succeeds (a saga compensation may run twice). */
  voidReturnLabel(labelId: string, idempotencyKey: string, options?: RequestOptions): Promise<VoidedLabel>;
}

export function createCarrierClient(config: ClientConfig): CarrierClient {
  const http = createHttpClient('Carrier', config);
  return {
    createReturnLabel: (input, idempotencyKey, options) =>
      http.post(
        '/return-labels',
        { return_id: input.returnId, order_id: input.orderId, customer_id: input.customerId, items: input.items },
        ReturnLabel,
        { ...options, idempotencyKey },
      ),
    voidReturnLabel: (labelId, idempotencyKey, options) =>
      http.post(`/return-labels/${seg(labelId)}/void`, {}, VoidedLabel, { ...options, idempotencyKey }),
  };
}

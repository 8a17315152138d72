import { z } from 'zod';
import type { ReturnItem } from './carrier';
import { createHttpClient, type ClientConfig, type RequestOptions } from './http';

export interface ExpectReturnInput {
  returnId: string;
  orderId: string;
  items: ReturnItem[];
  trackingNumber: string;
}

export const ExpectedReturn = z.object({
  expected_return_id: z.string().min(1),
  return_id: z.string().min(1),
  status: z.string().min(1),
});
export type ExpectedReturn = z.infer<typeof ExpectedReturn>;

export interface WarehouseClient {
  /** `POST /expected-returns`: tell the warehouse a parcel is on its way back. */
  expectReturn(input: ExpectReturnInput, idempotencyKey: string, options?: RequestOptions): Promise<ExpectedReturn>;
}

export function createWarehouseClient(config: ClientConfig): WarehouseClient {
  const http = createHttpClient('Warehouse', config);
  return {
    expectReturn: (input, idempotencyKey, options) =>
      http.post(
        '/expected-returns',
        { return_id: input.returnId, order_id: input.orderId, items: input.items, tracking_number: input.trackingNumber },
        ExpectedReturn,
        { ...options, idempotencyKey },
      ),
  };
}

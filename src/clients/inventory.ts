import { z } from 'zod';
import type { ReturnItem } from './carrier';
import { createHttpClient, type ClientConfig, type RequestOptions } from './http';

export interface RestockInput {
  returnId: string;
  items: ReturnItem[];
}

export const Restock = z.object({
  restock_id: z.string().min(1),
  return_id: z.string().min(1),
  status: z.string().min(1),
});
export type Restock = z.infer<typeof Restock>;

export interface InventoryClient {
  /** `POST /restocks`: put returned items back on sale. The same key never restocks twice. */
  restock(input: RestockInput, idempotencyKey: string, options?: RequestOptions): Promise<Restock>;
}

export function createInventoryClient(config: ClientConfig): InventoryClient {
  const http = createHttpClient('Inventory', config);
  return {
    restock: (input, idempotencyKey, options) =>
      http.post('/restocks', { return_id: input.returnId, items: input.items }, Restock, {
        ...options,
        idempotencyKey,
      }),
  };
}

import { z } from 'zod';
import { createHttpClient, seg, type ClientConfig, type RequestOptions } from './http';

const nullableString = z
  .string()
  .nullish()
  .transform((v) => v ?? undefined);

export const CrmOrderSummary = z.object({
  order_id: z.string(),
  // Kept open: a new status upstream must not turn every lookup into a failure.
  status: z.string(),
  date: z.string(),
});
export type CrmOrderSummary = z.infer<typeof CrmOrderSummary>;

export const CrmTicketSummary = z.object({
  ticket_id: z.string(),
  subject: z.string(),
  status: z.string(),
});
export type CrmTicketSummary = z.infer<typeof CrmTicketSummary>;

/** Where the customer lives: what a return label is made out from. */
export const CrmAddress = z.object({
  street1: z.string().min(1),
  street2: nullableString.optional(),
  city: z.string().min(1),
  state: nullableString.optional(),
  zip: z.string().min(1),
  /** ISO 3166-1 alpha-2. */
  country: z.string().length(2),
});
export type CrmAddress = z.infer<typeof CrmAddress>;

/** `GET /customers/{id}/details`, shaped like the seed's CRM response. */
export const CustomerDetails = z.object({
  customer_name: z.string(),
  email: z.string(),
  phone: nullableString.optional(),
  // Optional: the seed's CRM had none; a return label through EasyPost needs one.
  address: CrmAddress.nullish().transform((v) => v ?? undefined),
  last_orders: z.array(CrmOrderSummary).default([]),
  previous_tickets: z.array(CrmTicketSummary).default([]),
});
export type CustomerDetails = z.infer<typeof CustomerDetails>;

export interface CrmClient {
  /**
   * The customer's profile, recent orders and past tickets.
   * Throws a non-retryable `UpstreamNotFound` failure when the CRM does not know the id.
   */
  getCustomerDetails(customerId: string, options?: RequestOptions): Promise<CustomerDetails>;
}

export function createCrmClient(config: ClientConfig): CrmClient {
  const http = createHttpClient('CRM', config);
  return {
    getCustomerDetails: (customerId, options) => http.get(`/customers/${seg(customerId)}/details`, CustomerDetails, options),
  };
}

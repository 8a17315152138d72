import type { Kysely } from 'kysely';
import type { Clients } from '../src/clients';
import * as repo from '../src/db/repo';
import type { Schema } from '../src/db/schema';
import type { CustomerContext, ReturnLabel } from '../src/agent/types';
import type { LineItem } from '../src/events/schemas';
import { partnerCall } from './partner-call';

export interface PartnerDeps {
  db: Kysely<Schema>;
  clients: Clients;
}

/** Asks the CRM for a customer's profile and history, and keeps the profile in the knowledge base. */
export async function fetchCustomerContext(deps: PartnerDeps, customerId: string): Promise<CustomerContext> {
  const details = await partnerCall((signal) => deps.clients.crm.getCustomerDetails(customerId, { signal }));
  await repo.upsertCustomer(deps.db, {
    id: customerId,
    name: details.customer_name,
    email: details.email,
    phone: details.phone ?? undefined,
    details,
  });
  return {
    customerId,
    name: details.customer_name,
    email: details.email,
    lastOrders: details.last_orders,
    previousTickets: details.previous_tickets,
  };
}

/**
 * Calls to partner systems (CRM, carrier, warehouse, inventory, payments), each heartbeating while
 * it waits and carrying an idempotency key the workflow derives from its ID, so a retry after a
 * lost answer is answered from the key, not done twice. Errors are classified in src/clients.
 */
export function partners(deps: PartnerDeps) {
  const { clients } = deps;
  return {
    async enrichCustomer(customerId: string): Promise<CustomerContext> {
      return fetchCustomerContext(deps, customerId);
    },

    async createReturnLabel(input: {
      returnId: string;
      orderId: string;
      customerId: string;
      items: LineItem[];
      idempotencyKey: string;
    }): Promise<ReturnLabel> {
      const label = await partnerCall((signal) =>
        clients.carrier.createReturnLabel(
          { returnId: input.returnId, orderId: input.orderId, customerId: input.customerId, items: input.items },
          input.idempotencyKey,
          { signal },
        ),
      );
      return { labelId: label.label_id, trackingNumber: label.tracking_number, labelUrl: label.label_url, carrier: label.carrier };
    },

    async voidReturnLabel(input: { labelId: string; idempotencyKey: string }): Promise<void> {
      await partnerCall((signal) => clients.carrier.voidReturnLabel(input.labelId, input.idempotencyKey, { signal }));
    },

    async expectReturn(input: {
      returnId: string;
      orderId: string;
      items: LineItem[];
      trackingNumber: string;
      idempotencyKey: string;
    }): Promise<void> {
      await partnerCall((signal) =>
        clients.warehouse.expectReturn(
          { returnId: input.returnId, orderId: input.orderId, items: input.items, trackingNumber: input.trackingNumber },
          input.idempotencyKey,
          { signal },
        ),
      );
    },

    async restock(input: { returnId: string; items: LineItem[]; idempotencyKey: string }): Promise<void> {
      await partnerCall((signal) =>
        clients.inventory.restock({ returnId: input.returnId, items: input.items }, input.idempotencyKey, { signal }),
      );
    },

    async refund(input: {
      orderId: string;
      amount: number;
      currency: string;
      reason: string;
      idempotencyKey: string;
    }): Promise<{ refundId: string }> {
      const refund = await partnerCall((signal) =>
        clients.payments.refund(
          { orderId: input.orderId, amount: input.amount, currency: input.currency, reason: input.reason },
          input.idempotencyKey,
          { signal },
        ),
      );
      return { refundId: refund.refund_id };
    },
  };
}

export type PartnerActivities = ReturnType<typeof partners>;
/** The lookups an escalation makes for context, best effort: a partner call, on a shorter leash. */
export type LookupActivities = Pick<PartnerActivities, 'enrichCustomer'>;

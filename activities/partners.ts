import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Kysely } from 'kysely';
import type { Clients } from '../src/clients';
import * as repo from '../src/db/repo';
import type { Schema } from '../src/db/schema';
import type { CustomerContext, ReturnLabel } from '../src/agent/types';
import type { LineItem } from '../src/events/schemas';
import { partnerCall, runOwner } from './partner-call';

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
 * Makes an external effect at most once per key, for good: the completed-effects record is read
 * first, and a key already there returns what the partner answered then, without a call. Written
 * after the partner said yes, so an effect whose answer was lost, or whose record could not be
 * written (the database down), is tried again with the same key, which the partner answers from
 * its own memory of the key while it keeps one.
 */
async function once<T>(db: Kysely<Schema>, effect: string, key: string, act: () => Promise<T>): Promise<T> {
  const done = await repo.findCompletedEffect(db, key);
  if (done) {
    if (done.effect !== effect) {
      throw ApplicationFailure.nonRetryable(`idempotency key ${key} already names ${done.effect}, not ${effect}`, 'IdempotencyKeyReused');
    }
    Context.current().log.info('effect already completed; not made again', { effect, idempotencyKey: key, by: done.workflowId });
    return done.result as T;
  }
  const result = await act();
  await repo.recordCompletedEffect(db, { key, effect, result, workflowId: runOwner() });
  return result;
}

/**
 * Calls to partner systems (CRM, carrier, warehouse, inventory, payments), each heartbeating while
 * it waits and carrying an idempotency key the workflow derives from its ID, so a retry after a
 * lost answer is answered from the key, not done twice. Each write is recorded as a completed
 * effect under its key (`once`), so a later run of the same event never makes it again, even after
 * the partner has forgotten the key. Errors are classified in src/clients.
 */
export function partners(deps: PartnerDeps) {
  const { clients, db } = deps;
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
      return once(db, 'carrier.create-return-label', input.idempotencyKey, async () => {
        const label = await partnerCall((signal) =>
          clients.carrier.createReturnLabel(
            { returnId: input.returnId, orderId: input.orderId, customerId: input.customerId, items: input.items },
            input.idempotencyKey,
            { signal },
          ),
        );
        return { labelId: label.label_id, trackingNumber: label.tracking_number, labelUrl: label.label_url, carrier: label.carrier };
      });
    },

    async voidReturnLabel(input: { labelId: string; idempotencyKey: string }): Promise<void> {
      await once(db, 'carrier.void-return-label', input.idempotencyKey, async () => {
        await partnerCall((signal) => clients.carrier.voidReturnLabel(input.labelId, input.idempotencyKey, { signal }));
      });
    },

    async expectReturn(input: {
      returnId: string;
      orderId: string;
      items: LineItem[];
      trackingNumber: string;
      idempotencyKey: string;
    }): Promise<void> {
      await once(db, 'warehouse.expect-return', input.idempotencyKey, async () => {
        await partnerCall((signal) =>
          clients.warehouse.expectReturn(
            { returnId: input.returnId, orderId: input.orderId, items: input.items, trackingNumber: input.trackingNumber },
            input.idempotencyKey,
            { signal },
          ),
        );
      });
    },

    async restock(input: { returnId: string; items: LineItem[]; idempotencyKey: string }): Promise<void> {
      await once(db, 'inventory.restock', input.idempotencyKey, async () => {
        await partnerCall((signal) =>
          clients.inventory.restock({ returnId: input.returnId, items: input.items }, input.idempotencyKey, { signal }),
        );
      });
    },

    async refund(input: {
      orderId: string;
      amount: number;
      currency: string;
      reason: string;
      idempotencyKey: string;
    }): Promise<{ refundId: string }> {
      return once(db, 'payments.refund', input.idempotencyKey, async () => {
        const refund = await partnerCall((signal) =>
          clients.payments.refund(
            { orderId: input.orderId, amount: input.amount, currency: input.currency, reason: input.reason },
            input.idempotencyKey,
            { signal },
          ),
        );
        return { refundId: refund.refund_id };
      });
    },
  };
}

export type PartnerActivities = ReturnType<typeof partners>;
/** The lookups an escalation makes for context, best effort: a partner call, on a shorter leash. */
export type LookupActivities = Pick<PartnerActivities, 'enrichCustomer'>;

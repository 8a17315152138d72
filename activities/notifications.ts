import { Context } from '@temporalio/activity';
import { isUpstreamFailure, UpstreamErrorType } from '../src/clients';
import * as repo from '../src/db/repo';
import type { CustomerMessage } from '../src/agent/types';
import { renderCustomerMessage } from '../src/agent/templates';
import type { Notifier, NotifyResult } from '../src/notify';
import { fetchCustomerContext, type PartnerDeps } from './partners';

export interface NotificationDeps extends PartnerDeps {
  notifier: Notifier;
}

/**
 * Messages to customers and to the agents' channel, through the notifier's outbox: the same
 * idempotency key sends once however often it is called (a retry, a local activity run again, the
 * durable fallback after the fast path gave up). A slow delivery is abandoned when the activity's
 * attempt ends, so the next attempt is the only one talking to the mail server.
 */
export function notifications(deps: NotificationDeps) {
  const { db, notifier } = deps;

  /** The customer's name and address: from the knowledge base, else from the CRM (and kept). */
  async function recipient(customerId: string): Promise<{ name?: string; email?: string }> {
    const known = await repo.getCustomer(db, customerId);
    if (known) return { name: known.name, email: known.email };
    try {
      const fetched = await fetchCustomerContext(deps, customerId);
      return { name: fetched.name, email: fetched.email };
    } catch (err) {
      // Unknown to the CRM: the message still lands in the outbox for a person to route.
      if (isUpstreamFailure(err, UpstreamErrorType.NotFound)) return {};
      throw err;
    }
  }

  return {
    async notifyCustomer(input: {
      idempotencyKey: string;
      customerId?: string;
      orderId?: string;
      message: CustomerMessage;
      /** The event's test mode (its envelope's): the message stays in the outbox, marked, never sent. */
      testMode?: boolean;
      /**
       * The payment a payment message is about, when the event did not name its order: the order the
       * knowledge base recorded for that payment (a Stripe refund's charge need not carry the order
       * key its payment intent had) addresses the message instead.
       */
      paymentId?: string;
    }): Promise<NotifyResult> {
      const orderId = input.orderId ?? (input.paymentId ? (await repo.getPayment(db, input.paymentId))?.orderId : undefined);
      const order = orderId ? await repo.getOrder(db, orderId) : undefined;
      const customerId = input.customerId ?? order?.customer_id ?? undefined;
      // A message about a test order is a test message, whatever event brought it (a store's
      // fulfillment does not say its order is a test one; the order did).
      const testMode = input.testMode === true || order?.test_mode === 1;
      const to = customerId ? await recipient(customerId) : {};
      const payment = ['payment-confirmed', 'payment-failed', 'payment-refunded'].includes(input.message.kind);
      const message =
        orderId && payment && !('orderId' in input.message && input.message.orderId) ? { ...input.message, orderId } : input.message;
      const { subject, body } = renderCustomerMessage(message, to.name);
      return notifier.send(
        { idempotencyKey: input.idempotencyKey, audience: 'customer', customerId, to: to.email, subject, body, testMode },
        { signal: Context.current().cancellationSignal },
      );
    },

    async notifyAgents(input: { idempotencyKey: string; subject: string; body: string }): Promise<NotifyResult> {
      return notifier.send(
        { idempotencyKey: input.idempotencyKey, audience: 'agents', subject: input.subject, body: input.body },
        { signal: Context.current().cancellationSignal },
      );
    },
  };
}

export type NotificationActivities = ReturnType<typeof notifications>;

import { Context } from '@temporalio/activity';
import { WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import { ApplicationFailure, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Kysely } from 'kysely';
import { isUpstreamFailure, UpstreamErrorType, type Clients } from '../src/clients';
import * as repo from '../src/db/repo';
import { paymentStatusOf, type InquiryDecision, type OrderStatus, type ReturnRecordStatus, type Schema } from '../src/db/schema';
import type { Notifier } from '../src/notify';
import type { Responder } from '../src/agent/responder';
import { renderCustomerMessage } from '../src/agent/templates';
import type {
  AgentSettings,
  CustomerContext,
  CustomerMessage,
  InquiryAssessment,
  ReturnLabel,
  ReturnPolicyCheck,
} from '../src/agent/types';
import type { EnvelopeOf } from '../src/events/envelope';
import { returnWorkflowId } from '../src/events/identity';
import type {
  CustomerInquiryNew,
  CustomerUpdated,
  LineItem,
  OrderStatusUpdated,
  PaymentFailed,
  PaymentRefunded,
  PaymentSucceeded,
  ShipmentDelayed,
  ShipmentDelivered,
  ShipmentException,
} from '../src/events/schemas';
import { processReturnWorkflow, returnEventSignal } from '../workflows/returns';

/** What the worker builds once and every activity shares. */
export interface ActivityDeps {
  db: Kysely<Schema>;
  clients: Clients;
  notifier: Notifier;
  responder: Responder;
  settings: AgentSettings;
  /** For relaying return events to the return's own workflow (signal-with-start). */
  temporal: Client;
}

const OPEN_ORDER_EXCLUDED: OrderStatus[] = ['delivered', 'cancelled', 'returned'];
const COMPLAINT = /\b(complain\w*|angry|furious|terrible|awful|unacceptable|worst|lawyer|legal|scam|broken|damaged|disappointed)\b/i;
const REFUND = /\b(refund\w*|money back|chargeback)\b/i;
const ORDER_STATUS = /\b(where|status|track\w*|ship\w*|deliver\w*|arriv\w*|eta|order)\b/i;
const REPEAT_CONTACT_DAYS = 7;

/** Within the upstream profile's heartbeat timeout (workflows/activities.ts), with room to spare. */
const HEARTBEAT_EVERY_MS = 2_000;

/**
 * A call to a partner system, heartbeating while it waits. A worker that dies mid-call stops
 * heartbeating, so Temporal retries the call after the heartbeat timeout rather than the whole
 * start-to-close timeout; and a cancellation (timeout, workflow cancelled) reaches the activity
 * through the heartbeat and aborts its HTTP request through the signal.
 */
async function partnerCall<T>(call: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const context = Context.current();
  context.heartbeat();
  const beat = setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
  try {
    return await call(context.cancellationSignal);
  } finally {
    clearInterval(beat);
  }
}

/**
 * The agent's activities, each one external effect, each safe to retry: database writes are
 * conditional or keyed, partner calls carry an idempotency key the workflow derives from its ID,
 * and messages go through the notifier's outbox keyed the same way.
 */
export function createActivities(deps: ActivityDeps) {
  const { db, clients, notifier } = deps;

  async function customerContext(customerId: string): Promise<CustomerContext> {
    const details = await partnerCall((signal) => clients.crm.getCustomerDetails(customerId, { signal }));
    await repo.upsertCustomer(db, {
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

  /** The customer's name and address: from the knowledge base, else from the CRM (and kept). */
  async function recipient(customerId: string): Promise<{ name?: string; email?: string }> {
    const known = await repo.getCustomer(db, customerId);
    if (known) return { name: known.name, email: known.email };
    try {
      const fetched = await customerContext(customerId);
      return { name: fetched.name, email: fetched.email };
    } catch (err) {
      // Unknown to the CRM: the message still lands in the outbox for a person to route.
      if (isUpstreamFailure(err, UpstreamErrorType.NotFound)) return {};
      throw err;
    }
  }

  /**
   * `repo.applyOrderStatus`, safe to retry. An earlier attempt of this activity may have committed
   * the update and lost the answer (the database connection dropped in between): the row then
   * holds exactly this event, and calling the retry stale would leave the customer untold.
   */
  async function applyStatusOnce(input: repo.OrderStatusInput): Promise<'applied' | 'stale'> {
    const outcome = await repo.applyOrderStatus(db, input);
    if (outcome === 'applied' || Context.current().info.attempt <= 1) return outcome;
    const order = await repo.getOrder(db, input.orderId);
    return order?.status === input.status && order.status_event_at === repo.toIsoTimestamp(input.eventAt) ? 'applied' : 'stale';
  }

  return {
    async agentSettings(): Promise<AgentSettings> {
      return deps.settings;
    },

    async applyOrderStatus(event: OrderStatusUpdated): Promise<'applied' | 'stale'> {
      const outcome = await applyStatusOnce({
        orderId: event.order_id,
        customerId: event.customer_id,
        status: event.new_status,
        eventAt: event.timestamp,
        carrier: event.carrier,
        trackingNumber: event.tracking_number,
        eta: event.eta,
        totalAmount: event.total_amount,
        currency: event.currency,
      });
      if (outcome === 'applied' && event.items) {
        await repo.upsertOrderItems(
          db,
          event.order_id,
          event.items.map((i) => ({ productId: i.product_id, quantity: i.quantity })),
        );
      }
      return outcome;
    },

    async enrichCustomer(customerId: string): Promise<CustomerContext> {
      return customerContext(customerId);
    },

    async assessInquiry({ inquiry, customer }: { inquiry: CustomerInquiryNew; customer: CustomerContext }): Promise<InquiryAssessment> {
      const text = `${inquiry.summary}\n${inquiry.message ?? ''}`;
      if (COMPLAINT.test(text)) return { decision: 'handoff', reason: 'the customer is complaining', facts: {} };

      const openTickets = customer.previousTickets.filter((t) => t.status !== 'closed').length;
      const since = new Date(Date.parse(inquiry.timestamp) - REPEAT_CONTACT_DAYS * 86_400_000).toISOString();
      const recent = await db
        .selectFrom('inquiries')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('customer_id', '=', inquiry.customer_id)
        .where('id', '!=', inquiry.inquiry_id)
        .where('created_at', '>=', since)
        .executeTakeFirst();
      if (openTickets > 0 || Number(recent?.n ?? 0) >= 2) {
        return { decision: 'handoff', reason: 'repeat contact: the customer has written before about an open matter', facts: {} };
      }

      const orderId = inquiry.order_id ?? customer.lastOrders[0]?.order_id;
      const order = orderId ? await repo.getOrder(db, orderId) : undefined;
      if (REFUND.test(text)) {
        const amount = Number(order?.total_amount ?? NaN);
        if (!Number.isFinite(amount) || amount > deps.settings.refundHandoffThreshold) {
          return {
            decision: 'handoff',
            reason: `refund request ${Number.isFinite(amount) ? `of ${amount} ` : ''}above the ${deps.settings.refundHandoffThreshold} threshold or of unknown amount`,
            facts: orderId ? { orderId } : {},
          };
        }
        return { decision: 'handoff', reason: 'refund requests are confirmed by a person', facts: { orderId: orderId ?? '' } };
      }
      if (ORDER_STATUS.test(text) && orderId) {
        const status = order?.status ?? customer.lastOrders.find((o) => o.order_id === orderId)?.status;
        if (status) {
          const facts: Record<string, string> = { orderId, orderStatus: status };
          if (order?.carrier) facts.carrier = order.carrier;
          if (order?.tracking_number) facts.trackingNumber = order.tracking_number;
          if (order?.eta) facts.eta = order.eta;
          return { decision: 'answer', reason: 'order-status question answered from the knowledge base', facts };
        }
      }
      return { decision: 'handoff', reason: 'the agent cannot answer this on its own', facts: orderId ? { orderId } : {} };
    },

    async draftReply(input: { inquiry: CustomerInquiryNew; customer: CustomerContext; assessment: InquiryAssessment }): Promise<string> {
      return deps.responder.draft(input);
    },

    async recordInquiry(input: { inquiry: CustomerInquiryNew; decision: InquiryDecision; reason: string; reply?: string }): Promise<void> {
      const { inquiry } = input;
      await repo.createInquiry(db, {
        inquiryId: inquiry.inquiry_id,
        customerId: inquiry.customer_id,
        summary: inquiry.summary,
        channel: inquiry.source,
        createdAt: inquiry.timestamp,
      });
      await repo.recordInquiryDecision(db, {
        inquiryId: inquiry.inquiry_id,
        decision: input.decision,
        reason: input.reason,
        reply: input.reply,
      });
    },

    /**
     * Claims the ledger entry and applies the payment in one transaction. True for the run that
     * owns the entry (including its own retries), false for any later run: a redelivery.
     */
    async applyPaymentOnce(input: {
      ledgerKey: string;
      owner: string;
      event: PaymentSucceeded | PaymentFailed | PaymentRefunded;
    }): Promise<boolean> {
      const { event } = input;
      return db.transaction().execute(async (tx) => {
        const claimed = await repo.claimProcessedEvent(tx, input.ledgerKey, event.event_type, input.owner);
        if (!claimed) {
          const entry = await tx.selectFrom('processed_events').select('workflow_id').where('key', '=', input.ledgerKey).executeTakeFirst();
          if (entry?.workflow_id !== input.owner) return false;
        }
        await repo.recordPayment(tx, {
          paymentId: event.payment_id,
          orderId: event.order_id,
          status: paymentStatusOf(event.event_type),
          amount: event.amount,
          currency: event.currency,
          eventAt: event.timestamp,
        });
        return true;
      });
    },

    async notifyCustomer(input: { idempotencyKey: string; customerId?: string; orderId?: string; message: CustomerMessage }) {
      const customerId =
        input.customerId ?? (input.orderId ? ((await repo.getOrder(db, input.orderId))?.customer_id ?? undefined) : undefined);
      const to = customerId ? await recipient(customerId) : {};
      const { subject, body } = renderCustomerMessage(input.message, to.name);
      return notifier.send({ idempotencyKey: input.idempotencyKey, audience: 'customer', customerId, to: to.email, subject, body });
    },

    async notifyAgents(input: { idempotencyKey: string; subject: string; body: string }) {
      return notifier.send({ idempotencyKey: input.idempotencyKey, audience: 'agents', subject: input.subject, body: input.body });
    },

    async checkReturnPolicy(input: {
      orderId: string;
      items: LineItem[];
      policyDays: number;
      requestedAt: string;
    }): Promise<ReturnPolicyCheck> {
      const order = await repo.getOrder(db, input.orderId);
      const payment = await db
        .selectFrom('payments')
        .select(['amount', 'currency'])
        .where('order_id', '=', input.orderId)
        .where('status', '=', 'succeeded')
        .executeTakeFirst();
      const refundAmount = Number(order?.total_amount ?? payment?.amount ?? 0);
      const currency = order?.currency ?? payment?.currency ?? 'USD';
      const no = (reason: string): ReturnPolicyCheck => ({ eligible: false, reason, refundAmount, currency });
      if (!order) return no(`order ${input.orderId} is not in the knowledge base`);
      if (order.status !== 'delivered' || !order.status_event_at)
        return no(`order ${input.orderId} has not been delivered (status ${order.status ?? 'unknown'})`);
      const days = (Date.parse(input.requestedAt) - Date.parse(order.status_event_at)) / 86_400_000;
      if (days > input.policyDays) return no(`requested ${Math.floor(days)} days after delivery; the window is ${input.policyDays} days`);
      const ordered = await repo.listOrderItems(db, input.orderId);
      if (ordered.length > 0) {
        for (const item of input.items) {
          const line = ordered.find((o) => o.product_id === item.product_id);
          if (!line) return no(`${item.product_id} is not part of order ${input.orderId}`);
          if (item.quantity > line.quantity) return no(`${item.quantity} × ${item.product_id} returned but ${line.quantity} ordered`);
        }
      }
      if (!(refundAmount > 0)) return no(`no payment on record for order ${input.orderId}`);
      return { eligible: true, reason: `within the ${input.policyDays}-day window`, refundAmount, currency };
    },

    async recordReturn(input: {
      returnId: string;
      status: ReturnRecordStatus;
      orderId?: string;
      customerId?: string;
      reason?: string;
      items?: LineItem[];
      labelId?: string;
      trackingNumber?: string;
      refundId?: string;
    }): Promise<void> {
      const existing = await repo.getReturn(db, input.returnId);
      const orderId = input.orderId ?? existing?.order_id;
      const customerId = input.customerId ?? existing?.customer_id;
      if (!orderId || !customerId)
        throw ApplicationFailure.nonRetryable(`return ${input.returnId} has no order or customer on record`, 'ReturnUnknown');
      await repo.upsertReturn(db, {
        returnId: input.returnId,
        orderId,
        customerId,
        status: input.status,
        reason: input.reason,
        items: input.items?.map((i) => ({ productId: i.product_id, quantity: i.quantity })),
        labelId: input.labelId,
        trackingNumber: input.trackingNumber,
        refundId: input.refundId,
      });
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

    async applyShipment(
      event: ShipmentDelivered | ShipmentDelayed | ShipmentException,
    ): Promise<{ applied: boolean; customerId?: string }> {
      const order = await repo.getOrder(db, event.order_id);
      const customerId = order?.customer_id ?? event.customer_id;
      if (event.event_type === 'shipment.exception') return { applied: true, customerId: customerId ?? undefined };
      const outcome = await applyStatusOnce({
        orderId: event.order_id,
        customerId: customerId ?? undefined,
        status: event.event_type === 'shipment.delivered' ? 'delivered' : 'delayed',
        eventAt: event.event_type === 'shipment.delivered' ? (event.delivered_at ?? event.timestamp) : event.timestamp,
        carrier: event.carrier,
        trackingNumber: event.tracking_number,
        ...(event.event_type === 'shipment.delayed' && event.new_eta ? { eta: event.new_eta } : {}),
      });
      return { applied: outcome === 'applied', customerId: customerId ?? undefined };
    },

    async findOpenOrdersWithProduct(input: { productId: string; orderIds?: string[] }): Promise<{ orderId: string; customerId: string }[]> {
      let query = db
        .selectFrom('orders')
        .select(['orders.id as orderId', 'orders.customer_id as customerId'])
        .where('orders.customer_id', 'is not', null)
        .where((eb) => eb.or([eb('orders.status', 'is', null), eb('orders.status', 'not in', OPEN_ORDER_EXCLUDED)]));
      query = input.orderIds?.length
        ? query.where('orders.id', 'in', input.orderIds)
        : query.where((eb) =>
            eb.exists(
              eb
                .selectFrom('order_items')
                .select('order_items.order_id')
                .whereRef('order_items.order_id', '=', 'orders.id')
                .where('order_items.product_id', '=', input.productId),
            ),
          );
      const rows = await query.orderBy('orders.id').execute();
      return rows.map((r) => ({ orderId: r.orderId, customerId: r.customerId! }));
    },

    async updateCustomer(event: CustomerUpdated): Promise<boolean> {
      const known = await repo.getCustomer(db, event.customer_id);
      const name = event.changes.name ?? known?.name;
      const email = event.changes.email ?? known?.email;
      if (!name || !email) return false; // nothing to merge into; the CRM is asked when we need them
      await repo.upsertCustomer(db, {
        id: event.customer_id,
        name,
        email,
        ...(event.changes.phone !== undefined ? { phone: event.changes.phone } : {}),
      });
      return true;
    },

    /**
     * Hands a return event to the return's own workflow, starting it if this event came first.
     * A return whose workflow already finished refuses it (REJECT_DUPLICATE): late news for a person.
     */
    async deliverReturnEvent(
      envelope: EnvelopeOf<'return.initiated'> | EnvelopeOf<'return.received'>,
    ): Promise<{ returnWorkflowId: string; delivered: boolean }> {
      const workflowId = returnWorkflowId(envelope.event.return_id);
      try {
        await deps.temporal.workflow.signalWithStart(processReturnWorkflow, {
          workflowId,
          taskQueue: Context.current().info.taskQueue,
          args: [envelope.event.return_id],
          signal: returnEventSignal,
          signalArgs: [envelope],
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        });
        return { returnWorkflowId: workflowId, delivered: true };
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) return { returnWorkflowId: workflowId, delivered: false };
        throw err;
      }
    },
  };
}

export type AgentActivities = ReturnType<typeof createActivities>;

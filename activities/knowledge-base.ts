import { ApplicationFailure } from '@temporalio/common';
import type { Kysely } from 'kysely';
import { assessInquiry, inquiryOrderId, repeatContactSince, returnPolicy, type OrderFacts } from '../src/agent/policy';
import type { AgentSettings, CustomerContext, InquiryAssessment, ReturnPolicyCheck } from '../src/agent/types';
import * as repo from '../src/db/repo';
import {
  paymentStatusOf,
  type InquiryDecidedBy,
  type InquiryDecision,
  type Order,
  type ReturnRecordStatus,
  type Schema,
} from '../src/db/schema';
import type {
  CustomerInquiryNew,
  CustomerUpdated,
  LineItem,
  OrderStatusUpdated,
  PaymentDisputed,
  PaymentFailed,
  PaymentRefunded,
  PaymentSucceeded,
  PrivacyRequested,
  ShipmentDelayed,
  ShipmentDelivered,
  ShipmentException,
  ShipmentInTransit,
} from '../src/events/schemas';
import { runOwner } from './partner-call';
import { refundRoute } from '../src/providers/outbound';
import type { StoreOrder } from './partners';

export interface KnowledgeBaseDeps {
  db: Kysely<Schema>;
  settings: Pick<AgentSettings, 'refundHandoffThreshold' | 'refundHandoffCurrency'>;
}

function orderFacts(order: Order | undefined): OrderFacts | undefined {
  if (!order) return undefined;
  return {
    status: order.status,
    statusEventAt: order.status_event_at,
    carrier: order.carrier,
    trackingNumber: order.tracking_number,
    eta: order.eta,
    totalAmount: order.total_amount,
    currency: order.currency,
  };
}

/**
 * Short reads and writes on the agent's own database, each one statement or one transaction,
 * each safe to repeat: writes are conditional or keyed, and the status updates know their owner
 * (the run) so a repeat of the same run is told the truth. The workflows run these as local
 * activities, so they must stay quick: no partner calls here. Decisions are the pure functions
 * of src/agent/policy.ts over the facts read here.
 */
export function knowledgeBase(deps: KnowledgeBaseDeps) {
  const { db } = deps;

  return {
    async applyOrderStatus(event: OrderStatusUpdated, options?: { testMode?: boolean }): Promise<'applied' | 'stale'> {
      const outcome = await repo.applyOrderStatus(db, {
        ...(options?.testMode ? { testMode: true } : {}),
        orderId: event.order_id,
        customerId: event.customer_id,
        status: event.new_status,
        eventAt: event.timestamp,
        carrier: event.carrier,
        trackingNumber: event.tracking_number,
        eta: event.eta,
        totalAmount: event.total_amount,
        currency: event.currency,
        owner: runOwner(),
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

    /**
     * A carrier's news about a shipment. The order is the event's, else the one the knowledge base
     * recorded for its tracking number (a carrier's tracker names no order); the tracker is recorded
     * either way, by the carrier's clock, so an older delivery never moves it back. With an order,
     * `applied` is the order's outcome, as it always was; without one, the tracker's. A test event
     * (an EasyPost test tracker) never changes a live order, as a test payment never marks one paid.
     * An exception is always `applied`: a person judges whether it still matters.
     */
    async applyShipment(
      event: ShipmentInTransit | ShipmentDelivered | ShipmentDelayed | ShipmentException,
      options: { testMode?: boolean } = {},
    ): Promise<{ applied: boolean; customerId?: string; orderId?: string; returnId?: string }> {
      const known = await repo.findByTrackingNumber(db, event.tracking_number);
      const orderId = event.order_id ?? known.orderId;
      const order = orderId === undefined ? undefined : await repo.getOrder(db, orderId);
      const customerId = order?.customer_id ?? event.customer_id ?? known.ret?.customerId ?? undefined;
      const returnId = known.ret?.returnId;
      const linked = { ...(customerId ? { customerId } : {}), ...(orderId ? { orderId } : {}), ...(returnId ? { returnId } : {}) };
      // Ordered by when the carrier reported it: a delivery scanned at 09:55 but reported at 11:00
      // must not lose to an out-for-delivery reported at 10:00 (the later of the two, for a sender
      // whose `timestamp` is the scan's).
      const scannedAt = event.event_type === 'shipment.delivered' ? event.delivered_at : undefined;
      const eventAt = scannedAt !== undefined && Date.parse(scannedAt) > Date.parse(event.timestamp) ? scannedAt : event.timestamp;
      const status =
        event.event_type === 'shipment.in_transit'
          ? event.status
          : event.event_type === 'shipment.delivered'
            ? 'delivered'
            : event.event_type === 'shipment.delayed'
              ? 'delayed'
              : event.exception_code;
      const tracked = await repo.applyTracker(db, {
        trackingNumber: event.tracking_number,
        carrier: event.carrier,
        status,
        ...(event.event_type === 'shipment.in_transit' && event.status_detail ? { statusDetail: event.status_detail } : {}),
        ...(event.event_type === 'shipment.exception' && event.description ? { statusDetail: event.description.slice(0, 500) } : {}),
        ...(event.event_type === 'shipment.in_transit' && event.eta ? { eta: event.eta } : {}),
        ...(event.event_type === 'shipment.delayed' && event.new_eta ? { eta: event.new_eta } : {}),
        eventAt,
        ...(orderId ? { orderId } : {}),
        ...(returnId ? { returnId } : {}),
        testMode: options.testMode,
        owner: runOwner(),
      });
      if (event.event_type === 'shipment.exception') return { applied: true, ...linked };
      if (orderId === undefined || (options.testMode === true && order !== undefined && order.test_mode === 0)) {
        return { applied: tracked === 'applied', ...linked };
      }
      const outcome = await repo.applyOrderStatus(db, {
        orderId,
        customerId,
        status: event.event_type === 'shipment.in_transit' ? event.status : status === 'delivered' ? 'delivered' : 'delayed',
        eventAt,
        carrier: event.carrier,
        trackingNumber: event.tracking_number,
        ...(event.event_type === 'shipment.delayed' && event.new_eta ? { eta: event.new_eta } : {}),
        ...(event.event_type === 'shipment.in_transit' && event.eta ? { eta: event.eta } : {}),
        owner: runOwner(),
      });
      return { applied: outcome === 'applied', ...linked };
    },

    /** The return whose label `trackingNumber` is, if the knowledge base knows one: where a carrier's return parcel belongs. */
    async findReturnByTrackingNumber(trackingNumber: string): Promise<{ returnId: string; orderId: string } | null> {
      const { ret } = await repo.findByTrackingNumber(db, trackingNumber);
      return ret ? { returnId: ret.returnId, orderId: ret.orderId } : null;
    },

    async updateCustomer(event: CustomerUpdated): Promise<boolean> {
      const known = await repo.getCustomer(db, event.customer_id);
      const name = event.changes.name ?? known?.name;
      const email = event.changes.email ?? known?.email;
      if (!name || !email) return false; // nothing to merge into; the CRM is asked when we need them
      // The sender's time orders profiles: a stale one (a store's retry hours later) changes nothing.
      const outcome = await repo.upsertCustomer(db, {
        id: event.customer_id,
        name,
        email,
        ...(event.changes.phone !== undefined ? { phone: event.changes.phone } : {}),
        eventAt: event.timestamp,
      });
      return outcome === 'applied';
    },

    /**
     * Claims the ledger entry and applies the payment in one transaction. True for the run that
     * owns the entry (including its own retries), false for any later run: a redelivery.
     */
    async applyPaymentOnce(input: {
      ledgerKey: string;
      owner: string;
      event: PaymentSucceeded | PaymentFailed | PaymentRefunded;
      /** The envelope's: a provider's test event marks what it writes. */
      testMode?: boolean;
    }): Promise<boolean> {
      const { event } = input;
      return repo.applyPaymentOnce(db, {
        ledgerKey: input.ledgerKey,
        eventType: event.event_type,
        owner: input.owner,
        payment: {
          paymentId: event.payment_id,
          orderId: event.order_id,
          status: paymentStatusOf(event.event_type),
          amount: event.amount,
          currency: event.currency,
          eventAt: event.timestamp,
          testMode: input.testMode,
        },
      });
    },

    /**
     * Records a dispute with the order its payment was for: the event's own, else the one the
     * knowledge base recorded for that payment (a Stripe dispute names its charge and payment
     * intent, never the order), else none. Answers the order and its customer, when known.
     */
    async recordDispute(input: { event: PaymentDisputed; testMode?: boolean }): Promise<{ orderId?: string; customerId?: string }> {
      const { event } = input;
      const orderId = event.order_id ?? (await repo.getPayment(db, event.payment_id))?.orderId;
      await repo.recordDispute(db, {
        disputeId: event.dispute_id,
        paymentId: event.payment_id,
        orderId,
        amount: event.amount,
        currency: event.currency,
        reason: event.reason,
        status: event.status,
        evidenceDueBy: event.evidence_due_by,
        testMode: input.testMode,
      });
      const customerId = event.customer_id ?? (orderId ? ((await repo.getOrder(db, orderId))?.customer_id ?? undefined) : undefined);
      return { ...(orderId ? { orderId } : {}), ...(customerId ? { customerId } : {}) };
    },

    /** The facts an inquiry's assessment needs, read here; the decision is src/agent/policy.ts's. */
    async assessInquiry({
      inquiry,
      customer,
      storeOrder,
    }: {
      inquiry: CustomerInquiryNew;
      customer: CustomerContext;
      /**
       * The order as the shop's store has it (partners' `storeOrder`, already known to be this
       * customer's): read instead of the knowledge base's.
       */
      storeOrder?: StoreOrder;
    }): Promise<InquiryAssessment> {
      const orderId = storeOrder ? undefined : inquiryOrderId(inquiry, customer);
      const [recentInquiries, order] = await Promise.all([
        repo.countRecentInquiries(db, {
          customerId: inquiry.customer_id,
          excludingId: inquiry.inquiry_id,
          since: repeatContactSince(inquiry.timestamp),
        }),
        orderId ? repo.getOrder(db, orderId) : undefined,
      ]);
      return assessInquiry({
        // The store's order is the one the inquiry is about, by the name the customer knows it by.
        inquiry: storeOrder ? { ...inquiry, order_id: storeOrder.orderId } : inquiry,
        customer,
        recentInquiries,
        // The order the inquiry names counts only if it is this customer's: an order ID in a
        // message must not reveal someone else's order, to the reply or to the model.
        order: storeOrder ? storeOrder.order : orderFacts(order?.customer_id === inquiry.customer_id ? order : undefined),
        refundHandoffThreshold: deps.settings.refundHandoffThreshold,
        refundHandoffCurrency: deps.settings.refundHandoffCurrency,
      });
    },

    /** Whether an order's refund goes through Stripe (its payment came through Stripe), so waits on the payments partner's queue. */
    async refundsThroughStripe(input: { orderId: string }): Promise<boolean> {
      return refundRoute(await repo.listPayments(db, input.orderId)).via === 'stripe';
    },

    async recordInquiry(input: {
      inquiry: CustomerInquiryNew;
      decision: InquiryDecision;
      reason: string;
      reply?: string;
      decidedBy?: InquiryDecidedBy;
      model?: { name: string; tokensIn: number; tokensOut: number };
      fallbackReason?: string;
    }): Promise<void> {
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
        decidedBy: input.decidedBy,
        model: input.model,
        fallbackReason: input.fallbackReason,
      });
    },

    /** The facts a return's policy check needs, read here; the decision is src/agent/policy.ts's. */
    async checkReturnPolicy(input: {
      orderId: string;
      items: LineItem[];
      policyDays: number;
      requestedAt: string;
    }): Promise<ReturnPolicyCheck> {
      const [order, payment, ordered] = await Promise.all([
        repo.getOrder(db, input.orderId),
        repo.findSucceededPayment(db, input.orderId),
        repo.listOrderItems(db, input.orderId),
      ]);
      return returnPolicy(
        input,
        orderFacts(order),
        ordered.map((o) => ({ productId: o.product_id, quantity: o.quantity, unitPrice: o.unit_price })),
        payment,
      );
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

    /**
     * Carries out a privacy request on the knowledge base and the outbox, and logs it as done (one
     * row per request, keyed by the workflow): a data request gathers what hookline holds about the
     * person and keeps it with the log row for a person to send; an erasure erases it (a shop's: of
     * everyone the source's deliveries were about, as the event log recorded them). Answers counts
     * only, so no personal data goes into the workflow's history beyond what its input had.
     */
    async carryOutPrivacyRequest(input: {
      id: string;
      source: string;
      event: PrivacyRequested;
      /** What an erasure erased beyond the knowledge base before this (conversations, spool rows, quarantined bodies), for the log. */
      erasedElsewhere?: Record<string, number>;
    }): Promise<{ rows: Record<string, number> }> {
      const { event } = input;
      const subject: repo.PrivacySubject = {
        customerIds: event.customer_id ? [event.customer_id] : [],
        emails: event.email ? [event.email] : [],
        phones: event.phone ? [event.phone] : [],
        orderIds: event.order_ids,
      };
      const log = {
        id: input.id,
        request: event.request,
        source: input.source,
        shop_id: event.shop_id,
        customer_id: event.customer_id ?? null,
      };
      if (event.request === 'customer-data') {
        const held = await repo.exportSubject(db, subject);
        const rows = Object.fromEntries(Object.entries(held).map(([table, list]) => [table, list.length]));
        await repo.recordPrivacyRequest(db, { ...log, summary_json: JSON.stringify(rows), export_json: JSON.stringify(held) });
        return { rows };
      }
      const everyone = event.request === 'shop-redact' ? await repo.sourceSubjects(db, input.source) : undefined;
      const rows = {
        ...(await repo.eraseSubject(
          db,
          everyone ? { ...subject, customerIds: everyone.customerIds, orderIds: [...subject.orderIds, ...everyone.orderIds] } : subject,
        )),
        ...input.erasedElsewhere,
      };
      await repo.recordPrivacyRequest(db, { ...log, summary_json: JSON.stringify(rows), export_json: null });
      return { rows };
    },

    /**
     * Records a store-run return's status unless it is stale: one as far along or further was
     * recorded (a retry hours later of `requested` after `approved`). Shopify's return payloads carry
     * no time, so how far a status is along the return's life orders them.
     */
    async applyStoreReturnStatus(input: { returnId: string; orderId: string; status: string }): Promise<'applied' | 'stale'> {
      return repo.applyStoreReturnStatus(db, { ...input, rank: storeReturnRank(input.status), owner: runOwner() });
    },

    async findOpenOrdersWithProduct(input: { productId: string; orderIds?: string[] }): Promise<{ orderId: string; customerId: string }[]> {
      return repo.findOpenOrdersWithProduct(db, input);
    },
  };
}

/** How far along its life a store-run return's status is: requested, then approved or declined, then closed. */
export function storeReturnRank(status: string): number {
  switch (status) {
    case 'requested':
      return 1;
    case 'open':
    case 'declined':
      return 2;
    default:
      // closed, canceled, and any status Shopify adds: the end of the return's life.
      return 3;
  }
}

export type KnowledgeBaseActivities = ReturnType<typeof knowledgeBase>;

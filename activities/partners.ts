import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Kysely } from 'kysely';
import type { Clients } from '../src/clients';
import * as repo from '../src/db/repo';
import type { Schema } from '../src/db/schema';
import type { CustomerContext, ReturnLabel } from '../src/agent/types';
import type { CustomerInquiryNew, LineItem } from '../src/events/schemas';
import type { OrderFacts } from '../src/agent/policy';
import { easyPostFor, modeMismatch, refundRoute, type EasyPostAccount, type OutboundProviders } from '../src/providers/outbound';
import { stripePaymentRef } from '../src/providers/stripe/client';
import { refundablePayment, type ShopifyClient, type ShopifyOrder } from '../src/providers/shopify/client';
import { isCustomersOrder, isShopifyOrderId, shopifyOrderFacts, storeOrderRef } from '../src/providers/shopify/order-facts';
import { isUpstreamFailure } from '../src/clients';
import type { HelpdeskTicket } from '../src/events/fields';
import type { TicketStatus } from '../src/providers/zendesk/client';
import { requesterIdOf } from '../src/providers/zendesk/map';
import { partnerCall, runOwner } from './partner-call';

export interface PartnerDeps {
  db: Kysely<Schema>;
  clients: Clients;
  /** The providers the agent acts through (STRIPE_*, EASYPOST_*); a step without one uses `clients`. */
  providers?: OutboundProviders;
}

/** A step that needs a provider the worker was not given: only configuration can fix it. */
const notConfigured = (message: string) => ApplicationFailure.nonRetryable(message, 'ProviderNotConfigured');

/** EasyPost as a return of this mode must use it (src/providers/outbound.ts), or a refusal no retry can fix. */
function easyPostOf(account: EasyPostAccount, testMode: boolean | undefined, what: string) {
  const chosen = easyPostFor(account, testMode === true);
  if ('refused' in chosen) throw ApplicationFailure.nonRetryable(`${what}: ${chosen.refused}`, 'TestModeMismatch');
  return chosen;
}

/**
 * The Shopify shop holding an order, and the order as it reads there: the source's shop when the
 * source is known, else each configured shop in turn (an order's gid is unique across shops).
 * Undefined when Shopify is not configured, the id is not Shopify's, or no shop has it.
 */
async function shopifyOrder(
  deps: PartnerDeps,
  orderId: string,
  source?: string,
): Promise<{ shop: ShopifyClient; order: ShopifyOrder } | undefined> {
  const shops = deps.providers?.shopify;
  if (!shops || !isShopifyOrderId(orderId)) return undefined;
  const own = source !== undefined ? shops.forSource(source) : undefined;
  for (const shop of own ? [own] : shops.all()) {
    const order = await partnerCall((signal) => shop.order(orderId, { signal }));
    if (order) return { shop, order };
  }
  return undefined;
}

/**
 * The items a Shopify return sends back, as hookline's line items: each return line's order line
 * (the LineItem its fulfillment line item shipped), by the product id the order's lines are kept
 * under, quantities of one product added up. Undefined, with the reason logged, when the return is
 * not in the shop, is another order's, has no lines, or has a line the store could not tie to the
 * order (an unverified line): the store runs such a return.
 */
async function returnedItems(shop: ShopifyClient, returnId: string, orderId: string, order: ShopifyOrder): Promise<LineItem[] | undefined> {
  const leave = (why: string) => {
    Context.current().log.warn(`Shopify return left to the store: ${why}`, { returnId, orderId });
    return undefined;
  };
  const ret = await partnerCall((signal) => shop.returnLines(returnId, { signal }));
  if (!ret) return leave('the shop has no such return');
  if (ret.orderId !== orderId) return leave(`the return is order ${ret.orderId}'s`);
  const items = new Map<string, number>();
  for (const line of ret.lines) {
    const ordered = order.items.find((i) => i.lineItemId === line.lineItemId);
    if (!ordered) return leave(`return line ${line.returnLineItemId} names no line of the order`);
    items.set(ordered.productId, (items.get(ordered.productId) ?? 0) + line.quantity);
  }
  if (items.size === 0) return leave('the return has no lines');
  return [...items].map(([product_id, quantity]) => ({ product_id, quantity }));
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
 * A Zendesk requester as the agent's customer: who they are and their other tickets, from Zendesk;
 * the store's orders for them from the knowledge base, found by their email (the store's customer
 * with that address). The profile is kept like the CRM's, so the inbox and erasures reach it.
 */
export async function fetchRequesterContext(deps: PartnerDeps, input: { customerId: string; ticketId: string }): Promise<CustomerContext> {
  const zendesk = deps.providers?.zendesk;
  if (!zendesk) throw notConfigured(`ticket ${input.ticketId} came from Zendesk, and ZENDESK_API_TOKEN is not set`);
  const requesterId = requesterIdOf(input.customerId);
  if (requesterId === undefined) {
    throw ApplicationFailure.nonRetryable(`customer ${input.customerId} is not a Zendesk requester`, 'UpstreamInvalidRequest');
  }
  const user = await partnerCall((signal) => zendesk.client.user(requesterId, { signal }));
  const tickets = await partnerCall((signal) => zendesk.client.requestedTickets(requesterId, { signal }));
  const email = user.email ?? '';
  // Only an address Zendesk has verified names the store's customer: anyone can type any address
  // into a web form, and must not learn someone else's orders by it.
  const store = email && user.verified === true ? await repo.findCustomerByEmail(deps.db, email, input.customerId) : undefined;
  const orders = store ? await repo.listCustomerOrders(deps.db, store.id) : [];
  const context: CustomerContext = {
    customerId: input.customerId,
    name: user.name,
    email,
    emailVerified: user.verified === true,
    lastOrders: orders.map((o) => ({ order_id: o.id, status: o.status ?? 'unknown', date: String(o.updated_at).slice(0, 10) })),
    // This ticket is the inquiry itself, not an earlier contact.
    previousTickets: tickets
      .filter((t) => t.id !== input.ticketId)
      // The rules count a ticket open until it is closed; one Zendesk calls solved is done for the customer too.
      .map((t) => ({ ticket_id: t.id, subject: t.subject ?? '', status: t.status === 'solved' ? 'closed' : t.status })),
  };
  await repo.upsertCustomer(deps.db, {
    id: input.customerId,
    name: user.name,
    email,
    details: { zendesk_user_id: user.id, ...(store ? { store_customer_id: store.id } : {}) },
  });
  return context;
}

/** The order an inquiry is about as the store has it: the name the customer knows it by, and its facts. */
export interface StoreOrder {
  orderId: string;
  order: OrderFacts;
}

/** The effect made under `key`, if one was: what the partner answered then. */
async function completed<T>(db: Kysely<Schema>, effect: string, key: string): Promise<{ result: T } | undefined> {
  const done = await repo.findCompletedEffect(db, key);
  if (!done) return undefined;
  if (done.effect !== effect) {
    throw ApplicationFailure.nonRetryable(`idempotency key ${key} already names ${done.effect}, not ${effect}`, 'IdempotencyKeyReused');
  }
  Context.current().log.info('effect already completed; not made again', { effect, idempotencyKey: key, by: done.workflowId });
  return { result: done.result as T };
}

/**
 * Makes an external effect at most once per key, for good: the completed-effects record is read
 * first, and a key already there returns what the partner answered then, without a call. Written
 * after the partner said yes, so an effect whose answer was lost, or whose record could not be
 * written (the database down), is tried again with the same key, which the partner answers from
 * its own memory of the key while it keeps one.
 */
async function once<T>(db: Kysely<Schema>, effect: string, key: string, act: () => Promise<T>): Promise<T> {
  const done = await completed<T>(db, effect, key);
  if (done) return done.result;
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

    /** The customer of an inquiry that is a Zendesk ticket: see {@link fetchRequesterContext}. */
    async enrichRequester(input: { customerId: string; ticketId: string }): Promise<CustomerContext> {
      return fetchRequesterContext(deps, input);
    },

    /**
     * The order an inquiry is about, read from the shop (the source's, else the provider-wide one):
     * its fulfillments and tracking, returns and financial status, as the agent's decisions read an
     * order. Null when no shop is configured, the inquiry names no Shopify order (src/providers/
     * shopify/order-facts.ts says how it is chosen), Shopify has none, or the order is not this
     * customer's: then the agent knows what the CRM and the knowledge base know, as before. A read,
     * so a retry repeats nothing; Shopify's failures are classified by its client.
     */
    async storeOrder(input: {
      source: string;
      inquiry: Pick<CustomerInquiryNew, 'customer_id' | 'order_id' | 'summary' | 'message'>;
      customer: Pick<CustomerContext, 'email' | 'emailVerified' | 'lastOrders'>;
    }): Promise<StoreOrder | null> {
      const shop = deps.providers?.shopify?.forSource(input.source);
      const ref = shop ? storeOrderRef(input.inquiry, input.customer) : undefined;
      if (!shop || !ref) return null;
      const order = await partnerCall((signal) => ('id' in ref ? shop.order(ref.id, { signal }) : shop.findOrder(ref, { signal })));
      if (!order) return null;
      // An order named in a message must not reveal someone else's order, to the reply or to the model.
      if (!isCustomersOrder(order, input.inquiry.customer_id, input.customer)) {
        Context.current().log.warn("inquiry names a Shopify order that is not its customer's; not used", { orderId: order.orderId });
        return null;
      }
      return { orderId: order.name, order: shopifyOrderFacts(order) };
    },

    /**
     * One change to a helpdesk ticket (the agent's or a person's reply as a public comment, an
     * internal note, the status), made once. The key goes to Zendesk twice: as the Idempotency-Key
     * (which Zendesk documents for creates only) and in the change's audit metadata, which a retry
     * reads first, so a change Zendesk applied before the worker died (its answer lost, the effect
     * not yet recorded) is found on the ticket, not made again. The change is then recorded as a
     * completed effect, which outlives both.
     */
    async updateTicket(input: {
      idempotencyKey: string;
      ticket: HelpdeskTicket;
      comment?: { body: string; public: boolean };
      status?: TicketStatus;
    }): Promise<{ ticketId: string; status: string }> {
      const zendesk = deps.providers?.zendesk;
      if (!zendesk) throw notConfigured(`ticket ${input.ticket.id} is Zendesk's, and ZENDESK_API_TOKEN is not set`);
      return once(db, 'zendesk.update-ticket', input.idempotencyKey, async () => {
        const { ticket } = await partnerCall((signal) =>
          zendesk.client.updateTicket(
            input.ticket.id,
            { ...(input.comment ? { comment: input.comment } : {}), ...(input.status ? { status: input.status } : {}) },
            // A first attempt has nothing to find; any later one may follow a change that was made.
            { idempotencyKey: input.idempotencyKey, signal, lookFirst: Context.current().info.attempt > 1 },
          ),
        );
        return { ticketId: ticket.id, status: ticket.status };
      });
    },

    async createReturnLabel(input: {
      returnId: string;
      orderId: string;
      customerId: string;
      items: LineItem[];
      idempotencyKey: string;
      /** A test-mode return: its label is bought in EasyPost's test mode, or not at all. */
      testMode?: boolean;
    }): Promise<ReturnLabel> {
      const account = deps.providers?.easypost;
      return once(db, 'carrier.create-return-label', input.idempotencyKey, async () => {
        if (account) {
          const easypost = easyPostOf(account, input.testMode, `return ${input.returnId}`);
          // EasyPost takes no idempotency key: the shipment's id, recorded before it is bought, is
          // what makes the purchase happen once (the client asks the shipment before buying).
          const { shipmentId } = await once(db, 'easypost.create-return-shipment', `${input.idempotencyKey}:shipment`, async () => {
            // A Shopify order's parcel is collected where Shopify shipped it; any other, where the CRM says the customer lives.
            const fromShopify = (await shopifyOrder(deps, input.orderId))?.order.shippingAddress;
            if (fromShopify) {
              return partnerCall((signal) =>
                easypost.client.createReturnShipment(
                  {
                    customer: fromShopify,
                    returnAddressId: easypost.returnAddressId,
                    weightOz: account.parcelWeightOz,
                    reference: input.returnId,
                  },
                  { signal },
                ),
              );
            }
            const details = await partnerCall((signal) => clients.crm.getCustomerDetails(input.customerId, { signal }));
            if (!details.address) {
              throw ApplicationFailure.nonRetryable(`the CRM has no address for customer ${input.customerId}`, 'NoCustomerAddress');
            }
            const { street2, state, ...address } = details.address;
            return partnerCall((signal) =>
              easypost.client.createReturnShipment(
                {
                  customer: { name: details.customer_name, ...address, ...(street2 ? { street2 } : {}), ...(state ? { state } : {}) },
                  returnAddressId: easypost.returnAddressId,
                  weightOz: account.parcelWeightOz,
                  reference: input.returnId,
                },
                { signal },
              ),
            );
          });
          const bought = await partnerCall((signal) => easypost.client.buyShipment(shipmentId, { signal }));
          await once(db, 'easypost.create-tracker', `${input.idempotencyKey}:tracker`, () =>
            partnerCall((signal) =>
              easypost.client.createTracker({ trackingCode: bought.trackingCode, carrier: bought.carrier }, { signal }),
            ),
          );
          return {
            labelId: bought.shipmentId,
            trackingNumber: bought.trackingCode,
            labelUrl: bought.labelUrl,
            carrier: bought.carrier,
            ...(input.testMode ? { testMode: true as const } : {}),
          };
        }
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

    /** `testMode`: the label was bought in EasyPost's test mode (its `ReturnLabel.testMode`), and is voided there. */
    async voidReturnLabel(input: { labelId: string; idempotencyKey: string; testMode?: boolean }): Promise<void> {
      await once(db, 'carrier.void-return-label', input.idempotencyKey, async () => {
        // A label bought from EasyPost is its shipment (`shp_…`), voided there by a refund.
        if (input.labelId.startsWith('shp_')) {
          const account = deps.providers?.easypost;
          if (!account) throw notConfigured(`label ${input.labelId} was bought from EasyPost, and EASYPOST_API_KEY is not set`);
          const easypost = easyPostOf(account, input.testMode, `label ${input.labelId}`);
          await partnerCall((signal) => easypost.client.refundShipment(input.labelId, { signal }));
          return;
        }
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

    /**
     * The order a payment was for: what the knowledge base recorded, else, for a payment that came
     * through Stripe, the order its payment intent's metadata names (a dispute names a charge or
     * intent, never hookline's order). A lookup Stripe refuses for good (the payment is unknown
     * there) leaves it unknown, as the dispute workflow expects; an outage is retried.
     */
    async findPaymentOrder(input: { paymentId: string }): Promise<{ orderId?: string }> {
      const recorded = (await repo.getPayment(db, input.paymentId))?.orderId;
      if (recorded) return { orderId: recorded };
      const ref = stripePaymentRef(input.paymentId);
      const stripe = deps.providers?.stripe;
      if (!ref || !stripe) return {};
      try {
        const orderId = await partnerCall((signal) => stripe.client.orderOfPayment(ref, stripe.orderKey, { signal }));
        return orderId ? { orderId } : {};
      } catch (err) {
        if (isUpstreamFailure(err) && err.nonRetryable) {
          Context.current().log.warn('Stripe could not say which order a payment was for', {
            paymentId: input.paymentId,
            error: err.message,
          });
          return {};
        }
        throw err;
      }
    },

    /**
     * A Shopify return the agent runs: the order as Shopify has it, kept in the knowledge base as
     * the return policy's facts (delivered when, what was ordered at what unit price, what was
     * paid), and the return's customer and items: the return's own lines (`returnLineItems`, each
     * through its fulfillment line item to the order's line), so a return of one of three items is
     * labelled, checked and refunded for that one. `test` when the order is a test order (its
     * effects stay in the providers' test modes). Null when the source's shop is not configured, or
     * lacks the order or the return, or the return has a line the store could not tie to the order:
     * the store runs the return. Without `returnId` (a run started before returns named their
     * lines), the order's lines, as then.
     */
    async storeReturnFacts(input: {
      orderId: string;
      source: string;
      testMode?: boolean;
      returnId?: string;
    }): Promise<{ customerId: string; items: LineItem[]; test?: true } | null> {
      const shop = deps.providers?.shopify?.forSource(input.source);
      if (!shop) return null;
      const order = await partnerCall((signal) => shop.order(input.orderId, { signal }));
      // An order the shop does not have (or one without a customer) is not one the agent can run a return for: the store runs it.
      if (!order?.customerId) {
        Context.current().log.warn('Shopify return left to the store: its order is not there, or has no customer', {
          orderId: input.orderId,
        });
        return null;
      }
      const customerId = order.customerId;
      const delivered = order.fulfillments
        .map((f) => f.deliveredAt)
        .filter((at): at is string => at !== undefined)
        .sort()
        .at(-1);
      const tracking = order.fulfillments.flatMap((f) => f.tracking).at(-1);
      await repo.applyOrderStatus(db, {
        orderId: input.orderId,
        status: delivered ? 'delivered' : order.fulfillments.length > 0 ? 'shipped' : 'processing',
        eventAt: delivered ?? order.createdAt,
        customerId,
        totalAmount: order.total.amount,
        currency: order.total.currency,
        ...(tracking?.carrier ? { carrier: tracking.carrier } : {}),
        ...(tracking?.number ? { trackingNumber: tracking.number } : {}),
        ...(input.testMode || order.test ? { testMode: true } : {}),
      });
      await repo.upsertOrderItems(
        db,
        input.orderId,
        order.items.map((i) => ({ productId: i.productId, quantity: i.quantity, unitPrice: i.unitPrice })),
      );
      const test = input.testMode || order.test ? ({ test: true } as const) : {};
      if (input.returnId === undefined) {
        return { customerId, items: order.items.map((i) => ({ product_id: i.productId, quantity: i.quantity })), ...test };
      }
      const items = await returnedItems(shop, input.returnId, input.orderId, order);
      return items ? { customerId, items, ...test } : null;
    },

    /**
     * Shows a decision on a Shopify return in the store (`returnApproveRequest` /
     * `returnDeclineRequest`), once for good: a repeat finds the return already so and counts as done.
     */
    async showStoreReturnDecision(input: {
      returnId: string;
      source: string;
      decision: 'approve' | 'decline';
      note?: string;
      idempotencyKey: string;
    }): Promise<{ status: string }> {
      return once(db, `shopify.return-${input.decision}`, input.idempotencyKey, async () => {
        const shop = deps.providers?.shopify?.forSource(input.source);
        if (!shop)
          throw notConfigured(
            `return ${input.returnId} is Shopify's (source ${input.source}), and no shop is configured for it ` +
              '(SHOPIFY_SHOP_DOMAIN, SHOPIFY_ADMIN_TOKEN)',
          );
        return partnerCall((signal) =>
          input.decision === 'approve'
            ? shop.approveReturn(input.returnId, { signal })
            : shop.declineReturn(input.returnId, input.note ?? 'declined', { signal }),
        );
      });
    },

    /**
     * A refund through Shopify, on the store's queue, paced as Shopify's other calls are: made when
     * the order was not paid through Stripe and a configured shop has it (it took the payment),
     * recorded as the same completed effect as {@link refund} so either makes it once for good.
     * Null when it is not Shopify's to make: `refund` then makes it (with `storeChecked`).
     */
    async refundInStore(input: {
      orderId: string;
      amount: number;
      currency: string;
      reason: string;
      idempotencyKey: string;
      /** The Shopify source the return came from: only its shop is asked (the one the call is paced under). */
      source?: string;
    }): Promise<{ refundId: string } | null> {
      // Made already (by either activity, on any earlier run): that refund, without asking anyone.
      const done = await completed<{ refundId: string }>(db, 'payments.refund', input.idempotencyKey);
      if (done) return done.result;
      if (refundRoute(await repo.listPayments(db, input.orderId)).via === 'stripe') return null;
      const inShopify = await shopifyOrder(deps, input.orderId, input.source);
      if (!inShopify) return null;
      return once(db, 'payments.refund', input.idempotencyKey, () => refundThroughShopify(inShopify, input));
    },

    async refund(input: {
      orderId: string;
      amount: number;
      currency: string;
      reason: string;
      idempotencyKey: string;
      /** {@link refundInStore} found the order is not Shopify's: not asked again here. */
      storeChecked?: boolean;
    }): Promise<{ refundId: string }> {
      return once(db, 'payments.refund', input.idempotencyKey, async () => {
        const payments = await repo.listPayments(db, input.orderId);
        const route = refundRoute(payments);
        if (route.via === 'stripe') {
          const stripe = deps.providers?.stripe;
          if (!stripe)
            throw notConfigured(`order ${input.orderId} was paid through Stripe (${route.paymentId}), and STRIPE_API_KEY is not set`);
          const payment = await repo.getPayment(db, route.paymentId);
          const mismatch = payment && modeMismatch(payment, stripe.mode);
          if (mismatch) throw ApplicationFailure.nonRetryable(`payment ${route.paymentId}: ${mismatch}`, 'TestModeMismatch');
          // Stripe refunds in the payment's currency: an amount in another would be read in the wrong unit.
          const paid = payments.find((p) => p.id === route.paymentId)?.currency;
          if (paid !== undefined && paid.toUpperCase() !== input.currency.toUpperCase()) {
            throw ApplicationFailure.nonRetryable(
              `payment ${route.paymentId} was in ${paid.toUpperCase()}, the refund is in ${input.currency.toUpperCase()}`,
              'CurrencyMismatch',
            );
          }
          // The same key Stripe remembers for 24 hours; the completed-effects record remembers it for good.
          const refund = await partnerCall((signal) =>
            stripe.client.refund(
              {
                payment: route.payment,
                amount: input.amount,
                currency: input.currency,
                metadata: { [stripe.orderKey]: input.orderId, reason: input.reason.slice(0, 500) },
              },
              input.idempotencyKey,
              { signal },
            ),
          );
          return { refundId: refund.refundId };
        }
        // Not Stripe's: Shopify's when a configured shop has the order (it took the payment), else the seed's payments system.
        const inShopify = input.storeChecked ? undefined : await shopifyOrder(deps, input.orderId);
        if (inShopify) return refundThroughShopify(inShopify, input);
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

/** A refund against the Shopify order's payment in the refund's currency. */
async function refundThroughShopify(
  { shop, order }: { shop: ShopifyClient; order: ShopifyOrder },
  input: { orderId: string; amount: number; currency: string; reason: string; idempotencyKey: string },
): Promise<{ refundId: string }> {
  const payment = refundablePayment(order, input.currency);
  if (!payment) {
    throw ApplicationFailure.nonRetryable(
      `Shopify order ${input.orderId} has no successful payment in ${input.currency.toUpperCase()} to refund`,
      'NoRefundablePayment',
    );
  }
  // Shopify's `@idempotent` key makes a repeat of this request one refund; the completed-effects record, one for good.
  const refund = await partnerCall((signal) =>
    shop.refund(
      { orderId: input.orderId, amount: input.amount, currency: input.currency, note: input.reason, payment },
      input.idempotencyKey,
      { signal },
    ),
  );
  return { refundId: `shopify:${refund.refundId}` };
}

export type PartnerActivities = ReturnType<typeof partners>;
/** The lookups an escalation makes for context, best effort: a partner call, on a shorter leash. */
export type LookupActivities = Pick<PartnerActivities, 'enrichCustomer' | 'storeOrder'>;

import type { OrderFacts } from '../../agent/policy';
import type { CustomerContext } from '../../agent/types';
import type { CustomerInquiryNew } from '../../events/schemas';
import type { ShopifyOrder } from './client';

// Pure, importing types only: the inquiry and returns workflows run these in Temporal's sandbox
// (eslint.config.mjs lets workflows/ import this file and no other of src/providers/).

/**
 * How an inquiry names a Shopify order, if it does: by id (the digits of its gid, as Shopify's
 * webhooks give it and the knowledge base keys it), by name (`#1001`, what the customer sees), or,
 * naming none, by the customer's email.
 */
export type StoreOrderRef = { id: string } | { name: string } | { email: string };

/** Shopify's order ids are its gids' digits (src/providers/shopify/map.ts): only such an id is looked for there. */
export const isShopifyOrderId = (orderId: string): boolean => /^\d{1,20}$/.test(orderId);

/** Shopify's order ids are 64-bit integers, today thirteen digits; a shorter number is an order's number as customers write it. */
const SHOPIFY_ID = /^\d{10,20}$/;
const ORDER_NUMBER = /^#?(\d{1,9})$/;
/** An order number written in the customer's words: `#1001`. */
const NAME_IN_TEXT = /(?:^|[^\w#])#(\d{1,9})\b/;

const refOf = (text: string): StoreOrderRef | undefined => {
  const value = text.trim();
  if (SHOPIFY_ID.test(value)) return { id: value };
  const number = ORDER_NUMBER.exec(value)?.[1];
  return number !== undefined ? { name: `#${number}` } : undefined;
};

/**
 * Which Shopify order an inquiry is about, chosen as src/agent/policy.ts's `inquiryOrderId` chooses:
 * the one it names (its `order_id`, else a `#1001` in its words), else the customer's latest that the
 * CRM or the knowledge base listed. Only when none is known is the store searched by email, and only
 * by an address the helpdesk verified (as the Zendesk path finds a requester's orders): a typed
 * address must not reveal someone else's orders. An `order_id` that is not Shopify's (`ORD-12345`)
 * names an order of another system: undefined.
 */
export function storeOrderRef(
  inquiry: Pick<CustomerInquiryNew, 'order_id' | 'summary' | 'message'>,
  customer: Pick<CustomerContext, 'email' | 'emailVerified' | 'lastOrders'>,
): StoreOrderRef | undefined {
  if (inquiry.order_id !== undefined) return refOf(inquiry.order_id);
  const written = NAME_IN_TEXT.exec(`${inquiry.summary}\n${inquiry.message ?? ''}`)?.[1];
  if (written !== undefined) return { name: `#${written}` };
  const latest = customer.lastOrders[0]?.order_id;
  if (latest !== undefined) return SHOPIFY_ID.test(latest) ? { id: latest } : undefined;
  return customer.emailVerified === true && customer.email ? { email: customer.email } : undefined;
}

/**
 * Whether a Shopify order is this customer's: Shopify's customer is the inquiry's (a Shopify
 * customer's id is its gid's digits, as in the webhooks), or the store's address for them is the
 * customer's, when that address can be trusted (the CRM's own record, or one the helpdesk verified).
 */
export function isCustomersOrder(
  order: Pick<ShopifyOrder, 'customerId' | 'customerEmail'>,
  customerId: string,
  customer: Pick<CustomerContext, 'email' | 'emailVerified'>,
): boolean {
  if (order.customerId !== undefined && order.customerId === customerId) return true;
  if (customer.emailVerified === false || !customer.email || !order.customerEmail) return false;
  return order.customerEmail.trim().toLowerCase() === customer.email.trim().toLowerCase();
}

/**
 * Shopify's `FulfillmentDisplayStatus` as the knowledge base's order statuses say it (the words a
 * reply states: `in_transit` reads "in transit"). Unlisted ones read as shipped: the parcel has left.
 */
const PARCEL_STATUS: Record<string, string> = {
  IN_TRANSIT: 'in_transit',
  OUT_FOR_DELIVERY: 'out_for_delivery',
  ATTEMPTED_DELIVERY: 'attempted_delivery',
  DELIVERED: 'delivered',
  FAILURE: 'delivery_failed',
  READY_FOR_PICKUP: 'ready_for_pickup',
  PICKED_UP: 'delivered',
  CANCELED: 'cancelled',
};

/**
 * A Shopify order as the agent's decisions read an order (src/agent/policy.ts's `OrderFacts`, as the
 * knowledge base gives it): the status from what Shopify knows now (a refund, an open return, else
 * its newest fulfillment's parcel, else not yet shipped), the newest tracking, the total. The status
 * is the only word a reply takes from it, so each is one a customer understands.
 */
export function shopifyOrderFacts(order: ShopifyOrder): OrderFacts {
  const latest = order.fulfillments.at(-1);
  const tracking = order.fulfillments
    .flatMap((f) => f.tracking)
    .filter((t) => t.number !== undefined)
    .at(-1);
  const deliveredAt = order.fulfillments
    .map((f) => f.deliveredAt)
    .filter((at): at is string => at !== undefined)
    .sort()
    .at(-1);
  const allDelivered = order.fulfillments.length > 0 && order.fulfillments.every((f) => f.deliveredAt !== undefined);
  const openReturn = order.returns.find((r) => r.status === 'REQUESTED' || r.status === 'OPEN');
  const status =
    order.financialStatus === 'REFUNDED'
      ? 'refunded'
      : order.financialStatus === 'VOIDED'
        ? 'cancelled'
        : openReturn
          ? openReturn.status === 'REQUESTED'
            ? 'return_requested'
            : 'return_in_progress'
          : allDelivered
            ? 'delivered'
            : latest
              ? (PARCEL_STATUS[latest.displayStatus ?? ''] ?? 'shipped')
              : order.fulfillmentStatus === 'ON_HOLD'
                ? 'on_hold'
                : 'processing';
  return {
    status,
    statusEventAt: allDelivered && deliveredAt ? deliveredAt : order.createdAt,
    carrier: tracking?.carrier ?? null,
    trackingNumber: tracking?.number ?? null,
    eta: null,
    totalAmount: order.total.amount,
    currency: order.total.currency,
  };
}

import { randomInt, randomUUID } from 'node:crypto';
import { headerValue } from '../../signatures/shared';
import { bodyHash } from '../../events/identity';
import { handler, type Provider } from '../types';
import { parseShopifyJson } from './json';
import {
  customerEvent,
  customerRedactEvent,
  dataRequestEvent,
  disputeEvent,
  fulfillmentTopicEvent,
  orderEvent,
  refundEvent,
  returnEvent,
  shopRedactEvent,
} from './map';
import { Customer, CustomersDataRequest, CustomersRedact, Dispute, Fulfillment, Order, Refund, Return, ShopRedact } from './schemas';

const TOPIC = 'x-shopify-topic';
/** The Admin API version the schemas and examples are of (the `X-Shopify-API-Version` a subscription names). */
export const SHOPIFY_API_VERSION = '2026-07';

/** The Shopify topics hookline acts on. */
export type ShopifyTopic =
  | 'orders/create'
  | 'orders/updated'
  | 'orders/fulfilled'
  | 'orders/cancelled'
  | 'fulfillments/create'
  | 'fulfillments/update'
  | 'refunds/create'
  | 'returns/request'
  | 'returns/approve'
  | 'returns/decline'
  | 'returns/close'
  | 'customers/update'
  | 'disputes/create'
  | 'customers/data_request'
  | 'customers/redact'
  | 'shop/redact';

const example = (topic: ShopifyTopic) => ({ file: `${topic.replace('/', '-')}.json` });

const order = (topic: ShopifyTopic) =>
  handler({
    schema: Order,
    produces: ['order.status_updated', 'shipment.delivered', 'shipment.delayed', 'shipment.exception'],
    example: example(topic),
    map: orderEvent,
  });
const fulfillment = (topic: ShopifyTopic) =>
  handler({
    schema: Fulfillment,
    produces: ['order.status_updated', 'shipment.delivered', 'shipment.delayed', 'shipment.exception'],
    example: example(topic),
    map: fulfillmentTopicEvent,
  });
const returns = (topic: ShopifyTopic) =>
  handler({ schema: Return, produces: ['return.status_changed'], example: example(topic), map: returnEvent });

/**
 * Shopify (the store). Scheme `hmac-sha256-base64`: `X-Shopify-Hmac-Sha256`, the base64
 * HMAC-SHA256 of the raw body keyed with the app's client secret. Only the body is signed: the type
 * is the unsigned `X-Shopify-Topic` header, which only chooses the schema that reads the body;
 * what the event is and its identity come from the body (map.ts). The body is read with its 64-bit
 * IDs exact (json.ts). Everything here reads `src/providers/shopify/examples/`.
 */
export const shopify: Provider<ShopifyTopic> = {
  name: 'shopify',
  scheme: 'hmac-sha256-base64',
  typeField: 'the X-Shopify-Topic header',
  typeOf: (_body, headers) => headerValue(headers, TOPIC),
  keptHeaders: [TOPIC],
  parse: parseShopifyJson,
  handles: {
    // One order body whatever the topic: the body says what changed.
    'orders/create': order('orders/create'),
    'orders/updated': order('orders/updated'),
    'orders/fulfilled': order('orders/fulfilled'),
    'orders/cancelled': order('orders/cancelled'),
    'fulfillments/create': fulfillment('fulfillments/create'),
    'fulfillments/update': fulfillment('fulfillments/update'),
    'refunds/create': handler({ schema: Refund, produces: ['payment.refunded'], example: example('refunds/create'), map: refundEvent }),
    'returns/request': returns('returns/request'),
    'returns/approve': returns('returns/approve'),
    'returns/decline': returns('returns/decline'),
    'returns/close': returns('returns/close'),
    'customers/update': handler({
      schema: Customer,
      produces: ['customer.updated'],
      example: example('customers/update'),
      map: customerEvent,
    }),
    'disputes/create': handler({ schema: Dispute, produces: ['payment.disputed'], example: example('disputes/create'), map: disputeEvent }),
    'customers/data_request': handler({
      schema: CustomersDataRequest,
      produces: ['privacy.requested'],
      example: example('customers/data_request'),
      map: dataRequestEvent,
    }),
    'customers/redact': handler({
      schema: CustomersRedact,
      produces: ['privacy.requested'],
      example: example('customers/redact'),
      map: customerRedactEvent,
    }),
    'shop/redact': handler({ schema: ShopRedact, produces: ['privacy.requested'], example: example('shop/redact'), map: shopRedactEvent }),
  },
  // What a store commonly sends besides: counted by name when ignored (anything else is `other`).
  knownTypes: [
    'orders/paid',
    'orders/partially_fulfilled',
    'orders/edited',
    'orders/delete',
    'orders/risk_assessment_changed',
    'customers/create',
    'customers/delete',
    'customers/enable',
    'customers/disable',
    'customers/merge',
    'disputes/update',
    'returns/cancel',
    'returns/reopen',
    'returns/process',
    'returns/update',
    'reverse_fulfillment_orders/dispose',
    'fulfillment_orders/fulfillment_request_submitted',
    'fulfillment_events/create',
    'products/create',
    'products/update',
    'products/delete',
    'inventory_levels/update',
    'carts/create',
    'carts/update',
    'checkouts/create',
    'checkouts/update',
    'app/uninstalled',
  ],
  unhandled: 'ignore',
  // A Shopify body's `id` is the resource's (an order's), not the delivery's: two broken deliveries
  // about one order are two deliveries, so a quarantined one is kept under its bytes' hash.
  quarantineIdentity: (_body, rawBody) => `body-${bodyHash(rawBody)}`,
  // A new ID for the resource the body is about (and for a data request, the request), so it is a new
  // event; the IDs are digit strings, which the schemas read as Shopify's numbers.
  fresh: (body) => {
    const resource = body as Record<string, unknown>;
    const id = (BigInt(Date.now()) * 1000n + BigInt(randomInt(1000))).toString();
    const gid = typeof resource.admin_graphql_api_id === 'string' ? resource.admin_graphql_api_id.replace(/\d+$/, id) : undefined;
    const request = resource.data_request ? { data_request: { id } } : {};
    const customer =
      !gid && typeof resource.customer === 'object' && resource.customer !== null ? { customer: { ...resource.customer, id } } : {};
    return { ...resource, ...('id' in resource ? { id } : {}), ...(gid ? { admin_graphql_api_id: gid } : {}), ...request, ...customer };
  },
  delivery: (topic) => ({
    'x-shopify-topic': topic,
    'x-shopify-shop-domain': 'hookline-dev.myshopify.com',
    'x-shopify-api-version': SHOPIFY_API_VERSION,
    'x-shopify-webhook-id': randomUUID(),
    'x-shopify-event-id': randomUUID(),
    'x-shopify-triggered-at': new Date().toISOString(),
  }),
};

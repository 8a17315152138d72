import { headerValue } from '../../signatures/shared';
import type { Provider } from '../types';

const TOPIC = 'x-shopify-topic';

/**
 * Shopify (the store). Scheme: `X-Shopify-Hmac-Sha256`, the base64 HMAC-SHA256 of the raw body.
 * Only the body is signed: the type is the unsigned `X-Shopify-Topic` header, which only chooses
 * the schema that reads the body. Not handled yet: every verified delivery is answered as ignored.
 */
export const shopify: Provider = {
  name: 'shopify',
  scheme: 'hmac-sha256-base64',
  typeField: 'the X-Shopify-Topic header',
  typeOf: (_body, headers) => headerValue(headers, TOPIC),
  keptHeaders: [TOPIC],
  handles: {},
  knownTypes: [],
  unhandled: 'ignore',
};

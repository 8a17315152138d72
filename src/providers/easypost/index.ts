import type { Provider } from '../types';

/**
 * EasyPost (the carrier aggregator). The type is the signed body's `description`
 * (`tracker.updated`). Not handled yet: every verified delivery is answered as ignored. Its scheme
 * (`X-Hmac-Signature: hmac-sha256-hex=…`, keyed with the NFKD-normalised secret) is not in the
 * scheme table yet; until it is, `hmac-sha256-hex` stands in.
 */
export const easypost: Provider = {
  name: 'easypost',
  scheme: 'hmac-sha256-hex',
  typeField: 'description',
  typeOf: (body) => {
    const declared = (body as { description?: unknown } | null)?.description;
    return typeof declared === 'string' ? declared : undefined;
  },
  keptHeaders: [],
  handles: {},
  knownTypes: [],
  unhandled: 'ignore',
};

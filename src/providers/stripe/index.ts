import type { Provider } from '../types';

/** Stripe (payments). The type is the signed body's `type`; its identity the signed `evt_…` id. */
export const stripe: Provider = {
  name: 'stripe',
  scheme: 'stripe',
  typeField: 'type',
  typeOf: (body) => {
    const declared = (body as { type?: unknown } | null)?.type;
    return typeof declared === 'string' ? declared : undefined;
  },
  keptHeaders: [],
  handles: {},
  knownTypes: [],
  unhandled: 'ignore',
  orderKey: { default: 'order_id', means: "the payment intent's metadata key that holds hookline's order id" },
};

import type { PartnerActivities } from '../../activities';

/**
 * The partners whose calls are paced by Temporal: each has an activity task queue of its own, and
 * the server hands out that queue's tasks no faster than the partner's rate limit, across every
 * worker process (src/config/partners.ts sets the rates, src/worker/partners.ts polls the queues).
 * A partner is the system behind a role: `payments` is Stripe when STRIPE_API_KEY is set, else the
 * payments system; `carrier` is EasyPost when EASYPOST_API_KEY is set, else the carrier system;
 * `store` is the shop's Shopify Admin API (the order an inquiry is about, a return's facts and
 * decisions, a refund Shopify makes); `helpdesk` is Zendesk's API
 * (a ticket's requester, and the agent's answers and status on the ticket).
 */
export const PARTNERS = ['crm', 'carrier', 'warehouse', 'inventory', 'payments', 'store', 'helpdesk'] as const;
export type Partner = (typeof PARTNERS)[number];

/**
 * Partners whose limit is per shop, not per account: Shopify's GraphQL cost bucket belongs to an app
 * and one shop, so two shops' calls do not share it. Their activities are scheduled under the
 * shop's own key ({@link shopKey}: its domain, whichever source's run calls it) and the server
 * paces each key at the partner's rate, as well as the whole queue at that rate times the shops configured
 * (src/worker/partners.ts): one shop's burst neither waits on nor delays another's. Every other
 * partner is one account for the whole deployment, paced as one queue.
 */
export const PER_SHOP_PARTNERS: readonly Partner[] = ['store'];

/**
 * The key a run's calls to a per-shop partner are paced under: the domain of the shop its source
 * reads (its own, else the provider-wide one), from the worker's settings (`storeShops`). So two
 * sources that read one shop (a Shopify source and the CRM whose inquiries read its orders) share
 * that shop's one rate. Undefined when the settings do not say (a run recorded before they did):
 * the run's own fairness key, its source, as then. A call whose source is not known (a refund
 * Shopify is asked about by order alone) goes under the provider-wide shop's key.
 */
export function shopKey(storeShops: Readonly<Record<string, string>> | undefined, source: string | undefined): string | undefined {
  if (!storeShops) return undefined;
  return source !== undefined && Object.hasOwn(storeShops, source) ? storeShops[source] : storeShops.default;
}

/**
 * Which partner each partner activity calls, so which queue it waits on. The compiler finds an
 * activity added to activities/partners.ts without a partner here.
 */
export const PARTNER_OF = {
  enrichCustomer: 'crm',
  createReturnLabel: 'carrier',
  voidReturnLabel: 'carrier',
  expectReturn: 'warehouse',
  restock: 'inventory',
  findPaymentOrder: 'payments',
  refund: 'payments',
  storeOrder: 'store',
  refundInStore: 'store',
  storeReturnFacts: 'store',
  showStoreReturnDecision: 'store',
  enrichRequester: 'helpdesk',
  updateTicket: 'helpdesk',
} as const satisfies Record<keyof PartnerActivities, Partner>;

/**
 * A partner's activity task queue beside the workflows' own (`hookline-partner-crm`): derived
 * from the workflow's queue, so every deployment (and every test's queue) has its own set and a
 * workflow needs no configuration to find them.
 */
export function partnerTaskQueue(taskQueue: string, partner: Partner): string {
  return `${taskQueue}-partner-${partner}`;
}

/** The activity names a partner's queue serves. */
export function activitiesOf(partner: Partner): (keyof PartnerActivities)[] {
  return (Object.keys(PARTNER_OF) as (keyof PartnerActivities)[]).filter((name) => PARTNER_OF[name] === partner);
}

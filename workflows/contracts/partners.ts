import type { PartnerActivities } from '../../activities';

/**
 * The partners whose calls are paced by Temporal: each has an activity task queue of its own, and
 * the server hands out that queue's tasks no faster than the partner's rate limit, across every
 * worker process (src/config/partners.ts sets the rates, src/worker/partners.ts polls the queues).
 * A partner is the system behind a role: `payments` is Stripe when STRIPE_API_KEY is set, else the
 * payments system; `carrier` is EasyPost when EASYPOST_API_KEY is set, else the carrier system;
 * `store` is the shop's Shopify Admin API (its return facts and decisions); `helpdesk` is Zendesk's API
 * (a ticket's requester, and the agent's answers and status on the ticket).
 */
export const PARTNERS = ['crm', 'carrier', 'warehouse', 'inventory', 'payments', 'store', 'helpdesk'] as const;
export type Partner = (typeof PARTNERS)[number];

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

/**
 * The vocabulary shared by workflows (through `import type` only) and activities: what the
 * agent knows about a customer, what it decided, and the messages it sends.
 */

/** Durations and thresholds the worker's operator controls; read by workflows through an activity. */
export interface AgentSettings {
  /** Days after delivery during which a return is within policy. */
  returnPolicyDays: number;
  /** How long a return may take to arrive at the warehouse before its label is voided. */
  returnReceiptWindowMs: number;
  /** How long an out-of-policy return waits for a person's decision before it is denied. */
  approvalTimeoutMs: number;
  /** Unclaimed escalations are re-announced and raised in priority after this long. */
  handoffUnclaimedSlaMs: number;
  /** A claimed escalation with no reply reminds its assignee after this long. */
  handoffUnansweredSlaMs: number;
  /** Refund requests above this amount (in {@link refundHandoffCurrency}) go to a person. */
  refundHandoffThreshold: number;
  /**
   * The threshold's currency (ISO 4217): an order in another currency is never compared with it,
   * and its refund requests go to a person. Unset: the threshold is compared with any order (older settings).
   */
  refundHandoffCurrency?: string;
  /**
   * The store the shop runs, whose orders the agent reads when it answers an inquiry: `shopify`
   * when a shop is configured (SHOPIFY_SHOP_DOMAIN, SHOPIFY_ADMIN_TOKEN). Unset: none (the CRM and
   * the knowledge base only), as before it existed.
   */
  store?: 'shopify';
  /**
   * With a store: each source with a shop of its own, and `default` for the provider-wide one,
   * mapped to its shop's domain, the key its Shopify calls are paced under, whichever source's run
   * makes them (workflows/contracts/partners.ts). Unset (settings from before it existed): each
   * run's own source is the key.
   */
  storeShops?: Readonly<Record<string, string>>;
  /** The language model the worker asks (LLM_MODEL), or undefined: rules and templates only. */
  model?: string;
  /**
   * How long an escalation waits for the model's suggested reply before it opens with the
   * template's (LLM_SUGGESTION_BUDGET). Unset (settings from before it existed): 20 s.
   */
  modelSuggestionBudgetMs?: number;
}

export interface CustomerContext {
  customerId: string;
  name: string;
  email: string;
  /**
   * False when the address is only what the customer typed (a helpdesk requester its helpdesk has
   * not verified): it must not find their orders. Unset: the CRM's own record of the customer.
   */
  emailVerified?: boolean;
  lastOrders: { order_id: string; status: string; date: string }[];
  previousTickets: { ticket_id: string; subject: string; status: string }[];
}

export interface InquiryAssessment {
  decision: 'answer' | 'handoff';
  /**
   * A hard rule decided (a complaint, a repeat contact, a refund): a person handles it whatever a
   * model makes of the inquiry. Not firm: the rules' best guess, which a model may improve on.
   */
  firm: boolean;
  reason: string;
  /**
   * What the knowledge base (or the CRM) holds about the inquiry's order when it is this
   * customer's: its ID, and its status, carrier, tracking number and ETA when known. The only
   * values an automatic reply states (src/agent/reply.ts).
   */
  facts: Record<string, string>;
}

/** A message to a customer, rendered by the notifier's templates (not by workflow code). */
export type CustomerMessage =
  | { kind: 'order-shipped'; orderId: string; carrier?: string; trackingNumber?: string; eta?: string }
  | { kind: 'order-out-for-delivery'; orderId: string; carrier?: string; trackingNumber?: string }
  | { kind: 'order-delivered'; orderId: string }
  | { kind: 'order-delayed'; orderId: string; eta?: string; reason?: string }
  | { kind: 'order-cancelled'; orderId: string }
  /** The payment messages may have no order: a gateway need not say which order a payment was for. */
  | { kind: 'payment-confirmed'; orderId?: string; amount: number; currency: string }
  | { kind: 'payment-failed'; orderId?: string; amount: number; currency: string; reason?: string }
  | { kind: 'payment-refunded'; orderId?: string; amount: number; currency: string }
  | { kind: 'stock-shortage'; orderId: string; productId: string; expectedRestockDate?: string }
  | { kind: 'return-label'; returnId: string; labelUrl: string; trackingNumber: string; carrier: string }
  | { kind: 'return-denied'; returnId: string; reason: string }
  /** A store that runs its own returns (Shopify) received or approved one; its own emails carry the label. */
  | { kind: 'return-requested'; returnId: string; orderId: string }
  | { kind: 'return-approved'; returnId: string; orderId: string }
  | { kind: 'return-expired'; returnId: string }
  /** The return was stopped (cancelled by an operator): what became of its label and parcel. */
  | { kind: 'return-cancelled'; returnId: string; labelVoided: boolean; parcelReceived: boolean }
  | { kind: 'return-refunded'; returnId: string; amount: number; currency: string }
  | { kind: 'inquiry-reply'; inquiryId: string; text: string }
  | { kind: 'agent-reply'; conversationId: string; agent: string; text: string };

export interface ReturnLabel {
  labelId: string;
  trackingNumber: string;
  labelUrl: string;
  carrier: string;
  /**
   * Bought in EasyPost's test mode: voided there too. Absent on every other label, and on those
   * bought before test-mode returns had keys of their own (all with EASYPOST_API_KEY).
   */
  testMode?: true;
}

export interface ReturnPolicyCheck {
  eligible: boolean;
  reason: string;
  /** What the refund would be, from the knowledge base's order total. */
  refundAmount: number;
  currency: string;
}

/**
 * Table types for the knowledge-base database, shared by SQLite and PostgreSQL.
 *
 * Portable representations, chosen so the same queries and the same values work on both:
 * - Timestamps are ISO-8601 UTC text in `Date#toISOString()` form (`2023-10-27T10:30:00.000Z`).
 *   Every writer normalises to that fixed-width form, so comparing the text compares the time.
 * - Money is exact decimal text in the currency's major unit (`"99.99"`), next to an ISO-4217
 *   `currency`. Never a float; not integer cents either, because the minor-unit exponent differs
 *   per currency (JPY 0, KWD 3) and the service only stores and shows amounts, it does no sums.
 * - JSON is text (`*_json` columns); callers `JSON.parse` what they read.
 * - No foreign keys: events from the OMS, CRM, payment gateway and carrier arrive in any order,
 *   so a payment may name an order this database has not heard of yet.
 */
import type { ColumnType, Generated, Selectable } from 'kysely';
import type { OperatorRole } from '../handoff/permissions.js';
import { ORDER_STATUSES, type OrderStatus, type PrivacyRequest } from '../events/fields.js';
import type { AllTrue, EventType } from '../events/registry.js';

export type { OperatorRole };

/** ISO-8601 UTC timestamp text as produced by `Date#toISOString()`. */
export type IsoTimestamp = string;
/** Exact decimal amount in the currency's major unit, e.g. `"99.99"`. */
export type DecimalAmount = string;

/**
 * What the status-like columns hold, each declared once as a list: the column types below and
 * the inputs of src/db/repo.ts derive from them, so a writer cannot store a word no reader knows.
 */
export const NOTIFICATION_AUDIENCES = ['customer', 'agents'] as const;
export type NotificationAudience = (typeof NOTIFICATION_AUDIENCES)[number];

export const NOTIFICATION_CHANNELS = ['outbox', 'email', 'chat'] as const;
export type NotificationChannel = (typeof NOTIFICATION_CHANNELS)[number];

// Also a CHECK constraint on notifications.status (migration 0001), which stays as it was written.
export const NOTIFICATION_STATUSES = ['queued', 'sent', 'failed'] as const;
export type NotificationStatus = (typeof NOTIFICATION_STATUSES)[number];

export const INQUIRY_DECISIONS = ['answered', 'handoff'] as const;
export type InquiryDecision = (typeof INQUIRY_DECISIONS)[number];
export const INQUIRY_DECIDED_BY = ['rules', 'model'] as const;
export type InquiryDecidedBy = (typeof INQUIRY_DECIDED_BY)[number];

/** An order's status is the last one its OMS sent (order.status_updated) or a shipment event implied. */
export { ORDER_STATUSES, type OrderStatus };

/** A payment's status is its newest event's: `payment.succeeded` stores `succeeded`. */
export const PAYMENT_STATUSES = ['succeeded', 'failed', 'refunded'] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/** The payment events the ledger records as a status; a dispute is a record of its own (disputes). */
type PaymentStatusEvent = Exclude<Extract<EventType, `payment.${string}`>, 'payment.disputed'>;

// Every payment event type stores its status, and every status comes from a payment event type.
export type PaymentStatusesAreEventTypes = AllTrue<{
  [S in PaymentStatus | PaymentStatusEvent]: S extends PaymentStatus
    ? `payment.${S}` extends EventType
      ? true
      : S
    : S extends `payment.${PaymentStatus}`
      ? true
      : S;
}>;

export function paymentStatusOf(eventType: `payment.${PaymentStatus}`): PaymentStatus {
  return eventType.slice('payment.'.length) as PaymentStatus;
}

/** The steps of a return the process-return workflow records (workflows/returns.ts). */
export const RETURN_STATUSES = [
  'initiated',
  'awaiting-approval',
  'denied',
  'label-sent',
  'expired',
  'failed',
  'refunded',
  'cancelled',
] as const;
export type ReturnRecordStatus = (typeof RETURN_STATUSES)[number];

/**
 * How the receiver answered a delivery, as the event log records it: the receiver's own words
 * (its log line's `outcome` and the `hookline_webhook_requests_total` label), plus `ignored` (a
 * verified delivery of a type hookline does not handle), `refused` (a problem answer: why is
 * in `reason`) and `unreadable` (a reconciliation pass found an event the provider has no body for
 * — EasyPost's finished without ever being attempted — so it could not be handed over: the
 * provider's event id is the identity, its type the event type, a person looks).
 */
export const EVENT_LOG_OUTCOMES = [
  'accepted',
  'rerun',
  'queued',
  'duplicate',
  'closed',
  'quarantined',
  'ignored',
  'refused',
  'unreadable',
] as const;
export type EventLogOutcome = (typeof EVENT_LOG_OUTCOMES)[number];

/** How the event reached the intake: a sender's delivery, a reconciliation pass, a bulk redrive or a quarantine replay. */
export const EVENT_LOG_VIAS = ['webhook', 'reconcile', 'redrive', 'replay'] as const;
export type EventLogVia = (typeof EVENT_LOG_VIAS)[number];

/** How the event's run ended, as Temporal's visibility says (`running` until it closes). */
export const RUN_STATUSES = ['running', 'completed', 'failed', 'timed-out', 'cancelled', 'terminated', 'continued-as-new'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** One row per delivery (migration 0006): IDs and outcomes only, never a body. */
export interface EventLogTable {
  id: Generated<number>;
  received_at: IsoTimestamp;
  via: EventLogVia;
  source: string;
  /** Whose payload format the source speaks (`hookline`, `shopify`, `stripe`, …). */
  provider: string;
  event_type: string | null;
  /** The event's identity (the workflow ID's tail); null when the delivery was refused before it was known. */
  identity: string | null;
  workflow_id: string | null;
  /** The unsigned delivery-id header, for support tickets. */
  delivery_ref: string | null;
  outcome: EventLogOutcome;
  /** Why: the quarantine reason, the problem a refusal answered (`invalid-signature: bad-signature`), the ignored type. */
  reason: string | null;
  order_id: string | null;
  customer_id: string | null;
  /** 1 for a provider's test-mode event, 0 for a live one, null when the provider does not say. */
  test_mode: number | null;
  run_status: RunStatus | null;
  run_closed_at: IsoTimestamp | null;
  /** When the status recorder last asked Temporal about this row's run. */
  checked_at: IsoTimestamp | null;
}

export interface CustomersTable {
  id: string;
  name: string;
  email: string;
  phone: string | null;
  /** CRM enrichment (order history, past tickets) as JSON text. */
  details_json: string | null;
  updated_at: IsoTimestamp;
  /** The store's own time of the profile applied (migration 0008): an older profile never overwrites it. */
  profile_event_at: IsoTimestamp | null;
}

export interface OrdersTable {
  id: string;
  customer_id: string | null;
  status: OrderStatus | null;
  /** Time of the newest status event applied; older events are ignored as stale. */
  status_event_at: IsoTimestamp | null;
  /** The run that applied the current status (`workflowId/runId`), when a workflow did. */
  status_owner: string | null;
  carrier: string | null;
  tracking_number: string | null;
  /** Estimated delivery as the sender gave it (a date or a timestamp). */
  eta: string | null;
  paid_at: IsoTimestamp | null;
  total_amount: DecimalAmount | null;
  currency: string | null;
  /** Written first by a provider's test event (migration 0007): a test event never changes a live order. */
  test_mode: Generated<TestModeFlag>;
  updated_at: IsoTimestamp;
}

export interface OrderItemsTable {
  order_id: string;
  product_id: string;
  quantity: number;
  /** One unit's price after discounts, in the order's currency, when the store said (migration 0012). */
  unit_price: ColumnType<DecimalAmount | null, DecimalAmount | null | undefined, DecimalAmount | null>;
}

/** 1 for a row a provider's test event wrote (Stripe `livemode: false`), else 0 (migration 0007). */
export type TestModeFlag = 0 | 1;

export interface PaymentsTable {
  id: string;
  /** Null when the gateway did not say which order (migration 0007). */
  order_id: string | null;
  status: PaymentStatus;
  amount: DecimalAmount;
  currency: string;
  /** Time of the newest payment event applied; gateways do not deliver in order. */
  status_event_at: IsoTimestamp | null;
  test_mode: Generated<TestModeFlag>;
  updated_at: IsoTimestamp;
}

/** A chargeback: the customer's bank disputes a payment (migration 0007). */
export interface DisputesTable {
  id: string;
  payment_id: string;
  /** The order the disputed payment was for, when the knowledge base knows it. */
  order_id: string | null;
  amount: DecimalAmount;
  currency: string;
  reason: string;
  status: string | null;
  /** The gateway's deadline for the merchant's evidence. */
  evidence_due_by: IsoTimestamp | null;
  test_mode: Generated<TestModeFlag>;
  created_at: IsoTimestamp;
  updated_at: IsoTimestamp;
}

export interface ReturnsTable {
  id: string;
  order_id: string;
  customer_id: string;
  status: ReturnRecordStatus;
  reason: string | null;
  /** Returned items, `[{ product_id, quantity }]`, as JSON text. */
  items_json: string | null;
  label_id: string | null;
  tracking_number: string | null;
  refund_id: string | null;
  updated_at: IsoTimestamp;
}

/** A carrier's tracker, one per tracking number (migration 0009): where the shipment stands, and whose it is when known. */
export interface TrackersTable {
  tracking_number: string;
  carrier: string;
  /** The order the knowledge base linked it to (the event's, else the order with this tracking number). */
  order_id: string | null;
  /** The return whose label this tracking number is. */
  return_id: string | null;
  /** The carrier's word: `in_transit`, `out_for_delivery`, `delivered`, `delayed`, or an exception's code. */
  status: string;
  status_detail: string | null;
  eta: string | null;
  /** The carrier's time of the newest status applied: an older delivery changes nothing. */
  status_event_at: IsoTimestamp;
  /** The run that applied it (`workflowId/runId`), so a repeat of the same event is told the truth. */
  status_owner: string | null;
  test_mode: Generated<TestModeFlag>;
  updated_at: IsoTimestamp;
}

export interface InquiriesTable {
  id: string;
  customer_id: string;
  summary: string;
  channel: string;
  decision: InquiryDecision | null;
  decision_reason: string | null;
  reply: string | null;
  /** `rules`, or `model` when the language model understood or drafted (migration 0004). */
  decided_by: InquiryDecidedBy | null;
  model: string | null;
  tokens_in: number | null;
  tokens_out: number | null;
  /** Why the rules decided although a model is configured (it failed, or its draft was held back). */
  fallback_reason: string | null;
  created_at: IsoTimestamp;
  updated_at: IsoTimestamp;
}

export interface NotificationsTable {
  id: Generated<number>;
  idempotency_key: string;
  audience: NotificationAudience;
  channel: NotificationChannel;
  recipient: string | null;
  customer_id: string | null;
  subject: string;
  body: string;
  status: NotificationStatus;
  error: string | null;
  created_at: IsoTimestamp;
  sent_at: IsoTimestamp | null;
  /** A test event's message (migration 0007): kept in the outbox, never sent. */
  test_mode: Generated<TestModeFlag>;
}

export interface ProcessedEventsTable {
  key: string;
  event_type: string;
  workflow_id: string;
  processed_at: IsoTimestamp;
}

/** An external effect completed for an event (migration 0005), checked before the effect is tried again. */
export interface CompletedEffectsTable {
  /** The key the effect was made with, e.g. `return:process:RET-1:refund`. */
  idempotency_key: string;
  /** What was done, e.g. `payments.refund`: the same key must never name another effect. */
  effect: string;
  /** The partner's answer as the activity returned it, as JSON text, so a repeat returns the same. */
  result_json: string;
  /** The run that completed it (`workflowId/runId`), for an operator following a case. */
  workflow_id: string | null;
  completed_at: IsoTimestamp;
}

export interface OperatorsTable {
  name: string;
  role: OperatorRole;
  /** SHA-256 (hex) of the operator's bearer token; the token itself is shown once and never stored. */
  token_hash: string;
  created_at: IsoTimestamp;
}

export interface OperatorSessionsTable {
  /** SHA-256 (hex) of the inbox session id the browser holds in its cookie. */
  id_hash: string;
  operator_name: string;
  /** The operator's token_hash when the session opened; the session lives only while it still matches. */
  operator_token_hash: string;
  created_at: IsoTimestamp;
  expires_at: IsoTimestamp;
}

/** A privacy request done (migration 0008): the log Shopify's mandatory privacy topics ask for. */
export interface PrivacyRequestsTable {
  /** The workflow that did it. */
  id: string;
  request: PrivacyRequest;
  source: string;
  shop_id: string;
  /** The store's customer id (never an address); null for a shop's request. */
  customer_id: string | null;
  /** What was done: rows erased per table, as JSON. */
  summary_json: string;
  /** A data request's answer: what hookline held about the person, as JSON, for a person to send. */
  export_json: string | null;
  completed_at: IsoTimestamp;
}

/** A return the store runs itself (migration 0008): its newest status, and how far along that is. */
export interface StoreReturnsTable {
  id: string;
  order_id: string;
  status: string;
  /** requested 1, approved or declined 2, closed or cancelled 3: a lower rank arriving later is stale. */
  status_rank: number;
  /** The run that applied the status (`workflowId/runId`). */
  status_owner: string | null;
  updated_at: IsoTimestamp;
}

export interface Schema {
  customers: CustomersTable;
  orders: OrdersTable;
  order_items: OrderItemsTable;
  payments: PaymentsTable;
  disputes: DisputesTable;
  returns: ReturnsTable;
  trackers: TrackersTable;
  inquiries: InquiriesTable;
  notifications: NotificationsTable;
  processed_events: ProcessedEventsTable;
  completed_effects: CompletedEffectsTable;
  operators: OperatorsTable;
  operator_sessions: OperatorSessionsTable;
  event_log: EventLogTable;
  privacy_requests: PrivacyRequestsTable;
  store_returns: StoreReturnsTable;
  reconcile_cursors: ReconcileCursorsTable;
}

/** The reconciler's cursor per source (migration 0010). */
export interface ReconcileCursorsTable {
  source: string;
  /** Unix seconds: every event created up to here has been handed to the intake. */
  created_up_to: number;
  updated_at: string;
}

export type Customer = Selectable<CustomersTable>;
export type Order = Selectable<OrdersTable>;
export type OrderItem = Selectable<OrderItemsTable>;
export type Payment = Selectable<PaymentsTable>;
export type Dispute = Selectable<DisputesTable>;
export type Return = Selectable<ReturnsTable>;
export type Tracker = Selectable<TrackersTable>;
export type Inquiry = Selectable<InquiriesTable>;
export type NotificationRow = Selectable<NotificationsTable>;
export type Operator = Selectable<OperatorsTable>;
export type EventLogRow = Selectable<EventLogTable>;
export type PrivacyRequestRow = Selectable<PrivacyRequestsTable>;

/**
 * The reads and idempotent writes the customer-service workflows' activities need. Every
 * write is a single statement (or one transaction) that can be repeated safely, because
 * a Temporal activity may run more than once.
 */
import type { Kysely } from 'kysely';
import type {
  Customer,
  DecimalAmount,
  Dispute,
  EventLogOutcome,
  EventLogRow,
  EventLogTable,
  EventLogVia,
  Inquiry,
  InquiryDecidedBy,
  InquiryDecision,
  NotificationRow,
  NotificationsTable,
  IsoTimestamp,
  Operator,
  OperatorRole,
  Order,
  OrderItem,
  OrderStatus,
  PrivacyRequestRow,
  PrivacyRequestsTable,
  Return,
  RunStatus,
  Schema,
  TestModeFlag,
  Tracker,
} from './schema.js';

type Db = Kysely<Schema>;

/** Normalises a timestamp to `Date#toISOString()` form, the only form stored. */
export function toIsoTimestamp(value: string | Date): IsoTimestamp {
  const date = typeof value === 'string' ? new Date(value) : value;
  if (Number.isNaN(date.getTime())) {
    throw new RangeError(`Not a valid timestamp: ${JSON.stringify(String(value))}`);
  }
  return date.toISOString();
}

/**
 * Normalises an amount to decimal text, e.g. `99.99` → `"99.99"`. A number is accepted as a
 * JSON parser produced it (the shortest text that round-trips, so `99.99` stays `99.99`);
 * anything needing an exponent is refused rather than silently rounded.
 */
export function toDecimalAmount(value: number | string): DecimalAmount {
  const text = typeof value === 'number' ? String(value) : value.trim();
  if (!/^-?\d+(\.\d+)?$/.test(text)) {
    throw new RangeError(`Not a plain decimal amount: ${JSON.stringify(text)}`);
  }
  return text;
}

function now(): IsoTimestamp {
  return new Date().toISOString();
}

/** Runs `fn` in a transaction, or in the caller's transaction when `db` already is one. */
async function inTransaction<T>(db: Db, fn: (tx: Db) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db) : db.transaction().execute(fn);
}

function affected(result: { numInsertedOrUpdatedRows?: bigint; numUpdatedRows?: bigint }): boolean {
  return (result.numInsertedOrUpdatedRows ?? result.numUpdatedRows ?? 0n) > 0n;
}

// ---------------------------------------------------------------------------------------
// Processed-event ledger

/**
 * Records that the event `key` is being handled, e.g. `payment.succeeded:PMT-1`. Returns
 * true for the one call that recorded it and false for every later one, so a redelivered
 * event is recognised even after Temporal has forgotten the workflow that handled it.
 */
export async function claimProcessedEvent(db: Db, key: string, eventType: string, workflowId: string): Promise<boolean> {
  const result = await db
    .insertInto('processed_events')
    .values({ key, event_type: eventType, workflow_id: workflowId, processed_at: now() })
    .onConflict((oc) => oc.column('key').doNothing())
    .executeTakeFirst();
  return affected(result);
}

/**
 * Whether two owners (`workflowId/runId`) are runs of one event: the same workflow ID, whatever
 * the run. A run that replaces a failed one owns what the failed run wrote; another event does not.
 */
export function sameEvent(owner: string, other: string | null | undefined): boolean {
  if (other === null || other === undefined) return false;
  const event = (o: string) => (o.includes('/') ? o.slice(0, o.lastIndexOf('/')) : o);
  return event(owner) === event(other);
}

// ---------------------------------------------------------------------------------------
// Completed effects

/** What an effect was recorded with. */
export interface CompletedEffect {
  effect: string;
  result: unknown;
  workflowId: string | null;
  completedAt: IsoTimestamp;
}

/**
 * The effect completed under `key`, if any. Checked before an effect is made, so a second run of
 * an event (after a failed one) or a repeat long after the partner forgot the key does not make it
 * again.
 */
export async function findCompletedEffect(db: Db, key: string): Promise<CompletedEffect | undefined> {
  const row = await db.selectFrom('completed_effects').selectAll().where('idempotency_key', '=', key).executeTakeFirst();
  if (!row) return undefined;
  return { effect: row.effect, result: JSON.parse(row.result_json) as unknown, workflowId: row.workflow_id, completedAt: row.completed_at };
}

/**
 * Records that the effect made with `key` completed, with what the partner answered. Written after
 * the partner said yes; the first record stands (a repeat that got here again changes nothing).
 */
export async function recordCompletedEffect(
  db: Db,
  e: { key: string; effect: string; result: unknown; workflowId?: string },
): Promise<void> {
  await db
    .insertInto('completed_effects')
    .values({
      idempotency_key: e.key,
      effect: e.effect,
      result_json: JSON.stringify(e.result ?? null),
      workflow_id: e.workflowId ?? null,
      completed_at: now(),
    })
    .onConflict((oc) => oc.column('idempotency_key').doNothing())
    .execute();
}

// ---------------------------------------------------------------------------------------
// Customers

export interface CustomerInput {
  id: string;
  name: string;
  email: string;
  /** Omit to keep the stored value; null clears it. */
  phone?: string | null;
  /** CRM enrichment, stored as JSON. Omit to keep the stored value; null clears it. */
  details?: unknown;
  /**
   * The sender's own time of this profile (a store's `updated_at`): with it, the profile is applied
   * only over an older one (or one without a time), so a stale delivery never overwrites a newer profile.
   */
  eventAt?: string;
}

/** Inserts or updates a customer from the CRM, the source of truth for profiles. */
export async function upsertCustomer(db: Db, c: CustomerInput): Promise<'applied' | 'stale'> {
  const details_json = c.details === undefined ? undefined : c.details === null ? null : JSON.stringify(c.details);
  const eventAt = c.eventAt === undefined ? undefined : toIsoTimestamp(c.eventAt);
  const result = await db
    .insertInto('customers')
    .values({
      id: c.id,
      name: c.name,
      email: c.email,
      phone: c.phone ?? null,
      details_json: details_json ?? null,
      updated_at: now(),
      profile_event_at: eventAt ?? null,
    })
    .onConflict((oc) => {
      const update = oc.column('id').doUpdateSet((eb) => ({
        name: eb.ref('excluded.name'),
        email: eb.ref('excluded.email'),
        ...(c.phone !== undefined ? { phone: eb.ref('excluded.phone') } : {}),
        ...(details_json !== undefined ? { details_json: eb.ref('excluded.details_json') } : {}),
        ...(eventAt !== undefined ? { profile_event_at: eb.ref('excluded.profile_event_at') } : {}),
        updated_at: eb.ref('excluded.updated_at'),
      }));
      return eventAt === undefined
        ? update
        : update.where((eb) =>
            eb.or([
              eb('customers.profile_event_at', 'is', null),
              eb('customers.profile_event_at', '<', eb.ref('excluded.profile_event_at')),
            ]),
          );
    })
    .executeTakeFirst();
  return affected(result) ? 'applied' : 'stale';
}

export async function getCustomer(db: Db, id: string): Promise<Customer | undefined> {
  return db.selectFrom('customers').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * The store's customer with this email, other than `except` (a helpdesk's requester is a customer
 * of its own in hookline): the most recently updated, when several share it. Case-insensitive.
 */
export async function findCustomerByEmail(db: Db, email: string, except?: string): Promise<Customer | undefined> {
  let query = db
    .selectFrom('customers')
    .selectAll()
    .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase()));
  if (except !== undefined) query = query.where('id', '!=', except);
  return query.orderBy('updated_at', 'desc').orderBy('id').limit(1).executeTakeFirst();
}

// ---------------------------------------------------------------------------------------
// Orders

export interface OrderStatusInput {
  orderId: string;
  status: NonNullable<Schema['orders']['status']>;
  /** When the sender says the status changed; decides which of two events is newer. */
  eventAt: string | Date;
  /** The remaining fields: omit when the event does not carry them, to keep what is stored. */
  customerId?: string;
  carrier?: string | null;
  trackingNumber?: string | null;
  eta?: string | null;
  totalAmount?: number | string | null;
  currency?: string | null;
  /** A provider's test event (a Shopify test order): the order is marked as a test order. */
  testMode?: boolean;
  /**
   * The run applying the event (`workflowId/runId`). With it, a repeat by a run of the same event
   * that finds its write in place (an earlier attempt committed and lost the answer, a local
   * activity ran again after a worker crash, a run replacing a failed one) is `applied`, so the
   * customer is still told (once: the outbox keys the message); without an owner, or another
   * event's, the same row is `stale`.
   */
  owner?: string;
}

/**
 * Applies an order status event unless a newer one was applied already. One upsert
 * statement whose update is conditional on `status_event_at`, so two events racing on
 * different connections or processes cannot leave the older status in place. An event
 * exactly as old as the stored one is `stale` too, which makes redelivery a no-op.
 */
export async function applyOrderStatus(db: Db, e: OrderStatusInput): Promise<'applied' | 'stale'> {
  const eventAt = toIsoTimestamp(e.eventAt);
  const totalAmount = e.totalAmount === undefined || e.totalAmount === null ? e.totalAmount : toDecimalAmount(e.totalAmount);
  const result = await db
    .insertInto('orders')
    .values({
      id: e.orderId,
      customer_id: e.customerId ?? null,
      status: e.status,
      status_event_at: eventAt,
      status_owner: e.owner ?? null,
      carrier: e.carrier ?? null,
      tracking_number: e.trackingNumber ?? null,
      eta: e.eta ?? null,
      total_amount: totalAmount ?? null,
      currency: e.currency ?? null,
      ...(e.testMode ? { test_mode: 1 as const } : {}),
      updated_at: now(),
    })
    .onConflict((oc) =>
      oc
        .column('id')
        .doUpdateSet((eb) => ({
          ...(e.testMode ? { test_mode: 1 as const } : {}),
          status: eb.ref('excluded.status'),
          status_event_at: eb.ref('excluded.status_event_at'),
          status_owner: eb.ref('excluded.status_owner'),
          updated_at: eb.ref('excluded.updated_at'),
          ...(e.customerId !== undefined ? { customer_id: eb.ref('excluded.customer_id') } : {}),
          ...(e.carrier !== undefined ? { carrier: eb.ref('excluded.carrier') } : {}),
          ...(e.trackingNumber !== undefined ? { tracking_number: eb.ref('excluded.tracking_number') } : {}),
          ...(e.eta !== undefined ? { eta: eb.ref('excluded.eta') } : {}),
          ...(totalAmount !== undefined ? { total_amount: eb.ref('excluded.total_amount') } : {}),
          ...(e.currency !== undefined ? { currency: eb.ref('excluded.currency') } : {}),
        }))
        .where((eb) =>
          eb.or([eb('orders.status_event_at', 'is', null), eb('orders.status_event_at', '<', eb.ref('excluded.status_event_at'))]),
        ),
    )
    .executeTakeFirst();
  if (affected(result)) return 'applied';
  if (e.owner === undefined) return 'stale';
  const row = await db
    .selectFrom('orders')
    .select(['status', 'status_event_at', 'status_owner'])
    .where('id', '=', e.orderId)
    .executeTakeFirst();
  return sameEvent(e.owner, row?.status_owner) && row?.status === e.status && row.status_event_at === eventAt ? 'applied' : 'stale';
}

export async function getOrder(db: Db, id: string): Promise<Order | undefined> {
  return db.selectFrom('orders').selectAll().where('id', '=', id).executeTakeFirst();
}

/** A customer's most recently updated orders, newest first: context for an inquiry. */
export async function listCustomerOrders(db: Db, customerId: string, limit = 10): Promise<Order[]> {
  return db
    .selectFrom('orders')
    .selectAll()
    .where('customer_id', '=', customerId)
    .orderBy('updated_at', 'desc')
    .orderBy('id')
    .limit(limit)
    .execute();
}

/** Records an order's lines; a repeated line replaces its quantity. */
export async function upsertOrderItems(
  db: Db,
  orderId: string,
  items: ReadonlyArray<{ productId: string; quantity: number; unitPrice?: DecimalAmount }>,
): Promise<void> {
  if (items.length === 0) return;
  // One row per product: two lines of one product (a store's same SKU twice, with other properties
  // or discounts) are one row of their summed quantity, priced only when they agree on a price (else
  // unpriced, and refundFor leaves a return of it to a person). Two rows of one key in one insert
  // would be refused by PostgreSQL's ON CONFLICT, and kept as the last one alone by SQLite.
  const byProduct = new Map<string, { productId: string; quantity: number; prices: Set<DecimalAmount | undefined> }>();
  for (const item of items) {
    const row = byProduct.get(item.productId) ?? { productId: item.productId, quantity: 0, prices: new Set() };
    row.quantity += item.quantity;
    row.prices.add(item.unitPrice);
    byProduct.set(item.productId, row);
  }
  await db
    .insertInto('order_items')
    .values(
      [...byProduct.values()].map(({ productId, quantity, prices }) => {
        const [price] = prices;
        return {
          order_id: orderId,
          product_id: productId,
          quantity,
          ...(prices.size === 1 && price !== undefined ? { unit_price: price } : {}),
        };
      }),
    )
    .onConflict((oc) =>
      oc.columns(['order_id', 'product_id']).doUpdateSet((eb) => ({
        quantity: eb.ref('excluded.quantity'),
        // A sender that names no price (an OMS event) never erases the one a store said.
        unit_price: eb.fn.coalesce('excluded.unit_price', 'order_items.unit_price'),
      })),
    )
    .execute();
}

export async function listOrderItems(db: Db, orderId: string): Promise<OrderItem[]> {
  return db.selectFrom('order_items').selectAll().where('order_id', '=', orderId).orderBy('product_id').execute();
}

/** Statuses after which an order is no longer open (nothing left to ship). */
const CLOSED_ORDER_STATUSES: OrderStatus[] = ['delivered', 'cancelled', 'returned'];

/**
 * Open orders with a customer that contain `productId`, or, when the sender named them, those of
 * `orderIds` that are open: who a stock shortage affects.
 */
export async function findOpenOrdersWithProduct(
  db: Db,
  q: { productId: string; orderIds?: readonly string[] },
): Promise<{ orderId: string; customerId: string }[]> {
  let query = db
    .selectFrom('orders')
    .select(['orders.id as orderId', 'orders.customer_id as customerId'])
    .where('orders.customer_id', 'is not', null)
    .where((eb) => eb.or([eb('orders.status', 'is', null), eb('orders.status', 'not in', CLOSED_ORDER_STATUSES)]));
  query = q.orderIds?.length
    ? query.where('orders.id', 'in', [...q.orderIds])
    : query.where((eb) =>
        eb.exists(
          eb
            .selectFrom('order_items')
            .select('order_items.order_id')
            .whereRef('order_items.order_id', '=', 'orders.id')
            .where('order_items.product_id', '=', q.productId),
        ),
      );
  const rows = await query.orderBy('orders.id').execute();
  return rows.map((r) => ({ orderId: r.orderId, customerId: r.customerId! }));
}

// ---------------------------------------------------------------------------------------
// Payments

export interface PaymentEventInput {
  paymentId: string;
  /** Unknown when the gateway did not say: the payment is recorded without an order. */
  orderId?: string;
  /** A provider's test event: the row is marked, and it never changes a live order. */
  testMode?: boolean;
  /** The gateway's status, e.g. `succeeded`, `failed`, `refunded`. */
  status: Schema['payments']['status'];
  amount: number | string;
  currency: string;
  eventAt: string | Date;
}

/**
 * Records a payment event unless a newer one for the same payment was recorded (gateways
 * do not deliver in order). A `succeeded` payment also stamps the order's `paid_at`, first
 * success wins, creating a bare order row if the OMS has not reported the order yet. Both
 * writes happen in one transaction: the caller's, when `db` is a transaction (say, one that
 * also claims the event in the ledger), else a new one.
 */
export async function recordPayment(db: Db, p: PaymentEventInput): Promise<'applied' | 'stale'> {
  const eventAt = toIsoTimestamp(p.eventAt);
  const amount = toDecimalAmount(p.amount);
  const at = now();
  const testMode: TestModeFlag = p.testMode ? 1 : 0;
  return inTransaction(db, async (tx) => {
    const result = await tx
      .insertInto('payments')
      .values({
        id: p.paymentId,
        order_id: p.orderId ?? null,
        status: p.status,
        amount,
        currency: p.currency,
        status_event_at: eventAt,
        test_mode: testMode,
        updated_at: at,
      })
      .onConflict((oc) =>
        oc
          .column('id')
          .doUpdateSet((eb) => ({
            status: eb.ref('excluded.status'),
            amount: eb.ref('excluded.amount'),
            currency: eb.ref('excluded.currency'),
            status_event_at: eb.ref('excluded.status_event_at'),
            // A later event may name the order an earlier one did not.
            order_id: eb.fn.coalesce('excluded.order_id', 'payments.order_id'),
            updated_at: eb.ref('excluded.updated_at'),
          }))
          .where((eb) =>
            eb.or([eb('payments.status_event_at', 'is', null), eb('payments.status_event_at', '<', eb.ref('excluded.status_event_at'))]),
          ),
      )
      .executeTakeFirst();
    if (p.status === 'succeeded' && p.orderId !== undefined) {
      await tx
        .insertInto('orders')
        .values({ id: p.orderId, paid_at: eventAt, total_amount: amount, currency: p.currency, test_mode: testMode, updated_at: at })
        .onConflict((oc) => {
          const update = oc.column('id').doUpdateSet((eb) => ({
            paid_at: eb.fn.coalesce('orders.paid_at', 'excluded.paid_at'),
            total_amount: eb.fn.coalesce('orders.total_amount', 'excluded.total_amount'),
            currency: eb.fn.coalesce('orders.currency', 'excluded.currency'),
            updated_at: eb.ref('excluded.updated_at'),
          }));
          // A test payment never marks a live order paid (a test key's metadata can name any order).
          return testMode === 1 ? update.where('orders.test_mode', '=', 1) : update;
        })
        .execute();
    }
    return affected(result) ? 'applied' : 'stale';
  });
}

/** What the knowledge base recorded about a payment: the order it was for (when known) and whether it was a test. */
export async function getPayment(db: Db, paymentId: string): Promise<{ orderId?: string; testMode: boolean } | undefined> {
  const row = await db.selectFrom('payments').select(['order_id', 'test_mode']).where('id', '=', paymentId).executeTakeFirst();
  if (!row) return undefined;
  return { ...(row.order_id === null ? {} : { orderId: row.order_id }), testMode: row.test_mode === 1 };
}

export interface DisputeInput {
  disputeId: string;
  paymentId: string;
  orderId?: string;
  amount: number | string;
  currency: string;
  reason: string;
  status?: string;
  evidenceDueBy?: string;
  testMode?: boolean;
}

/** Records a dispute (a chargeback), or brings a known one up to date: safe to repeat. */
export async function recordDispute(db: Db, d: DisputeInput): Promise<void> {
  const at = now();
  await db
    .insertInto('disputes')
    .values({
      id: d.disputeId,
      payment_id: d.paymentId,
      order_id: d.orderId ?? null,
      amount: toDecimalAmount(d.amount),
      currency: d.currency,
      reason: d.reason,
      status: d.status ?? null,
      evidence_due_by: d.evidenceDueBy === undefined ? null : toIsoTimestamp(d.evidenceDueBy),
      test_mode: d.testMode ? 1 : 0,
      created_at: at,
      updated_at: at,
    })
    .onConflict((oc) =>
      oc.column('id').doUpdateSet((eb) => ({
        order_id: eb.fn.coalesce('excluded.order_id', 'disputes.order_id'),
        status: eb.ref('excluded.status'),
        evidence_due_by: eb.ref('excluded.evidence_due_by'),
        updated_at: eb.ref('excluded.updated_at'),
      })),
    )
    .execute();
}

export async function getDispute(db: Db, disputeId: string): Promise<Dispute | undefined> {
  return db.selectFrom('disputes').selectAll().where('id', '=', disputeId).executeTakeFirst();
}

/** The order's succeeded payment, if one is on record: what a return refunds when the order has no total. */
export async function findSucceededPayment(db: Db, orderId: string): Promise<{ amount: DecimalAmount; currency: string } | undefined> {
  return db
    .selectFrom('payments')
    .select(['amount', 'currency'])
    .where('order_id', '=', orderId)
    .where('status', '=', 'succeeded')
    .executeTakeFirst();
}

/** The payments recorded for an order, newest first. */
export async function listPayments(
  db: Db,
  orderId: string,
): Promise<{ id: string; status: string; amount: DecimalAmount; currency: string; status_event_at: IsoTimestamp | null }[]> {
  return db
    .selectFrom('payments')
    .select(['id', 'status', 'amount', 'currency', 'status_event_at'])
    .where('order_id', '=', orderId)
    .orderBy('updated_at', 'desc')
    .execute();
}

/**
 * Claims the ledger entry `key` for `owner` and applies the payment, in one transaction. True for
 * the owner (including its own retries, which find their claim, and a run of the same event that
 * replaces a failed one), false for any other event about the same payment: a redelivery.
 */
export async function applyPaymentOnce(
  db: Db,
  p: { ledgerKey: string; eventType: string; owner: string; payment: PaymentEventInput },
): Promise<boolean> {
  return inTransaction(db, async (tx) => {
    if (!(await claimProcessedEvent(tx, p.ledgerKey, p.eventType, p.owner))) {
      const entry = await tx.selectFrom('processed_events').select('workflow_id').where('key', '=', p.ledgerKey).executeTakeFirst();
      if (!sameEvent(p.owner, entry?.workflow_id)) return false;
    }
    await recordPayment(tx, p.payment);
    return true;
  });
}

// ---------------------------------------------------------------------------------------
// Returns

export interface ReturnInput {
  returnId: string;
  orderId: string;
  customerId: string;
  status: Schema['returns']['status'];
  /** The remaining fields: omit to keep what is stored. */
  reason?: string | null;
  items?: ReadonlyArray<{ productId: string; quantity: number }>;
  labelId?: string | null;
  trackingNumber?: string | null;
  refundId?: string | null;
}

/** Creates a return or moves it on a step (label issued, refunded…), keeping omitted fields. */
export async function upsertReturn(db: Db, r: ReturnInput): Promise<void> {
  const items_json =
    r.items === undefined ? undefined : JSON.stringify(r.items.map((i) => ({ product_id: i.productId, quantity: i.quantity })));
  await db
    .insertInto('returns')
    .values({
      id: r.returnId,
      order_id: r.orderId,
      customer_id: r.customerId,
      status: r.status,
      reason: r.reason ?? null,
      items_json: items_json ?? null,
      label_id: r.labelId ?? null,
      tracking_number: r.trackingNumber ?? null,
      refund_id: r.refundId ?? null,
      updated_at: now(),
    })
    .onConflict((oc) =>
      oc.column('id').doUpdateSet((eb) => ({
        status: eb.ref('excluded.status'),
        updated_at: eb.ref('excluded.updated_at'),
        ...(r.reason !== undefined ? { reason: eb.ref('excluded.reason') } : {}),
        ...(items_json !== undefined ? { items_json: eb.ref('excluded.items_json') } : {}),
        ...(r.labelId !== undefined ? { label_id: eb.ref('excluded.label_id') } : {}),
        ...(r.trackingNumber !== undefined ? { tracking_number: eb.ref('excluded.tracking_number') } : {}),
        ...(r.refundId !== undefined ? { refund_id: eb.ref('excluded.refund_id') } : {}),
      })),
    )
    .execute();
}

export async function getReturn(db: Db, id: string): Promise<Return | undefined> {
  return db.selectFrom('returns').selectAll().where('id', '=', id).executeTakeFirst();
}

// ---------------------------------------------------------------------------------------
// Trackers

export interface TrackerInput {
  trackingNumber: string;
  carrier: string;
  status: string;
  statusDetail?: string;
  eta?: string;
  /** The carrier's time of this status: decides which of two deliveries is newer. */
  eventAt: string | Date;
  /** Omit to keep what is stored (a later event may name what an earlier one did not). */
  orderId?: string;
  returnId?: string;
  testMode?: boolean;
  /** The run applying it (`workflowId/runId`): a repeat by a run of the same event is `applied`, as for orders. */
  owner?: string;
}

/**
 * Records where a tracker stands unless a newer status was recorded already (carriers' webhooks
 * arrive out of order and are retried hours later): one upsert conditional on `status_event_at`,
 * as {@link applyOrderStatus} does for orders. The order and return it belongs to are kept once known.
 */
export async function applyTracker(db: Db, t: TrackerInput): Promise<'applied' | 'stale'> {
  const eventAt = toIsoTimestamp(t.eventAt);
  const result = await db
    .insertInto('trackers')
    .values({
      tracking_number: t.trackingNumber,
      carrier: t.carrier,
      order_id: t.orderId ?? null,
      return_id: t.returnId ?? null,
      status: t.status,
      status_detail: t.statusDetail ?? null,
      eta: t.eta ?? null,
      status_event_at: eventAt,
      status_owner: t.owner ?? null,
      test_mode: t.testMode ? 1 : 0,
      updated_at: now(),
    })
    .onConflict((oc) =>
      oc
        .column('tracking_number')
        .doUpdateSet((eb) => ({
          carrier: eb.ref('excluded.carrier'),
          status: eb.ref('excluded.status'),
          status_detail: eb.ref('excluded.status_detail'),
          status_event_at: eb.ref('excluded.status_event_at'),
          status_owner: eb.ref('excluded.status_owner'),
          updated_at: eb.ref('excluded.updated_at'),
          order_id: eb.fn.coalesce('excluded.order_id', 'trackers.order_id'),
          return_id: eb.fn.coalesce('excluded.return_id', 'trackers.return_id'),
          eta: eb.fn.coalesce('excluded.eta', 'trackers.eta'),
        }))
        .where('trackers.status_event_at', '<', (eb) => eb.ref('excluded.status_event_at')),
    )
    .executeTakeFirst();
  if (affected(result)) return 'applied';
  const row = await getTracker(db, t.trackingNumber);
  return t.owner !== undefined && sameEvent(t.owner, row?.status_owner) && row?.status === t.status && row.status_event_at === eventAt
    ? 'applied'
    : 'stale';
}

export async function getTracker(db: Db, trackingNumber: string): Promise<Tracker | undefined> {
  return db.selectFrom('trackers').selectAll().where('tracking_number', '=', trackingNumber).executeTakeFirst();
}

export interface TrackingLinks {
  orderId?: string;
  customerId?: string;
  /** The return whose label the tracking number is, with its order and customer. */
  ret?: { returnId: string; orderId: string; customerId: string };
}

/**
 * What the knowledge base knows a tracking number belongs to: the order its tracker was linked
 * to, else the order the order system or the carrier reported it for (the newest), with its
 * customer; and the return whose label it is, apart, since a return parcel's scans say nothing
 * about the order's delivery. A carrier's tracker names neither: this is how it finds them.
 */
export async function findByTrackingNumber(db: Db, trackingNumber: string): Promise<TrackingLinks> {
  const [tracker, reported, ret] = await Promise.all([
    getTracker(db, trackingNumber),
    db
      .selectFrom('orders')
      .select('id')
      .where('tracking_number', '=', trackingNumber)
      .orderBy('updated_at', 'desc')
      .orderBy('id')
      .executeTakeFirst(),
    db.selectFrom('returns').select(['id', 'order_id', 'customer_id']).where('tracking_number', '=', trackingNumber).executeTakeFirst(),
  ]);
  const orderId = tracker?.order_id ?? reported?.id;
  const order = orderId === undefined ? undefined : await getOrder(db, orderId);
  return {
    ...(orderId ? { orderId } : {}),
    ...(order?.customer_id ? { customerId: order.customer_id } : {}),
    ...(ret ? { ret: { returnId: ret.id, orderId: ret.order_id, customerId: ret.customer_id } } : {}),
  };
}

// ---------------------------------------------------------------------------------------
// Inquiries

export interface InquiryInput {
  inquiryId: string;
  customerId: string;
  summary: string;
  /** Where the customer wrote from, e.g. `email`, `chat`. */
  channel: string;
  /** When the CRM received it; defaults to now. */
  createdAt?: string | Date;
}

/** Records a new inquiry; returns false when it was recorded already (a redelivery). */
export async function createInquiry(db: Db, q: InquiryInput): Promise<boolean> {
  const at = now();
  const result = await db
    .insertInto('inquiries')
    .values({
      id: q.inquiryId,
      customer_id: q.customerId,
      summary: q.summary,
      channel: q.channel,
      created_at: q.createdAt === undefined ? at : toIsoTimestamp(q.createdAt),
      updated_at: at,
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .executeTakeFirst();
  return affected(result);
}

/** Records whether the agent answered the inquiry or handed it to a human, and why. */
export async function recordInquiryDecision(
  db: Db,
  d: {
    inquiryId: string;
    decision: InquiryDecision;
    reason: string;
    reply?: string | null;
    decidedBy?: InquiryDecidedBy;
    model?: { name: string; tokensIn: number; tokensOut: number };
    fallbackReason?: string;
  },
): Promise<void> {
  const result = await db
    .updateTable('inquiries')
    .set({
      decision: d.decision,
      decision_reason: d.reason,
      reply: d.reply ?? null,
      decided_by: d.decidedBy ?? 'rules',
      model: d.model?.name ?? null,
      tokens_in: d.model?.tokensIn ?? null,
      tokens_out: d.model?.tokensOut ?? null,
      fallback_reason: d.fallbackReason?.slice(0, 500) ?? null,
      updated_at: now(),
    })
    .where('id', '=', d.inquiryId)
    .executeTakeFirst();
  if (!affected(result)) {
    throw new Error(`Inquiry ${d.inquiryId} does not exist`);
  }
}

/** How many other inquiries the customer opened since `since` (ISO): a repeat contact's measure. */
export async function countRecentInquiries(db: Db, q: { customerId: string; excludingId: string; since: string }): Promise<number> {
  const row = await db
    .selectFrom('inquiries')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('customer_id', '=', q.customerId)
    .where('id', '!=', q.excludingId)
    .where('created_at', '>=', q.since)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

export async function getInquiry(db: Db, id: string): Promise<Inquiry | undefined> {
  return db.selectFrom('inquiries').selectAll().where('id', '=', id).executeTakeFirst();
}

// ---- operators and their inbox sessions --------------------------------------------------------

/** Creates an operator; false when the name is taken (nothing changes). */
export async function insertOperator(db: Db, o: { name: string; role: OperatorRole; tokenHash: string; at: Date }): Promise<boolean> {
  const inserted = await db
    .insertInto('operators')
    .values({ name: o.name, role: o.role, token_hash: o.tokenHash, created_at: toIsoTimestamp(o.at) })
    .onConflict((c) => c.column('name').doNothing())
    .executeTakeFirst();
  return Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0;
}

export async function listOperators(db: Db): Promise<Operator[]> {
  return db.selectFrom('operators').selectAll().orderBy('name').execute();
}

export async function operatorByTokenHash(db: Db, tokenHash: string): Promise<Operator | undefined> {
  return db.selectFrom('operators').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
}

/** Removes an operator and every session they hold, in one transaction; false when there was none. */
export async function deleteOperator(db: Db, name: string): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    await tx.deleteFrom('operator_sessions').where('operator_name', '=', name).execute();
    const deleted = await tx.deleteFrom('operators').where('name', '=', name).executeTakeFirst();
    return Number(deleted.numDeletedRows) > 0;
  });
}

/**
 * Opens a session for the operator holding `tokenHash`, in one statement, so a removal that
 * lands between checking the token and opening the session leaves no session behind. False when
 * no operator holds that token (any more). Expired sessions are swept while at it.
 */
export async function insertOperatorSession(db: Db, s: { idHash: string; tokenHash: string; at: Date; expiresAt: Date }): Promise<boolean> {
  await db.deleteFrom('operator_sessions').where('expires_at', '<=', toIsoTimestamp(s.at)).execute();
  const inserted = await db
    .insertInto('operator_sessions')
    .columns(['id_hash', 'operator_name', 'operator_token_hash', 'created_at', 'expires_at'])
    .expression((eb) =>
      eb
        .selectFrom('operators')
        .select((o) => [
          o.val(s.idHash).as('id_hash'),
          'operators.name',
          'operators.token_hash',
          o.val(toIsoTimestamp(s.at)).as('created_at'),
          o.val(toIsoTimestamp(s.expiresAt)).as('expires_at'),
        ])
        .where('operators.token_hash', '=', s.tokenHash),
    )
    .executeTakeFirst();
  return Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** The operator a live session belongs to: unexpired, and the operator still holds the token it was opened with. */
export async function operatorBySession(db: Db, idHash: string, now: Date): Promise<Operator | undefined> {
  return db
    .selectFrom('operator_sessions')
    .innerJoin('operators', (join) =>
      join
        .onRef('operators.name', '=', 'operator_sessions.operator_name')
        .onRef('operators.token_hash', '=', 'operator_sessions.operator_token_hash'),
    )
    .select(['operators.name', 'operators.role', 'operators.token_hash', 'operators.created_at'])
    .where('operator_sessions.id_hash', '=', idHash)
    .where('operator_sessions.expires_at', '>', toIsoTimestamp(now))
    .executeTakeFirst();
}

/** Whether a session with this id hash is held, live or expired: a read, which in WAL mode waits for no writer. */
export async function operatorSessionExists(db: Db, idHash: string): Promise<boolean> {
  const row = await db.selectFrom('operator_sessions').select('id_hash').where('id_hash', '=', idHash).executeTakeFirst();
  return row !== undefined;
}

/** Ends one session (logout), and sweeps expired ones while at it. */
export async function deleteOperatorSession(db: Db, idHash: string, now: Date): Promise<void> {
  await db
    .deleteFrom('operator_sessions')
    .where((eb) => eb.or([eb('id_hash', '=', idHash), eb('expires_at', '<=', toIsoTimestamp(now))]))
    .execute();
}

// ---- Notifications (the outbox) -------------------------------------------------------------

/** Whether a notification was ever recorded under `key` (the outbox keeps its keys for good). */
export async function findNotification(db: Db, key: string): Promise<{ id: number } | undefined> {
  return db.selectFrom('notifications').select('id').where('idempotency_key', '=', key).executeTakeFirst();
}

/**
 * The outbox row for a notification: the one this call inserted (`created: true`), or the one an
 * earlier attempt with the same idempotency key left, whatever its status (`created: false`).
 */
export async function claimNotification(
  db: Db,
  n: Omit<NotificationsTable, 'id' | 'error' | 'test_mode'> & { test_mode?: TestModeFlag },
): Promise<{ row: NotificationRow; created: boolean }> {
  const inserted = await db
    .insertInto('notifications')
    .values(n)
    .onConflict((oc) => oc.column('idempotency_key').doNothing())
    .returningAll()
    .executeTakeFirst();
  if (inserted) return { row: inserted, created: true };
  const row = await db.selectFrom('notifications').selectAll().where('idempotency_key', '=', n.idempotency_key).executeTakeFirstOrThrow();
  return { row, created: false };
}

/** How a delivery attempt ended, on the notification's row. */
export async function recordNotificationDelivery(
  db: Db,
  id: number,
  outcome: Pick<NotificationsTable, 'channel' | 'recipient'> &
    ({ status: 'sent'; sentAt: IsoTimestamp } | { status: 'failed'; error: string }),
): Promise<void> {
  await db
    .updateTable('notifications')
    .set(
      outcome.status === 'sent'
        ? { status: 'sent', channel: outcome.channel, recipient: outcome.recipient, error: null, sent_at: outcome.sentAt }
        : { status: 'failed', channel: outcome.channel, recipient: outcome.recipient, error: outcome.error },
    )
    .where('id', '=', id)
    .execute();
}

// ---------------------------------------------------------------------------------------
// Event log (migration 0006)

/** One delivery as the receiver (or a reconciliation, a redrive) hands it to the log. */
export interface EventLogInput {
  receivedAt: IsoTimestamp;
  via: EventLogVia;
  source: string;
  provider: string;
  eventType?: string | null;
  identity?: string | null;
  workflowId?: string | null;
  deliveryRef?: string | null;
  outcome: EventLogOutcome;
  reason?: string | null;
  orderId?: string | null;
  customerId?: string | null;
  testMode?: boolean;
}

// 14 values a row: 60 rows stay far under every SQLite build's limit on bound parameters.
const EVENT_LOG_ROWS_PER_STATEMENT = 60;

/** Appends `rows` in one transaction (a batch from the receiver's queue: all or nothing). */
export async function appendEventLog(db: Db, rows: readonly EventLogInput[]): Promise<void> {
  if (rows.length === 0) return;
  const values = rows.map((r): Omit<EventLogTable, 'id'> => ({
    received_at: r.receivedAt,
    via: r.via,
    source: r.source,
    provider: r.provider,
    event_type: r.eventType ?? null,
    identity: r.identity ?? null,
    workflow_id: r.workflowId ?? null,
    delivery_ref: r.deliveryRef ?? null,
    outcome: r.outcome,
    reason: r.reason ?? null,
    order_id: r.orderId ?? null,
    customer_id: r.customerId ?? null,
    test_mode: r.testMode === undefined ? null : r.testMode ? 1 : 0,
    run_status: null,
    run_closed_at: null,
    checked_at: null,
  }));
  await inTransaction(db, async (tx) => {
    for (let i = 0; i < values.length; i += EVENT_LOG_ROWS_PER_STATEMENT) {
      await tx
        .insertInto('event_log')
        .values(values.slice(i, i + EVENT_LOG_ROWS_PER_STATEMENT))
        .execute();
    }
  });
}

/** What `npm run events -- find` and `GET /events` filter on; every field narrows. */
export interface EventLogFilter {
  orderId?: string;
  customerId?: string;
  eventType?: string;
  source?: string;
  provider?: string;
  outcome?: EventLogOutcome;
  runStatus?: RunStatus;
  workflowId?: string;
  /** Received at or after. */
  since?: IsoTimestamp;
  /** Rows older than this id (the previous page's `next`), newest first. */
  before?: number;
  limit: number;
}

/** Matching rows, newest first, with the cursor of the next page when there may be one. */
export async function findEvents(db: Db, f: EventLogFilter): Promise<{ events: EventLogRow[]; next?: number }> {
  let q = db.selectFrom('event_log').selectAll();
  if (f.orderId !== undefined) q = q.where('order_id', '=', f.orderId);
  if (f.customerId !== undefined) q = q.where('customer_id', '=', f.customerId);
  if (f.eventType !== undefined) q = q.where('event_type', '=', f.eventType);
  if (f.source !== undefined) q = q.where('source', '=', f.source);
  if (f.provider !== undefined) q = q.where('provider', '=', f.provider);
  if (f.outcome !== undefined) q = q.where('outcome', '=', f.outcome);
  if (f.runStatus !== undefined) q = q.where('run_status', '=', f.runStatus);
  if (f.workflowId !== undefined) q = q.where('workflow_id', '=', f.workflowId);
  if (f.since !== undefined) q = q.where('received_at', '>=', f.since);
  if (f.before !== undefined) q = q.where('id', '<', f.before);
  const rows = (
    await q
      .orderBy('id', 'desc')
      .limit(f.limit + 1)
      .execute()
  ).map((r) => ({ ...r, id: Number(r.id) }));
  const events = rows.slice(0, f.limit);
  return rows.length > f.limit ? { events, next: events[events.length - 1]!.id } : { events };
}

/** Workflows whose log rows do not know yet how their run ended, least recently checked first. */
export async function workflowsAwaitingStatus(db: Db, o: { checkedBefore: IsoTimestamp; limit: number }): Promise<string[]> {
  const rows = await db
    .selectFrom('event_log')
    .select('workflow_id')
    .where('workflow_id', 'is not', null)
    .where('outcome', 'in', ['accepted', 'rerun', 'queued', 'duplicate', 'closed', 'quarantined'])
    .where((eb) => eb.or([eb('run_status', 'is', null), eb('run_status', '=', 'running')]))
    .where((eb) => eb.or([eb('checked_at', 'is', null), eb('checked_at', '<', o.checkedBefore)]))
    .groupBy('workflow_id')
    .orderBy((eb) => eb.fn.min('checked_at'))
    .limit(o.limit)
    .execute();
  return rows.map((r) => r.workflow_id!);
}

/** How a workflow's latest run stands; `undefined` status: Temporal knows no run of it (any more). */
export async function recordRunStatus(
  db: Db,
  workflowId: string,
  r: { status: RunStatus | undefined; closedAt?: IsoTimestamp; checkedAt: IsoTimestamp },
): Promise<void> {
  await db
    .updateTable('event_log')
    .set({
      ...(r.status === undefined ? {} : { run_status: r.status, run_closed_at: r.closedAt ?? null }),
      checked_at: r.checkedAt,
    })
    .where('workflow_id', '=', workflowId)
    // A closed run stays as recorded unless a newer run (a rerun) closes: `running` and unknown rows move.
    .where((eb) =>
      r.status === 'running' || r.status === undefined
        ? eb.or([eb('run_status', 'is', null), eb('run_status', '=', 'running')])
        : eb.lit(true),
    )
    .execute();
}

/** Deletes up to `limit` rows received before `before`; resolves to how many went. */
export async function pruneEventLog(db: Db, before: IsoTimestamp, limit: number): Promise<number> {
  // By id, in bounded batches: one huge delete would hold SQLite's write lock for the whole of it.
  const result = await db
    .deleteFrom('event_log')
    .where('id', 'in', (eb) => eb.selectFrom('event_log').select('id').where('received_at', '<', before).limit(limit))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

// ---------------------------------------------------------------------------------------
// Privacy requests (migration 0008)

/** Who a privacy request is about: a store's customer, their addresses, and the orders the store names. */
export interface PrivacySubject {
  customerIds: readonly string[];
  emails: readonly string[];
  phones: readonly string[];
  orderIds: readonly string[];
}

/** The orders a subject's data is found under: the ones named, and every order recorded for their customer ids. */
async function subjectOrders(db: Db, s: PrivacySubject): Promise<string[]> {
  const owned =
    s.customerIds.length === 0
      ? []
      : await db
          .selectFrom('orders')
          .select('id')
          .where('customer_id', 'in', [...s.customerIds])
          .execute();
  return [...new Set([...s.orderIds, ...owned.map((o) => o.id)])];
}

/** What hookline holds about a person, for a data request: their profile, orders, returns, inquiries, messages. */
export async function exportSubject(db: Db, s: PrivacySubject): Promise<Record<string, unknown[]>> {
  const orderIds = await subjectOrders(db, s);
  const ids = [...s.customerIds];
  const none = (list: readonly string[]) => list.length === 0;
  return {
    customers: none(ids) ? [] : await db.selectFrom('customers').selectAll().where('id', 'in', ids).execute(),
    orders: none(orderIds) ? [] : await db.selectFrom('orders').selectAll().where('id', 'in', orderIds).execute(),
    order_items: none(orderIds) ? [] : await db.selectFrom('order_items').selectAll().where('order_id', 'in', orderIds).execute(),
    store_returns: none(orderIds) ? [] : await db.selectFrom('store_returns').selectAll().where('order_id', 'in', orderIds).execute(),
    trackers: none(orderIds) ? [] : await db.selectFrom('trackers').selectAll().where('order_id', 'in', orderIds).execute(),
    payments: none(orderIds) ? [] : await db.selectFrom('payments').selectAll().where('order_id', 'in', orderIds).execute(),
    returns: none(ids) ? [] : await db.selectFrom('returns').selectAll().where('customer_id', 'in', ids).execute(),
    inquiries: none(ids) ? [] : await db.selectFrom('inquiries').selectAll().where('customer_id', 'in', ids).execute(),
    notifications: await subjectNotifications(db, s).selectAll().execute(),
  };
}

function subjectNotifications(db: Db, s: PrivacySubject) {
  return db.selectFrom('notifications').where((eb) =>
    eb.or([
      // Matches nothing: SQLite binds no booleans, and an empty `or` would be no condition at all.
      eb('id', '=', -1),
      ...(s.customerIds.length > 0 ? [eb('customer_id', 'in', [...s.customerIds])] : []),
      ...(s.emails.length > 0 ? [eb('recipient', 'in', [...s.emails])] : []),
    ]),
  );
}

/**
 * Erases a person's data from the knowledge base and the outbox, in one transaction: their profile,
 * orders and order lines, returns, the trackers of their orders' parcels and inquiries are deleted; the outbox rows of messages to them
 * keep only their idempotency key and status (so a message is still never sent twice) with no
 * recipient, subject or body; the event log forgets which customer and order its rows were about.
 * Payments and disputes carry no personal data and stay, no longer linked to the order.
 */
export async function eraseSubject(db: Db, s: PrivacySubject): Promise<Record<string, number>> {
  return db.transaction().execute(async (tx) => {
    const orderIds = await subjectOrders(tx, s);
    const ids = [...s.customerIds];
    const count = (r: { numDeletedRows?: bigint; numUpdatedRows?: bigint }[] | { numDeletedRows?: bigint; numUpdatedRows?: bigint }) =>
      (Array.isArray(r) ? r : [r]).reduce((n, x) => n + Number(x.numDeletedRows ?? x.numUpdatedRows ?? 0n), 0);
    const summary: Record<string, number> = {};
    const exec = async (name: string, run: () => Promise<{ numDeletedRows?: bigint; numUpdatedRows?: bigint }[]>) => {
      summary[name] = count(await run());
    };
    await exec('customers', () => (ids.length === 0 ? Promise.resolve([]) : tx.deleteFrom('customers').where('id', 'in', ids).execute()));
    await exec('orders', () =>
      orderIds.length === 0 ? Promise.resolve([]) : tx.deleteFrom('orders').where('id', 'in', orderIds).execute(),
    );
    await exec('order_items', () =>
      orderIds.length === 0 ? Promise.resolve([]) : tx.deleteFrom('order_items').where('order_id', 'in', orderIds).execute(),
    );
    // A parcel's tracking (where it went, when) is about the person whose order it carried.
    await exec('trackers', () =>
      orderIds.length === 0 ? Promise.resolve([]) : tx.deleteFrom('trackers').where('order_id', 'in', orderIds).execute(),
    );
    await exec('store_returns', () =>
      orderIds.length === 0 ? Promise.resolve([]) : tx.deleteFrom('store_returns').where('order_id', 'in', orderIds).execute(),
    );
    await exec('payments', () =>
      orderIds.length === 0
        ? Promise.resolve([])
        : tx.updateTable('payments').set({ order_id: null }).where('order_id', 'in', orderIds).execute(),
    );
    await exec('disputes', () =>
      orderIds.length === 0
        ? Promise.resolve([])
        : tx.updateTable('disputes').set({ order_id: null }).where('order_id', 'in', orderIds).execute(),
    );
    await exec('returns', () =>
      ids.length === 0 && orderIds.length === 0
        ? Promise.resolve([])
        : tx
            .deleteFrom('returns')
            .where((eb) =>
              eb.or([
                ...(ids.length > 0 ? [eb('customer_id', 'in', ids)] : []),
                ...(orderIds.length > 0 ? [eb('order_id', 'in', orderIds)] : []),
              ]),
            )
            .execute(),
    );
    await exec('inquiries', () =>
      ids.length === 0 ? Promise.resolve([]) : tx.deleteFrom('inquiries').where('customer_id', 'in', ids).execute(),
    );
    await exec('notifications', () =>
      tx
        .updateTable('notifications')
        .set({ recipient: null, customer_id: null, subject: '[erased]', body: '[erased]', error: null })
        .where((eb) =>
          eb.or([
            eb('id', '=', -1),
            ...(ids.length > 0 ? [eb('customer_id', 'in', ids)] : []),
            ...(s.emails.length > 0 ? [eb('recipient', 'in', [...s.emails])] : []),
          ]),
        )
        .execute(),
    );
    await exec('event_log', () =>
      ids.length === 0 && orderIds.length === 0
        ? Promise.resolve([])
        : tx
            .updateTable('event_log')
            .set({ customer_id: null, order_id: null })
            .where((eb) =>
              eb.or([
                ...(ids.length > 0 ? [eb('customer_id', 'in', ids)] : []),
                ...(orderIds.length > 0 ? [eb('order_id', 'in', orderIds)] : []),
              ]),
            )
            .execute(),
    );
    await exec('privacy_exports', () =>
      ids.length === 0
        ? Promise.resolve([])
        : tx.updateTable('privacy_requests').set({ export_json: null }).where('customer_id', 'in', ids).execute(),
    );
    return summary;
  });
}

/** Everyone a source's deliveries were about, as the event log recorded them: a shop's data, for its erasure. */
export async function sourceSubjects(db: Db, source: string): Promise<{ customerIds: string[]; orderIds: string[] }> {
  const rows = await db.selectFrom('event_log').select(['customer_id', 'order_id']).where('source', '=', source).distinct().execute();
  const customerIds = [...new Set(rows.flatMap((r) => (r.customer_id ? [r.customer_id] : [])))];
  const orderIds = [...new Set(rows.flatMap((r) => (r.order_id ? [r.order_id] : [])))];
  return { customerIds, orderIds };
}

/** Logs a privacy request as done; the first record of a request stays (a repeat of the run changes nothing). */
export async function recordPrivacyRequest(
  db: Db,
  r: Omit<PrivacyRequestsTable, 'completed_at'> & { completedAt?: string },
): Promise<void> {
  const { completedAt, ...row } = r;
  await db
    .insertInto('privacy_requests')
    .values({ ...row, completed_at: completedAt ? toIsoTimestamp(completedAt) : now() })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}

/**
 * Adds to a data request's logged export, and to its summary's counts, what another store held
 * (the receiver's spool and quarantined bodies): key by key, so a repeat writes the same.
 */
export async function addToPrivacyExport(db: Db, id: string, added: Record<string, unknown[]>): Promise<void> {
  await db.transaction().execute(async (tx) => {
    const row = await tx.selectFrom('privacy_requests').select(['summary_json', 'export_json']).where('id', '=', id).executeTakeFirst();
    if (row?.export_json == null) return;
    const held = { ...(JSON.parse(row.export_json) as Record<string, unknown>), ...added };
    const summary = {
      ...(JSON.parse(row.summary_json) as Record<string, number>),
      ...Object.fromEntries(Object.entries(added).map(([key, list]) => [key, list.length])),
    };
    await tx
      .updateTable('privacy_requests')
      .set({ export_json: JSON.stringify(held), summary_json: JSON.stringify(summary) })
      .where('id', '=', id)
      .execute();
  });
}

export async function getPrivacyRequest(db: Db, id: string): Promise<PrivacyRequestRow | undefined> {
  return db.selectFrom('privacy_requests').selectAll().where('id', '=', id).executeTakeFirst();
}

// ---------------------------------------------------------------------------------------
// Returns a store runs itself (migration 0008)

/**
 * Applies a store-run return's status unless one as far along or further was applied already
 * (a stale delivery: `stale`). One conditional upsert, like the orders' status; with the run as
 * owner, a repeat by the same event's run finds its own write and is `applied`.
 */
export async function applyStoreReturnStatus(
  db: Db,
  r: { returnId: string; orderId: string; status: string; rank: number; owner?: string },
): Promise<'applied' | 'stale'> {
  const result = await db
    .insertInto('store_returns')
    .values({
      id: r.returnId,
      order_id: r.orderId,
      status: r.status,
      status_rank: r.rank,
      status_owner: r.owner ?? null,
      updated_at: now(),
    })
    .onConflict((oc) =>
      oc
        .column('id')
        .doUpdateSet((eb) => ({
          status: eb.ref('excluded.status'),
          status_rank: eb.ref('excluded.status_rank'),
          status_owner: eb.ref('excluded.status_owner'),
          updated_at: eb.ref('excluded.updated_at'),
        }))
        .where((eb) => eb('store_returns.status_rank', '<', eb.ref('excluded.status_rank'))),
    )
    .executeTakeFirst();
  if (affected(result)) return 'applied';
  if (r.owner === undefined) return 'stale';
  const row = await db.selectFrom('store_returns').select(['status', 'status_owner']).where('id', '=', r.returnId).executeTakeFirst();
  return sameEvent(r.owner, row?.status_owner) && row?.status === r.status ? 'applied' : 'stale';
}

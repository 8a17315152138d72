import { z } from 'zod';
import { msToNumber } from '@temporalio/common/lib/time';
import { EVENT_LOG_OUTCOMES, RUN_STATUSES, type EventLogRow } from '../db/schema';
import type { EventLogFilter } from '../db/repo';

/** The most rows one page returns (`limit`); 50 when unset. */
export const MAX_PAGE = 500;

const text = z.string().trim().min(1).max(300);

/**
 * The event log's filters, as `GET /events?…` and `npm run events -- find` both take them: the
 * same names, the same checks, so a query pasted from one works in the other.
 */
export const EventQuery = z.object({
  order: text.optional(),
  customer: text.optional(),
  type: text.optional(),
  source: text.optional(),
  provider: text.optional(),
  outcome: z.enum(EVENT_LOG_OUTCOMES, { message: `expected one of ${EVENT_LOG_OUTCOMES.join(', ')}` }).optional(),
  status: z.enum(RUN_STATUSES, { message: `expected one of ${RUN_STATUSES.join(', ')}` }).optional(),
  workflow: z.string().min(1).max(1000).optional(),
  /** A duration back from now (`2h`, `30m`, `7d`) or an ISO-8601 time. */
  since: text.optional(),
  /** The `next` cursor of the previous page. */
  before: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50),
});
export type EventQuery = z.input<typeof EventQuery>;

/** A query that does not parse: `issues` names each field and what it expected. */
export class EventQueryError extends Error {
  override readonly name = 'EventQueryError';
  constructor(readonly issues: string[]) {
    super(issues.join('; '));
  }
}

/** The repository's filter for a query (throws {@link EventQueryError}). */
export function eventFilter(input: unknown, now: Date = new Date()): EventLogFilter {
  const parsed = EventQuery.safeParse(input);
  if (!parsed.success) throw new EventQueryError(parsed.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`));
  const q = parsed.data;
  return {
    ...(q.order === undefined ? {} : { orderId: q.order }),
    ...(q.customer === undefined ? {} : { customerId: q.customer }),
    ...(q.type === undefined ? {} : { eventType: q.type }),
    ...(q.source === undefined ? {} : { source: q.source }),
    ...(q.provider === undefined ? {} : { provider: q.provider }),
    ...(q.outcome === undefined ? {} : { outcome: q.outcome }),
    ...(q.status === undefined ? {} : { runStatus: q.status }),
    ...(q.workflow === undefined ? {} : { workflowId: q.workflow }),
    ...(q.since === undefined ? {} : { since: sinceOf(q.since, now) }),
    ...(q.before === undefined ? {} : { before: q.before }),
    limit: q.limit,
  };
}

/** `2h` → two hours before `now`; an ISO time as given (normalised), anything else refused. */
export function sinceOf(value: string, now: Date): string {
  let ms: number | undefined;
  try {
    ms = msToNumber(value as Parameters<typeof msToNumber>[0]);
  } catch {
    ms = undefined;
  }
  if (ms !== undefined && Number.isFinite(ms) && ms > 0 && !/^\d+$/.test(value)) return new Date(now.getTime() - ms).toISOString();
  const at = /^\d{4}-\d{2}-\d{2}/.test(value) ? new Date(value) : undefined;
  if (at && !Number.isNaN(at.getTime())) return at.toISOString();
  throw new EventQueryError([`since: expected a duration such as 2h, 30m or 7d, or an ISO-8601 time (got ${JSON.stringify(value)})`]);
}

/** A row as the API and the CLI's `--json` show it: camelCase, with where to see its run. */
export interface EventView {
  id: number;
  receivedAt: string;
  via: string;
  source: string;
  provider: string;
  eventType: string | null;
  identity: string | null;
  workflowId: string | null;
  deliveryRef: string | null;
  outcome: string;
  reason: string | null;
  orderId: string | null;
  customerId: string | null;
  testMode: boolean | null;
  runStatus: string | null;
  runClosedAt: string | null;
  /** The run in the Temporal UI, when there is one. */
  temporalUrl?: string;
}

/** The Temporal UI's page of a workflow: `<base>/namespaces/<ns>/workflows/<id>` (its latest run). */
export function temporalUiLink(base: string, namespace: string, workflowId: string): string {
  return `${base.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

export function eventView(row: EventLogRow, ui?: { base: string; namespace: string }): EventView {
  return {
    id: Number(row.id),
    receivedAt: row.received_at,
    via: row.via,
    source: row.source,
    provider: row.provider,
    eventType: row.event_type,
    identity: row.identity,
    workflowId: row.workflow_id,
    deliveryRef: row.delivery_ref,
    outcome: row.outcome,
    reason: row.reason,
    orderId: row.order_id,
    customerId: row.customer_id,
    testMode: row.test_mode === null ? null : Boolean(row.test_mode),
    runStatus: row.run_status,
    runClosedAt: row.run_closed_at,
    ...(ui && row.workflow_id ? { temporalUrl: temporalUiLink(ui.base, ui.namespace, row.workflow_id) } : {}),
  };
}

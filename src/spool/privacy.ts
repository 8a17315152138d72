import { existsSync } from 'node:fs';
import { sql } from 'kysely';
import { openReceiverDatabase, type ReceiverDatabase } from './store';

/**
 * A privacy erasure's reach into the receiver's own database: the spool's rows and the quarantined
 * bodies (src/spool/store.ts, src/spool/quarantine.ts), which hold senders' bodies as they came.
 *
 * The worker opens this database itself, through the same module and the same URL rule as the
 * receiver (SPOOL_URL, else DATABASE_URL when it is PostgreSQL, else the data directory's
 * spool.db), rather than asking a receiver over HTTP: the spool is durable storage, not a
 * receiver's state (several receivers share it, and `npm run spool` reads it the same way), and an
 * internal HTTP operation would need a new secret and the receivers' addresses in the worker while
 * reaching no more rows.
 */

/** Whom an erasure is about: their ids and addresses, or everything one source (a shop) sent. */
export interface ErasureSubject {
  customerIds: readonly string[];
  emails: readonly string[];
  phones: readonly string[];
  orderIds: readonly string[];
  /** A shop's erasure: every row and body of this source, whoever it names. */
  source?: string;
}

export interface ReceiverErasure {
  /** Parked spool rows about the subject, deleted (an operator held them; they never drain by themselves). */
  spoolRows: number;
  /** Spool rows about the subject still waiting to be started: while there are any, nothing is erased (they drain first). */
  pending: number;
  /** The quarantine workflows whose kept bodies were about the subject, deleted. */
  quarantined: string[];
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Whether a body (as received: JSON, or whatever failed to parse) names the subject: one of their
 * ids as a whole token (a Shopify id is a 64-bit number that JSON.parse would round, so the text is
 * searched, not a parsed value), or one of their addresses, anywhere and in any case. A body that
 * merely might be theirs errs on the side of erasing.
 */
export function mentionsSubject(body: string, subject: ErasureSubject): boolean {
  const ids = [...subject.customerIds, ...subject.orderIds].filter((id) => id !== '');
  if (ids.length > 0 && new RegExp(`(?<![0-9A-Za-z_-])(?:${ids.map(escape).join('|')})(?![0-9A-Za-z_-])`).test(body)) return true;
  const lower = body.toLowerCase();
  return [...subject.emails, ...subject.phones].some((a) => a.trim() !== '' && lower.includes(a.trim().toLowerCase()));
}

/** Missing tables: this receiver database never held a spool row or a quarantined body. */
function isMissingTable(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  return e.code === '42P01' || /no such table/i.test(e.message ?? '');
}

/** What the receiver's database holds about a person, for a data request: bodies as they came. */
export interface ReceiverHoldings {
  /** Spooled events (waiting or parked), as hookline's event. */
  spoolRows: { workflowId: string; spooledAt: number; event: unknown }[];
  /** Quarantined bodies, as the sender sent them. */
  quarantinedBodies: { workflowId: string; body: string }[];
}

export interface ReceiverEraser {
  /** What the receiver's database holds about `subject` (a data request), but the request's own row (`except`); erases nothing. */
  gather(subject: ErasureSubject, except: string): Promise<ReceiverHoldings>;
  /**
   * Erases what the receiver's database holds about `subject`, except the row of the request's own
   * event (`except`, its workflow ID: the drain deletes it once its start is acknowledged).
   */
  erase(subject: ErasureSubject, except: string): Promise<ReceiverErasure>;
  close(): Promise<void>;
}

interface Tables {
  hookline_spool: {
    seq: number;
    scope: string;
    workflow_id: string;
    source: string;
    payload: string;
    bytes: number;
    spooled_at: number;
    parked_at: number | null;
  };
  hookline_spool_totals: { id: number; events: number; bytes: number };
  hookline_quarantine: { scope: string; workflow_id: string; source: string; body: Buffer };
}

/** The receiver's database at `url`, for erasures; `scope` is `<namespace>/<task queue>`, as the receiver's. */
export async function openReceiverEraser(url: string, scope: string): Promise<ReceiverEraser> {
  const database: ReceiverDatabase<Tables> = await openReceiverDatabase<Tables>(url);
  const { db } = database;
  const about = (source: string, text: string, subject: ErasureSubject) =>
    (subject.source !== undefined && source === subject.source) || mentionsSubject(text, subject);

  // Every row of the scope is read and matched here, in one transaction (on SQLite, under the write
  // lock the receiver's spool writes wait for): the spool is empty but during a Temporal outage and
  // its drain, and an erasure runs in Temporal, so it is small when this reads it. A body's text, not
  // an index, is what names a person (an address inside a sender's JSON), hence no narrower query.
  async function eraseSpool(subject: ErasureSubject, except: string): Promise<{ spoolRows: number; pending: number }> {
    try {
      return await db.transaction().execute(async (tx) => {
        const rows = await tx
          .selectFrom('hookline_spool')
          .select(['seq', 'workflow_id', 'source', 'payload', 'bytes', 'parked_at'])
          .where('scope', '=', scope)
          .execute();
        const mine = rows.filter((r) => r.workflow_id !== except && about(r.source, r.payload, subject));
        const parked = mine.filter((r) => r.parked_at !== null);
        const pending = mine.length - parked.length;
        // Nothing is erased while an event of theirs is still to start: the attempt that erases is
        // then the one whose counts are reported (a retry after a partial erasure would count none).
        if (pending > 0) return { spoolRows: 0, pending };
        if (parked.length > 0) {
          const removed = await tx
            .deleteFrom('hookline_spool')
            .where(
              'seq',
              'in',
              parked.map((r) => r.seq),
            )
            .returning('bytes')
            .execute();
          const bytes = removed.reduce((sum, r) => sum + Number(r.bytes), 0);
          await tx
            .updateTable('hookline_spool_totals')
            .set({ events: sql`events - ${removed.length}`, bytes: sql`bytes - ${bytes}` })
            .where('id', '=', 1)
            .execute();
        }
        return { spoolRows: parked.length, pending: 0 };
      });
    } catch (error) {
      if (isMissingTable(error)) return { spoolRows: 0, pending: 0 };
      throw error;
    }
  }

  async function eraseQuarantined(subject: ErasureSubject): Promise<string[]> {
    try {
      const rows = await db
        .selectFrom('hookline_quarantine')
        .select(['workflow_id', 'source', 'body'])
        .where('scope', '=', scope)
        .execute();
      const ids = rows.filter((r) => about(r.source, Buffer.from(r.body).toString('utf8'), subject)).map((r) => r.workflow_id);
      if (ids.length > 0) await db.deleteFrom('hookline_quarantine').where('scope', '=', scope).where('workflow_id', 'in', ids).execute();
      return ids;
    } catch (error) {
      if (isMissingTable(error)) return [];
      throw error;
    }
  }

  async function gather(subject: ErasureSubject, except: string): Promise<ReceiverHoldings> {
    const spoolRows: ReceiverHoldings['spoolRows'] = [];
    const quarantinedBodies: ReceiverHoldings['quarantinedBodies'] = [];
    try {
      const rows = await db
        .selectFrom('hookline_spool')
        .select(['workflow_id', 'source', 'payload', 'spooled_at'])
        .where('scope', '=', scope)
        .orderBy('seq')
        .execute();
      for (const r of rows) {
        if (r.workflow_id !== except && about(r.source, r.payload, subject))
          spoolRows.push({ workflowId: r.workflow_id, spooledAt: Number(r.spooled_at), event: JSON.parse(r.payload) as unknown });
      }
    } catch (error) {
      if (!isMissingTable(error)) throw error;
    }
    try {
      const rows = await db
        .selectFrom('hookline_quarantine')
        .select(['workflow_id', 'source', 'body'])
        .where('scope', '=', scope)
        .execute();
      for (const r of rows) {
        const body = Buffer.from(r.body).toString('utf8');
        if (about(r.source, body, subject)) quarantinedBodies.push({ workflowId: r.workflow_id, body });
      }
    } catch (error) {
      if (!isMissingTable(error)) throw error;
    }
    return { spoolRows, quarantinedBodies };
  }

  return {
    gather,
    async erase(subject, except) {
      const spool = await eraseSpool(subject, except);
      if (spool.pending > 0) return { ...spool, quarantined: [] };
      return { ...spool, quarantined: await eraseQuarantined(subject) };
    },
    close: () => database.close(),
  };
}

/**
 * The eraser a worker holds: opened at the first erasure (the receiver may create its database
 * after the worker starts), kept for the next, closed with the worker. `get` answers undefined when
 * the database is an SQLite file that is not on this host: opening it would only make an empty one.
 */
export function lazyReceiverEraser(store: { url: string; scope: string }): {
  get(): Promise<ReceiverEraser | undefined>;
  close(): Promise<void>;
} {
  let opening: Promise<ReceiverEraser> | undefined;
  return {
    get() {
      if (store.url.startsWith('sqlite:') && !existsSync(store.url.slice('sqlite:'.length))) return Promise.resolve(undefined);
      opening ??= openReceiverEraser(store.url, store.scope).catch((error: unknown) => {
        opening = undefined;
        throw error;
      });
      return opening;
    },
    async close() {
      const eraser = await opening?.catch(() => undefined);
      opening = undefined;
      await eraser?.close();
    },
  };
}

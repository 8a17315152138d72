import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { Gauge, type Registry } from 'prom-client';
import type { QuarantinedEvent } from '../events/envelope';
import type { Logger } from '../log';
import { quarantineWorkflowId, type Intake } from '../intake';
import { openReceiverDatabase, type ReceiverDatabase } from './store';

/**
 * Quarantined bodies, kept in the receiver's own database (the spool's) rather than in the
 * quarantine workflow's input. A signed sender can send bad bodies as fast as its rate limit lets
 * it, each up to the body limit, and each used to become a 30-day workflow carrying the whole body
 * in its history. Now the workflow carries a reference and a hash, and the bodies are bounded per
 * source, in count and bytes, exactly: the bound is checked in the transaction that stores the
 * body, so several receivers sharing one PostgreSQL database cannot overrun it together. (A
 * visibility count of open quarantine workflows would lag behind starts and knows no bytes.)
 */

/** Per source: how many quarantined events, and how many bytes of their bodies, are held at most. */
export interface QuarantineLimits {
  maxEvents: number;
  maxBytes: number;
}

/** Why a quarantined event was not kept; the receiver then answers 503, and the sender retries. */
export const QuarantineRefusal = { full: 'quarantine-full', writeFailed: 'quarantine-write-failed' } as const;
export type QuarantineRefusal = (typeof QuarantineRefusal)[keyof typeof QuarantineRefusal];

/** The body could not be kept: nothing was started, and the event must not be acknowledged. */
export class QuarantineRefusedError extends Error {
  override readonly name = 'QuarantineRefusedError';

  constructor(
    /** The quarantine workflow the event would have started. */
    readonly workflowId: string,
    readonly source: string,
    readonly reason: QuarantineRefusal,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface QuarantineUsage {
  events: number;
  bytes: number;
}

export interface QuarantineStore {
  /**
   * Keeps `body` durably under `workflowId` until `expiresAt` (ms), within `limits` for its source.
   * `added` is false when that workflow's body is already kept (a redelivery): nothing is counted
   * twice and no bound is checked. Throws {@link QuarantineRefusedError} when full or when the
   * write fails.
   */
  keep(
    entry: { workflowId: string; source: string; body: Buffer; expiresAt: number },
    limits: QuarantineLimits,
  ): Promise<{ added: boolean; sha256: string; bytes: number }>;
  /** The body kept under `workflowId`, or undefined when there is none (resolved, expired, never kept). */
  read(workflowId: string): Promise<Buffer | undefined>;
  /** Lets a body go once its quarantine is over (replayed, discarded). */
  forget(workflowId: string): Promise<void>;
  /** What each source holds now, expired bodies not counted. */
  usage(): Promise<Map<string, QuarantineUsage>>;
  close(): Promise<void>;
}

interface QuarantineTable {
  /** `<namespace>/<task queue>`, as the spool's rows: another deployment sharing the database is apart. */
  scope: string;
  workflow_id: string;
  source: string;
  bytes: number;
  sha256: string;
  kept_at: number;
  expires_at: number;
  body: Buffer;
}

interface QuarantineSchema {
  hookline_quarantine: QuarantineTable;
}

export const QUARANTINE_TABLE = 'hookline_quarantine';

/** Thrown inside keep()'s transaction to roll the insert back when a bound is reached. */
class QuarantineFull extends Error {}

export function sha256Of(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

/** Opens (and creates if needed) the quarantined bodies' table in the receiver's database at `url`. */
export async function openQuarantineStore(url: string, options: { scope: string }): Promise<QuarantineStore> {
  const database = await openReceiverDatabase<QuarantineSchema>(url);
  try {
    await createTable(database);
  } catch (error) {
    await database.close();
    throw error;
  }
  return createStore(database, options.scope);
}

// Bytes are stored as they came (a body may hold NUL, which PostgreSQL's text refuses), last in
// the row so that counting never reads them.
async function createTable({ db, dialect }: ReceiverDatabase<QuarantineSchema>): Promise<void> {
  const ddl =
    dialect === 'sqlite'
      ? sql`create table if not exists hookline_quarantine (
          scope text not null, workflow_id text not null, source text not null, bytes integer not null,
          sha256 text not null, kept_at integer not null, expires_at integer not null, body blob not null,
          primary key (scope, workflow_id))`
      : sql`create table if not exists hookline_quarantine (
          scope text not null, workflow_id text not null, source text not null, bytes integer not null,
          sha256 text not null, kept_at bigint not null, expires_at bigint not null, body bytea not null,
          primary key (scope, workflow_id))`;
  await db.transaction().execute(async (tx) => {
    if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(hashtext('hookline_quarantine'))`.execute(tx);
    await ddl.execute(tx);
    await sql`create index if not exists hookline_quarantine_source on hookline_quarantine (scope, source, expires_at, bytes)`.execute(tx);
  });
}

function createStore(database: ReceiverDatabase<QuarantineSchema>, scope: string): QuarantineStore {
  const { db, dialect } = database;
  return {
    async keep({ workflowId, source, body, expiresAt }, limits) {
      const bytes = body.length;
      const sha256 = sha256Of(body);
      const now = Date.now();
      try {
        const added = await db.transaction().execute(async (tx) => {
          // One source's keepers take turns (SQLite's transactions already do, from `begin immediate`).
          if (dialect === 'postgres')
            await sql`select pg_advisory_xact_lock(hashtext(${`hookline_quarantine|${scope}|${source}`}))`.execute(tx);
          await tx
            .deleteFrom('hookline_quarantine')
            .where('scope', '=', scope)
            .where('source', '=', source)
            .where('expires_at', '<=', now)
            .execute();
          const inserted = await tx
            .insertInto('hookline_quarantine')
            .values({ scope, workflow_id: workflowId, source, bytes, sha256, kept_at: now, expires_at: expiresAt, body })
            .onConflict((oc) => oc.columns(['scope', 'workflow_id']).doNothing())
            .returning('workflow_id')
            .executeTakeFirst();
          if (inserted === undefined) return false;
          const held = await tx
            .selectFrom('hookline_quarantine')
            .select((eb) => [
              eb.fn.countAll<number | string>().as('events'),
              eb.fn.coalesce(eb.fn.sum<number | string>('bytes'), sql<number>`0`).as('bytes'),
            ])
            .where('scope', '=', scope)
            .where('source', '=', source)
            .executeTakeFirstOrThrow();
          if (Number(held.events) > limits.maxEvents || Number(held.bytes) > limits.maxBytes) {
            throw new QuarantineFull(
              `source ${source} has ${Number(held.events) - 1} events (${Number(held.bytes) - bytes} bytes) in quarantine; ` +
                `its limits are ${limits.maxEvents} events and ${limits.maxBytes} bytes`,
            );
          }
          return true;
        });
        return { added, sha256, bytes };
      } catch (error) {
        if (error instanceof QuarantineFull)
          throw new QuarantineRefusedError(workflowId, source, QuarantineRefusal.full, `${error.message}: ${workflowId} was not kept`);
        throw new QuarantineRefusedError(
          workflowId,
          source,
          QuarantineRefusal.writeFailed,
          `the quarantined body of ${workflowId} could not be stored: ${(error as Error).message}`,
          { cause: error },
        );
      }
    },

    async read(workflowId) {
      const row = await db
        .selectFrom('hookline_quarantine')
        .select('body')
        .where('scope', '=', scope)
        .where('workflow_id', '=', workflowId)
        .executeTakeFirst();
      return row === undefined ? undefined : Buffer.from(row.body);
    },

    async forget(workflowId) {
      await db.deleteFrom('hookline_quarantine').where('scope', '=', scope).where('workflow_id', '=', workflowId).execute();
    },

    async usage() {
      const rows = await db
        .selectFrom('hookline_quarantine')
        .select((eb) => [
          'source',
          eb.fn.countAll<number | string>().as('events'),
          eb.fn.coalesce(eb.fn.sum<number | string>('bytes'), sql<number>`0`).as('bytes'),
        ])
        .where('scope', '=', scope)
        .where('expires_at', '>', Date.now())
        .groupBy('source')
        .execute();
      return new Map(rows.map((r) => [r.source, { events: Number(r.events), bytes: Number(r.bytes) }]));
    },

    close: () => database.close(),
  };
}

/**
 * The intake in front of another: an event to quarantine has its body kept in the store first
 * (bounded per source, durable before anything is answered), then goes on with a reference and
 * the body's hash instead of the body. Events to process pass straight through.
 */
export function createQuarantineKeeper(options: {
  intake: Intake;
  store: QuarantineStore;
  /** The bounds of each configured source. */
  limits: (source: string) => QuarantineLimits;
  /** How long a quarantined event is kept (QUARANTINE_KEEP_FOR): its body goes when its workflow expires. */
  keepForMs: number;
  logger: Logger;
}): Intake {
  const { intake, store, logger } = options;
  return {
    accept: (envelope) => intake.accept(envelope),
    async quarantine(event: QuarantinedEvent) {
      const { rawBody, ...rest } = event;
      if (rawBody === undefined) return intake.quarantine(event);
      const workflowId = quarantineWorkflowId(event.source, event.identity);
      const kept = await store.keep(
        { workflowId, source: event.source, body: Buffer.from(rawBody, 'utf8'), expiresAt: Date.now() + options.keepForMs },
        options.limits(event.source),
      );
      const result = await intake.quarantine({ ...rest, body: { ref: workflowId, sha256: kept.sha256, bytes: kept.bytes } });
      if (result.duplicate && kept.added) {
        // No body was kept before, so the workflow that already exists is over (its body went with
        // it) or kept its body inline: this one is not needed, and must not count against the source.
        await store.forget(workflowId).catch((error: unknown) => {
          logger.warn('a quarantined body was kept for a duplicate and is left until it expires', {
            workflowId,
            error: (error as Error).message,
          });
        });
      }
      return result;
    },
  };
}

/**
 * What each configured source holds in quarantine, read from the store at scrape time (on
 * PostgreSQL, the figures every receiver of the deployment shares), beside its bounds, so an
 * alert can fire before a sender is refused.
 */
export function registerQuarantineGauges(
  registry: Registry,
  store: Pick<QuarantineStore, 'usage'>,
  limits: ReadonlyMap<string, QuarantineLimits>,
): void {
  let reading: Promise<Map<string, QuarantineUsage> | undefined> | undefined;
  const read = () => {
    reading ??= store
      .usage()
      .catch(() => undefined)
      .finally(() => setTimeout(() => (reading = undefined), 0));
    return reading;
  };
  const gauge = (name: string, help: string, figure: (usage: QuarantineUsage) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['source'],
      registers: [registry],
      async collect() {
        const usage = await read();
        for (const source of limits.keys()) this.set({ source }, usage ? figure(usage.get(source) ?? { events: 0, bytes: 0 }) : -1);
      },
    });
  gauge('hookline_quarantine_events', 'Quarantined events held per source (-1: the store cannot be read).', (u) => u.events);
  gauge('hookline_quarantine_bytes', 'Bytes of quarantined bodies held per source (-1: the store cannot be read).', (u) => u.bytes);
  const bound = (name: string, help: string, figure: (l: QuarantineLimits) => number) => {
    const g = new Gauge({ name, help, labelNames: ['source'], registers: [registry] });
    for (const [source, l] of limits) g.set({ source }, figure(l));
  };
  bound('hookline_quarantine_max_events', 'QUARANTINE_MAX_EVENTS for each source.', (l) => l.maxEvents);
  bound('hookline_quarantine_max_bytes', 'QUARANTINE_MAX_BYTES for each source.', (l) => l.maxBytes);
}

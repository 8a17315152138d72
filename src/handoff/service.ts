import { WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import {
  claimUpdate,
  CONVERSATION_STATUSES,
  CONVERSATION_WORKFLOW_TYPE,
  conversationId,
  conversationQuery,
  HANDOFF_KINDS,
  isConversationStatus,
  parseConversationId,
  releaseUpdate,
  replySignal,
  resolveUpdate,
  type Conversation,
  type ConversationStatus,
  type HandoffKind,
  type Outcome,
} from '../../workflows/contracts/conversation';
import { CustomerId, HandoffPriority, HandoffQueue, HandoffStatus } from '../../workflows/contracts/search-attributes';
import { refusal, type Actor } from './permissions';

/** `open` is waiting or claimed: everything a person still has to act on. */
export const LIST_STATUSES = ['waiting', 'claimed', 'resolved', 'open'] as const;
export type ListStatus = (typeof LIST_STATUSES)[number];

export interface ListFilter {
  /** Omitted: escalations in any status. */
  status?: ListStatus;
  queue?: string;
  customerId?: string;
  /** Rows returned after sorting; default 100, at most {@link MAX_SCAN}. */
  limit?: number;
}

export interface HandoffRow {
  /** The conversation's own workflow ID (`<raisedBy>:handoff:<kind>`, then `…:<round>` from round 2): what every action addresses. */
  id: string;
  kind: HandoffKind;
  /** The workflow ID of the workflow that raised the escalation and awaits its outcome. */
  raisedBy: string;
  status: ConversationStatus;
  queue: string;
  priority: number;
  customerId: string;
  /** When the conversation opened, ISO-8601. */
  startTime: string;
}

export interface ResolveArgs {
  outcome: Outcome;
  note?: string;
}

/** The workflow refused the request (already claimed by someone else, wrong outcome, …). */
export class HandoffConflictError extends Error {
  override readonly name = 'HandoffConflictError';
}

/** This person may not do that (their role, or a conversation someone else holds). */
export class HandoffForbiddenError extends Error {
  override readonly name = 'HandoffForbiddenError';
}

/** No open escalation by that ID: unknown workflow, a closed one, or one that is not a conversation. */
export class HandoffNotFoundError extends Error {
  override readonly name = 'HandoffNotFoundError';
}

/** The escalation queue as one person works it: every action is theirs. */
export interface HandoffDesk {
  list(filter?: ListFilter): Promise<HandoffRow[]>;
  show(id: string): Promise<Conversation>;
  claim(id: string): Promise<Conversation>;
  release(id: string): Promise<Conversation>;
  reply(id: string, text: string): Promise<Conversation>;
  resolve(id: string, args: ResolveArgs): Promise<Conversation>;
}

/** The queue for anyone: reads, and actions on behalf of the actor the caller authenticated. */
export interface HandoffService {
  list(filter?: ListFilter): Promise<HandoffRow[]>;
  show(id: string): Promise<Conversation>;
  claim(id: string, actor: Actor): Promise<Conversation>;
  release(id: string, actor: Actor): Promise<Conversation>;
  reply(id: string, actor: Actor, text: string): Promise<Conversation>;
  resolve(id: string, actor: Actor, args: ResolveArgs): Promise<Conversation>;
}

/** One person's desk over the service. */
export function deskFor(service: HandoffService, actor: Actor): HandoffDesk {
  return {
    list: (filter) => service.list(filter),
    show: (id) => service.show(id),
    claim: (id) => service.claim(id, actor),
    release: (id) => service.release(id, actor),
    reply: (id, text) => service.reply(id, actor, text),
    resolve: (id, args) => service.resolve(id, actor, args),
  };
}

/** Visibility is scanned up to this many matches before sorting, so the top rows are the real top. */
export const MAX_SCAN = 1000;
const DEFAULT_LIMIT = 100;

const STATUS_SETS: Record<ListStatus, readonly ConversationStatus[]> = {
  waiting: ['waiting'],
  claimed: ['claimed'],
  resolved: ['resolved'],
  open: ['waiting', 'claimed'],
};

const RUNNING = 'ExecutionStatus = "Running"';

/** Refused in filter values: quotes, backslashes and control characters. */
const UNSAFE_VALUE = /["'\\\u0000-\u001f\u007f]/;

/**
 * A visibility-query string literal. Temporal's visibility stores translate backslash escapes
 * differently (the dev server's SQLite cannot match an escaped quote at all), so instead of
 * escaping and hoping, values that would need escaping are refused: nothing a caller passes can
 * end the literal early. Queue names and customer IDs never need those characters.
 */
export function quoteVisibilityValue(value: string): string {
  if (value.length === 0 || value.length > 200) throw new InvalidFilterError('filter values must be 1 to 200 characters');
  if (UNSAFE_VALUE.test(value)) throw new InvalidFilterError('filter values may not contain quotes, backslashes or control characters');
  return `"${value}"`;
}

/** A list filter that cannot be expressed safely as a visibility query. */
export class InvalidFilterError extends Error {
  override readonly name = 'InvalidFilterError';
}

/** The visibility query for a filter; exported for tests and for people pasting it into the UI. */
export function visibilityQuery(filter: Omit<ListFilter, 'limit'> = {}): string {
  const statuses =
    filter.status === undefined
      ? CONVERSATION_STATUSES
      : Object.hasOwn(STATUS_SETS, filter.status)
        ? STATUS_SETS[filter.status]
        : undefined;
  if (!statuses) throw new InvalidFilterError(`unknown status ${JSON.stringify(filter.status)}`);
  const inStatus = (set: readonly ConversationStatus[]) =>
    set.length === 1
      ? `${HandoffStatus.name} = ${quoteVisibilityValue(set[0]!)}`
      : `${HandoffStatus.name} IN (${set.map(quoteVisibilityValue).join(', ')})`;
  // A waiting or claimed conversation is in the queue only while it runs: one that failed or was
  // terminated keeps the status it last published, and nobody can claim it any more.
  const open = statuses.filter((status) => status !== 'resolved');
  const openClause = open.length > 0 ? `${inStatus(open)} AND ${RUNNING}` : undefined;
  const statusClause =
    open.length === statuses.length ? openClause : openClause ? `(${inStatus(['resolved'])} OR (${openClause}))` : inStatus(statuses);
  // Conversations only: their status attribute is what the queue is made of.
  const clauses = [`WorkflowType = ${quoteVisibilityValue(CONVERSATION_WORKFLOW_TYPE)}`, statusClause];
  if (filter.queue !== undefined) clauses.push(`${HandoffQueue.name} = ${quoteVisibilityValue(filter.queue)}`);
  if (filter.customerId !== undefined) clauses.push(`${CustomerId.name} = ${quoteVisibilityValue(filter.customerId)}`);
  return clauses.join(' AND ');
}

/**
 * The one way the CLI, the HTTP API and the inbox act on escalations: visibility over the
 * conversation workflows for the queue, each conversation's own query and updates for everything
 * else, so its validators decide every race (two people claiming at once: one wins, the other gets
 * a conflict). An ID is checked to be a conversation (its workflow type) before anything is sent;
 * the ID of the workflow that raised one is accepted too, when it names one conversation.
 */
export function createHandoffService(client: Client): HandoffService {
  const handle = (id: string): WorkflowHandle => client.workflow.getHandle(id);

  /** The workflow's type and whether it runs, or undefined when there is no such workflow. */
  async function describe(id: string): Promise<{ type: string; running: boolean } | undefined> {
    try {
      const d = await handle(id).describe();
      return { type: d.type, running: d.status.name === 'RUNNING' };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  /**
   * The first round of a raiser's conversations of one kind that Temporal still holds. Round 1,
   * unless the namespace's retention deleted it (and maybe later ones) while a rerun's round still
   * runs: then the rounds left, from visibility (which may lag a just-started one by a moment).
   */
  async function firstHeldRound(raisedBy: string, kind: HandoffKind): Promise<number | undefined> {
    if ((await describe(conversationId(raisedBy, kind)))?.type === CONVERSATION_WORKFLOW_TYPE) return 1;
    const query = [
      `WorkflowType = ${quoteVisibilityValue(CONVERSATION_WORKFLOW_TYPE)}`,
      `WorkflowId STARTS_WITH ${quoteVisibilityValue(conversationId(raisedBy, kind))}`,
    ].join(' AND ');
    let first: number | undefined;
    for await (const info of client.workflow.list({ query })) {
      const named = parseConversationId(info.workflowId);
      if (named?.raisedBy === raisedBy && named.kind === kind && (first === undefined || named.round < first)) first = named.round;
    }
    return first;
  }

  /** A raiser's conversations of one kind that Temporal holds, round by round (a rerun's is the next): IDs, and whether each runs. */
  async function roundsOf(raisedBy: string, kind: HandoffKind): Promise<{ id: string; running: boolean }[]> {
    const rounds: { id: string; running: boolean }[] = [];
    const first = await firstHeldRound(raisedBy, kind);
    if (first === undefined) return rounds;
    for (let round = first; ; round++) {
      const candidate = conversationId(raisedBy, kind, round);
      const d = await describe(candidate);
      if (d?.type !== CONVERSATION_WORKFLOW_TYPE) return rounds;
      rounds.push({ id: candidate, running: d.running });
    }
  }

  /**
   * The conversation `id` names: itself, or, for the ID of a workflow that raised conversations
   * (what the Temporal UI shows for an order or a return), its open one, else its only kind's
   * latest round.
   */
  async function locate(id: string): Promise<string> {
    const own = await describe(id);
    if (own?.type === CONVERSATION_WORKFLOW_TYPE) return id;
    const kinds = parseConversationId(id) ? [] : HANDOFF_KINDS;
    const byKind = (await Promise.all(kinds.map((kind) => roundsOf(id, kind)))).filter((rounds) => rounds.length > 0);
    const open = byKind.flat().filter((c) => c.running);
    if (open.length === 1) return open[0]!.id;
    const latest = byKind.map((rounds) => rounds[rounds.length - 1]!);
    if (latest.length === 1) return latest[0]!.id;
    if (latest.length > 1)
      throw new HandoffNotFoundError(`${id} raised several escalations; name one: ${latest.map((c) => c.id).join(', ')}`);
    throw new HandoffNotFoundError(own ? `${id} is not an escalation` : `no escalation ${id} (no such workflow)`);
  }

  async function update(id: string, run: (h: WorkflowHandle) => Promise<Conversation>): Promise<Conversation> {
    const target = await locate(id);
    try {
      return await run(handle(target));
    } catch (err) {
      throw translate(target, err);
    }
  }

  async function show(id: string): Promise<Conversation> {
    const target = await locate(id);
    try {
      return await handle(target).query(conversationQuery);
    } catch (err) {
      throw translate(target, err);
    }
  }

  return {
    async list(filter = {}) {
      const query = visibilityQuery(filter);
      const limit = Math.max(1, Math.min(filter.limit ?? DEFAULT_LIMIT, MAX_SCAN));
      const rows: HandoffRow[] = [];
      for await (const info of client.workflow.list({ query })) {
        const sa = info.typedSearchAttributes;
        const status = sa.get(HandoffStatus);
        const named = parseConversationId(info.workflowId);
        // Both are what conversationWorkflow writes; anything else is not one of ours to list.
        if (!isConversationStatus(status) || !named) continue;
        rows.push({
          id: info.workflowId,
          kind: named.kind,
          raisedBy: info.parentExecution?.workflowId ?? named.raisedBy,
          status,
          queue: sa.get(HandoffQueue) ?? '',
          priority: sa.get(HandoffPriority) ?? 0,
          customerId: sa.get(CustomerId) ?? '',
          startTime: info.startTime.toISOString(),
        });
        if (rows.length >= MAX_SCAN) break;
      }
      rows.sort((a, b) => b.priority - a.priority || a.startTime.localeCompare(b.startTime) || a.id.localeCompare(b.id));
      return rows.slice(0, limit);
    },

    show,

    claim: (id, actor) => update(id, (h) => h.executeUpdate(claimUpdate, { args: [{ agent: actor.name, role: actor.role }] })),

    release: (id, actor) => update(id, (h) => h.executeUpdate(releaseUpdate, { args: [{ agent: actor.name, role: actor.role }] })),

    resolve: (id, actor, { outcome, note }) =>
      update(id, (h) =>
        h.executeUpdate(resolveUpdate, { args: [{ agent: actor.name, role: actor.role, outcome, ...(note ? { note } : {}) }] }),
      ),

    async reply(id, actor, text) {
      // A signal cannot be refused by the workflow, so the check happens here, before sending,
      // with the same decision the conversation's validators make.
      const before = await show(id);
      const refused = refusal('reply', before, actor);
      if (refused)
        throw refused.kind === 'forbidden' ? new HandoffForbiddenError(refused.message) : new HandoffConflictError(refused.message);
      try {
        await handle(before.id).signal(replySignal, { agent: actor.name, text });
      } catch (err) {
        throw translate(before.id, err);
      }
      // A lead may have taken the conversation over between the check and the signal; the
      // workflow then ignored the reply, and the person must hear that it was not sent.
      const after = await show(before.id);
      const mine = (c: Conversation) => c.messages.filter((m) => m.from === 'agent' && m.author === actor.name && m.text === text).length;
      if (mine(after) <= mine(before)) {
        throw new HandoffConflictError(
          `your reply was not sent: ${after.assignee ? `${after.assignee} holds the conversation now` : 'the conversation changed hands'}`,
        );
      }
      return after;
    },
  };
}

/**
 * Errors from a workflow already known to be a conversation. Its handlers exist from its first
 * workflow task, so an update or query never meets a missing handler; only its validators refuse.
 */
function translate(id: string, err: unknown): unknown {
  if (err instanceof WorkflowUpdateFailedError) {
    const cause = err.cause;
    if (cause instanceof ApplicationFailure && cause.type === 'HandoffRejected')
      return new HandoffConflictError(cause.message, { cause: err });
    if (cause instanceof ApplicationFailure && cause.type === 'HandoffForbidden')
      return new HandoffForbiddenError(cause.message, { cause: err });
    return err;
  }
  if (err instanceof WorkflowNotFoundError) {
    return new HandoffNotFoundError(`no open escalation ${id} (it has closed)`, { cause: err });
  }
  return err;
}

import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  log,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { CustomerContext } from '../src/agent/types';
import { refusal, type Actor, type HandoffAction, type OperatorRole } from '../src/handoff/permissions';
import { CustomerId, HandoffPriority, HandoffQueue, HandoffStatus } from './search-attributes';
import { lookups, notifications } from './activities';

/**
 * An escalation is a durable conversation inside the workflow that raised it. People act on it
 * with the messages below — from the Temporal UI, the `handoff` CLI, the HTTP API or the inbox —
 * and the raising workflow awaits `escalate()` for the outcome.
 */

export const HANDOFF_KINDS = ['inquiry', 'return-approval', 'shipment-exception', 'return-failed'] as const;
export type HandoffKind = (typeof HANDOFF_KINDS)[number];

export const OUTCOMES = {
  'return-approval': ['approve', 'deny'],
  inquiry: ['resolved'],
  'shipment-exception': ['resolved'],
  /** A return step failed for good; the person puts it right (by hand, with the customer) and resolves it. */
  'return-failed': ['resolved'],
} as const;
export type Outcome = 'approve' | 'deny' | 'resolved';

export type ConversationStatus = 'waiting' | 'claimed' | 'resolved';

export interface ConversationMessage {
  from: 'customer' | 'agent' | 'system';
  /** Who wrote the reply, or whose action a system line records (from their credential). */
  author?: string;
  text: string;
  at: string;
}

export interface Conversation {
  id: string;
  kind: HandoffKind;
  queue: string;
  reason: string;
  customerId: string;
  /** What the agent knew when it escalated: the enriched customer and the case's facts. */
  context: { customer?: CustomerContext; facts: Record<string, string> };
  status: ConversationStatus;
  priority: number;
  assignee?: string;
  messages: ConversationMessage[];
  createdAt: string;
  updatedAt: string;
  claimedAt?: string;
  resolvedAt?: string;
  /** When the SLA timer fires next: claim by (waiting) or answer by (claimed, no reply yet). */
  slaDeadline?: string;
  /** When an undecided escalation decides itself (return approvals deny on expiry). */
  decideBy?: string;
  outcome?: Outcome | 'expired';
  note?: string;
}

/**
 * Every message names the person acting and their role. hookline's API, CLI and inbox fill both
 * from the operator's credential; someone sending these from the Temporal UI or `temporal` CLI has
 * cluster access and is trusted as whoever they name. Without `role`, the person is an agent.
 */
export interface ClaimInput {
  agent: string;
  role?: OperatorRole;
}
export interface ReplyInput {
  agent: string;
  text: string;
}
export interface ResolveInput {
  agent: string;
  role?: OperatorRole;
  outcome: Outcome;
  note?: string;
}

export const claimUpdate = defineUpdate<Conversation, [ClaimInput]>('claim');
export const replySignal = defineSignal<[ReplyInput]>('reply');
export const resolveUpdate = defineUpdate<Conversation, [ResolveInput]>('resolve');
export const releaseUpdate = defineUpdate<Conversation, [ClaimInput]>('release');
export const conversationQuery = defineQuery<Conversation>('conversation');

export interface EscalationRequest {
  kind: HandoffKind;
  /**
   * Needed only when one workflow can escalate twice (a return approved by a person that later
   * fails): it keeps the second conversation's notification keys apart from the first's, which
   * the outbox would otherwise treat as already sent.
   */
  name?: string;
  queue: string;
  reason: string;
  customerId: string;
  customer?: CustomerContext;
  facts: Record<string, string>;
  /** The customer's own words, when there are some (an inquiry). */
  customerMessage?: string;
  priority?: number;
  /** Undecided after this long, the escalation ends with outcome `expired`. */
  decideWithinMs?: number;
  unclaimedSlaMs: number;
  unansweredSlaMs: number;
}

export interface EscalationResult {
  outcome: Outcome | 'expired';
  agent?: string;
  note?: string;
}

const MAX_PRIORITY = 5;

/**
 * The CRM's view of the customer for the person who picks the escalation up. Escalating must not
 * depend on the CRM answering, so a lookup that fails for good leaves the context out.
 */
export async function customerContextFor(customerId: string): Promise<CustomerContext | undefined> {
  try {
    return await lookups.enrichCustomer(customerId);
  } catch (err) {
    log.warn('escalating without CRM context', { customerId, error: (err as Error).message });
    return undefined;
  }
}

/**
 * What a person should read about a failure: for a failed activity, the activity's own error
 * (`warehouse POST /expected-returns: 400 Bad Request (…)`), not the wrapper's "Activity task failed".
 */
export function failureCause(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}

function reject(message: string): never {
  throw ApplicationFailure.create({ type: 'HandoffRejected', message, nonRetryable: true });
}

/** An update validator's check of who is acting: refuses with HandoffRejected or HandoffForbidden. */
function authorize(
  action: HandoffAction,
  conversation: Conversation,
  input: { agent: string; role?: OperatorRole },
  decision = false,
): void {
  const actor: Actor = { name: input.agent?.trim() ?? '', role: input.role === 'lead' ? 'lead' : 'agent' };
  const refused = refusal(action, conversation, actor, { decision });
  if (!refused) return;
  if (refused.kind === 'forbidden')
    throw ApplicationFailure.create({ type: 'HandoffForbidden', message: refused.message, nonRetryable: true });
  reject(refused.message);
}

/**
 * Open the conversation, announce it to the human agents' channel and wait until a person
 * resolves it (or `decideWithinMs` passes). SLA timers re-announce an unclaimed escalation with
 * a higher priority, and remind an assignee who has not replied. All timers are durable.
 */
export async function escalate(request: EscalationRequest): Promise<EscalationResult> {
  const { workflowId } = workflowInfo();
  // Unnamed escalations keep the keys they always had, so running workflows replay unchanged.
  const keyBase = request.name ? `${workflowId}:${request.name}` : workflowId;
  const now = () => new Date().toISOString();
  const createdAt = now();
  const conversation: Conversation = {
    id: workflowId,
    kind: request.kind,
    queue: request.queue,
    reason: request.reason,
    customerId: request.customerId,
    context: { customer: request.customer, facts: request.facts },
    status: 'waiting',
    priority: request.priority ?? 1,
    messages: [
      ...(request.customerMessage ? [{ from: 'customer' as const, text: request.customerMessage, at: createdAt }] : []),
      { from: 'system', text: `Escalated: ${request.reason}`, at: createdAt },
    ],
    createdAt,
    updatedAt: createdAt,
    decideBy: request.decideWithinMs ? new Date(Date.now() + request.decideWithinMs).toISOString() : undefined,
  };
  // Every change bumps the epoch so the SLA loop restarts its timer from the latest change.
  let epoch = 0;
  let repliedSinceClaim = false;
  let replies = 0;
  const touched = () => {
    epoch += 1;
    conversation.updatedAt = now();
    publish();
  };
  const publish = () =>
    upsertSearchAttributes([
      { key: HandoffStatus, value: conversation.status },
      { key: HandoffQueue, value: conversation.queue },
      { key: HandoffPriority, value: conversation.priority },
      { key: CustomerId, value: conversation.customerId },
    ]);

  setHandler(conversationQuery, () => conversation);
  setHandler(
    claimUpdate,
    ({ agent }) => {
      const previous = conversation.status === 'claimed' && conversation.assignee !== agent ? conversation.assignee : undefined;
      conversation.status = 'claimed';
      conversation.assignee = agent;
      conversation.claimedAt = now();
      repliedSinceClaim = false;
      const text = previous ? `Taken over by ${agent} from ${previous}` : `Claimed by ${agent}`;
      conversation.messages.push({ from: 'system', author: agent, text, at: conversation.claimedAt });
      touched();
      return conversation;
    },
    {
      validator: (input) => {
        if (!input.agent?.trim()) reject('claim needs the agent taking the conversation');
        authorize('claim', conversation, input);
      },
    },
  );
  setHandler(
    releaseUpdate,
    ({ agent }) => {
      const held = conversation.assignee;
      conversation.status = 'waiting';
      conversation.assignee = undefined;
      const text = held && held !== agent ? `Released by ${agent} (held by ${held})` : `Released by ${agent}`;
      conversation.messages.push({ from: 'system', author: agent, text, at: now() });
      touched();
      return conversation;
    },
    {
      validator: (input) => authorize('release', conversation, input),
    },
  );
  setHandler(replySignal, async ({ agent, text }) => {
    // A signal cannot be refused, so a reply from someone who does not hold the conversation is
    // recorded as ignored; the CLI, API and inbox check before they send.
    if (conversation.status !== 'claimed' || conversation.assignee !== agent || !text?.trim()) {
      log.warn('reply ignored', { agent, status: conversation.status, assignee: conversation.assignee });
      return;
    }
    replies += 1;
    const at = now();
    conversation.messages.push({ from: 'agent', author: agent, text, at });
    repliedSinceClaim = true;
    touched();
    await notifications.notifyCustomer({
      idempotencyKey: `${keyBase}:reply:${replies}`,
      customerId: conversation.customerId,
      message: { kind: 'agent-reply', conversationId: workflowId, agent, text },
    });
  });
  setHandler(
    resolveUpdate,
    ({ agent, outcome, note }) => {
      conversation.status = 'resolved';
      conversation.outcome = outcome;
      conversation.note = note;
      conversation.resolvedAt = now();
      conversation.slaDeadline = undefined;
      conversation.messages.push({
        from: 'system',
        author: agent,
        text: `Resolved by ${agent}: ${outcome}${note ? ` — ${note}` : ''}`,
        at: conversation.resolvedAt,
      });
      touched();
      return conversation;
    },
    {
      validator: (input) => {
        const { outcome } = input;
        if (!input.agent?.trim()) reject('resolve needs the agent resolving it');
        authorize('resolve', conversation, input, outcome === 'approve' || outcome === 'deny');
        const allowed: readonly string[] = OUTCOMES[conversation.kind];
        if (!allowed.includes(outcome)) reject(`outcome must be one of ${allowed.join(', ')} for a ${conversation.kind} escalation`);
      },
    },
  );

  publish();
  await notifications.notifyAgents({
    idempotencyKey: `${keyBase}:handoff:opened`,
    subject: `[${conversation.queue}] needs a person: ${conversation.reason}`,
    body: `Escalation ${workflowId} (customer ${conversation.customerId}, priority ${conversation.priority}). Claim it with: npm run handoff -- claim ${workflowId} (or in the inbox)`,
  });

  const decideBy = conversation.decideBy ? Date.parse(conversation.decideBy) : undefined;
  let announcements = 0;
  let reminders = 0;
  while (conversation.status !== 'resolved') {
    const seen = epoch;
    const slaMs = conversation.status === 'waiting' ? request.unclaimedSlaMs : repliedSinceClaim ? undefined : request.unansweredSlaMs;
    const untilDecision = decideBy === undefined ? undefined : Math.max(1, decideBy - Date.now());
    const waitMs = Math.min(slaMs ?? Infinity, untilDecision ?? Infinity);
    conversation.slaDeadline = slaMs === undefined ? undefined : new Date(Date.now() + slaMs).toISOString();
    const changed = Number.isFinite(waitMs) ? await condition(() => epoch !== seen, waitMs) : (await condition(() => epoch !== seen), true);
    if (changed) continue;
    if (decideBy !== undefined && Date.now() >= decideBy) {
      conversation.status = 'resolved';
      conversation.outcome = 'expired';
      conversation.resolvedAt = now();
      conversation.slaDeadline = undefined;
      conversation.messages.push({ from: 'system', text: 'No decision in time: expired', at: conversation.resolvedAt });
      touched();
      break;
    }
    if (conversation.status === 'waiting') {
      announcements += 1;
      conversation.priority = Math.min(MAX_PRIORITY, conversation.priority + 1);
      conversation.messages.push({
        from: 'system',
        text: `Unclaimed past its SLA: priority raised to ${conversation.priority}`,
        at: now(),
      });
      touched();
      await notifications.notifyAgents({
        idempotencyKey: `${keyBase}:handoff:unclaimed:${announcements}`,
        subject: `[${conversation.queue}] still unclaimed (priority ${conversation.priority}): ${conversation.reason}`,
        body: `Escalation ${workflowId} has waited past its SLA. Claim it with: npm run handoff -- claim ${workflowId} (or in the inbox)`,
      });
    } else {
      reminders += 1;
      conversation.messages.push({ from: 'system', text: `Reminder sent to ${conversation.assignee}: no reply yet`, at: now() });
      touched();
      await notifications.notifyAgents({
        idempotencyKey: `${keyBase}:handoff:reminder:${reminders}`,
        subject: `Reminder for ${conversation.assignee}: ${conversation.reason}`,
        body: `${conversation.assignee} claimed ${workflowId} and has not replied to the customer yet.`,
      });
    }
  }
  return { outcome: conversation.outcome ?? 'expired', agent: conversation.assignee, note: conversation.note };
}

import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { refusal, type Actor, type HandoffAction, type OperatorRole } from '../src/handoff/permissions';
import { notifications, partners } from './activities';
import { tellAgents, type AgentMessage, type AgentNotice } from './agents-channel';
import {
  claimUpdate,
  conversationQuery,
  customerMessageSignal,
  eraseSignal,
  OUTCOMES,
  releaseUpdate,
  replySignal,
  resolveUpdate,
  type ClosedWithoutDecision,
  type Conversation,
  type ConversationMessage,
  type EscalationRequest,
  type EscalationResult,
  type HandoffFacts,
  type HandoffKind,
  type InquiryFacts,
  type Outcome,
} from './contracts/conversation';
import type { HelpdeskTicket } from '../src/events/fields';
import { CustomerId, HandoffPriority, HandoffQueue, HandoffStatus } from './contracts/search-attributes';
import { defaultSuggestedReply, failureCause } from './handoff';

const MAX_PRIORITY = 5;
const ERASED = '[erased]';
/** The `patched()` ID of announcements that run beside the conversation instead of being awaited. */
const ANNOUNCEMENTS_BESIDE = 'agents-channel-announcements-beside';

/**
 * What the workflow keeps, kind-independent so its handlers can write to it; the validators keep
 * facts and outcome true to the kind, which is what lets the query answer it as a {@link Conversation}.
 */
type Stored = Omit<Conversation, 'kind' | 'context' | 'outcome'> & {
  kind: HandoffKind;
  context: { customer?: Conversation['context']['customer']; facts: HandoffFacts[HandoffKind] };
  outcome?: Outcome | ClosedWithoutDecision;
};

/** The helpdesk ticket an inquiry's conversation answers on, if it has one. */
function ticketOf(conversation: Stored): HelpdeskTicket | undefined {
  if (conversation.kind !== 'inquiry') return undefined;
  const id = (conversation.context.facts as InquiryFacts).zendeskTicketId;
  return id ? { system: 'zendesk', id } : undefined;
}

function reject(message: string): never {
  throw ApplicationFailure.create({ type: 'HandoffRejected', message, nonRetryable: true });
}

/** An update validator's check of who is acting: refuses with HandoffRejected or HandoffForbidden. */
function authorize(action: HandoffAction, conversation: Stored, input: { agent: string; role?: OperatorRole }, decision = false): void {
  const actor: Actor = { name: input.agent?.trim() ?? '', role: input.role === 'lead' ? 'lead' : 'agent' };
  const refused = refusal(action, conversation, actor, { decision });
  if (!refused) return;
  if (refused.kind === 'forbidden')
    throw ApplicationFailure.create({ type: 'HandoffForbidden', message: refused.message, nonRetryable: true });
  reject(refused.message);
}

/**
 * One escalation, as its own workflow (started by `escalate()` under `conversationId(raiser, kind)`).
 * Its handlers are registered before its first await, so a claim sent the moment it exists is
 * handled. It announces itself to the human agents' channel and waits until a person resolves it
 * (or `decideWithinMs` passes). SLA timers re-announce an unclaimed escalation with a higher
 * priority, and remind an assignee who has not replied. All timers are durable. Asked to cancel
 * (its raiser was cancelled or terminated), it records itself withdrawn and tells the agents.
 * Every message to the agents' channel is best effort: one the channel refuses is recorded on the
 * conversation (`channelNotTold` and a system line), never a reason for it to fail.
 */
export async function conversationWorkflow(request: EscalationRequest): Promise<EscalationResult> {
  const { workflowId, parent } = workflowInfo();
  const now = () => new Date().toISOString();
  const createdAt = now();
  const conversation: Stored = {
    id: workflowId,
    raisedBy: parent?.workflowId ?? '',
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
    // The unclaimed SLA runs from the moment the conversation exists, so a query before the
    // opening announcement is out already shows when it falls due.
    slaDeadline: new Date(Date.now() + request.unclaimedSlaMs).toISOString(),
    decideBy: request.decideBy ?? (request.decideWithinMs ? new Date(Date.now() + request.decideWithinMs).toISOString() : undefined),
    // Every escalation carries a reply a person can edit and send: the raiser's draft, else a holding reply.
    suggestedReply: request.suggestedReply ?? defaultSuggestedReply(request),
    ...(request.suggestedReplyWarning ? { suggestedReplyWarning: request.suggestedReplyWarning } : {}),
  };
  // Every change bumps the epoch so the SLA loop restarts its timer from the latest change.
  let epoch = 0;
  let repliedSinceClaim = false;
  let replies = 0;
  const publish = () =>
    upsertSearchAttributes([
      { key: HandoffStatus, value: conversation.status },
      { key: HandoffQueue, value: conversation.queue },
      { key: HandoffPriority, value: conversation.priority },
      { key: CustomerId, value: conversation.customerId },
    ]);
  const touched = () => {
    epoch += 1;
    conversation.updatedAt = now();
    publish();
  };
  const say = (message: Omit<ConversationMessage, 'at'>, at = now()) => conversation.messages.push({ ...message, at });
  const close = (outcome: Stored['outcome'], text: string, author?: string) => {
    conversation.status = 'resolved';
    conversation.outcome = outcome;
    conversation.resolvedAt = now();
    conversation.slaDeadline = undefined;
    say({ from: 'system', ...(author ? { author } : {}), text }, conversation.resolvedAt);
    touched();
  };

  // ---- handlers, before anything awaits ---------------------------------------------------
  setHandler(conversationQuery, () => conversation as Conversation);
  // State only, no command: erasing commands nothing and changes no timer.
  setHandler(eraseSignal, ({ customerId }) => {
    if (customerId !== conversation.customerId) return;
    const facts = Object.entries(conversation.context.facts).map(([key, value]) => [key, /Id$/.test(key) ? value : ERASED]);
    conversation.context = { facts: Object.fromEntries(facts) as Stored['context']['facts'] };
    conversation.messages = conversation.messages.map((m) => (m.from === 'customer' ? { ...m, text: ERASED } : m));
    conversation.suggestedReply = undefined;
  });
  // State only, like erase: a follow-up joins the thread and restarts the SLA wait from now.
  const customerMessages = new Set<string>();
  setHandler(customerMessageSignal, ({ messageId, text, at }) => {
    if (conversation.status === 'resolved' || !text?.trim() || customerMessages.has(messageId)) return;
    customerMessages.add(messageId);
    say({ from: 'customer', text }, at ?? now());
    // The person's last reply does not answer this one: remind them if it goes unanswered.
    repliedSinceClaim = false;
    touched();
  });
  setHandler(
    claimUpdate,
    ({ agent }) => {
      const previous = conversation.status === 'claimed' && conversation.assignee !== agent ? conversation.assignee : undefined;
      conversation.status = 'claimed';
      conversation.assignee = agent;
      conversation.claimedAt = now();
      repliedSinceClaim = false;
      const text = previous ? `Taken over by ${agent} from ${previous}` : `Claimed by ${agent}`;
      say({ from: 'system', author: agent, text }, conversation.claimedAt);
      touched();
      return conversation as Conversation;
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
      say({
        from: 'system',
        author: agent,
        text: held && held !== agent ? `Released by ${agent} (held by ${held})` : `Released by ${agent}`,
      });
      touched();
      return conversation as Conversation;
    },
    { validator: (input) => authorize('release', conversation, input) },
  );
  setHandler(replySignal, async ({ agent, text }) => {
    // A signal cannot be refused, so a reply from someone who does not hold the conversation is
    // recorded as ignored; the CLI, API and inbox check before they send.
    if (conversation.status !== 'claimed' || conversation.assignee !== agent || !text?.trim()) {
      log.warn('reply ignored', { agent, status: conversation.status, assignee: conversation.assignee });
      return;
    }
    replies += 1;
    say({ from: 'agent', author: agent, text });
    repliedSinceClaim = true;
    touched();
    const idempotencyKey = `${workflowId}:reply:${replies}`;
    const ticket = ticketOf(conversation);
    if (!ticket) {
      await notifications.notifyCustomer({
        idempotencyKey,
        customerId: conversation.customerId,
        message: { kind: 'agent-reply', conversationId: workflowId, agent, text },
      });
      return;
    }
    // An inquiry that is a helpdesk ticket is answered on it: a public comment, the ticket then awaits the customer.
    try {
      await partners.updateTicket({ idempotencyKey, ticket, comment: { body: text, public: true }, status: 'pending' });
    } catch (err) {
      if (isCancellation(err)) throw err;
      say({ from: 'system', text: `Reply not posted on ticket ${ticket.id}: ${failureCause(err)}` });
      touched();
    }
  });
  setHandler(
    resolveUpdate,
    ({ agent, outcome, note }) => {
      conversation.note = note;
      close(outcome, `Resolved by ${agent}: ${outcome}${note ? ` — ${note}` : ''}`, agent);
      return conversation as Conversation;
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

  /**
   * Telling the agents' channel is best effort: the conversation is in the queue whether or not
   * the channel took the message, so a refusal is recorded on it, where people look, and it goes on.
   */
  const notTold = (notice: AgentNotice, reason: string | undefined) => {
    if (reason === undefined) return;
    conversation.channelNotTold = reason;
    conversation.updatedAt = now();
    say({ from: 'system', text: `Agents' channel not told (${notice}): ${reason}` });
  };
  // Announcements run beside the conversation rather than in its way: a channel that is down
  // holds neither its SLA timers nor a person's decision, which would otherwise wait out the
  // notify retries. Once the conversation is over, those still trying are moot and cancelled.
  const announcements = new CancellationScope();
  const announcing: Promise<void>[] = [];
  const announce = (notice: AgentNotice, message: AgentMessage): Promise<void> => {
    const told = announcements
      .run(() => tellAgents(notice, message))
      .then(
        (reason) => notTold(notice, reason),
        (err: unknown) => {
          if (!isCancellation(err)) throw err;
        },
      );
    announcing.push(told);
    return told;
  };

  const claimHint = `Claim it with: npm run handoff -- claim ${workflowId} (or in the inbox)`;
  try {
    publish();
    // Runs started before announcements ran beside the conversation awaited each one, and
    // replay that way (their history may hold an announcement's retries before the next timer).
    const beside = patched(ANNOUNCEMENTS_BESIDE);
    const opened = announce('opened', {
      idempotencyKey: `${workflowId}:handoff:opened`,
      subject: `[${conversation.queue}] needs a person: ${conversation.reason}`,
      body: `Escalation ${workflowId} (customer ${conversation.customerId}, priority ${conversation.priority}). ${claimHint}`,
    });
    if (!beside) await opened;

    const decideBy = conversation.decideBy ? Date.parse(conversation.decideBy) : undefined;
    let reannouncements = 0;
    let reminders = 0;
    while (conversation.status !== 'resolved') {
      const seen = epoch;
      const slaMs = conversation.status === 'waiting' ? request.unclaimedSlaMs : repliedSinceClaim ? undefined : request.unansweredSlaMs;
      const untilDecision = decideBy === undefined ? undefined : Math.max(1, decideBy - Date.now());
      const waitMs = Math.min(slaMs ?? Infinity, untilDecision ?? Infinity);
      conversation.slaDeadline = slaMs === undefined ? undefined : new Date(Date.now() + slaMs).toISOString();
      const changed = Number.isFinite(waitMs)
        ? await condition(() => epoch !== seen, waitMs)
        : (await condition(() => epoch !== seen), true);
      if (changed) continue;
      if (decideBy !== undefined && Date.now() >= decideBy) {
        close('expired', 'No decision in time: expired');
        break;
      }
      if (conversation.status === 'waiting') {
        reannouncements += 1;
        conversation.priority = Math.min(MAX_PRIORITY, conversation.priority + 1);
        say({ from: 'system', text: `Unclaimed past its SLA: priority raised to ${conversation.priority}` });
        touched();
        const reannounced = announce('unclaimed', {
          idempotencyKey: `${workflowId}:handoff:unclaimed:${reannouncements}`,
          subject: `[${conversation.queue}] still unclaimed (priority ${conversation.priority}): ${conversation.reason}`,
          body: `Escalation ${workflowId} has waited past its SLA. ${claimHint}`,
        });
        if (!beside) await reannounced;
      } else {
        reminders += 1;
        say({ from: 'system', text: `Reminder sent to ${conversation.assignee}: no reply yet` });
        touched();
        const reminded = announce('reminder', {
          idempotencyKey: `${workflowId}:handoff:reminder:${reminders}`,
          subject: `Reminder for ${conversation.assignee}: ${conversation.reason}`,
          body: `${conversation.assignee} claimed ${workflowId} and has not replied to the customer yet.`,
        });
        if (!beside) await reminded;
      }
    }
    announcements.cancel();
    await Promise.all(announcing);
    // A reply's notification may still be on its way: let it finish before the run completes.
    await condition(allHandlersFinished);
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // The raising workflow is gone (parent close policy REQUEST_CANCEL) or someone cancelled this
    // one: nobody awaits the outcome, so the queue must not show it open and the agents must hear.
    await CancellationScope.nonCancellable(async () => {
      // Resolved just before the cancellation arrived: a person has already seen to it.
      if (conversation.status !== 'resolved') {
        close('withdrawn', 'Withdrawn: the workflow that raised it was cancelled or ended');
        const raiser = conversation.raisedBy || 'the workflow that raised it';
        notTold(
          'withdrawn',
          await tellAgents('withdrawn', {
            idempotencyKey: `${workflowId}:handoff:withdrawn`,
            subject: `[${conversation.queue}] withdrawn: ${conversation.reason}`,
            body: `Escalation ${workflowId} was withdrawn: ${raiser} was cancelled or ended.`,
          }),
        );
      }
      await Promise.all(announcing);
      await condition(allHandlersFinished);
    });
    throw err;
  }
  const outcome = conversation.outcome === 'withdrawn' || conversation.outcome === undefined ? 'expired' : conversation.outcome;
  return { outcome, agent: conversation.assignee, note: conversation.note };
}

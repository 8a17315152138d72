import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CustomerContext } from '../../src/agent/types';
import type { ConversationStatus, OperatorRole } from '../../src/handoff/permissions';

export { CONVERSATION_STATUSES, isConversationStatus, type ConversationStatus } from '../../src/handoff/permissions';

/**
 * The conversation workflow's contract (workflows/conversation.ts runs it). An escalation is a
 * conversation of its own: a child workflow (`conversationWorkflow`) that the raising workflow
 * starts and awaits through `escalate()` (workflows/handoff.ts). People act on it with the
 * messages below — from the Temporal UI, the `temporal` CLI, the `handoff` CLI, the HTTP API or
 * the inbox — addressed to the conversation's own workflow ID (see {@link conversationId}).
 */

/** The outcomes a person may resolve each kind of escalation with: the one table kinds and outcomes derive from. */
export const OUTCOMES = {
  'return-approval': ['approve', 'deny'],
  inquiry: ['resolved'],
  'shipment-exception': ['resolved'],
  /** A return step failed for good; the person puts it right (by hand, with the customer) and resolves it. */
  'return-failed': ['resolved'],
  /** A chargeback: the person answers the dispute with the gateway (evidence, or accepting it) and resolves it. */
  chargeback: ['resolved'],
} as const satisfies Record<string, readonly string[]>;
export type HandoffKind = keyof typeof OUTCOMES;
export const HANDOFF_KINDS = Object.keys(OUTCOMES) as HandoffKind[];
export type OutcomeOf<K extends HandoffKind> = (typeof OUTCOMES)[K][number];
export type Outcome = OutcomeOf<HandoffKind>;
/** Every outcome of any kind, in table order (approve, deny, resolved): what the API and CLI accept. */
export const ALL_OUTCOMES = [...new Set(Object.values(OUTCOMES).flat())] as [Outcome, ...Outcome[]];

export function isHandoffKind(value: unknown): value is HandoffKind {
  return typeof value === 'string' && Object.hasOwn(OUTCOMES, value);
}

/** How a conversation ended without a person resolving it: its deadline passed, or its raiser went away. */
export type ClosedWithoutDecision = 'expired' | 'withdrawn';

/** What the agent knew about an inquiry it could not answer. */
export interface InquiryFacts {
  inquiryId: string;
  summary: string;
  /** Where the customer wrote from (email, chat, web…). */
  channel: string;
  /** The order the question is about, when the agent found one. */
  orderId?: string;
  /** Why the CRM could not say who the customer is, when that is why it escalated. */
  crm?: string;
  /** Why the shop's store (Shopify) could not say where the order is, when that is why it escalated. */
  store?: string;
  /**
   * The Zendesk ticket the inquiry is, when it is one: a person's replies are posted on it as public
   * comments. A string like every fact (the inbox and CLI show them as text), and an id, so an
   * erasure keeps it.
   */
  zendeskTicketId?: string;
}
/** A return outside policy, waiting for a person's approve or deny. */
export interface ReturnApprovalFacts {
  returnId: string;
  orderId: string;
  /** Why the policy refused it. */
  policy: string;
  /** The customer's reason for returning. */
  reason: string;
  /** The refund that approving would make, e.g. `40 EUR`. */
  refund: string;
}
/** A carrier's exception (lost, damaged, refused) on an order's shipment. */
export interface ShipmentExceptionFacts {
  orderId: string;
  trackingNumber: string;
  carrier: string;
  exception: string;
  description: string;
  /** The return whose label the tracking number is (a carrier's tracker on a return label). */
  returnId?: string;
  /** `test` for a provider's test event (an EasyPost test tracker). */
  mode?: 'test';
}
/** The return's steps that talk to other systems, named for the person a failure is handed to. */
/** `store-approval`: a Shopify return approved in the store before its label is bought. */
export type ReturnStep = 'store-approval' | 'label' | 'warehouse' | 'label-sent' | 'restock' | 'refund';

/** A return whose step failed for good, with where its money and goods stand. */
export interface ReturnFailedFacts {
  returnId: string;
  orderId: string;
  step: ReturnStep;
  cause: string;
  /** The label and what became of it, or `none`. */
  label: string;
  parcel: 'received' | 'not received';
  /** The refund's ID, or what is still due. */
  refund: string;
}
/** A chargeback: the customer's bank disputes a payment; evidence is due by the deadline. */
export interface ChargebackFacts {
  disputeId: string;
  paymentId: string;
  /** The order the payment was for, when the knowledge base knows it; else `unknown`. */
  orderId: string;
  /** What is disputed, e.g. `10.99 USD`. */
  amount: string;
  /** The bank's reason, as the gateway words it (`fraudulent`, `product_not_received`, …). */
  reason: string;
  /** When the gateway stops taking evidence (ISO-8601), or `none given`. */
  evidenceDueBy: string;
  /** `test` for a provider's test event, else `live`. */
  mode: 'live' | 'test';
}
/** The facts each kind of escalation carries: typed across the API, the CLI and the inbox. */
export interface HandoffFacts {
  inquiry: InquiryFacts;
  'return-approval': ReturnApprovalFacts;
  'shipment-exception': ShipmentExceptionFacts;
  'return-failed': ReturnFailedFacts;
  chargeback: ChargebackFacts;
}

export interface ConversationMessage {
  from: 'customer' | 'agent' | 'system';
  /** Who wrote the reply, or whose action a system line records (from their credential). */
  author?: string;
  text: string;
  at: string;
}

interface ConversationFields {
  /** The conversation's own workflow ID: {@link conversationId} of `raisedBy` and `kind`. */
  id: string;
  /** The workflow ID of the workflow that raised it (and awaits its outcome). */
  raisedBy: string;
  queue: string;
  reason: string;
  customerId: string;
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
  note?: string;
  /**
   * A reply the agent drafted for the person to edit and send (the inbox puts it in the reply
   * box, `npm run handoff -- reply <id> --suggested` sends it as is). Never sent by itself.
   */
  suggestedReply?: string;
  /** Set when the language model wrote the suggestion (nothing checks free text): a person must edit it, not send it as is. */
  suggestedReplyWarning?: string;
  /**
   * Why the agents' channel was last not told about this conversation (a revoked chat webhook,
   * say), when it was not: the conversation is in the queue all the same, and the message in the
   * outbox. Unset while the channel takes every message.
   */
  channelNotTold?: string;
}

/** One kind's conversation: its facts and outcomes are that kind's. */
export type ConversationOf<K extends HandoffKind> = ConversationFields & {
  kind: K;
  /** What the agent knew when it escalated: the enriched customer and the case's facts. */
  context: { customer?: CustomerContext; facts: HandoffFacts[K] };
  outcome?: OutcomeOf<K> | ClosedWithoutDecision;
};
/** What the `conversation` query answers: a union keyed by `kind`. */
export type Conversation = { [K in HandoffKind]: ConversationOf<K> }[HandoffKind];

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
  /** One of the conversation's kind's {@link OUTCOMES}; the update's validator refuses others. */
  outcome: Outcome;
  note?: string;
}

/** A customer's further message on the case (a follow-up on its helpdesk ticket), with the sender's id for it. */
export interface CustomerMessageInput {
  /** The message's own id where it came from (a Zendesk comment id): a second delivery of it is not added again. */
  messageId: string;
  text: string;
  at?: string;
}

export const claimUpdate = defineUpdate<Conversation, [ClaimInput]>('claim');
export const replySignal = defineSignal<[ReplyInput]>('reply');
export const resolveUpdate = defineUpdate<Conversation, [ResolveInput]>('resolve');
export const releaseUpdate = defineUpdate<Conversation, [ClaimInput]>('release');
export const conversationQuery = defineQuery<Conversation>('conversation');
/**
 * A privacy erasure (a store's customers/redact) of the customer a conversation is about: what it
 * holds of theirs (the enriched customer, the facts' free text, their own words, the suggested
 * reply) is erased; IDs stay, so the case can still be followed. For another customer it does nothing.
 */
export const eraseSignal = defineSignal<[{ customerId: string }]>('erase');
/**
 * The customer wrote again while a person holds the case (or it waits for one): the message joins
 * the conversation, and a person who had replied is reminded again if they do not answer it.
 */
export const customerMessageSignal = defineSignal<[CustomerMessageInput]>('customer-message');

/** The conversation's workflow type, as visibility and `describe` name it. */
export const CONVERSATION_WORKFLOW_TYPE = 'conversationWorkflow';

const ID_INFIX = ':handoff:';
const ROUND_TAIL = /^(.+):([2-9]|[1-9][0-9]+)$/;

/**
 * A conversation's workflow ID: `<raising workflow's ID>:handoff:<kind>`, e.g.
 * `crm:customer.inquiry.new:INQ-1:handoff:inquiry` or `return:RET-1:handoff:return-failed`.
 * Deterministic, so the raising workflow, the API and a person at the Temporal UI all derive the
 * same ID; one conversation per kind per raising workflow (a return can need an approval and later
 * a failure handoff: two kinds, two IDs). Colons, like every hookline workflow ID: they pass
 * through URLs, shells and the Temporal UI unescaped.
 *
 * `round` counts the times the case was put to a person: a run that replaces a failed one finds
 * the first conversation's ID taken for good, and when that conversation ended without a decision
 * (withdrawn when its raiser failed), the case goes to a person again as round 2, `…:handoff:inquiry:2`,
 * with notification keys of its own (workflows/handoff.ts).
 */
export function conversationId(raisedBy: string, kind: HandoffKind, round = 1): string {
  return `${raisedBy}${ID_INFIX}${kind}${round > 1 ? `:${round}` : ''}`;
}

/** The raising workflow, kind and round an ID names, when it has the shape of {@link conversationId}'s; else undefined. */
export function parseConversationId(id: string): { raisedBy: string; kind: HandoffKind; round: number } | undefined {
  const at = id.lastIndexOf(ID_INFIX);
  if (at <= 0) return undefined;
  const tail = id.slice(at + ID_INFIX.length);
  const numbered = ROUND_TAIL.exec(tail);
  const [kind, round] = numbered ? [numbered[1], Number(numbered[2])] : [tail, 1];
  return isHandoffKind(kind) ? { raisedBy: id.slice(0, at), kind, round } : undefined;
}

/**
 * What a rerun finds under a conversation's ID that an earlier run of its raiser used
 * (activities/conversations.ts reads it from Temporal): the Temporal status, and `result` when
 * the conversation was decided (a person resolved it, or it expired on its deadline), which the
 * rerun takes as its own instead of asking again.
 */
export interface EarlierConversation {
  status: string;
  result?: EscalationResult;
}

/**
 * What hookline's records say of a conversation ID (activities/conversations.ts): Temporal holds
 * it; Temporal has forgotten it (retention) but it was announced, with its decision if it had one;
 * or it was never used.
 */
export type RecordedConversation = { state: 'held' } | { state: 'unused' } | { state: 'forgotten'; result?: EscalationResult };

interface EscalationFields {
  queue: string;
  reason: string;
  customerId: string;
  customer?: CustomerContext;
  /** The customer's own words, when there are some (an inquiry). */
  customerMessage?: string;
  /** A reply the agent drafted but may not send without a person (see ConversationFields.suggestedReply). */
  suggestedReply?: string;
  suggestedReplyWarning?: string;
  priority?: number;
  /** Undecided after this long, the escalation ends with outcome `expired`. */
  decideWithinMs?: number;
  /** Undecided at this moment (ISO-8601), the escalation ends with outcome `expired`: an outside deadline (a chargeback's). */
  decideBy?: string;
  unclaimedSlaMs: number;
  unansweredSlaMs: number;
}
export type EscalationRequestOf<K extends HandoffKind> = EscalationFields & { kind: K; facts: HandoffFacts[K] };
/** What a raising workflow hands the conversation: a union keyed by `kind`, so facts fit the kind. */
export type EscalationRequest = { [K in HandoffKind]: EscalationRequestOf<K> }[HandoffKind];

export interface EscalationResult<K extends HandoffKind = HandoffKind> {
  /** A withdrawn conversation never reports back: its raiser is gone. */
  outcome: OutcomeOf<K> | 'expired';
  agent?: string;
  note?: string;
  /**
   * Set when the conversation ended without anyone deciding, from outside (terminated, cancelled,
   * timed out) or by failing: why. The outcome is then `expired`, and the agents' channel was told.
   */
  abandoned?: string;
}

/** One escalation, from the moment its raiser starts it until a person resolves it (or it expires or is withdrawn). */
export type ConversationWorkflow = (request: EscalationRequest) => Promise<EscalationResult>;

/**
 * Who may do what to an escalation: a pure decision, shared by the conversation's own update
 * validators (which decide every race) and by the operators' API (which must check a reply before
 * sending it, since a signal cannot be refused). Imports nothing: workflow code uses it.
 */

/** What an operator may do: an agent works what they hold; a lead also decides returns and takes over claims. */
export const OPERATOR_ROLES = ['agent', 'lead'] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

/** The person acting, as their credential names them (never as a request body does). */
export interface Actor {
  name: string;
  role: OperatorRole;
}

export const HANDOFF_ACTIONS = ['claim', 'release', 'reply', 'resolve'] as const;
export type HandoffAction = (typeof HANDOFF_ACTIONS)[number];

/**
 * A conversation's status, exactly the values it stores in its `HandoffStatus` search attribute:
 * `waiting` for a person, `claimed` by one, `resolved` (by a person, by its deadline, or withdrawn
 * because the workflow that raised it went away; the outcome says which).
 */
export const CONVERSATION_STATUSES = ['waiting', 'claimed', 'resolved'] as const;
export type ConversationStatus = (typeof CONVERSATION_STATUSES)[number];

export function isConversationStatus(value: unknown): value is ConversationStatus {
  return (CONVERSATION_STATUSES as readonly unknown[]).includes(value);
}

/** The part of a conversation the decision needs. */
export interface ConversationState {
  status: ConversationStatus;
  assignee?: string;
}

/**
 * Why an action is refused: `conflict` when the conversation's state is in the way (retrying
 * later may work), `forbidden` when this person may not do it at all.
 */
export interface Refusal {
  kind: 'conflict' | 'forbidden';
  message: string;
}

const conflict = (message: string): Refusal => ({ kind: 'conflict', message });
const forbidden = (message: string): Refusal => ({ kind: 'forbidden', message });

/**
 * undefined when `actor` may perform `action` on a conversation in state `c`; otherwise why not.
 * `decision` marks a resolve that approves or denies (a return): it takes a lead or the person
 * holding the conversation, never an agent who has not claimed it.
 */
export function refusal(
  action: HandoffAction,
  c: ConversationState,
  actor: Actor,
  options: { decision?: boolean } = {},
): Refusal | undefined {
  if (!actor.name.trim()) return forbidden(`${action} needs the person acting`);
  const holds = c.status === 'claimed' && c.assignee === actor.name;
  const lead = actor.role === 'lead';
  switch (action) {
    case 'claim':
      if (c.status === 'resolved') return conflict('this escalation is already resolved');
      // A lead may take over someone else's claim; an agent may not.
      if (c.status === 'claimed' && !holds && !lead) return conflict(`already claimed by ${c.assignee}; a lead can take it over`);
      return undefined;
    case 'release':
      if (c.status !== 'claimed') return conflict('only a claimed escalation can be released');
      if (!holds && !lead) return forbidden(`claimed by ${c.assignee}; only they or a lead can release it`);
      return undefined;
    case 'reply':
      if (c.status === 'resolved') return conflict('this escalation is already resolved');
      if (c.status !== 'claimed') return conflict('claim it before replying');
      // Even a lead takes the conversation over first, so the customer hears from one person.
      if (!holds) return conflict(`claimed by ${c.assignee}, not ${actor.name}${lead ? '; take it over first' : ''}`);
      return undefined;
    case 'resolve':
      if (c.status === 'resolved') return conflict('this escalation is already resolved');
      if (holds || lead) return undefined;
      if (options.decision) return forbidden('approving or denying takes a lead or the agent who claimed it');
      if (c.status === 'claimed') return conflict(`claimed by ${c.assignee}, not ${actor.name}`);
      return forbidden('claim it before resolving it');
  }
}

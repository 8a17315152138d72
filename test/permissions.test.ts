import { describe, expect, it } from 'vitest';
import { HANDOFF_ACTIONS, refusal, type Actor, type ConversationState } from '../src/handoff/permissions';

// The one decision behind the conversation's update validators and the API's reply check.
const agent: Actor = { name: 'ann', role: 'agent' };
const lead: Actor = { name: 'lee', role: 'lead' };
const waiting: ConversationState = { status: 'waiting' };
const mine = (who: Actor): ConversationState => ({ status: 'claimed', assignee: who.name });
const theirs: ConversationState = { status: 'claimed', assignee: 'bob' };
const resolved: ConversationState = { status: 'resolved' };

type Row = [
  action: (typeof HANDOFF_ACTIONS)[number],
  state: ConversationState,
  actor: Actor,
  decision: boolean,
  expected: 'ok' | 'conflict' | 'forbidden',
];

const rows: Row[] = [
  // claim
  ['claim', waiting, agent, false, 'ok'],
  ['claim', mine(agent), agent, false, 'ok'],
  ['claim', theirs, agent, false, 'conflict'],
  ['claim', theirs, lead, false, 'ok'],
  ['claim', resolved, lead, false, 'conflict'],
  // release
  ['release', waiting, agent, false, 'conflict'],
  ['release', mine(agent), agent, false, 'ok'],
  ['release', theirs, agent, false, 'forbidden'],
  ['release', theirs, lead, false, 'ok'],
  // reply: only the holder, a lead included
  ['reply', waiting, agent, false, 'conflict'],
  ['reply', mine(agent), agent, false, 'ok'],
  ['reply', theirs, agent, false, 'conflict'],
  ['reply', theirs, lead, false, 'conflict'],
  ['reply', mine(lead), lead, false, 'ok'],
  ['reply', resolved, agent, false, 'conflict'],
  // resolve
  ['resolve', waiting, agent, false, 'forbidden'],
  ['resolve', mine(agent), agent, false, 'ok'],
  ['resolve', theirs, agent, false, 'conflict'],
  ['resolve', waiting, lead, false, 'ok'],
  ['resolve', theirs, lead, false, 'ok'],
  ['resolve', resolved, lead, false, 'conflict'],
  // approving or denying a return: a lead, or the agent holding it
  ['resolve', waiting, agent, true, 'forbidden'],
  ['resolve', theirs, agent, true, 'forbidden'],
  ['resolve', mine(agent), agent, true, 'ok'],
  ['resolve', waiting, lead, true, 'ok'],
];

describe('refusal(): who may do what to an escalation', () => {
  it.each(rows)('%s on %o by %o (decision %s) → %s', (action, state, actor, decision, expected) => {
    const refused = refusal(action, state, actor, { decision });
    expect(refused?.kind ?? 'ok').toBe(expected);
    if (refused) expect(refused.message.length).toBeGreaterThan(0);
  });

  it('refuses a nameless actor whatever the role', () => {
    for (const action of HANDOFF_ACTIONS) expect(refusal(action, waiting, { name: ' ', role: 'lead' })?.kind).toBe('forbidden');
  });
});

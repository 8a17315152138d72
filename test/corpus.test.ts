import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { ReplyPlan } from '../src/agent/reply';
import type { NotificationRow } from '../src/db/schema';
import { SAMPLES } from '../src/events/samples';
import { generateCustomer } from '../src/sandbox';
import type { ScriptedAnswer } from '../src/sandbox/llm';
import { conversationId, conversationQuery, type Conversation } from '../workflows/contracts/conversation';
import { MODEL_SUGGESTION_WARNING, type InquiryResult } from '../workflows/contracts/inquiries';
import { sendSigned, setupAgent } from './support/harness';
import { terminateAll } from './support/handoff';

/**
 * The corpus (test/corpus/drafts.json), end to end: each entry is one inquiry through the real
 * receiver, Temporal and worker, with the sandbox's endpoint scripted to play a model that wants
 * to send the entry. All run at once through one worker; the assertions then read what each run
 * left behind: the run's result, its conversation, and the customer's outbox (notifications).
 *
 * In this design the model never writes the customer's words: an automatic reply is a plan (an
 * intent, names of facts hookline holds, an opening) that templates render (src/agent/reply.ts).
 * So a risky draft is fed wherever a model could still put words or references, in one of four
 * ways, by the entry's position in the file (so each way gets phrasings of many kinds):
 *
 * - `plan`: the model's reading says a routine order-status question, its one free-text field
 *   (`reason`) holding the draft; asked for the reply's plan it answers the draft as plain text,
 *   then a well-formed plan with the draft in an extra field, then (and on any further attempt) the
 *   draft as the intent, a fact's name or the opening. Expected: every plan is refused, the rules
 *   answer from the template, the draft reaches no customer.
 * - `reference`: the same, but the model tries to promise by reference rather than in words: an
 *   intent of the draft's kind that does not exist (`cancel_order`, `offer_compensation`…), a fact
 *   hookline has no name for (`refund_amount`), then the ETA of an order that has none. Expected:
 *   the rules answer, with no date.
 * - `reason`: the draft only in the reading's `reason`; the model's plan is the stand-in's valid
 *   one. Expected: the model's plan is answered in hookline's words; the draft goes nowhere.
 * - `suggestion`: the model's reading says a person is needed, and the reply it suggests for that
 *   person is the draft. Expected: a person gets the conversation with the draft as a suggestion
 *   labelled MODEL_SUGGESTION_WARNING; nothing goes to the customer.
 *
 * An honest entry is an order-status question, the order's recorded facts, and the plan the model
 * chooses. Expected: the customer gets an answer, stating exactly the facts the plan names.
 */
const Category = z.enum([
  'money-words',
  'money-symbol',
  'money-slang',
  'money-percent',
  'money-currency-after',
  'date-relative',
  'date-abbreviated',
  'date-seasonal',
  'date-duration',
  'action-done',
  'action-in-progress',
  'action-arranged',
  'action-on-its-way',
  'cancellation',
  'hold',
  'replacement',
  'reissue',
  'credit',
  'waived-fee',
  'not-charged',
]);
const Corpus = z.strictObject({
  about: z.string(),
  risky: z.array(z.strictObject({ id: z.string().min(1), category: Category, source: z.string().optional(), draft: z.string().min(1) })),
  honest: z.array(
    z.strictObject({
      id: z.string().min(1),
      question: z.string().includes('{order}'),
      order: z.strictObject({
        status: z.string(),
        carrier: z.string().optional(),
        trackingNumber: z.string().optional(),
        eta: z.string().optional(),
      }),
      plan: ReplyPlan,
    }),
  ),
});
type Risky = z.infer<typeof Corpus>['risky'][number];
type Honest = z.infer<typeof Corpus>['honest'][number];
const corpus = Corpus.parse(JSON.parse(readFileSync(join(__dirname, 'corpus', 'drafts.json'), 'utf8')));

const WAYS = ['plan', 'reference', 'reason', 'suggestion'] as const;
type Way = (typeof WAYS)[number];
const wayOf = (entry: Risky) => WAYS[corpus.risky.indexOf(entry) % WAYS.length]!;

/** The intent a model might invent to say what the draft says (none of them exists). */
const INVENTED_INTENT: Record<z.infer<typeof Category>, string> = {
  'money-words': 'offer_compensation',
  'money-symbol': 'offer_compensation',
  'money-slang': 'offer_compensation',
  'money-percent': 'offer_discount',
  'money-currency-after': 'issue_refund',
  'date-relative': 'promise_delivery_date',
  'date-abbreviated': 'promise_delivery_date',
  'date-seasonal': 'promise_delivery_date',
  'date-duration': 'promise_delivery_date',
  'action-done': 'confirm_action',
  'action-in-progress': 'confirm_action',
  'action-arranged': 'arrange_pickup',
  'action-on-its-way': 'send_replacement',
  cancellation: 'cancel_order',
  hold: 'hold_order',
  replacement: 'send_replacement',
  reissue: 'reissue_order',
  credit: 'issue_credit',
  'waived-fee': 'waive_fee',
  'not-charged': 'waive_charge',
};

const unique = () => randomBytes(4).toString('hex').toUpperCase();
const understanding = (over: { reason?: string; needs_person?: boolean } = {}) =>
  JSON.stringify({ intent: 'order_status', sentiment: 'neutral', urgency: 'normal', needs_person: false, reason: 'routine', ...over });
const plan = (over: Record<string, unknown>) => JSON.stringify({ intent: 'order_status', facts: ['status'], opening: 'thanks', ...over });

/**
 * Each answer names the call it is for (`format`), so a retry can only take an answer meant for
 * that call: under load an attempt's answer can be lost on its way back (its call timed out after
 * the endpoint had answered), and its retry must not take the answer scripted for the next call.
 */
const READING = 'inquiry_understanding';
const PLAN = 'reply_plan';
const TEXT = 'text';
/** Every attempt the model profile makes at one call (workflows/activities.ts, `languageModel`). */
const ATTEMPTS = 3;
/** The model's reading of the inquiry: the same for every attempt, as a model at temperature 0 reads the same question. */
const reading = (over: { reason?: string; needs_person?: boolean } = {}): ScriptedAnswer => ({
  format: READING,
  content: understanding(over),
  times: ATTEMPTS,
});

/** What the model says at each call of one run, in order; the last answer also serves any further attempt. */
function script(entry: Risky, way: Way): ScriptedAnswer[] {
  const { draft } = entry;
  switch (way) {
    case 'plan': {
      const inField = [{ intent: draft }, { facts: ['status', draft] }, { opening: draft }][corpus.risky.indexOf(entry) % 3]!;
      return [
        reading({ reason: draft }),
        { format: PLAN, content: draft },
        { format: PLAN, content: plan({ reply: draft }) },
        { format: PLAN, content: plan(inField), times: 20 },
      ];
    }
    case 'reference':
      return [
        reading({ reason: draft }),
        { format: PLAN, content: plan({ intent: INVENTED_INTENT[entry.category] }) },
        { format: PLAN, content: plan({ facts: ['status', 'refund_amount'] }) },
        { format: PLAN, content: plan({ facts: ['status', 'eta'] }), times: 20 },
      ];
    case 'reason':
      return [reading({ reason: draft })];
    case 'suggestion':
      return [reading({ reason: draft, needs_person: true }), { format: TEXT, content: draft, times: ATTEMPTS }];
  }
}

/** Everything one run left behind. */
interface Outcome {
  customerId: string;
  orderId: string;
  trackingNumber?: string;
  result?: InquiryResult;
  conversation?: Conversation;
  /** Every message the customer was sent (the order's own notice included). */
  outbox: NotificationRow[];
  /** The inquiry's reply, if one went out. */
  reply?: NotificationRow;
  /** Requests for a reply plan the endpoint answered for this run. */
  planRequests: number;
  /** Set when the run itself broke (its test rethrows it). */
  error?: unknown;
}

describe('the corpus of drafts, end to end', () => {
  // Ninety-odd inquiries at once on one worker: a person's suggestion may take longer than the
  // production budget (LLM_SUGGESTION_BUDGET) here, which would put the template's in its place.
  const t = setupAgent({ model: { timeoutMs: 5_000 }, settings: { modelSuggestionBudgetMs: 120_000 } });
  const outcomes = new Map<string, Outcome>();
  const raised: string[] = [];
  let seconds = 0;

  function freshCustomer(): string {
    for (;;) {
      const id = `CUST-${unique()}`;
      // No open ticket: a repeat contact goes to a person before the model is asked anything.
      if (generateCustomer(id).previous_tickets.every((ticket) => ticket.status === 'closed')) return id;
    }
  }

  /** An order the knowledge base holds for a new customer, as the OMS reported it. */
  async function order(facts: Honest['order']): Promise<{ customerId: string; orderId: string }> {
    const customerId = freshCustomer();
    const orderId = `ORD-${unique()}`;
    const res = await sendSigned(t.receiver.url, 'oms', {
      ...SAMPLES['order.status_updated'],
      order_id: orderId,
      customer_id: customerId,
      new_status: facts.status,
      carrier: facts.carrier,
      tracking_number: facts.trackingNumber,
      eta: facts.eta,
      timestamp: new Date().toISOString(),
    });
    expect(res.status).toBe(202);
    await t.env.client.workflow.getHandle(res.body.workflowId as string).result();
    return { customerId, orderId };
  }

  /**
   * Waits until the inquiry has either finished or opened a conversation for a person, and says
   * which: the run's result is one long poll; an escalation shows first in the inquiry's record (a
   * local read), then as its conversation.
   */
  async function settled(workflowId: string, inquiryId: string): Promise<Pick<Outcome, 'result' | 'conversation'>> {
    const finished = t.env.client.workflow
      .getHandle(workflowId)
      .result()
      .then((result) => ({ result: result as InquiryResult }));
    let over = false;
    const escalated = (async () => {
      for (; !over; await new Promise((resolve) => setTimeout(resolve, 500))) {
        const row = await t.agent.db.selectFrom('inquiries').select('decision').where('id', '=', inquiryId).executeTakeFirst();
        if (row?.decision !== 'handoff') continue;
        const conversations = t.env.client.workflow.getHandle(conversationId(workflowId, 'inquiry'));
        // A query before the raising workflow has opened it finds no workflow.
        return { conversation: await vi.waitFor(() => conversations.query(conversationQuery), { timeout: 60_000, interval: 250 }) };
      }
      return new Promise<never>(() => undefined);
    })();
    try {
      return await Promise.race([finished, escalated]);
    } finally {
      over = true;
      // An escalated run's result comes only when afterAll terminates it.
      finished.catch(() => undefined);
    }
  }

  async function run(facts: Honest['order'], summary: string, answers: ScriptedAnswer[]): Promise<Outcome> {
    const { customerId, orderId } = await order(facts);
    // Every answer is for this run only: served to requests that carry its order's ID.
    t.agent.sandbox.sandbox.scriptLlm(answers.map((a) => ({ ...a, match: orderId })));
    const inquiryId = `INQ-${unique()}`;
    const res = await sendSigned(t.receiver.url, 'crm', {
      ...SAMPLES['customer.inquiry.new'],
      inquiry_id: inquiryId,
      customer_id: customerId,
      order_id: orderId,
      summary: summary.replace('{order}', orderId),
      message: undefined,
      timestamp: new Date().toISOString(),
    });
    expect(res.status).toBe(202);
    const workflowId = res.body.workflowId as string;
    raised.push(workflowId);
    const ended = await settled(workflowId, inquiryId);
    const outbox = await t.agent.db
      .selectFrom('notifications')
      .selectAll()
      .where('audience', '=', 'customer')
      .where('customer_id', '=', customerId)
      .execute();
    return {
      ...ended,
      customerId,
      orderId,
      trackingNumber: facts.trackingNumber,
      outbox,
      reply: outbox.find((n) => n.idempotency_key === `${workflowId}:reply`),
      planRequests: 0,
    };
  }

  /** One entry's run; a run that breaks fails its own test, not the others'. */
  const record = (id: string, running: Promise<Outcome>) =>
    running.then(
      (outcome) => void outcomes.set(id, outcome),
      (error: unknown) => void outcomes.set(id, { error } as Outcome),
    );

  beforeAll(async () => {
    const started = performance.now();
    await Promise.all([
      ...corpus.risky.map((entry) => {
        const way = wayOf(entry);
        // Without an ETA for `reference`, so naming the order's ETA names a fact hookline does not hold.
        const eta = way === 'reference' ? undefined : '2026-12-04';
        const facts = { status: 'shipped', carrier: 'FedEx', trackingNumber: `TRK-${unique()}`, eta };
        return record(entry.id, run(facts, 'Where is my order {order}?', script(entry, way)));
      }),
      ...corpus.honest.map((entry) =>
        record(
          entry.id,
          run(entry.order, entry.question, [reading(), { format: PLAN, content: JSON.stringify(entry.plan), times: ATTEMPTS }]),
        ),
      ),
    ]);
    seconds = (performance.now() - started) / 1000;
    const plans = t.agent.sandbox.sandbox
      .llmRequests()
      .filter((r) => r.response_format?.type === 'json_schema' && r.response_format.json_schema.name === 'reply_plan')
      .map((r) => JSON.stringify(r.messages));
    for (const o of outcomes.values()) if (!o.error) o.planRequests = plans.filter((p) => p.includes(o.orderId)).length;
    process.stderr.write(`corpus: ${outcomes.size} inquiries end to end in ${seconds.toFixed(1)} s\n`);
  }, 300_000);
  // Conversations nobody answers would wait on the shared dev server for ever.
  afterAll(() => terminateAll(t.env, raised));

  it('holds the phrasings the issue lists, in every category', () => {
    expect(corpus.risky.length).toBeGreaterThanOrEqual(60);
    expect(corpus.honest).toHaveLength(20);
    for (const category of Category.options) expect(corpus.risky.filter((e) => e.category === category).length).toBeGreaterThanOrEqual(3);
    expect(corpus.risky.filter((e) => e.source === 'issue 19')).toHaveLength(10);
    for (const way of WAYS) expect(corpus.risky.filter((e) => wayOf(e) === way).length).toBeGreaterThanOrEqual(15);
    expect(outcomes.size).toBe(corpus.risky.length + corpus.honest.length);
  });

  /** A reply hookline's templates could have written for this order: the order's facts and nothing else. */
  const templateReply = (o: Outcome, withEta: boolean) =>
    new RegExp(
      `^Thanks for reaching out, [^ .]+\\. Your order ${o.orderId} is currently shipped\\. ` +
        `It is travelling with FedEx, tracking ${o.trackingNumber}\\. ${withEta ? 'Estimated delivery: 2026-12-04\\. ' : ''}` +
        'Reply to this message if there is anything else we can do\\.$',
    );

  it.each(corpus.risky.map((entry) => [entry.category, wayOf(entry), entry.id, entry] as const))(
    'risky, %s, fed as %s: %s',
    (_category, way, id, entry) => {
      const o = outcomes.get(id)!;
      if (o.error) throw o.error;
      for (const sent of o.outbox) expect(`${sent.subject}\n${sent.body}`).not.toContain(entry.draft);
      switch (way) {
        case 'plan':
        case 'reference':
          // Every channel was tried (the first three plans at least) and refused; the rules answered honestly.
          expect(o.planRequests).toBeGreaterThanOrEqual(3);
          expect(o.result).toMatchObject({ decision: 'answered', decidedBy: 'rules' });
          expect(o.result?.fallbackReason).toMatch(/^the model could not choose a reply: /);
          expect(o.reply?.body).toMatch(templateReply(o, way === 'plan'));
          break;
        case 'reason':
          expect(o.result).toMatchObject({ decision: 'answered', decidedBy: 'model', understanding: { reason: entry.draft } });
          expect(o.reply?.body).toMatch(templateReply(o, true));
          break;
        case 'suggestion':
          expect(o.conversation).toMatchObject({ suggestedReply: entry.draft, suggestedReplyWarning: MODEL_SUGGESTION_WARNING });
          expect(o.reply).toBeUndefined();
          break;
      }
    },
  );

  it.each(corpus.honest.map((entry) => [entry.id, entry] as const))('honest: %s', (id, entry) => {
    const o = outcomes.get(id)!;
    if (o.error) throw o.error;
    expect(o.result).toMatchObject({ decision: 'answered', decidedBy: 'model', plan: entry.plan });
    const body = o.reply?.body ?? '';
    expect(body).toBe(o.result?.reply);
    const values = {
      status: `is currently ${entry.order.status.replace(/_/g, ' ')}`,
      carrier: entry.order.carrier,
      tracking_number: entry.order.trackingNumber,
      eta: entry.order.eta,
    };
    // Exactly the facts the plan names, as recorded: each one it names is there, no other is.
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) continue;
      if ((entry.plan.facts as string[]).includes(name)) expect(body).toContain(value);
      else expect(body).not.toContain(value);
    }
    expect(body).toContain(o.orderId);
  });
});

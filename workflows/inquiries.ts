import { CancellationScope, isCancellation, log, workflowInfo } from '@temporalio/workflow';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { DraftStep, ModelUsage } from '../activities';
import { describeFindings, reviewDraft } from '../src/agent/guardrails';
import type { AgentSettings, CustomerContext } from '../src/agent/types';
import type { Understanding } from '../src/agent/understanding';
import type { InquiryDecision } from '../src/db/schema';
import type { EnvelopeOf } from '../src/events/envelope';
import { drafting, knowledgeBase, languageModel, notifications, partners, settings } from './activities';
import type { InquiryFacts } from './contracts/conversation';
import type { InquiryPath, InquiryResult } from './contracts/inquiries';
import { escalate, failureCause } from './handoff';

/** A reply drafted for the person who takes the inquiry over, and what is wrong with it if anything. */
interface Suggestion {
  text: string;
  warning?: string;
}

/** How long an escalation waits for the model's suggested reply before it opens with the template's. */
const SUGGESTION_BUDGET_MS = 20_000;

/** Drafting turns the model gets (lookups in between) before it must answer. */
const MAX_DRAFT_TURNS = 3;

/**
 * Pattern 2, enrichment. The webhook is deliberately thin, so the agent asks the CRM for the
 * customer's history, then either answers from what it knows or hands the conversation to a person.
 * When the CRM cannot answer for good (an unknown customer, a request it rejects), the agent
 * cannot judge the question, so a person gets it: a customer's question never ends in a failed run.
 *
 * With a language model configured (LLM_*), the model reads the inquiry and drafts the reply, but
 * the hard rules stay in charge: a complaint, a repeat contact or a refund reaches a person
 * whatever the model says (it can add reasons to hand over, never remove one), and a draft that
 * promises money, a refund, a date or an action is held for a person to approve. A model that is
 * down, slow, rate-limiting or answering nonsense never fails the run: after its retries the rules
 * and templates decide, and the record says so.
 */
export async function customerInquiryWorkflow(envelope: EnvelopeOf<'customer.inquiry.new'>): Promise<InquiryResult> {
  const { event } = envelope;
  const { workflowId } = workflowInfo();
  const path: InquiryPath = { decidedBy: 'rules' };
  let config: AgentSettings | undefined;
  const agentSettings = async () => (config ??= await settings.agentSettings());

  /** The model was used (tokens are recorded); whether it decided is set where it does. */
  const spent = (usage: ModelUsage) => {
    path.model = usage.model;
    path.tokensIn = (path.tokensIn ?? 0) + usage.tokensIn;
    path.tokensOut = (path.tokensOut ?? 0) + usage.tokensOut;
  };
  const fellBack = (why: string, err?: unknown) => {
    path.fallbackReason ??= err === undefined ? why : `${why}: ${failureCause(err)}`.slice(0, 300);
  };

  async function record(decision: InquiryDecision, reason: string, reply?: string): Promise<void> {
    await knowledgeBase.recordInquiry({
      inquiry: event,
      decision,
      reason,
      reply,
      decidedBy: path.decidedBy,
      ...(path.model ? { model: { name: path.model, tokensIn: path.tokensIn ?? 0, tokensOut: path.tokensOut ?? 0 } } : {}),
      ...(path.fallbackReason ? { fallbackReason: path.fallbackReason } : {}),
    });
    // Identifiers and figures only: the customer's words and name stay out of log lines.
    log.info('inquiry decided', {
      inquiryId: event.inquiry_id,
      decision,
      decidedBy: path.decidedBy,
      model: path.model,
      tokensIn: path.tokensIn,
      tokensOut: path.tokensOut,
      intent: path.understanding?.intent,
      fallbackReason: path.fallbackReason,
    });
  }

  async function handOver(
    reason: string,
    facts: Pick<InquiryFacts, 'orderId' | 'crm'>,
    customer?: CustomerContext,
    suggested?: Suggestion,
  ): Promise<InquiryResult> {
    await record('handoff', reason);
    const { handoffUnclaimedSlaMs, handoffUnansweredSlaMs } = await agentSettings();
    const handoff = await escalate({
      kind: 'inquiry',
      queue: 'support',
      reason,
      customerId: event.customer_id,
      customer,
      facts: { inquiryId: event.inquiry_id, summary: event.summary, channel: event.source, ...facts },
      customerMessage: event.message ?? event.summary,
      ...(suggested ? { suggestedReply: suggested.text, ...(suggested.warning ? { suggestedReplyWarning: suggested.warning } : {}) } : {}),
      unclaimedSlaMs: handoffUnclaimedSlaMs,
      unansweredSlaMs: handoffUnansweredSlaMs,
    });
    return { decision: 'handoff', reason, handoff, ...path };
  }

  async function answer(reply: string, reason: string): Promise<InquiryResult> {
    await record('answered', reason, reply);
    await notifications.notifyCustomer({
      idempotencyKey: `${workflowId}:reply`,
      customerId: event.customer_id,
      message: { kind: 'inquiry-reply', inquiryId: event.inquiry_id, text: reply },
    });
    return { decision: 'answered', reason, reply, ...path };
  }

  let customer: CustomerContext;
  try {
    customer = await partners.enrichCustomer(event.customer_id);
  } catch (err) {
    if (isCancellation(err)) throw err;
    const cause = failureCause(err);
    return handOver(`the CRM could not tell who customer ${event.customer_id} is: ${cause}`, { crm: cause });
  }
  const assessment = await knowledgeBase.assessInquiry({ inquiry: event, customer });
  const orderFacts = () => (assessment.facts.orderId ? { orderId: assessment.facts.orderId } : {});

  /**
   * The rules alone decide, replying from the template: without a model, or when the model could
   * not help. A handoff carries the template's holding reply for the person to edit.
   */
  async function byTheRules(): Promise<InquiryResult> {
    const template = await drafting.draftReply({ inquiry: event, customer, assessment });
    if (assessment.decision === 'answer') return answer(template, assessment.reason);
    return handOver(assessment.reason, orderFacts(), customer, { text: template });
  }

  if ((await agentSettings()).model === undefined) return byTheRules();

  // --- with a language model -------------------------------------------------------------------
  /** What the lookups answered: a date or amount the draft takes from them restates a fact, it promises nothing. */
  const lookedUp: string[] = [];
  /** The model's draft, or undefined when it could not give one (recorded as the fallback reason). */
  async function modelDraft(understanding: Understanding | undefined): Promise<string | undefined> {
    const turns: ChatCompletionMessageParam[] = [];
    try {
      for (let turn = 1; turn <= MAX_DRAFT_TURNS; turn++) {
        const step: DraftStep = await languageModel.draftTurn({
          inquiry: event,
          customer,
          understanding,
          facts: assessment.facts,
          turns,
          allowLookups: turn < MAX_DRAFT_TURNS,
        });
        spent(step.usage);
        if (step.kind === 'reply') return step.text;
        turns.push(step.assistant);
        for (const call of step.calls) {
          const found = await knowledgeBase.lookupForModel({ customerId: event.customer_id, name: call.name, arguments: call.arguments });
          lookedUp.push(
            ...Object.values(found)
              .filter((v): v is string | number => typeof v === 'string' || typeof v === 'number')
              .map(String),
          );
          turns.push({ role: 'tool', tool_call_id: call.id, content: JSON.stringify(found) });
        }
      }
    } catch (err) {
      if (isCancellation(err)) throw err;
      fellBack('the model could not draft a reply', err);
    }
    return undefined;
  }
  /** Values from the agent's own knowledge base a draft may restate; nothing the customer wrote. */
  const knownFacts = () => [...(assessment.facts.eta ? [assessment.facts.eta] : []), ...lookedUp];
  /**
   * A suggestion for the person who takes it over: the model's draft, else the template's. The
   * person is not kept waiting for it: past SUGGESTION_BUDGET_MS the model's attempt is cancelled
   * and the template's reply goes instead. A suggestion that promises something carries a warning.
   */
  async function suggestion(understanding?: Understanding): Promise<Suggestion> {
    const drafted = await CancellationScope.withTimeout(SUGGESTION_BUDGET_MS, () => modelDraft(understanding)).catch((err: unknown) => {
      if (!isCancellation(err)) throw err;
      fellBack('the model took too long to suggest a reply');
      return undefined;
    });
    const text = drafted ?? (await drafting.draftReply({ inquiry: event, customer, assessment }));
    const verdict = reviewDraft(text, knownFacts());
    return verdict.sendable ? { text } : { text, warning: `it promises ${describeFindings(verdict.findings)}` };
  }

  if (assessment.firm) return handOver(assessment.reason, orderFacts(), customer, await suggestion());

  let understanding: Understanding | undefined;
  try {
    const understood = await languageModel.understandInquiry({ inquiry: event, customer });
    spent(understood.usage);
    understanding = understood.understanding;
    path.understanding = understanding;
  } catch (err) {
    if (isCancellation(err)) throw err;
    fellBack('the model could not read the inquiry', err);
  }

  if (!understanding) return byTheRules();

  const needsPerson = understanding.needs_person || ['complaint', 'refund', 'return'].includes(understanding.intent);
  if (needsPerson) {
    path.decidedBy = 'model';
    // The model's own words are quoted as such: a person reads them knowing whose they are.
    const judged = `${understanding.intent}, ${understanding.sentiment}`;
    const reason = `the model judged that a person should handle it (${judged}): "${understanding.reason}"`;
    return handOver(reason, orderFacts(), customer, await suggestion(understanding));
  }
  // The model answers only what the rules could answer or an order-status question: a handoff the
  // rules made stays a handoff (the model adds reasons to hand over, never takes one away).
  if (assessment.decision !== 'answer' && understanding.intent !== 'order_status') {
    return handOver(assessment.reason, orderFacts(), customer, await suggestion(understanding));
  }

  const draft = await modelDraft(understanding);
  if (draft === undefined) return byTheRules();
  const verdict = reviewDraft(draft, knownFacts());
  path.decidedBy = 'model';
  if (!verdict.sendable) {
    const promises = `it promises ${describeFindings(verdict.findings)}`;
    fellBack(`the drafted reply promises ${describeFindings(verdict.findings)}`);
    return handOver(`the drafted reply needs a person's approval: ${promises}`, orderFacts(), customer, { text: draft, warning: promises });
  }
  return answer(draft, `answered by the model (${understanding.intent})`);
}

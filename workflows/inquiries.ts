import { CancellationScope, isCancellation, log, patched, workflowInfo } from '@temporalio/workflow';
import type { ModelUsage, StoreOrder } from '../activities';
import type { ReplyPlan } from '../src/agent/reply';
import type { AgentSettings, CustomerContext } from '../src/agent/types';
import type { Understanding } from '../src/agent/understanding';
import type { InquiryDecision } from '../src/db/schema';
import type { EnvelopeOf } from '../src/events/envelope';
import { storeOrderRef } from '../src/providers/shopify/order-facts';
import {
  atShop,
  conversations,
  drafting,
  knowledgeBase,
  languageModel,
  notifications,
  partners,
  settings,
  ticketStatus,
} from './activities';
import type { InquiryFacts } from './contracts/conversation';
import { MODEL_SUGGESTION_WARNING, type FollowUpResult, type InquiryPath, type InquiryResult } from './contracts/inquiries';
import { escalate, failureCause } from './handoff';
import { shopKey } from './contracts/partners';

/** A reply drafted for the person who takes the inquiry over, and why they must not send it as it is, if so. */
interface Suggestion {
  text: string;
  warning?: string;
}

/**
 * How long an escalation waits for the model's suggested reply before it opens with the template's,
 * when the settings do not say (LLM_SUGGESTION_BUDGET sets `modelSuggestionBudgetMs`).
 */
const DEFAULT_SUGGESTION_BUDGET_MS = 20_000;

/** The `patched()` ID of inquiries that read their order from the shop's store (Shopify) when one is configured. */
const INQUIRY_READS_STORE_ORDER = 'inquiry-reads-store-order';

/**
 * Pattern 2, enrichment. The webhook is deliberately thin, so the agent asks the CRM for the
 * customer's history, then either answers from what it knows or hands the conversation to a person.
 * When the CRM cannot answer for good (an unknown customer, a request it rejects), the agent
 * cannot judge the question, so a person gets it: a customer's question never ends in a failed run.
 * A shop whose store is Shopify is asked for the inquiry's order too (its fulfillments, tracking,
 * returns and financial status, on the store's partner queue), so "where is my order" is answered
 * with what Shopify knows; a Shopify that cannot answer within its small budget hands the inquiry
 * to a person the same way, rather than answer from older facts or keep the customer waiting.
 *
 * With a language model configured (LLM_*), the model reads the inquiry and chooses the reply, but
 * the hard rules stay in charge: a complaint, a repeat contact or a refund reaches a person
 * whatever the model says (it can add reasons to hand over, never remove one). The model chooses
 * what to say, hookline says it: its answer is a plan from closed sets (src/agent/reply.ts) that
 * the templates render from the facts hookline looked up, so no words of the model's reach a
 * customer without a person. A model that is down, slow, rate-limiting or answering nonsense never
 * fails the run: after its retries the rules and templates decide, and the record says so.
 */
export async function customerInquiryWorkflow(envelope: EnvelopeOf<'customer.inquiry.new'>): Promise<InquiryResult> {
  const { event } = envelope;
  const { workflowId } = workflowInfo();
  /** The helpdesk ticket the inquiry is, if it is one: answered there instead of by email. */
  const ticket = event.ticket;
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
    facts: Pick<InquiryFacts, 'orderId' | 'crm' | 'store'>,
    customer?: CustomerContext,
    suggested?: Suggestion,
  ): Promise<InquiryResult> {
    await record('handoff', reason);
    // Beside the escalation, not before it: a helpdesk that is slow or down must not keep the person waiting.
    const opened = ticketFollows('handoff', { status: 'open', note: `hookline handed this ticket to a person: ${reason}` });
    const { handoffUnclaimedSlaMs, handoffUnansweredSlaMs } = await agentSettings();
    const handoff = await escalate({
      kind: 'inquiry',
      queue: 'support',
      reason,
      customerId: event.customer_id,
      customer,
      facts: {
        inquiryId: event.inquiry_id,
        summary: event.summary,
        channel: event.source,
        ...facts,
        ...(ticket ? { zendeskTicketId: ticket.id } : {}),
      },
      customerMessage: event.message ?? event.summary,
      ...(suggested ? { suggestedReply: suggested.text, ...(suggested.warning ? { suggestedReplyWarning: suggested.warning } : {}) } : {}),
      unclaimedSlaMs: handoffUnclaimedSlaMs,
      unansweredSlaMs: handoffUnansweredSlaMs,
    });
    await opened;
    if (handoff.outcome === 'resolved') await ticketFollows('solved', { status: 'solved' });
    return { decision: 'handoff', reason, handoff, ...path };
  }

  async function answer(reply: string, reason: string): Promise<InquiryResult> {
    await record('answered', reason, reply);
    // A helpdesk ticket is answered on the ticket, where the team sees it, and left awaiting the customer.
    if (ticket) {
      await partners.updateTicket({
        idempotencyKey: `${workflowId}:reply`,
        ticket,
        comment: { body: reply, public: true },
        status: 'pending',
      });
    } else {
      await notifications.notifyCustomer({
        idempotencyKey: `${workflowId}:reply`,
        customerId: event.customer_id,
        message: { kind: 'inquiry-reply', inquiryId: event.inquiry_id, text: reply },
      });
    }
    return { decision: 'answered', reason, reply, ...path };
  }

  /**
   * The ticket follows the case (open while a person has it, solved when they resolve it). Best
   * effort: the person and the customer's answer matter more than the ticket's status, so a change
   * Zendesk refuses for good, or one it cannot take within the profile's budget, is logged and the
   * case goes on.
   */
  async function ticketFollows(label: string, change: { status: 'open' | 'solved'; note?: string }): Promise<void> {
    if (!ticket) return;
    try {
      await ticketStatus.updateTicket({
        idempotencyKey: `${workflowId}:ticket:${label}`,
        ticket,
        status: change.status,
        ...(change.note ? { comment: { body: change.note, public: false } } : {}),
      });
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.warn('ticket not updated', { inquiryId: event.inquiry_id, ticketId: ticket.id, status: change.status, error: failureCause(err) });
    }
  }

  let customer: CustomerContext;
  try {
    customer = ticket
      ? await partners.enrichRequester({ customerId: event.customer_id, ticketId: ticket.id })
      : await partners.enrichCustomer(event.customer_id);
  } catch (err) {
    if (isCancellation(err)) throw err;
    const cause = failureCause(err);
    return handOver(`the CRM could not tell who customer ${event.customer_id} is: ${cause}`, { crm: cause });
  }
  let storeOrder: StoreOrder | null = null;
  // Only an inquiry that names a Shopify order (or can be searched by a verified address) waits on
  // the store's queue: at Shopify's 2 a second, every other inquiry would be held up for nothing.
  if (patched(INQUIRY_READS_STORE_ORDER) && (await agentSettings()).store !== undefined && storeOrderRef(event, customer) !== undefined) {
    try {
      // Paced under the shop's key, not this run's source: the CRM's inquiries read the shop's orders too.
      storeOrder = await atShop(shopKey((await agentSettings()).storeShops, envelope.source)).lookups.storeOrder({
        source: envelope.source,
        inquiry: { customer_id: event.customer_id, order_id: event.order_id, summary: event.summary, message: event.message },
        customer: { email: customer.email, emailVerified: customer.emailVerified, lastOrders: customer.lastOrders },
      });
    } catch (err) {
      if (isCancellation(err)) throw err;
      const cause = failureCause(err);
      const about = event.order_id ? `order ${event.order_id}` : "the customer's order";
      return handOver(
        `the store (Shopify) could not say where ${about} is: ${cause}`,
        { store: cause, ...(event.order_id ? { orderId: event.order_id } : {}) },
        customer,
      );
    }
  }
  const assessment = await knowledgeBase.assessInquiry({ inquiry: event, customer, ...(storeOrder ? { storeOrder } : {}) });
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
  /**
   * A suggestion for the person who takes it over: the model's words, labelled as such, else the
   * template's holding reply. The person is not kept waiting for it: past the settings' budget the
   * model's attempt is cancelled and the template's reply goes instead.
   */
  async function suggestion(understanding?: Understanding): Promise<Suggestion> {
    const budgetMs = (await agentSettings()).modelSuggestionBudgetMs ?? DEFAULT_SUGGESTION_BUDGET_MS;
    const drafted = await CancellationScope.withTimeout(budgetMs, async () => {
      try {
        const suggested = await languageModel.suggestReply({ inquiry: event, customer, understanding, assessment });
        spent(suggested.usage);
        return suggested.text;
      } catch (err) {
        if (isCancellation(err)) throw err;
        fellBack('the model could not suggest a reply', err);
        return undefined;
      }
    }).catch((err: unknown) => {
      if (!isCancellation(err)) throw err;
      fellBack('the model took too long to suggest a reply');
      return undefined;
    });
    if (drafted !== undefined) return { text: drafted, warning: MODEL_SUGGESTION_WARNING };
    return { text: await drafting.draftReply({ inquiry: event, customer, assessment }) };
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

  let plan: ReplyPlan | undefined;
  try {
    const planned = await languageModel.planReply({ inquiry: event, customer, understanding, assessment });
    spent(planned.usage);
    plan = planned.plan;
  } catch (err) {
    if (isCancellation(err)) throw err;
    fellBack('the model could not choose a reply', err);
  }
  if (!plan) return byTheRules();
  path.decidedBy = 'model';
  path.plan = plan;
  if (plan.intent === 'hand_to_person') {
    return handOver('the model chose to hand it to a person', orderFacts(), customer, await suggestion(understanding));
  }
  const reply = await drafting.draftReply({ inquiry: event, customer, assessment, plan });
  return answer(reply, `the model chose the reply (${[plan.intent, ...plan.facts].join(', ')})`);
}

/**
 * A customer wrote again about an inquiry (a public comment on its Zendesk ticket): the message
 * joins the conversation a person holds for it, or waits in. No conversation open (the agent
 * answered, or a person resolved it): nothing here acts on it, and the helpdesk, which reopens a
 * ticket its requester answers, puts it before the team.
 */
export async function inquiryFollowUpWorkflow(envelope: EnvelopeOf<'customer.inquiry.followup'>): Promise<FollowUpResult> {
  const { event, source } = envelope;
  const result = await conversations.deliverFollowUp({
    source,
    inquiryId: event.inquiry_id,
    messageId: event.message_id,
    text: event.message,
    at: event.timestamp,
  });
  log.info('follow-up', { inquiryId: event.inquiry_id, delivered: result.delivered, conversationId: result.conversationId });
  return result;
}

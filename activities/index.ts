import type { Responder } from '../src/agent/responder';
import type { AgentSettings } from '../src/agent/types';
import type { Clients } from '../src/clients';
import type { Kysely } from 'kysely';
import type { Schema } from '../src/db/schema';
import type { Notifier } from '../src/notify';
import { conversations } from './conversations';
import type { OutboundProviders } from '../src/providers/outbound';
import { drafting } from './drafting';
import { knowledgeBase } from './knowledge-base';
import { createModelActivities } from './model';
import type { ChatModel } from '../src/llm/model';
import { notifications } from './notifications';
import { partners } from './partners';
import { privacy } from './privacy';
import type { ReceiverEraser } from '../src/spool/privacy';
import { relay, type TemporalDeps } from './relay';
import { agentSettings } from './settings';

export type { ConversationActivities } from './conversations';
export type { DraftingActivities } from './drafting';
export type { KnowledgeBaseActivities } from './knowledge-base';
export type { ModelActivities, ModelUsage } from './model';
export type { NotificationActivities } from './notifications';
export type { LookupActivities, PartnerActivities, StoreOrder } from './partners';
export type { PrivacyActivities } from './privacy';
export type { RelayActivities } from './relay';
export type { SettingsActivities } from './settings';
export { conversations, drafting, knowledgeBase, notifications, partners, privacy, relay, agentSettings };

/** What the worker builds once and the activity groups share (each takes only what it uses). */
export interface ActivityDeps {
  db: Kysely<Schema>;
  clients: Clients;
  /** Stripe and EasyPost, when configured (src/config/providers.ts): the steps they serve go through them. */
  providers?: OutboundProviders;
  notifier: Notifier;
  responder: Responder;
  settings: AgentSettings;
  /** The language model (LLM_*); without one its activities are not registered and workflows never call them. */
  model?: ChatModel;
  /** The receiver's database (its spool and quarantined bodies), for privacy erasures; unset, they do not reach it. */
  receiverEraser?: () => Promise<ReceiverEraser | undefined>;
}

/**
 * Every activity the worker registers, grouped by what it touches and so by timeout profile
 * (workflows/activities.ts gives each group its own proxy). Each is one external effect, safe to
 * retry. Only the relay, the conversations' lookup and the privacy erasures get the Temporal client.
 */
export function createActivities(deps: ActivityDeps, temporalDeps: TemporalDeps) {
  return {
    ...knowledgeBase(deps),
    ...partners(deps),
    ...notifications(deps),
    ...drafting(deps),
    ...agentSettings(deps),
    ...relay(temporalDeps),
    ...conversations({ ...temporalDeps, db: deps.db }),
    ...privacy({ db: deps.db, temporal: temporalDeps.temporal, receiverEraser: deps.receiverEraser }),
    ...(deps.model ? createModelActivities({ model: deps.model }) : {}),
  };
}

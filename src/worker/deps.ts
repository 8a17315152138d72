import type { ActivityDeps } from '../../activities';
import { templateResponder } from '../agent/responder';
import { createClients } from '../clients';
import type { OutboundProvidersConfig } from '../config/providers';
import type { WorkerConfig } from '../config/worker';
import { migrateToLatest, openDatabase } from '../db';
import type { Logger } from '../log';
import { createChatModel } from '../llm/model';
import { createNotifier } from '../notify';
import { createOutboundProviders } from '../providers/outbound';
import { lazyReceiverEraser } from '../spool/privacy';
import { withActivityContext } from './activity-log';

/**
 * Everything the activities share, built once per worker process; `close` releases it. The
 * Temporal client is not among them: only the relay, the conversations' lookup and the privacy erasures get one
 * (createActivities' second argument).
 */
export async function buildActivityDeps(
  config: Omit<
    WorkerConfig,
    | 'temporal'
    | 'logLevel'
    | 'eventLogRetentionMs'
    | 'versioning'
    | 'nonStickyPollRatio'
    | 'slots'
    | 'providers'
    | 'receiverStore'
    | 'partnerRates'
  > & {
    providers?: OutboundProvidersConfig;
    receiverStore?: WorkerConfig['receiverStore'];
  },
  logger: Logger,
): Promise<{ deps: ActivityDeps; close: () => Promise<void> }> {
  const database = await openDatabase(config.databaseUrl);
  await migrateToLatest(database);
  const notifier = createNotifier({
    db: database.db,
    // The notifier runs inside activities: its lines carry the workflow they are about.
    logger: withActivityContext(logger),
    smtpUrl: config.smtpUrl,
    fromAddress: config.notifyFrom,
    agentsChatWebhookUrl: config.agentsChatWebhookUrl,
  });
  // Privacy erasures reach the receiver's spool and quarantined bodies (src/spool/privacy.ts says why directly).
  const receiverEraser = config.receiverStore ? lazyReceiverEraser(config.receiverStore) : undefined;
  return {
    deps: {
      db: database.db,
      clients: createClients(config.systems),
      providers: createOutboundProviders(config.providers),
      notifier,
      responder: templateResponder,
      settings: config.agent,
      ...(config.model ? { model: createChatModel(config.model) } : {}),
      ...(receiverEraser ? { receiverEraser: receiverEraser.get } : {}),
    },
    close: async () => {
      await receiverEraser?.close();
      await database.close();
    },
  };
}

import { initial } from './0001_initial.js';
import { operators } from './0002_operators.js';
import { orderStatusOwner } from './0003_order_status_owner.js';
import { inquiryModel } from './0004_inquiry_model.js';
import { completedEffects } from './0005_completed_effects.js';
import { eventLog } from './0006_event_log.js';
import { providers } from './0007_providers.js';
import { privacy } from './0008_privacy.js';
import { trackers } from './0009_trackers.js';
import { reconcileCursors } from './0010_reconcile_cursors.js';
import { eventLogIdentity } from './0011_event_log_identity.js';
import { orderItemPrices } from './0012_order_item_prices.js';
import type { HooklineMigration } from './migration.js';

export type { DialectName, HooklineMigration } from './migration.js';

/**
 * Every migration, by name. Names sort in the order they run; add new ones at the end as
 * `NNNN_name`. Listed here rather than read from disk so a bundled build carries them.
 */
export const migrations: Readonly<Record<string, HooklineMigration>> = {
  '0001_initial': initial,
  '0002_operators': operators,
  '0003_order_status_owner': orderStatusOwner,
  '0004_inquiry_model': inquiryModel,
  '0005_completed_effects': completedEffects,
  '0006_event_log': eventLog,
  '0007_providers': providers,
  '0008_privacy': privacy,
  '0009_trackers': trackers,
  '0010_reconcile_cursors': reconcileCursors,
  '0011_event_log_identity': eventLogIdentity,
  '0012_order_item_prices': orderItemPrices,
};

export { createNotifier, type Notification, type Notifier, type NotifierDeps, type NotifyResult } from './notifier.js';

import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { Kysely } from 'kysely';
import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer';
import * as repo from '../db/repo.js';
import type { NotificationChannel, NotificationRow, Schema } from '../db/schema.js';

/** A message to a customer or to the human agents' channel. */
export interface Notification {
  /** Names the message: the same key twice sends once, e.g. `${workflowId}:shipped`. */
  idempotencyKey: string;
  audience: 'customer' | 'agents';
  customerId?: string;
  /** Email address for customers; when omitted, the customer's stored email. Ignored for agents. */
  to?: string;
  subject: string;
  body: string;
  /**
   * A provider's test event (Stripe `livemode: false`) sent it: kept in the outbox, marked
   * `test_mode`, and never delivered, whatever channels are configured.
   */
  testMode?: boolean;
}

export interface NotifyResult {
  /** The outbox row. */
  id: number;
  /** True when the key had been delivered already and nothing was sent this time. */
  duplicate: boolean;
  channel: NotificationChannel;
}

export interface Notifier {
  /**
   * Records the message in the outbox, then delivers it unless that key was delivered before.
   * Pass the activity's `cancellationSignal()` as `signal` to abandon a slow delivery.
   *
   * @throws when delivery fails, after marking the row `failed`: an `ApplicationFailure` with
   * `nonRetryable: true` when retrying cannot help (mail rejected for good, chat webhook 4xx,
   * no address), one with `nextRetryDelay` for a chat 429 with `Retry-After`, otherwise a plain
   * `Error`. A later call with the same key tries the delivery again.
   */
  send(n: Notification, options?: { signal?: AbortSignal }): Promise<NotifyResult>;
}

export interface NotifierDeps {
  db: Kysely<Schema>;
  logger?: { info(msg: string, meta?: object): void };
  /** e.g. `smtp://user:pass@mail.example.com:587`; without it customer messages stay in the outbox. */
  smtpUrl?: string;
  /** Sender of customer emails. */
  fromAddress?: string;
  /** Slack-compatible incoming webhook; without it agent messages stay in the outbox. */
  agentsChatWebhookUrl?: string;
  fetchImpl?: typeof fetch;
  /** Limit for one chat webhook call and for each SMTP phase (connect, greeting). */
  timeoutMs?: number;
}

const DEFAULT_FROM = 'hookline <hookline@localhost>';
const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_ERROR_LENGTH = 1_000;

/** Builds the notifier once per worker; it keeps one SMTP transport for all sends. */
export function createNotifier(deps: NotifierDeps): Notifier {
  const { db, logger, agentsChatWebhookUrl } = deps;
  const fetchImpl = deps.fetchImpl ?? fetch;
  const timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const from = deps.fromAddress ?? DEFAULT_FROM;
  const messageIdDomain = /@([^>\s]+)/.exec(from)?.[1] ?? 'localhost';
  const transport = deps.smtpUrl
    ? nodemailer.createTransport({
        url: deps.smtpUrl,
        connectionTimeout: timeoutMs,
        greetingTimeout: timeoutMs,
        socketTimeout: 3 * timeoutMs,
      })
    : undefined;

  function channelFor(audience: Notification['audience'], testMode: boolean): NotificationChannel {
    // A test event's messages are for the people testing: the outbox shows them, nobody receives them.
    if (testMode) return 'outbox';
    if (audience === 'customer') return transport ? 'email' : 'outbox';
    return agentsChatWebhookUrl ? 'chat' : 'outbox';
  }

  async function customerEmail(customerId: string | null): Promise<string | undefined> {
    if (customerId === null) return undefined;
    return (await repo.getCustomer(db, customerId))?.email;
  }

  async function deliverEmail(row: NotificationRow, to: string, signal: AbortSignal | undefined): Promise<void> {
    const mail: Mail.Options & { signal?: AbortSignal } = {
      from,
      to,
      subject: row.subject,
      text: row.body,
      // The same key always gives the same Message-ID, so if a retry re-sends a message whose
      // first attempt reached the server after all, mail clients can still tell it is one message.
      messageId: `<${createHash('sha256').update(row.idempotency_key).digest('hex').slice(0, 32)}@${messageIdDomain}>`,
      headers: { 'X-Idempotency-Key': row.idempotency_key },
      ...(signal ? { signal } : {}),
    };
    try {
      await transport!.sendMail(mail);
    } catch (error) {
      throw classifySmtpError(error);
    }
  }

  async function deliverChat(row: NotificationRow, signal: AbortSignal | undefined): Promise<void> {
    const timeout = AbortSignal.timeout(timeoutMs);
    let response: Response;
    try {
      response = await fetchImpl(agentsChatWebhookUrl!, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: `${row.subject}\n${row.body}` }),
        signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
      });
    } catch (error) {
      // Never the URL in the message: an incoming-webhook URL is a credential.
      throw new Error(`chat webhook request failed: ${describeFetchError(error)}`, { cause: error });
    }
    const detail = (await response.text().catch(() => '')).slice(0, 200);
    if (response.ok) return;
    const message = `chat webhook answered ${response.status}${detail ? `: ${detail}` : ''}`;
    if (response.status === 429) {
      const delayMs = retryAfterMs(response.headers.get('retry-after'));
      throw ApplicationFailure.create({
        type: 'NotificationRateLimited',
        message,
        ...(delayMs !== undefined ? { nextRetryDelay: delayMs } : {}),
      });
    }
    if (response.status >= 400 && response.status < 500 && response.status !== 408) {
      throw ApplicationFailure.create({ type: 'NotificationRejected', message, nonRetryable: true });
    }
    throw new Error(message);
  }

  return {
    async send(n, options = {}) {
      if (!n.idempotencyKey) throw new TypeError('Notification needs an idempotencyKey');
      const channel = channelFor(n.audience, n.testMode === true);
      const createdAt = new Date().toISOString();
      const { row, created } = await repo.claimNotification(db, {
        idempotency_key: n.idempotencyKey,
        audience: n.audience,
        channel,
        recipient: n.audience === 'customer' ? (n.to ?? null) : null,
        customer_id: n.customerId ?? null,
        subject: n.subject,
        body: n.body,
        // For the outbox channel, writing the row is the delivery.
        status: channel === 'outbox' ? 'sent' : 'queued',
        sent_at: channel === 'outbox' ? createdAt : null,
        created_at: createdAt,
        test_mode: n.testMode ? 1 : 0,
      });
      const retry = !created;
      const logMeta = {
        notificationId: row.id,
        idempotencyKey: row.idempotency_key,
        audience: row.audience,
        customerId: row.customer_id ?? undefined,
        retry,
      };

      if (row.status === 'sent') {
        logger?.info(retry ? 'notification already sent' : 'notification sent', {
          ...logMeta,
          channel: row.channel,
          duplicate: retry,
        });
        return { id: row.id, duplicate: retry, channel: row.channel };
      }

      // A new row, or one whose earlier delivery failed or never finished: deliver now, on
      // the channel today's configuration gives (it may have gained SMTP since).
      const deliverOn = channelFor(row.audience, row.test_mode === 1);
      let recipient = row.recipient;
      try {
        if (deliverOn === 'email') {
          recipient ??= n.to ?? (await customerEmail(row.customer_id)) ?? null;
          if (recipient === null) {
            throw ApplicationFailure.create({
              type: 'NotificationNoRecipient',
              message: `no email address for customer ${row.customer_id ?? '(none given)'}`,
              nonRetryable: true,
            });
          }
          await deliverEmail(row, recipient, options.signal);
        } else if (deliverOn === 'chat') {
          await deliverChat(row, options.signal);
        }
      } catch (error) {
        const message = (error instanceof Error ? error.message : String(error)).slice(0, MAX_ERROR_LENGTH);
        await repo.recordNotificationDelivery(db, row.id, { status: 'failed', channel: deliverOn, recipient, error: message });
        logger?.info('notification failed', { ...logMeta, channel: deliverOn, error: message });
        throw error;
      }
      await repo.recordNotificationDelivery(db, row.id, {
        status: 'sent',
        channel: deliverOn,
        recipient,
        sentAt: repo.toIsoTimestamp(new Date()),
      });
      logger?.info('notification sent', { ...logMeta, channel: deliverOn, duplicate: false });
      return { id: row.id, duplicate: false, channel: deliverOn };
    },
  };
}

/** SMTP 5xx replies and unusable envelopes will fail again; connection trouble and 4xx may not. */
function classifySmtpError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const e = error as Error & { code?: string; responseCode?: number; permanent?: boolean };
  // Bad credentials are fixed by an operator, after which a retry should go through.
  if (e.code === 'EAUTH') return error;
  const permanent =
    e.permanent === true || e.code === 'EENVELOPE' || (e.responseCode !== undefined && e.responseCode >= 500 && e.responseCode < 600);
  if (!permanent) return error;
  return ApplicationFailure.create({
    type: 'NotificationRejected',
    message: `mail server rejected the message: ${e.message}`,
    nonRetryable: true,
    cause: error,
  });
}

function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === 'TimeoutError') return 'timed out';
  if (error.name === 'AbortError') return 'cancelled';
  const cause = error.cause as { code?: string; message?: string } | undefined;
  return cause?.code ?? cause?.message ?? error.message;
}

/** `Retry-After` as milliseconds: delay-seconds or an HTTP date. */
function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

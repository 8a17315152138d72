import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { expect, vi } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { NotificationAudience, NotificationsTable, Schema } from '../../src/db/schema';
import type { HandoffService } from '../../src/handoff/service';
import { conversationId, conversationQuery, parseConversationId, type Conversation } from '../../workflows/contracts/conversation';
import { sendSigned } from './harness';

/** The sandbox CRM's customer (Alice Smith) whose complaints the handoff tests raise. */
export const CUSTOMER = 'CUST-67890';

/** An escalation the tests raised: the conversation's ID, and the ID of the workflow that raised it (and awaits it). */
export interface Raised {
  id: string;
  workflowId: string;
}

/** A complaint from the CRM: the inquiry workflow hands it to a person, in a conversation of its own. */
export async function raiseEscalation(
  receiverUrl: string,
  options: { customerId?: string; source?: string; summary?: string } = {},
): Promise<Raised> {
  const res = await sendSigned(receiverUrl, 'crm', {
    event_type: 'customer.inquiry.new',
    timestamp: new Date().toISOString(),
    inquiry_id: `INQ-${randomUUID().slice(0, 8)}`,
    customer_id: options.customerId ?? CUSTOMER,
    summary: options.summary ?? 'This is unacceptable, my order arrived broken',
    source: options.source ?? 'email',
  });
  expect(res.status).toBe(202);
  const workflowId = res.body.workflowId as string;
  return { id: conversationId(workflowId, 'inquiry'), workflowId };
}

/**
 * Leave nothing waiting on the shared dev server: other files list the same customer. Terminates
 * the raising workflows (a conversation's ID stands for the workflow that raised it); their
 * conversations then withdraw themselves (parent close policy). `env` is undefined when a
 * `beforeAll` failed before connecting; then nothing was raised either.
 */
export async function terminateAll(env: Pick<TestWorkflowEnvironment, 'client'> | undefined, workflowIds: string[]): Promise<void> {
  if (!env) return;
  await Promise.all(
    workflowIds.map((id) =>
      env.client.workflow
        .getHandle(parseConversationId(id)?.raisedBy ?? id)
        .terminate('test cleanup')
        .catch(() => undefined),
    ),
  );
}

/**
 * Waits until the conversation `id` waits for a person, asking its workflow (which may not exist
 * yet: the run that raises it starts it), and returns what it shows then.
 */
export async function waitingConversation(
  client: Pick<TestWorkflowEnvironment, 'client'>['client'],
  id: string,
  timeoutMs = 15_000,
): Promise<Conversation> {
  const handle = client.workflow.getHandle(id);
  await expect
    .poll(async () => (await handle.query(conversationQuery).catch(() => undefined))?.status, { timeout: timeoutMs })
    .toBe('waiting');
  return handle.query(conversationQuery);
}

/** The same through the operators' service, as a person sees it (not found until it exists). */
export async function waitingInService(handoffs: Pick<HandoffService, 'show'>, id: string, timeoutMs = 15_000): Promise<void> {
  await expect
    .poll(
      () =>
        handoffs.show(id).then(
          (c) => c.status,
          () => undefined,
        ),
      { timeout: timeoutMs },
    )
    .toBe('waiting');
}

/** Waits until the notifier has recorded a notification matching every given field, and returns it. */
export function waitForNotification(
  db: Kysely<Schema>,
  match: { audience: NotificationAudience; customerId?: string; idempotencyKey?: string; bodyLike?: string },
  timeoutMs = 15_000,
): Promise<Selectable<NotificationsTable>> {
  return vi.waitFor(
    async () => {
      let query = db.selectFrom('notifications').selectAll().where('audience', '=', match.audience);
      if (match.customerId !== undefined) query = query.where('customer_id', '=', match.customerId);
      if (match.idempotencyKey !== undefined) query = query.where('idempotency_key', '=', match.idempotencyKey);
      if (match.bodyLike !== undefined) query = query.where('body', 'like', match.bodyLike);
      const found = await query.executeTakeFirst();
      expect(found).toBeDefined();
      return found!;
    },
    { timeout: timeoutMs, interval: 250 },
  );
}

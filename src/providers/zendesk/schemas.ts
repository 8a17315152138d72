import { z } from 'zod';

/**
 * Zendesk's event webhooks, as much of each as the mapping reads. Every event shares one envelope
 * ("Webhook event types", https://developer.zendesk.com/api-reference/webhooks/event-types/webhook-event-types/):
 * `type`, `account_id`, `id` (the event's own id), `time`, `zendesk_event_version`, `subject`
 * (`zen:ticket:<id>` for a ticket), `detail` (the ticket, its ids as strings) and `event` (what
 * changed). The ticket's `detail` properties are listed on "Ticket events"
 * (https://developer.zendesk.com/api-reference/webhooks/event-types/ticket-events/).
 */

/** Zendesk ids: integers, sent as strings in an event's `detail`; a number is taken too. */
const zendeskId = z.union([z.string().regex(/^\d{1,20}$/), z.number().int().nonnegative()]).transform(String);

const envelope = {
  account_id: z.number().int().optional(),
  id: z.string().min(1).max(256),
  time: z.iso.datetime({ offset: true }),
  zendesk_event_version: z.string().optional(),
  subject: z.string().regex(/^zen:ticket:\d{1,20}$/, 'expected a ticket subject (zen:ticket:<id>)'),
};

export const TicketDetail = z.object({
  id: zendeskId,
  requester_id: zendeskId,
  subject: z.string().nullish(),
  description: z.string().nullish(),
  status: z.string().nullish(),
  via: z.object({ channel: z.string().nullish() }).nullish(),
});

export const TicketCreated = z.object({
  ...envelope,
  type: z.literal('zen:event-type:ticket.created'),
  detail: TicketDetail,
});

/** `event.comment` of a comment-added event: the comment, whether it is public, and who wrote it. */
export const TicketCommentAdded = z.object({
  ...envelope,
  type: z.literal('zen:event-type:ticket.comment_added'),
  detail: TicketDetail,
  event: z.object({
    comment: z.object({
      id: zendeskId,
      body: z.string(),
      is_public: z.boolean(),
      author: z.object({ id: zendeskId, is_staff: z.boolean(), name: z.string().nullish() }),
    }),
  }),
});

import { randomUUID } from 'node:crypto';

/**
 * Zendesk event-webhook bodies built from a ticket, in the envelope Zendesk documents ("Webhook
 * event types": type, account_id, id, time, zendesk_event_version, subject, detail, event) with the
 * ticket `detail` properties "Ticket events" lists, ids as strings. Zendesk's published examples of
 * the two ticket events could not be read here (examples/README.md), so these are not copies of
 * them: the sandbox's stand-in sends them when its tickets change, and `npm run send` posts one.
 */

export interface TicketForEvent {
  id: string;
  requesterId: string;
  subject: string;
  description: string;
  status: string;
  channel: string;
  createdAt: string;
  updatedAt: string;
}

export interface CommentForEvent {
  id: string;
  body: string;
  isPublic: boolean;
  author: { id: string; isStaff: boolean; name: string };
}

const EVENT_VERSION = '2022-11-06';

function detailOf(ticket: TicketForEvent) {
  return {
    actor_id: ticket.requesterId,
    assignee_id: null,
    brand_id: '1',
    created_at: ticket.createdAt,
    custom_status: '1',
    description: ticket.description,
    external_id: null,
    form_id: '1',
    group_id: null,
    id: ticket.id,
    is_public: true,
    organization_id: null,
    priority: null,
    requester_id: ticket.requesterId,
    status: ticket.status.toUpperCase(),
    subject: ticket.subject,
    submitter_id: ticket.requesterId,
    tags: [],
    type: null,
    updated_at: ticket.updatedAt,
    via: { channel: ticket.channel },
  };
}

function envelope(type: string, ticket: TicketForEvent, accountId: number, time: string) {
  return { type, account_id: accountId, id: randomUUID(), time, zendesk_event_version: EVENT_VERSION, subject: `zen:ticket:${ticket.id}` };
}

const sequence = () => ({ meta: { sequence: { id: randomUUID(), position: 1, total: 1 } } });

export function ticketCreatedEvent(ticket: TicketForEvent, accountId = 1, time = ticket.createdAt) {
  return { ...envelope('zen:event-type:ticket.created', ticket, accountId, time), detail: detailOf(ticket), event: sequence() };
}

export function commentAddedEvent(ticket: TicketForEvent, comment: CommentForEvent, accountId = 1, time = ticket.updatedAt) {
  return {
    ...envelope('zen:event-type:ticket.comment_added', ticket, accountId, time),
    detail: detailOf(ticket),
    event: {
      ...sequence(),
      comment: {
        id: comment.id,
        body: comment.body,
        is_public: comment.isPublic,
        author: { id: comment.author.id, is_staff: comment.author.isStaff, name: comment.author.name },
      },
    },
  };
}

/** The ticket the sandbox's Zendesk starts with and `npm run send -- zendesk ticket.created` reports. */
export const EXAMPLE_TICKET: TicketForEvent = {
  id: '35436',
  requesterId: '20978392',
  subject: 'Where is my order ORD-12345?',
  description: 'Hello, I ordered last week and have not heard anything since. Where is my order ORD-12345?',
  status: 'new',
  channel: 'web',
  createdAt: '2024-04-17T17:18:10Z',
  updatedAt: '2024-04-17T17:18:10Z',
};

import { randomUUID } from 'node:crypto';
import { handler, type Provider } from '../types';
import { commentAddedEvent, EXAMPLE_TICKET, ticketCreatedEvent } from './events';
import { ticketCommentAdded, ticketCreated } from './map';
import { TicketCommentAdded, TicketCreated } from './schemas';

/** The Zendesk event types hookline acts on. */
export type ZendeskType = 'zen:event-type:ticket.created' | 'zen:event-type:ticket.comment_added';

/**
 * Zendesk (the helpdesk). Scheme `zendesk` (`X-Zendesk-Webhook-Signature`, base64 HMAC-SHA256 of
 * the signature timestamp followed by the raw body). The type is the signed body's `type`; a new
 * ticket is a customer inquiry named by its ticket id, and a customer's public comment on it is a
 * follow-up that reaches the conversation a person holds for it. The agent's answers go back on
 * the ticket (src/providers/zendesk/client.ts). Identity from the signed body only.
 */
export const zendesk: Provider<ZendeskType> = {
  name: 'zendesk',
  scheme: 'zendesk',
  typeField: 'type',
  typeOf: (body) => {
    const declared = (body as { type?: unknown } | null)?.type;
    return typeof declared === 'string' ? declared : undefined;
  },
  keptHeaders: [],
  handles: {
    'zen:event-type:ticket.created': handler({
      schema: TicketCreated,
      produces: ['customer.inquiry.new'],
      example: { body: ticketCreatedEvent(EXAMPLE_TICKET) },
      map: ticketCreated,
    }),
    'zen:event-type:ticket.comment_added': handler({
      schema: TicketCommentAdded,
      produces: ['customer.inquiry.followup'],
      example: {
        body: commentAddedEvent(
          { ...EXAMPLE_TICKET, status: 'open', updatedAt: '2024-04-17T18:02:41Z' },
          {
            id: '41789',
            body: 'Any news? It has been a week.',
            isPublic: true,
            author: { id: '20978392', isStaff: false, name: 'Customer' },
          },
        ),
      },
      map: ticketCommentAdded,
    }),
  },
  // Zendesk's other ticket events ("Ticket events"): counted by name when ignored.
  knownTypes: [
    'zen:event-type:ticket.agent_assignment_changed',
    'zen:event-type:ticket.brand_changed',
    'zen:event-type:ticket.comment_made_private',
    'zen:event-type:ticket.comment_redacted',
    'zen:event-type:ticket.custom_field_changed',
    'zen:event-type:ticket.custom_status_changed',
    'zen:event-type:ticket.description_changed',
    'zen:event-type:ticket.group_assignment_changed',
    'zen:event-type:ticket.priority_changed',
    'zen:event-type:ticket.requester_changed',
    'zen:event-type:ticket.status_changed',
    'zen:event-type:ticket.subject_changed',
    'zen:event-type:ticket.tags_changed',
    'zen:event-type:ticket.marked_as_spam',
    'zen:event-type:ticket.merged',
    'zen:event-type:ticket.soft_deleted',
    'zen:event-type:ticket.permanently_deleted',
  ],
  unhandled: 'ignore',
  // A new event id and a new ticket id: a new ticket, not a second delivery of the example's.
  fresh: (body) => {
    const event = body as { id: string; subject: string; detail: { id: string } };
    const ticketId = String(100000 + Math.floor(Math.random() * 900000));
    return { ...event, id: randomUUID(), subject: `zen:ticket:${ticketId}`, detail: { ...event.detail, id: ticketId } };
  },
};

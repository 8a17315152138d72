import type { z } from 'zod';
import type { InquiryChannel } from '../../events/fields';
import { hooklineEvent } from '../event';
import { UnmappableError, type Ignore, type Mapped } from '../types';
import type { TicketCommentAdded, TicketCreated, TicketDetail } from './schemas';

/**
 * Zendesk's ticket events as hookline's inquiry events. The ticket names the inquiry
 * (`ZD-<ticket id>`) and is its identity, not the webhook's event id: a ticket is created once, and a
 * customer's follow-up finds the conversation its inquiry raised by the same name
 * (activities/conversations.ts). The requester is the customer (`zendesk-user-<id>`), and the
 * agent's answers go back on the ticket (`ticket`), never by email.
 */

type Detail = z.output<typeof TicketDetail>;

/** The envelope's subject names the ticket its detail is: two tickets in one body cannot say which the event is about. */
function sameTicket(e: { subject: string; detail: Detail }): void {
  if (e.subject !== `zen:ticket:${e.detail.id}`) {
    throw new UnmappableError('the event names two tickets', [`subject: ${e.subject} is not detail.id ${e.detail.id}`]);
  }
}

/** The inquiry a ticket is. */
export const inquiryIdOf = (ticketId: string) => `ZD-${ticketId}`;
/** The customer a Zendesk requester is, for hookline: the enrichment asks Zendesk about them. */
export const customerIdOf = (requesterId: string) => `zendesk-user-${requesterId}`;
/** The requester's Zendesk id, from a customer id that is one; else undefined. */
export function requesterIdOf(customerId: string): string | undefined {
  return /^zendesk-user-(\d{1,20})$/.exec(customerId)?.[1];
}

/** Zendesk's `via.channel` in hookline's words (what the inquiry record and the inbox show). */
function channelOf(detail: Detail): InquiryChannel {
  const channel = detail.via?.channel ?? '';
  if (channel === 'email') return 'email';
  if (/chat|messaging|sms|whatsapp|line|wechat|viber|telegram/.test(channel)) return 'chat';
  if (/voice|phone|voicemail/.test(channel)) return 'phone';
  if (/twitter|facebook|instagram|social/.test(channel)) return 'social';
  return 'web';
}

export function ticketCreated(e: z.output<typeof TicketCreated>): Mapped | Ignore {
  sameTicket(e);
  const { detail } = e;
  const description = detail.description?.trim();
  const summary = detail.subject?.trim() || description?.slice(0, 200) || `Zendesk ticket ${detail.id}`;
  const inquiryId = inquiryIdOf(detail.id);
  return {
    event: hooklineEvent('customer.inquiry.new', {
      timestamp: e.time,
      inquiry_id: inquiryId,
      customer_id: customerIdOf(detail.requester_id),
      summary: summary.slice(0, 2000),
      ...(description ? { message: description.slice(0, 20000) } : {}),
      source: channelOf(detail),
      ticket: { system: 'zendesk', id: detail.id },
    }),
    identity: inquiryId,
    identityFrom: 'natural-key',
    testMode: false,
  };
}

export function ticketCommentAdded(e: z.output<typeof TicketCommentAdded>): Mapped | Ignore {
  sameTicket(e);
  const { detail } = e;
  const { comment } = e.event;
  // The agent's own comments and the team's come back as events too: only the customer's are follow-ups.
  if (comment.author.is_staff) return { ignore: 'a comment by staff (a person on the team, or hookline posting as one)' };
  if (!comment.is_public) return { ignore: 'an internal note' };
  const text = comment.body.trim();
  if (text === '') return { ignore: 'an empty comment' };
  const inquiryId = inquiryIdOf(detail.id);
  return {
    event: hooklineEvent('customer.inquiry.followup', {
      timestamp: e.time,
      inquiry_id: inquiryId,
      customer_id: customerIdOf(detail.requester_id),
      message_id: comment.id,
      message: text.slice(0, 20000),
      ticket: { system: 'zendesk', id: detail.id },
    }),
    identity: `${inquiryId}:${comment.id}`,
    identityFrom: 'natural-key',
    testMode: false,
  };
}

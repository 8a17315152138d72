import { z } from 'zod';
import { EXAMPLE_TICKET } from '../providers/zendesk/events';

/**
 * SANDBOX: a stand-in for the part of Zendesk's Support API the agent uses, at
 * `<sandbox>/zendesk/api/v2/…`: users (`GET /users/{id}`, `GET /users/me`), a user's requested
 * tickets, a ticket and its comments, and `PUT /tickets/{id}`, which adds the request's comment
 * (public, or an internal note) and sets its status, answering `{ticket, audit}` as Zendesk does.
 * Errors are Zendesk's: `{"error": "RecordNotFound", "description": "Not found"}`, 401
 * `{"error": "Couldn't authenticate you"}`. Authentication is Zendesk's API-token Basic auth
 * (`{email}/token:{token}`). Idempotency-Key as Zendesk documents it: a repeat answers the first
 * request's response with `x-idempotency-lookup: hit`; the key with another body is refused (400).
 * Zendesk's documentation names the key for ticket creation only, so the stand-in can be told to
 * ignore it on `PUT` (`ignoreUpdateKeys`), applying a repeat again, as Zendesk may.
 *
 * Every change that changes the ticket leaves an audit, with the request's `metadata` as the audit's
 * `metadata.custom` (Zendesk's "Setting Metadata"), listed by `GET /tickets/{id}/audits` oldest
 * first, with Zendesk's cursor pagination (`page[size]` up to 100, `page[after]`; `meta.has_more`,
 * `meta.after_cursor`) or, without `page[...]`, its offset pagination (`next_page`, `count`).
 */

export interface ZendeskUserRecord {
  id: number;
  url: string;
  name: string;
  email: string;
  role: 'end-user' | 'agent' | 'admin';
  verified: boolean;
  created_at: string;
  updated_at: string;
}

export interface ZendeskCommentRecord {
  id: number;
  type: 'Comment';
  author_id: number;
  body: string;
  html_body: string;
  plain_body: string;
  public: boolean;
  audit_id: number;
  via: { channel: string };
  created_at: string;
}

export interface ZendeskTicketRecord {
  id: number;
  url: string;
  subject: string;
  description: string;
  /** `deleted`: soft-deleted, as the incremental export lists it unless asked to exclude it. */
  status: 'new' | 'open' | 'pending' | 'hold' | 'solved' | 'closed' | 'deleted';
  requester_id: number;
  submitter_id: number;
  assignee_id: number | null;
  via: { channel: string };
  tags: string[];
  created_at: string;
  updated_at: string;
}

/** A Ticket Audit in Zendesk's JSON format ("Ticket Audits"): one change to a ticket, its events and its metadata. */
export interface ZendeskAuditRecord {
  id: number;
  ticket_id: number;
  created_at: string;
  author_id: number;
  /** `custom`: what the request's `ticket.metadata` carried (`{}` when none); `system`: what Zendesk adds. */
  metadata: { custom: Record<string, unknown>; system: { client: string; ip_address: string; location: string } };
  via: { channel: string };
  events: Record<string, unknown>[];
}

export interface ZendeskSandboxState {
  users: ZendeskUserRecord[];
  tickets: ZendeskTicketRecord[];
  /** Every comment by ticket id, oldest first: the ticket's description is its first. */
  comments: Record<string, ZendeskCommentRecord[]>;
  /** Every audit by ticket id, oldest first: the ticket's creation is its first. */
  audits: Record<string, ZendeskAuditRecord[]>;
}

export interface ZendeskReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** The agent the sandbox's API token belongs to: the author of every comment the agent posts. */
export const SANDBOX_ZENDESK_AGENT = { id: 900001, email: 'agent@hookline.example', name: 'hookline' };
/** The requester of the example ticket (and of every ticket the stand-in makes up). */
const EXAMPLE_REQUESTER = { id: Number(EXAMPLE_TICKET.requesterId), email: 'jane.doe@example.com', name: 'Jane Doe' };

const UpdateTicket = z.object({
  ticket: z
    .object({
      comment: z.object({ body: z.string().min(1), public: z.boolean().optional() }).optional(),
      status: z.enum(['new', 'open', 'pending', 'hold', 'solved', 'closed']).optional(),
      // "Setting Metadata": up to 1 kilobyte of the caller's own, kept as the audit's `metadata.custom`.
      metadata: z
        .record(z.string(), z.unknown())
        .refine((m) => JSON.stringify(m).length <= 1024, 'metadata is limited to 1 kilobyte')
        .optional(),
    })
    .refine((t) => t.comment !== undefined || t.status !== undefined, 'ticket needs a comment or a status'),
});

const notFound = (): ZendeskReply => ({ status: 404, body: { error: 'RecordNotFound', description: 'Not found' } });

export function createZendeskSandbox(now: () => Date, generateTickets = true) {
  const state: ZendeskSandboxState = { users: [], tickets: [], comments: {}, audits: {} };
  const counters = { comment: 0, audit: 0, event: 0 };
  let ignoreUpdateKeys = false;
  const at = () =>
    now()
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z');
  const origin = 'https://hookline-sandbox.zendesk.com';

  function addUser(user: { id: number; email: string; name: string; role?: ZendeskUserRecord['role'] }): ZendeskUserRecord {
    const existing = state.users.find((u) => u.id === user.id);
    if (existing) return existing;
    const record: ZendeskUserRecord = {
      id: user.id,
      url: `${origin}/api/v2/users/${user.id}.json`,
      name: user.name,
      email: user.email,
      role: user.role ?? 'end-user',
      verified: true,
      created_at: at(),
      updated_at: at(),
    };
    state.users.push(record);
    return record;
  }

  /** An audit of a change to a ticket: its events, the caller's metadata as `custom`. */
  function addAudit(
    ticketId: number,
    a: { id?: number; authorId: number; channel: string; events: Record<string, unknown>[]; custom?: Record<string, unknown> },
  ): ZendeskAuditRecord {
    const audit: ZendeskAuditRecord = {
      id: a.id ?? 70_000 + ++counters.audit,
      ticket_id: ticketId,
      created_at: at(),
      author_id: a.authorId,
      metadata: { custom: a.custom ?? {}, system: { client: 'hookline', ip_address: '127.0.0.1', location: 'Sandbox' } },
      via: { channel: a.channel },
      events: a.events,
    };
    (state.audits[String(ticketId)] ??= []).push(audit);
    return audit;
  }

  function addComment(
    ticketId: number,
    c: { authorId: number; body: string; public: boolean; channel: string; auditId?: number },
  ): ZendeskCommentRecord {
    const comment: ZendeskCommentRecord = {
      id: 41_000 + ++counters.comment,
      type: 'Comment',
      author_id: c.authorId,
      body: c.body,
      html_body: `<div class="zd-comment"><p>${c.body.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</p></div>`,
      plain_body: c.body,
      public: c.public,
      audit_id: c.auditId ?? 70_000 + ++counters.audit,
      via: { channel: c.channel },
      created_at: at(),
    };
    (state.comments[String(ticketId)] ??= []).push(comment);
    return comment;
  }

  /** A ticket as a customer would open it: its description is its first comment. */
  function addTicket(t: {
    id: number;
    requesterId: number;
    subject: string;
    description: string;
    channel?: string;
    /** When the customer opened it (default: now), e.g. over a minute ago, for the incremental export to list it. */
    createdAt?: string;
  }): ZendeskTicketRecord {
    const existing = state.tickets.find((x) => x.id === t.id);
    if (existing) return existing;
    const created = t.createdAt ?? at();
    const ticket: ZendeskTicketRecord = {
      id: t.id,
      url: `${origin}/api/v2/tickets/${t.id}.json`,
      subject: t.subject,
      description: t.description,
      status: 'new',
      requester_id: t.requesterId,
      submitter_id: t.requesterId,
      assignee_id: null,
      via: { channel: t.channel ?? 'web' },
      tags: [],
      created_at: created,
      updated_at: created,
    };
    state.tickets.push(ticket);
    const auditId = 70_000 + ++counters.audit;
    const comment = addComment(t.id, { authorId: t.requesterId, body: t.description, public: true, channel: ticket.via.channel, auditId });
    addAudit(t.id, {
      id: auditId,
      authorId: t.requesterId,
      channel: ticket.via.channel,
      events: [
        { id: comment.id, type: 'Comment', author_id: comment.author_id, body: comment.body, public: true },
        { id: 90_000 + ++counters.event, type: 'Create', field_name: 'status', value: 'new' },
      ],
    });
    return ticket;
  }

  function seed(): void {
    addUser({ ...SANDBOX_ZENDESK_AGENT, role: 'agent' });
    addUser(EXAMPLE_REQUESTER);
    addTicket({
      id: Number(EXAMPLE_TICKET.id),
      requesterId: EXAMPLE_REQUESTER.id,
      subject: EXAMPLE_TICKET.subject,
      description: EXAMPLE_TICKET.description,
      // When the example's webhook body says it was opened: long before any reconciliation pass looks.
      createdAt: EXAMPLE_TICKET.createdAt,
    });
  }
  seed();

  /** A ticket by id; one the stand-in has not seen is made up for the example's requester (`npm run send --fresh`). */
  function ticketOf(id: string): ZendeskTicketRecord | undefined {
    const found = state.tickets.find((t) => String(t.id) === id);
    if (found || !generateTickets || !/^\d{1,12}$/.test(id)) return found;
    return addTicket({ id: Number(id), requesterId: EXAMPLE_REQUESTER.id, subject: `Ticket ${id}`, description: `Ticket ${id}` });
  }

  return {
    state,
    addUser,
    addTicket,
    addComment,
    /** Whether `PUT /tickets/{id}` ignores its Idempotency-Key (applies a repeat again); false by default. */
    ignoreUpdateKeys(ignore?: boolean): boolean {
      if (ignore !== undefined) ignoreUpdateKeys = ignore;
      return ignoreUpdateKeys;
    },
    user(id: string): ZendeskReply {
      const user = id === 'me' ? state.users.find((u) => u.id === SANDBOX_ZENDESK_AGENT.id) : state.users.find((u) => String(u.id) === id);
      return user ? { status: 200, body: { user } } : notFound();
    },
    requested(userId: string): ZendeskReply {
      if (!state.users.some((u) => String(u.id) === userId)) return notFound();
      const tickets = state.tickets.filter((t) => String(t.requester_id) === userId);
      return { status: 200, body: { tickets, next_page: null, previous_page: null, count: tickets.length } };
    },
    ticket(id: string): ZendeskReply {
      const ticket = ticketOf(id);
      return ticket ? { status: 200, body: { ticket } } : notFound();
    },
    comments(id: string): ZendeskReply {
      const ticket = ticketOf(id);
      if (!ticket) return notFound();
      const comments = state.comments[id] ?? [];
      return { status: 200, body: { comments, next_page: null, previous_page: null, count: comments.length } };
    },
    update(id: string, body: unknown): ZendeskReply {
      const ticket = ticketOf(id);
      if (!ticket) return notFound();
      const parsed = UpdateTicket.safeParse(body);
      if (!parsed.success) {
        return {
          status: 422,
          body: {
            error: 'RecordInvalid',
            description: 'Record validation errors',
            details: { base: parsed.error.issues.map((i) => ({ description: i.message })) },
          },
        };
      }
      const { comment, status, metadata } = parsed.data.ticket;
      // "If your update does not change the ticket, this will not create an Audit and will not save your metadata."
      if (!comment && status === ticket.status) return { status: 200, body: { ticket } };
      const events: Record<string, unknown>[] = [];
      const auditId = 70_000 + ++counters.audit;
      if (comment) {
        const added = addComment(ticket.id, {
          authorId: SANDBOX_ZENDESK_AGENT.id,
          body: comment.body,
          public: comment.public ?? true,
          channel: 'api',
          auditId,
        });
        events.push({ id: added.id, type: 'Comment', author_id: added.author_id, body: added.body, public: added.public });
      }
      if (status && status !== ticket.status) {
        events.push({ id: 90_000 + ++counters.event, type: 'Change', field_name: 'status', value: status, previous_value: ticket.status });
        ticket.status = status;
      }
      ticket.updated_at = at();
      const audit = addAudit(ticket.id, {
        id: auditId,
        authorId: SANDBOX_ZENDESK_AGENT.id,
        channel: 'api',
        events,
        ...(metadata ? { custom: metadata } : {}),
      });
      return { status: 200, body: { ticket, audit } };
    },
    /**
     * `GET /tickets/{id}/audits` ("List Audits for a Ticket"), oldest first: with `page[size]` or
     * `page[after]`, Zendesk's cursor pagination (`{audits, meta: {has_more, after_cursor,
     * before_cursor}, links: {prev, next}}`, 100 a page at most); without, its offset pagination
     * (`{audits, next_page, previous_page, count}`, 100 a page).
     */
    audits(id: string, query: URLSearchParams, origin: string): ZendeskReply {
      const ticket = ticketOf(id);
      if (!ticket) return notFound();
      const all = state.audits[id] ?? [];
      const base = `${origin}/api/v2/tickets/${id}/audits`;
      const size = query.get('page[size]');
      const after = query.get('page[after]');
      if (size === null && after === null) {
        const page = Math.max(Number(query.get('page') ?? 1) || 1, 1);
        const audits = all.slice((page - 1) * 100, page * 100);
        return {
          status: 200,
          body: {
            audits,
            next_page: all.length > page * 100 ? `${base}.json?page=${page + 1}` : null,
            previous_page: page > 1 ? `${base}.json?page=${page - 1}` : null,
            count: all.length,
          },
        };
      }
      const perPage = Math.min(Math.max(Number(size ?? 100) || 100, 1), 100);
      let start = 0;
      if (after !== null) {
        const last = Number(Buffer.from(after, 'base64url').toString('utf8'));
        if (!Number.isInteger(last)) return { status: 400, body: { error: 'InvalidPaginationParameter', description: 'invalid cursor' } };
        start = all.findIndex((a) => a.id > last);
        if (start < 0) start = all.length;
      }
      const audits = all.slice(start, start + perPage);
      const hasMore = start + perPage < all.length;
      const cursor = (n: number | undefined) => (n === undefined ? null : Buffer.from(String(n)).toString('base64url'));
      const afterCursor = cursor(audits.at(-1)?.id);
      const beforeCursor = cursor(audits[0] ? audits[0].id - 1 : undefined);
      return {
        status: 200,
        body: {
          audits,
          meta: { has_more: hasMore, after_cursor: afterCursor, before_cursor: beforeCursor },
          links: {
            prev: beforeCursor ? `${base}.json?page%5Bbefore%5D=${beforeCursor}&page%5Bsize%5D=${perPage}` : null,
            next: hasMore && afterCursor ? `${base}.json?page%5Bafter%5D=${afterCursor}&page%5Bsize%5D=${perPage}` : null,
          },
        },
      };
    },
    /**
     * `GET /incremental/tickets/cursor.json`: Zendesk's cursor-based incremental ticket export
     * ("Incremental Exports": `start_time` for the first request, then `cursor`; each answer
     * `{tickets, after_url, after_cursor, before_url, before_cursor, end_of_stream}`). A ticket is
     * listed by when it last changed (its `generated_timestamp`), in that order, tickets changed in
     * the last minute left out, as Zendesk does; a `start_time` less than a minute old is refused;
     * deleted tickets are listed unless `exclude_deleted=true`.
     * The cursor is opaque to the caller, as Zendesk's is.
     */
    incrementalTickets(query: URLSearchParams, origin: string): ZendeskReply {
      const nowSeconds = Math.floor(now().getTime() / 1000);
      const upTo = nowSeconds - 60;
      const perPage = Math.min(Math.max(Number(query.get('per_page') ?? 1000) || 1000, 1), 1000);
      const cursor = query.get('cursor');
      const startTime = query.get('start_time');
      let after: { ts: number; id: number };
      if (cursor !== null) {
        const [ts, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|').map(Number);
        if (!Number.isInteger(ts) || !Number.isInteger(id))
          return { status: 400, body: { error: 'InvalidValue', description: 'Invalid cursor' } };
        after = { ts: ts!, id: id! };
      } else if (startTime !== null && /^\d+$/.test(startTime)) {
        if (Number(startTime) > upTo) {
          return {
            status: 400,
            body: { error: 'InvalidValue', description: 'Too recent start_time. Use a start_time older than 1 minute' },
          };
        }
        after = { ts: Number(startTime), id: -1 };
      } else {
        return { status: 400, body: { error: 'InvalidValue', description: 'start_time or cursor is required' } };
      }
      const generated = (t: ZendeskTicketRecord) => Math.floor(Date.parse(t.updated_at) / 1000);
      const changed = state.tickets
        .map((t) => ({ t, ts: generated(t) }))
        .filter(({ t, ts }) => ts <= upTo && (ts > after.ts || (ts === after.ts && t.id > after.id)))
        .filter(({ t }) => query.get('exclude_deleted') !== 'true' || t.status !== 'deleted')
        .sort((a, b) => a.ts - b.ts || a.t.id - b.t.id);
      const page = changed.slice(0, perPage);
      const last = page.at(-1);
      const position = last ? { ts: last.ts, id: last.t.id } : after;
      const afterCursor = Buffer.from(`${position.ts}|${position.id}`).toString('base64url');
      const first = page[0];
      const beforeCursor = first ? Buffer.from(`${first.ts}|${first.t.id - 1}`).toString('base64url') : null;
      const url = (c: string) => `${origin}/api/v2/incremental/tickets/cursor.json?cursor=${c}`;
      return {
        status: 200,
        body: {
          tickets: page.map(({ t, ts }) => ({ ...t, generated_timestamp: ts })),
          after_url: url(afterCursor),
          after_cursor: afterCursor,
          before_url: beforeCursor ? url(beforeCursor) : null,
          before_cursor: beforeCursor,
          end_of_stream: changed.length <= perPage,
        },
      };
    },
    /** Zendesk's answer to a key reused with another request. */
    idempotencyMismatch(): ZendeskReply {
      return {
        status: 400,
        body: {
          error: 'IdempotentRequestError',
          description: 'The request parameters do not match the original request with this Idempotency-Key',
        },
      };
    },
    reset(): void {
      state.users.length = 0;
      state.tickets.length = 0;
      for (const key of Object.keys(state.comments)) delete state.comments[key];
      for (const key of Object.keys(state.audits)) delete state.audits[key];
      counters.comment = counters.audit = counters.event = 0;
      ignoreUpdateKeys = false;
      seed();
    },
  };
}

/** Zendesk's API-token Basic auth: `{email}/token:{token}`; with a sandbox token, the token must be it. */
export function zendeskAuthorized(header: string | undefined, token: string | undefined): boolean {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!match) return false;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  const user = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  if (!/^[^/\s]+@[^/\s]+\/token$/.test(user) || password === '') return false;
  return token === undefined || password === token;
}

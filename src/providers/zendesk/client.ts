import { z } from 'zod';
import { createHttpClient, seg, upstreamFailure, type RequestOptions, type WriteOptions } from '../../clients/http';

/**
 * Zendesk's Support (ticketing) API, `/api/v2/`. Zendesk has no official Node SDK, so this is the
 * project's own HTTP client (src/clients/http.ts): errors classified where the status is known,
 * `Retry-After` on a 429 (Zendesk's rate limits answer with one) becoming the next retry's delay,
 * redirects never followed, a deadline per request, the caller's cancellation kept apart.
 */
export const ZENDESK_API_VERSION = 'v2' as const;

export interface ZendeskClientConfig {
  /** The account's subdomain: `https://<subdomain>.zendesk.com`. */
  subdomain: string;
  /** The agent's email the API token belongs to. */
  email: string;
  /** An API token (Admin Center, Apps and integrations, Zendesk API). Never in error messages. */
  apiToken: string;
  /** ZENDESK_API_BASE_URL: instead of the subdomain's, up to (not including) `/api/v2` (the sandbox: `<url>/zendesk`). */
  baseUrl?: string;
  timeoutMs?: number;
}

/** What a ticket's status may be set to (Zendesk's own values). */
export const TICKET_STATUSES = ['new', 'open', 'pending', 'hold', 'solved', 'closed'] as const;
export type TicketStatus = (typeof TICKET_STATUSES)[number];

// Zendesk's JSON ids are integers; a string id is accepted too and kept as the decimal string hookline stores.
const zendeskId = z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/)]).transform(String);

/** `GET /api/v2/users/{id}`: the parts of Zendesk's User the agent reads. */
export const ZendeskUser = z.object({
  id: zendeskId,
  name: z.string(),
  email: z.string().nullish(),
  /** Whether the user's email is verified: only then does hookline take it to name the store's customer. */
  verified: z.boolean().optional(),
  role: z.string().optional(),
});
export type ZendeskUser = z.infer<typeof ZendeskUser>;

/** A Ticket as Zendesk's ticket endpoints answer it, as much as hookline reads. */
export const ZendeskTicket = z.object({
  id: zendeskId,
  subject: z.string().nullish(),
  status: z.string(),
  requester_id: zendeskId.nullish(),
  created_at: z.string().optional(),
  updated_at: z.string().optional(),
});
export type ZendeskTicket = z.infer<typeof ZendeskTicket>;

/** A ticket as the incremental export lists it: what a `ticket.created` event's `detail` is built from. */
export const ExportedTicket = ZendeskTicket.extend({
  description: z.string().nullish(),
  created_at: z.string(),
  updated_at: z.string(),
  via: z.object({ channel: z.union([z.string(), z.number()]).transform(String).nullish() }).nullish(),
});
export type ExportedTicket = z.infer<typeof ExportedTicket>;

/** Cursor-based incremental export's answer ("Incremental Exports", Cursor-based Pagination JSON Format). */
const TicketExportResponse = z.object({
  tickets: z.array(ExportedTicket),
  after_cursor: z.string().nullish(),
  end_of_stream: z.boolean(),
});
export type TicketExportPage = z.infer<typeof TicketExportResponse>;

const UserResponse = z.object({ user: ZendeskUser });
const TicketsResponse = z.object({ tickets: z.array(ZendeskTicket) });
/** `PUT /api/v2/tickets/{id}` answers the ticket and the audit of the change. */
const UpdateResponse = z.object({ ticket: ZendeskTicket, audit: z.object({ id: zendeskId }).passthrough().optional() });
const TicketResponse = z.object({ ticket: ZendeskTicket });

/**
 * The key of hookline's effect in a change's audit metadata. Zendesk keeps a request's
 * `ticket.metadata` (up to 1 kilobyte) as the resulting audit's `metadata.custom` — "Setting
 * Metadata" in the Tickets reference
 * (https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/, formerly
 * https://developer.zendesk.com/rest_api/docs/core/tickets#setting-metadata), and the audit's
 * `metadata` is "custom and system data" in "Ticket Audits"
 * (https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_audits/).
 */
export const EFFECT_METADATA_KEY = 'hookline_effect' as const;

/** A Ticket Audit, as much as hookline reads: its id and the custom metadata of the change. */
const ZendeskAudit = z.object({
  id: zendeskId,
  metadata: z
    .object({ custom: z.record(z.string(), z.unknown()).nullish() })
    .passthrough()
    .nullish(),
});
/** "List Audits for a Ticket" with cursor pagination: oldest first, 100 a page at most. */
const AuditsPage = z.object({
  audits: z.array(ZendeskAudit),
  meta: z.object({ has_more: z.boolean(), after_cursor: z.string().nullish() }),
});
const AUDITS_PAGE_SIZE = 100;
/**
 * A ticket with more audits than this is not one the agent answers again on a retry (the step goes to
 * a person); a cursor that never ends is a fault, not a reason to loop.
 */
const MAX_AUDIT_PAGES = 50;
const MeResponse = z.object({ user: ZendeskUser });

/** One change to a ticket: a comment (public, or an internal note), its status, or both. */
export interface TicketUpdate {
  comment?: { body: string; public: boolean };
  status?: TicketStatus;
}

export interface ZendeskClient {
  readonly apiVersion: typeof ZENDESK_API_VERSION;
  /** `GET /api/v2/users/{id}`: the requester. Not found: a non-retryable UpstreamNotFound. */
  user(userId: string, options?: RequestOptions): Promise<ZendeskUser>;
  /** `GET /api/v2/users/{id}/tickets/requested`: the user's tickets (the first page, 100 at most). */
  requestedTickets(userId: string, options?: RequestOptions): Promise<ZendeskTicket[]>;
  /**
   * `PUT /api/v2/tickets/{id}` with `{ ticket: { comment, status, metadata } }`, the caller's
   * idempotency key both as the Idempotency-Key header and in the change's audit metadata
   * (`metadata.custom.hookline_effect`). Zendesk documents the header for ticket creation only, so
   * it is a short-term guard at best; with `lookFirst` (a retry: an earlier attempt may have been
   * applied and its answer lost), the ticket's audits are read first and a change already there is
   * not made again (`alreadyApplied`, the ticket as it is now). Callers record the effect too
   * (activities/partners.ts `once`), which outlives both.
   */
  updateTicket(
    ticketId: string,
    update: TicketUpdate,
    options: WriteOptions & { lookFirst?: boolean },
  ): Promise<{ ticket: ZendeskTicket; auditId?: string; alreadyApplied?: true }>;
  /**
   * The audit of the change made under `effectKey` (its `metadata.custom.hookline_effect`), if the
   * ticket has one: `GET /api/v2/tickets/{id}/audits`, every page, oldest first (Zendesk offers no
   * newest-first order for it). Not found: undefined; the ticket not found: UpstreamNotFound.
   */
  findUpdate(ticketId: string, effectKey: string, options?: RequestOptions): Promise<{ auditId: string } | undefined>;
  /**
   * `GET /api/v2/incremental/tickets/cursor.json`: the tickets changed since `startTime` (Unix
   * seconds, at least a minute old), or from a previous page's `after_cursor`, deleted tickets left
   * out; `end_of_stream`
   * says whether there is more. Zendesk allows 10 requests a minute to it (its 429 carries Retry-After).
   */
  incrementalTickets(
    from: { startTime: number } | { cursor: string },
    options?: RequestOptions & { perPage?: number },
  ): Promise<TicketExportPage>;
  /** `GET /api/v2/users/me`: whether the credentials are valid (`npm run providers -- check`). */
  me(options?: RequestOptions): Promise<ZendeskUser>;
}

export function zendeskBaseUrl(config: Pick<ZendeskClientConfig, 'subdomain' | 'baseUrl'>): string {
  return (config.baseUrl ?? `https://${config.subdomain}.zendesk.com`).replace(/\/+$/, '');
}

export function createZendeskClient(config: ZendeskClientConfig): ZendeskClient {
  const http = createHttpClient('Zendesk', {
    baseUrl: `${zendeskBaseUrl(config)}/api/${ZENDESK_API_VERSION}`,
    // Zendesk's API-token authentication: `{email}/token:{api_token}` as Basic credentials.
    basicAuth: { username: `${config.email}/token`, password: config.apiToken },
    ...(config.timeoutMs !== undefined ? { timeoutMs: config.timeoutMs } : {}),
  });
  async function findUpdate(ticketId: string, effectKey: string, options?: RequestOptions) {
    let after: string | undefined;
    for (let page = 0; page < MAX_AUDIT_PAGES; page++) {
      const query = new URLSearchParams({ 'page[size]': String(AUDITS_PAGE_SIZE) });
      if (after) query.set('page[after]', after);
      const answered = await http.get(`/tickets/${seg(ticketId)}/audits?${query}`, AuditsPage, options);
      const found = answered.audits.find((a) => a.metadata?.custom?.[EFFECT_METADATA_KEY] === effectKey);
      if (found) return { auditId: found.id };
      if (!answered.meta.has_more) return undefined;
      if (!answered.meta.after_cursor || answered.meta.after_cursor === after) break;
      after = answered.meta.after_cursor;
    }
    // Not read to the end, so not known to be absent: making the change again could make it twice,
    // which is what the look was for. No retry reads further, so the step goes to a person.
    throw upstreamFailure(
      { system: 'Zendesk', operation: `GET /tickets/${ticketId}/audits` },
      'UpstreamInvalidResponse',
      `the ticket's audits could not be read to their end (${MAX_AUDIT_PAGES} pages at most, or a cursor that did not move): ` +
        `whether update ${effectKey} was made is unknown, so it is not made again`,
    );
  }

  return {
    apiVersion: ZENDESK_API_VERSION,
    user: async (userId, options) => (await http.get(`/users/${seg(userId)}`, UserResponse, options)).user,
    requestedTickets: async (userId, options) =>
      (await http.get(`/users/${seg(userId)}/tickets/requested?per_page=100`, TicketsResponse, options)).tickets,
    async updateTicket(ticketId, update, options) {
      const { lookFirst, ...write } = options;
      if (lookFirst) {
        const done = await findUpdate(ticketId, write.idempotencyKey, write);
        if (done) {
          const { ticket } = await http.get(`/tickets/${seg(ticketId)}`, TicketResponse, write);
          return { ticket, auditId: done.auditId, alreadyApplied: true };
        }
      }
      const body = {
        ticket: {
          ...(update.comment ? { comment: { body: update.comment.body, public: update.comment.public } } : {}),
          ...(update.status ? { status: update.status } : {}),
          // The request's metadata is the audit's `metadata.custom` (see EFFECT_METADATA_KEY). Only a
          // change that changes the ticket leaves an audit: a status it already has leaves none, and
          // making that again is harmless; a comment always leaves one.
          metadata: { [EFFECT_METADATA_KEY]: write.idempotencyKey },
        },
      };
      const answered = await http.put(`/tickets/${seg(ticketId)}`, body, UpdateResponse, write);
      return { ticket: answered.ticket, ...(answered.audit ? { auditId: answered.audit.id } : {}) };
    },
    findUpdate,
    incrementalTickets(from, options) {
      const query = new URLSearchParams('cursor' in from ? { cursor: from.cursor } : { start_time: String(from.startTime) });
      // A ticket deleted (spam, a mistake) is no inquiry to start ("Excluding deleted tickets").
      query.set('exclude_deleted', 'true');
      if (options?.perPage) query.set('per_page', String(options.perPage));
      const { perPage: _perPage, ...request } = options ?? {};
      return http.get(`/incremental/tickets/cursor.json?${query}`, TicketExportResponse, request);
    },
    me: async (options) => (await http.get('/users/me', MeResponse, options)).user,
  };
}

import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { IEvent } from '@easypost/api';
import express, { type Request, type Response } from 'express';
import { signWebhook } from '../signatures';

/**
 * SANDBOX: a stand-in for EasyPost as a sender of events — it delivers each Event to a webhook
 * endpoint, signed with the webhook's secret as EasyPost signs (`X-Hmac-Signature`), or drops it on
 * the way — and answers what EasyPost's API says of its events:
 *
 * - `GET /v2/events`: Basic auth with the API key, newest first, `start_datetime`/`end_datetime`
 *   (ISO-8601), `before_id` for the next page and `page_size` (at most 100), in EasyPost's list
 *   shape `{events, has_more}`. A listed Event is EasyPost's record of it, not its webhook body: no
 *   `result`, `previous_attributes` or URLs (EasyPost/examples `official/docs/responses/events/
 *   events-list.json`; @easypost/api 8.9.0's `IEvent.result`: "This field will not be returned when
 *   retrieving events directly from the API").
 * - `GET /v2/events/:id/payloads`: `{payloads}`, one Payload per delivery attempt, `request_body`
 *   the exact body POSTed to the webhook (docs.easypost.com/docs/events/payloads). An Event not yet
 *   attempted has none.
 *
 * Errors as `{error: {code, message}}`. A dropped delivery is recorded as EasyPost records a failed
 * attempt: a Payload whose response is a 502 (what a proxy with no upstream answers), the Event
 * `status: "failed"`.
 */

/** An Event as its webhook delivers it (`result` included). */
export type EasyPostEventObject = Record<string, unknown> & { id: string; created_at: string };

/** An Event as `GET /v2/events` lists it. */
export type EasyPostListedEvent = Pick<IEvent, 'id' | 'object' | 'mode' | 'description' | 'status' | 'created_at'> & { user_id?: string };

/**
 * A Payload as `GET /v2/events/:id/payloads` returns it (docs.easypost.com/docs/events/payloads,
 * "Payload object"). @easypost/api 8.9.0 declares `IPayload` with `response_body` only and does not
 * export it from its entry point, so the documented fields are written out here.
 */
export interface EasyPostPayload {
  id: string;
  object: 'Payload';
  mode?: 'test' | 'production';
  request_url: string;
  request_headers: Record<string, string>;
  request_body: string;
  response_code: number;
  response_body: string | null;
  response_headers: Record<string, string>;
  total_time: number;
  created_at: string;
  updated_at: string;
}

/** What the stand-in (and the sandbox) keeps of one Event: its webhook body, its status, its attempts. */
export interface EasyPostEventRecord {
  body: EasyPostEventObject;
  status: IEvent['status'];
  payloads: EasyPostPayload[];
}

export interface EasyPostEventsStandIn {
  /** `http://127.0.0.1:<port>/v2`: EASYPOST_API_BASE_URL. */
  url: string;
  /** Records the Event and delivers it to `endpoint` (or drops it): resolves to the receiver's status, or undefined for a drop. */
  send(event: EasyPostEventObject, endpoint: { url: string; secret: string }, options?: { drop?: boolean }): Promise<number | undefined>;
  /**
   * Records an Event with no delivery attempt: not tried yet (`in_queue`, the default), or one
   * EasyPost is done with that no webhook received (`completed`: none was configured when it was sent).
   */
  record(event: EasyPostEventObject, status?: 'in_queue' | 'completed'): void;
  /** Delivers a recorded Event (again): resolves to the receiver's status. */
  deliver(id: string, endpoint: { url: string; secret: string }, options?: { drop?: boolean }): Promise<number | undefined>;
  readonly requests: { total: number; payloads: number; queries: URLSearchParams[] };
  close(): Promise<void>;
}

const PAGE_SIZE_MAX = 100;

const listed = ({ body, status }: EasyPostEventRecord): EasyPostListedEvent => ({
  id: body.id,
  object: 'Event',
  mode: body.mode === 'test' ? 'test' : 'production',
  description: String(body.description ?? ''),
  status,
  created_at: body.created_at,
  ...(typeof body.user_id === 'string' ? { user_id: body.user_id } : {}),
});

/**
 * `GET /v2/events` over `events` (oldest first), as EasyPost answers it: shared by this stand-in and
 * the sandbox's EasyPost (`<sandbox>/easypost/v2/events`, what `npm start`'s schedules ask).
 */
export function listEasyPostEvents(events: readonly EasyPostEventRecord[], query: URLSearchParams): { status: number; body: unknown } {
  const pageSize = Number(query.get('page_size') ?? '20');
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > PAGE_SIZE_MAX) {
    return { status: 422, body: { error: { code: 'PARAMETER.INVALID', message: 'page_size must be between 1 and 100' } } };
  }
  const start = query.get('start_datetime');
  const end = query.get('end_datetime');
  let matching = [...events]
    .reverse()
    .filter(
      ({ body }) =>
        (start === null || Date.parse(body.created_at) >= Date.parse(start)) &&
        (end === null || Date.parse(body.created_at) <= Date.parse(end)),
    );
  const before = query.get('before_id');
  if (before !== null) {
    const at = matching.findIndex(({ body }) => body.id === before);
    matching = at < 0 ? [] : matching.slice(at + 1);
  }
  return { status: 200, body: { events: matching.slice(0, pageSize).map(listed), has_more: matching.length > pageSize } };
}

/** `GET /v2/events/:id/payloads`, as EasyPost answers it (shared with the sandbox). */
export function easyPostEventPayloads(events: readonly EasyPostEventRecord[], id: string): { status: number; body: unknown } {
  const record = events.find(({ body }) => body.id === id);
  if (!record) return { status: 404, body: { error: { code: 'NOT_FOUND', message: 'The requested resource could not be found.' } } };
  return { status: 200, body: { payloads: record.payloads } };
}

/** The Payload EasyPost keeps of one attempt to POST `requestBody` to `url`. */
export function easyPostPayload(
  record: EasyPostEventRecord,
  attempt: { url: string; headers: Record<string, string>; requestBody: string; responseCode: number; responseBody: string },
): EasyPostPayload {
  const now = new Date().toISOString();
  const payload: EasyPostPayload = {
    id: `payload_${randomBytes(16).toString('hex')}`,
    object: 'Payload',
    mode: record.body.mode === 'test' ? 'test' : 'production',
    request_url: attempt.url,
    request_headers: { Accept: 'application/json', 'Content-Type': 'application/json', ...attempt.headers },
    request_body: attempt.requestBody,
    response_code: attempt.responseCode,
    response_body: attempt.responseBody,
    response_headers: {},
    total_time: 0,
    created_at: now,
    updated_at: now,
  };
  record.payloads.push(payload);
  record.status = attempt.responseCode >= 200 && attempt.responseCode < 300 ? 'completed' : 'failed';
  return payload;
}

export async function startEasyPostEventsStandIn(): Promise<EasyPostEventsStandIn> {
  // Oldest first; listed newest first.
  const events: EasyPostEventRecord[] = [];
  const requests = { total: 0, payloads: 0, queries: [] as URLSearchParams[] };
  const app = express();
  const fail = (res: Response, status: number, code: string, message: string) => res.status(status).json({ error: { code, message } });
  const authorized = (req: Request) => {
    const auth = req.get('authorization') ?? '';
    return auth.startsWith('Basic ') && Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':')[0] !== '';
  };

  app.get('/v2/events', (req: Request, res: Response) => {
    requests.total += 1;
    const query = new URLSearchParams(req.originalUrl.split('?')[1] ?? '');
    requests.queries.push(query);
    if (!authorized(req)) return fail(res, 401, 'APIKEY.REQUIRED', 'An API key is required.');
    const reply = listEasyPostEvents(events, query);
    res.status(reply.status).json(reply.body);
  });
  app.get('/v2/events/:id/payloads', (req: Request, res: Response) => {
    requests.payloads += 1;
    if (!authorized(req)) return fail(res, 401, 'APIKEY.REQUIRED', 'An API key is required.');
    const reply = easyPostEventPayloads(events, String(req.params.id));
    res.status(reply.status).json(reply.body);
  });

  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;

  const keep = (event: EasyPostEventObject): EasyPostEventRecord => {
    const record: EasyPostEventRecord = { body: { ...event }, status: 'in_queue', payloads: [] };
    events.push(record);
    return record;
  };
  async function attempt(record: EasyPostEventRecord, endpoint: { url: string; secret: string }, drop: boolean) {
    // As EasyPost sends it: the URLs as of this attempt, the receiving one still pending.
    const body = { ...record.body, status: record.status, pending_urls: [endpoint.url], completed_urls: [] };
    const requestBody = JSON.stringify(body);
    const headers = signWebhook('easypost', requestBody, endpoint.secret);
    if (drop) {
      easyPostPayload(record, { url: endpoint.url, headers, requestBody, responseCode: 502, responseBody: 'Bad Gateway' });
      return undefined;
    }
    const res = await fetch(endpoint.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: requestBody,
    });
    const responseBody = await res.text();
    easyPostPayload(record, { url: endpoint.url, headers, requestBody, responseCode: res.status, responseBody });
    return res.status;
  }

  return {
    url: `http://127.0.0.1:${port}/v2`,
    send: (event, endpoint, options = {}) => attempt(keep(event), endpoint, options.drop === true),
    record(event, status = 'in_queue') {
      keep(event).status = status;
    },
    deliver(id, endpoint, options = {}) {
      const record = events.find(({ body }) => body.id === id);
      if (!record) throw new Error(`no event ${id}`);
      return attempt(record, endpoint, options.drop === true);
    },
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

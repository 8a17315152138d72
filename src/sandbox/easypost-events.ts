import type { AddressInfo } from 'node:net';
import express, { type Request, type Response } from 'express';
import { signWebhook } from '../signatures';

/**
 * SANDBOX: a stand-in for EasyPost as a sender of events — it delivers each Event to a webhook
 * endpoint, signed with the webhook's secret as EasyPost signs (`X-Hmac-Signature`), or drops it on
 * the way — and answers `GET /v2/events` as EasyPost does: Basic auth with the API key, newest
 * first, `start_datetime`/`end_datetime` (ISO-8601), `before_id` for the next page and `page_size`
 * (at most 100), in EasyPost's list shape `{events, has_more}`; errors as `{error: {code, message}}`.
 * A delivery that failed leaves the Event `status: "failed"` with the URL still pending.
 */

export type EasyPostEventObject = Record<string, unknown> & { id: string; created_at: string };

export interface EasyPostEventsStandIn {
  /** `http://127.0.0.1:<port>/v2`: EASYPOST_API_BASE_URL. */
  url: string;
  send(event: EasyPostEventObject, endpoint: { url: string; secret: string }, options?: { drop?: boolean }): Promise<number | undefined>;
  readonly requests: { total: number; queries: URLSearchParams[] };
  close(): Promise<void>;
}

const PAGE_SIZE_MAX = 100;

/**
 * `GET /v2/events` over `events` (oldest first), as EasyPost answers it: shared by this stand-in and
 * the sandbox's EasyPost (`<sandbox>/easypost/v2/events`, what `npm start`'s schedules ask).
 */
export function listEasyPostEvents(events: readonly EasyPostEventObject[], query: URLSearchParams): { status: number; body: unknown } {
  const pageSize = Number(query.get('page_size') ?? '20');
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > PAGE_SIZE_MAX) {
    return { status: 422, body: { error: { code: 'PARAMETER.INVALID', message: 'page_size must be between 1 and 100' } } };
  }
  const start = query.get('start_datetime');
  const end = query.get('end_datetime');
  let matching = [...events]
    .reverse()
    .filter(
      (e) =>
        (start === null || Date.parse(e.created_at) >= Date.parse(start)) && (end === null || Date.parse(e.created_at) <= Date.parse(end)),
    );
  const before = query.get('before_id');
  if (before !== null) {
    const at = matching.findIndex((e) => e.id === before);
    matching = at < 0 ? [] : matching.slice(at + 1);
  }
  return { status: 200, body: { events: matching.slice(0, pageSize), has_more: matching.length > pageSize } };
}

export async function startEasyPostEventsStandIn(): Promise<EasyPostEventsStandIn> {
  // Oldest first; listed newest first.
  const events: EasyPostEventObject[] = [];
  const requests = { total: 0, queries: [] as URLSearchParams[] };
  const app = express();
  const fail = (res: Response, status: number, code: string, message: string) => res.status(status).json({ error: { code, message } });

  app.get('/v2/events', (req: Request, res: Response) => {
    requests.total += 1;
    const query = new URLSearchParams(req.originalUrl.split('?')[1] ?? '');
    requests.queries.push(query);
    const auth = req.get('authorization') ?? '';
    const user = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':')[0] : '';
    if (!user) return fail(res, 401, 'APIKEY.REQUIRED', 'An API key is required.');
    const reply = listEasyPostEvents(events, query);
    res.status(reply.status).json(reply.body);
  });

  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v2`,
    async send(event, endpoint, options = {}) {
      const kept: EasyPostEventObject = { ...event, status: 'pending', pending_urls: [endpoint.url], completed_urls: [] };
      events.push(kept);
      if (options.drop) {
        Object.assign(kept, { status: 'failed' });
        return undefined;
      }
      const payload = JSON.stringify(kept);
      const res = await fetch(endpoint.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...signWebhook('easypost', payload, endpoint.secret) },
        body: payload,
      });
      await res.arrayBuffer();
      Object.assign(kept, res.ok ? { status: 'completed', pending_urls: [], completed_urls: [endpoint.url] } : { status: 'failed' });
      return res.status;
    },
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

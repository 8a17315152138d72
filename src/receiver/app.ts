import express, { type Express, type Request, type Response } from 'express';
import type { Logger } from '../log';
import { cachedCheck } from './cached-check';
import { readiness, type SpoolStats } from '../spool';
import { createReceiverMetrics, metricsRouter } from './metrics';
import { isClientHttpError, problem, sendProblem } from './problem';
import { webhookRouter, type WebhookRouteOptions } from './webhooks';

export interface AppDeps extends WebhookRouteOptions {
  /** Resolves true when Temporal answers; /readyz turns it into 200 or 503. */
  isTemporalReachable: () => Promise<boolean>;
  /** Express `trust proxy`: which hops' X-Forwarded-For to believe. false: none. */
  trustProxy: false | string[];
  logger: Logger;
  /** Extra routers mounted after the webhooks (the operators' handoff API and inbox). */
  extraRouters?: express.Router[];
  /** When set, `GET /metrics` requires it as a bearer token; otherwise the endpoint is open. */
  metricsToken?: string;
  /** How long /readyz reuses Temporal's last answer (ms; default 1000, 0 to ask every time). */
  readyCacheMs?: number;
  /** The intake spool's figures, when the receiver has one: /readyz reports `degraded` while it holds events. */
  spoolStatus?: () => Promise<SpoolStats>;
}

/** Builds the receiver; never listens (main.ts does), so tests drive it on their own server. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.trustProxy === false ? false : deps.trustProxy);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  // Cached: /readyz is open to anyone, and each uncached call is a request to Temporal.
  const temporalReachable = cachedCheck(() => deps.isTemporalReachable().catch(() => false), deps.readyCacheMs ?? 1000);
  // The spool's figures too: on SQLite they are read on the event loop, and /readyz is open to anyone.
  const spoolStatus = deps.spoolStatus;
  const spoolFigures = spoolStatus
    ? cachedCheck(() => spoolStatus().catch(() => 'unavailable' as const), deps.readyCacheMs ?? 1000)
    : undefined;
  app.get('/readyz', async (_req, res) => {
    const reachable = await temporalReachable();
    const spool = spoolFigures ? await spoolFigures() : undefined;
    // With a working spool, events are still taken in durably while Temporal is away: degraded, not down.
    const ready = readiness(reachable, spool);
    if (ready.ready) res.json(ready.body);
    else sendProblem(res, problem('temporal-unavailable', 'Temporal is not reachable.'), { 'Retry-After': String(deps.retryAfterSeconds) });
  });

  const metrics = deps.metrics ?? createReceiverMetrics({ sources: deps.sources.keys() });
  app.use(metricsRouter({ metrics, token: deps.metricsToken }));
  app.use(webhookRouter({ ...deps, metrics }));
  for (const router of deps.extraRouters ?? []) app.use(router);

  app.use((req: Request, res: Response) => {
    sendProblem(res, problem('not-found', `Nothing at ${req.method} ${req.path}.`));
  });
  app.use((err: unknown, _req: Request, res: Response, _next: (err?: unknown) => void) => {
    // Express's own refusals carry a 4xx status (a path whose %-escapes do not decode, as in
    // /webhooks/oms%): the request was bad, not the receiver, so no 500 and no error line.
    if (isClientHttpError(err)) {
      if (!res.headersSent) sendProblem(res, problem('bad-request', 'The request could not be read.'));
      return;
    }
    deps.logger.error('unhandled error', { error: (err as Error)?.stack ?? String(err) });
    if (!res.headersSent) sendProblem(res, problem('internal', 'Unexpected error.'));
  });
  return app;
}

import express, { type Express, type Request, type Response } from 'express';
import type { Logger } from '../log';
import { problem, sendProblem } from './problem';
import { webhookRouter, type WebhookRouteOptions } from './webhooks';

export interface AppDeps extends WebhookRouteOptions {
  /** Resolves true when Temporal answers; /readyz turns it into 200 or 503. */
  isTemporalReachable: () => Promise<boolean>;
  /** Express `trust proxy`: which hops' X-Forwarded-For to believe. false: none. */
  trustProxy: false | string[];
  logger: Logger;
  /** Extra routers mounted after the webhooks (the operators' handoff API and inbox). */
  extraRouters?: express.Router[];
}

/** Builds the receiver; never listens (main.ts does), so tests drive it on their own server. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.trustProxy === false ? false : deps.trustProxy);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const reachable = await deps.isTemporalReachable().catch(() => false);
    if (reachable) res.json({ status: 'ready', temporal: 'reachable' });
    else sendProblem(res, problem('temporal-unavailable', 'Temporal is not reachable.'), { 'Retry-After': String(deps.retryAfterSeconds) });
  });

  app.use(webhookRouter(deps));
  for (const router of deps.extraRouters ?? []) app.use(router);

  app.use((req: Request, res: Response) => {
    sendProblem(res, problem('not-found', `Nothing at ${req.method} ${req.path}.`));
  });
  app.use((err: unknown, _req: Request, res: Response, _next: (err?: unknown) => void) => {
    deps.logger.error('unhandled error', { error: (err as Error)?.stack ?? String(err) });
    if (!res.headersSent) sendProblem(res, problem('internal', 'Unexpected error.'));
  });
  return app;
}

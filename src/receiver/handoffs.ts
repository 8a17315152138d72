import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { isGrpcServiceError, ServiceError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { ALL_OUTCOMES, OUTCOMES } from '../../workflows/contracts/conversation';
import type { Actor } from '../handoff/permissions';
import {
  HandoffConflictError,
  HandoffForbiddenError,
  HandoffNotFoundError,
  InvalidFilterError,
  LIST_STATUSES,
  type HandoffService,
} from '../handoff/service';
import type { Logger } from '../log';
import { isOperatorTokenShape, type OperatorDirectory } from '../operators/directory';
import { CredentialThrottle } from './auth-throttle';
import { bearerToken } from './bearer';
import type { AuthFailureReason, AuthVia, ReceiverMetrics } from './metrics';
import { HttpProblem, isClientHttpError, problem, sendProblem, type Problem } from './problem';
import { mountEvents, type EventsRouteOptions } from './events';

export interface HandoffRouterOptions {
  service: HandoffService;
  /** Who may act: each operator's own token, and the inbox's sessions. */
  operators: OperatorDirectory;
  logger: Logger;
  /** How long an inbox session lasts. Default 12 hours. */
  sessionTtlMs?: number;
  /**
   * Development over plain HTTP (npm start on localhost): session cookies without `Secure`. Off,
   * the cookie is always `Secure`, so a browser never sends it over an unencrypted hop.
   */
  plainHttp?: boolean;
  /** Backoff for wrong tokens, per address and per credential; one per router by default. */
  throttle?: CredentialThrottle;
  /** Where refused credentials are counted (`hookline_operator_auth_failures_total`). */
  metrics?: Pick<ReceiverMetrics, 'observeAuthFailure'>;
  /** The event log's search for leads (`GET /events`, `/inbox/events`); unset, neither is served. */
  events?: EventsRouteOptions;
}

/**
 * The inbox's session cookie: a random session id, never the token. Over HTTPS it carries the
 * `__Host-` prefix, so browsers accept it only Secure, host-only and for the whole path: a
 * sibling subdomain cannot plant one of its own.
 */
export const OPERATOR_COOKIE = 'hookline_session';
export function sessionCookieName(secure: boolean): string {
  return secure ? `__Host-${OPERATOR_COOKIE}` : OPERATOR_COOKIE;
}
const DEFAULT_SESSION_TTL_MS = 12 * 60 * 60 * 1000;
const NO_OPERATOR_HINT = 'Ask a lead for a token, or create one with: npm run operators -- add <name> --role agent|lead';

// A body may still say who it acts as (older clients did); it must then be the credential's person.
const Acting = { agent: z.string().trim().min(1).max(100).optional() };
const Id = z.string().min(1).max(1000);
const ListQuery = z.object({
  status: z.enum(LIST_STATUSES).optional(),
  queue: z.string().min(1).max(200).optional(),
  customerId: z.string().min(1).max(200).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});
const ClaimBody = z.object(Acting);
const ReplyBody = z.object({ ...Acting, text: z.string().trim().min(1, 'text is required').max(10_000) });
const ResolveBody = z.object({
  ...Acting,
  // Any kind's outcome; the conversation's validator refuses one that does not fit its kind.
  outcome: z.enum(ALL_OUTCOMES),
  note: z.string().trim().max(2_000).optional(),
});

/**
 * The operators' side of escalations: `/handoffs` (JSON API), `/operators/me` and `/inbox` (the
 * page that uses the API). Each person has a token of their own (`npm run operators -- add`):
 * the API and CLI send it as `Authorization: Bearer …`; the inbox's login form trades it for a
 * random session in an HttpOnly SameSite=Strict cookie. Whoever acts is whoever the credential
 * names, never what a body says. SameSite=Strict plus JSON-only bodies keep other sites from
 * driving the API with the cookie.
 */
export function handoffRouter(options: HandoffRouterOptions): Router {
  const { service, operators, logger } = options;
  const sessionTtlMs = options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS;
  const throttle = options.throttle ?? new CredentialThrottle();
  const pages = loadPages();
  const router = express.Router();

  const failed = (req: Request, via: AuthVia, reason: AuthFailureReason) => {
    options.metrics?.observeAuthFailure({ via, reason });
    logger.warn('operator credential refused', { via, reason, ip: req.ip, path: req.path.slice(0, 200) });
  };

  /**
   * Runs `use` with a presented token under the throttle: throws while the address (for a token not
   * known good) or the token itself must wait; otherwise the attempt counts as a failure *before*
   * the token is looked up (so concurrent guesses cannot all slip past the check), taken back when
   * the token is good (see CredentialThrottle).
   */
  const guarded = async <T>(
    req: Request,
    via: AuthVia,
    token: string | undefined,
    use: (token: string) => Promise<T | undefined>,
  ): Promise<T | undefined> => {
    const admitted = throttle.attempt(req.ip ?? '', token);
    if (!admitted.ok) {
      failed(req, via, 'throttled');
      const detail =
        admitted.waiting === 'address'
          ? `Too many wrong credentials from your address; try again in ${admitted.retryAfterSeconds}s.`
          : `This credential was wrong too many times; try again in ${admitted.retryAfterSeconds}s.`;
      throw new HttpProblem(problem('auth-throttled', detail), { 'Retry-After': String(admitted.retryAfterSeconds) });
    }
    const found = token ? await use(token) : undefined;
    admitted.settle(found !== undefined);
    if (found !== undefined) return found;
    failed(req, via, token && isOperatorTokenShape(token) ? 'unknown-token' : 'malformed');
    return undefined;
  };

  /**
   * A browser sends the session cookie with any request to this host, whoever's page made it;
   * SameSite=Strict stops other sites but not a sibling subdomain or another localhost port. So
   * a request the cookie authenticates must come from our own pages: a browser says where from
   * in Sec-Fetch-Site and Origin, and a request that says "elsewhere" is refused.
   */
  const fromOurPages = (req: Request): boolean => {
    // Every current browser sends Sec-Fetch-Site; it is the answer when present. (Origin alone
    // is not enough: under our pages' no-referrer policy a same-origin form posts `Origin: null`.)
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined) return site === 'same-origin' || site === 'none';
    const origin = req.headers.origin;
    // Neither header: not a browser, or one too old to say; SameSite=Strict still holds there.
    if (origin === undefined) return true;
    try {
      return origin !== 'null' && new URL(origin).host === req.host;
    } catch {
      return false;
    }
  };
  const refuseCrossSite = (req: Request) => {
    logger.warn('cross-site operator request refused', {
      path: req.path.slice(0, 200),
      origin: String(req.headers.origin ?? '').slice(0, 200),
      ip: req.ip,
    });
    return new HttpProblem(problem('forbidden', 'Cross-site requests are refused: use the inbox itself, or a bearer token.'));
  };

  const sessionOf = (req: Request) =>
    readCookie(req.headers.cookie, sessionCookieName(true)) ??
    (options.plainHttp ? readCookie(req.headers.cookie, sessionCookieName(false)) : undefined);

  /** The bearer token's operator when the request has one, else the session cookie's. */
  const identify = async (req: Request): Promise<Actor | undefined> => {
    const header = req.headers.authorization;
    if (header !== undefined) return guarded(req, 'bearer', bearerToken(header), (token) => operators.authenticate(token));
    const session = sessionOf(req);
    if (!session) return undefined;
    if (req.method !== 'GET' && !fromOurPages(req)) throw refuseCrossSite(req);
    return operators.session(session);
  };

  const requireOperator = (req: Request, res: Response, next: NextFunction) => {
    identify(req).then((actor) => {
      if (actor) {
        res.locals.actor = actor;
        return next();
      }
      const detail = `Send your operator token as "Authorization: Bearer <token>", or log in at /inbox. ${NO_OPERATOR_HINT}`;
      next(new HttpProblem(problem('unauthorized', detail), { 'WWW-Authenticate': 'Bearer realm="hookline"' }));
    }, next);
  };

  const json = express.json({ limit: '32kb' });
  /** Actions take JSON or nothing: a form post (urlencoded, multipart, text/plain) is never one. */
  const jsonOnly = (req: Request, _res: Response, next: NextFunction) => {
    const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    if (req.headers['content-type'] === undefined ? !hasBody : req.is('application/json') !== false) return next();
    next(new HttpProblem(problem('unsupported-media-type', 'Send actions as application/json (or with no body).')));
  };
  const run =
    (handler: (req: Request, res: Response) => Promise<void>) =>
    (req: Request, res: Response, next: NextFunction): void => {
      handler(req, res).catch(next);
    };
  const secure = (req: Request) => !options.plainHttp || req.secure;

  // ---- the inbox page and its login -------------------------------------------------------

  router.get(
    '/inbox',
    run(async (req, res) => {
      const session = sessionOf(req);
      const actor = session ? await operators.session(session) : undefined;
      if (!actor) return sendPage(res, 401, pages.login, { MESSAGE: '' });
      sendPage(res, 200, pages.inbox, {
        OUTCOMES_JSON: scriptJson(OUTCOMES),
        OPERATOR_JSON: scriptJson(actor),
        OPERATOR_NAME: htmlEscape(actor.name),
        OPERATOR_ROLE: htmlEscape(actor.role),
      });
    }),
  );

  router.post(
    '/inbox/login',
    express.urlencoded({ extended: false, limit: '4kb' }),
    run(async (req, res) => {
      // Login CSRF: another page must not sign this browser in as someone else.
      if (!fromOurPages(req)) throw refuseCrossSite(req);
      const given = typeof req.body?.token === 'string' ? req.body.token.trim() : '';
      let session;
      try {
        session = await guarded(req, 'login', given || undefined, (token) => operators.openSession(token));
      } catch (err) {
        if (!(err instanceof HttpProblem)) throw err;
        res.set(err.headers);
        return sendPage(res, 429, pages.login, { MESSAGE: htmlEscape(err.problem.detail) });
      }
      if (!session) return sendPage(res, 401, pages.login, { MESSAGE: htmlEscape('That is not an operator token.') });
      // The session this browser had before, if any, ends: one login, one live session per browser.
      const previous = sessionOf(req);
      if (previous) await operators.closeSession(previous);
      logger.info('inbox login', { operator: session.operator.name, role: session.operator.role, ip: req.ip });
      res.setHeader('Set-Cookie', cookie(session.id, Math.floor(sessionTtlMs / 1000), secure(req)));
      res.redirect(303, '/inbox');
    }),
  );

  router.post(
    '/inbox/logout',
    run(async (req, res) => {
      if (!fromOurPages(req)) throw refuseCrossSite(req);
      const session = sessionOf(req);
      if (session) await operators.closeSession(session);
      res.setHeader('Set-Cookie', cookie('', 0, secure(req)));
      res.redirect(303, '/inbox');
    }),
  );

  // ---- the API ------------------------------------------------------------------------------

  router.use(['/handoffs', '/operators/me'], requireOperator);

  router.get('/operators/me', (_req, res) => {
    res.json(res.locals.actor as Actor);
  });

  router.get(
    '/handoffs',
    run(async (req, res) => {
      const filter = parse(ListQuery, req.query, 'query');
      res.json({ handoffs: await service.list(filter) });
    }),
  );

  router.get(
    '/handoffs/:id',
    run(async (req, res) => {
      res.json(await service.show(parse(Id, req.params.id, 'id')));
    }),
  );

  /** `POST /handoffs/:id/<action>`: validate, act as the credential's operator, log, answer with the conversation. */
  const action = <B extends { agent?: string }>(
    name: string,
    schema: z.ZodType<B>,
    done: string,
    perform: (id: string, actor: Actor, body: B) => Promise<unknown>,
    logged: (body: B) => Record<string, unknown> = () => ({}),
  ): void => {
    router.post(
      `/handoffs/:id/${name}`,
      jsonOnly,
      json,
      run(async (req, res) => {
        const actor = res.locals.actor as Actor;
        const id = parse(Id, req.params.id, 'id');
        const body = parse(schema, req.body ?? {}, 'body');
        if (body.agent !== undefined && body.agent !== actor.name) {
          logger.warn('handoff request named another operator', { workflowId: id, operator: actor.name, named: body.agent.slice(0, 100) });
          throw new HttpProblem(problem('forbidden', `You are signed in as ${actor.name}; you cannot act as ${body.agent}.`));
        }
        const conversation = await perform(id, actor, body);
        logger.info(done, { workflowId: id, operator: actor.name, role: actor.role, ...logged(body) });
        res.json(conversation);
      }),
    );
  };

  action('claim', ClaimBody, 'handoff claimed', (id, actor) => service.claim(id, actor));
  action('release', ClaimBody, 'handoff released', (id, actor) => service.release(id, actor));
  action('reply', ReplyBody, 'handoff reply sent', (id, actor, { text }) => service.reply(id, actor, text));
  action(
    'resolve',
    ResolveBody,
    'handoff resolved',
    (id, actor, { outcome, note }) => service.resolve(id, actor, { outcome, ...(note ? { note } : {}) }),
    ({ outcome }) => ({ outcome }),
  );

  if (options.events) {
    mountEvents(router, {
      ...options.events,
      requireOperator,
      sessionActor: async (req) => {
        const session = sessionOf(req);
        return session ? operators.session(session) : undefined;
      },
      page: (res, status, which, values) =>
        sendPage(res, status, pages[which], Object.fromEntries(Object.entries(values).map(([k, v]) => [k, htmlEscape(v)]))),
    });
  }

  router.use(['/handoffs', '/inbox', '/operators', '/events'], (err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const { p, headers } = toProblem(err);
    if (p.status >= 500)
      logger.error('handoff request failed', { method: req.method, path: req.path, error: (err as Error)?.stack ?? String(err) });
    sendProblem(res, p, headers);
  });

  return router;
}

function toProblem(err: unknown): { p: Problem; headers: Record<string, string> } {
  if (err instanceof HttpProblem) return { p: err.problem, headers: err.headers };
  if (err instanceof HandoffConflictError) return { p: problem('conflict', err.message), headers: {} };
  if (err instanceof HandoffForbiddenError) return { p: problem('forbidden', err.message), headers: {} };
  if (err instanceof HandoffNotFoundError) return { p: problem('not-found', err.message), headers: {} };
  if (err instanceof InvalidFilterError) return { p: problem('bad-request', err.message), headers: {} };
  if (isClientHttpError(err)) {
    return err.status === 413
      ? { p: problem('body-too-large', 'The request body is too large.'), headers: {} }
      : { p: problem('bad-request', 'The request body must be valid JSON.'), headers: {} };
  }
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || err instanceof ServiceError || isGrpcServiceError(err)) {
    return { p: problem('temporal-unavailable', 'Temporal did not answer; try again shortly.'), headers: { 'Retry-After': '5' } };
  }
  return { p: problem('internal', 'Unexpected error.'), headers: {} };
}

function parse<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => `${[where, ...i.path].join('.')}: ${i.message}`);
  throw new HttpProblem(problem('bad-request', issues.join('; '), { issues }));
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function cookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return `${sessionCookieName(secure)}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;
}

interface Pages {
  inbox: string;
  login: string;
  events: string;
}

/**
 * The pages are plain files next to this module, read once. `{{NAME}}` placeholders are filled
 * per response; every value put in one is escaped for where it goes.
 */
function loadPages(): Pages {
  const dir = join(__dirname, 'inbox');
  try {
    return {
      inbox: readFileSync(join(dir, 'inbox.html'), 'utf8'),
      login: readFileSync(join(dir, 'login.html'), 'utf8'),
      events: readFileSync(join(dir, 'events.html'), 'utf8'),
    };
  } catch (err) {
    throw new Error(
      `the inbox page assets are missing from ${dir} (copy src/receiver/inbox/ next to the compiled handoffs.js): ` +
        (err as Error).message,
    );
  }
}

/** Every page gets a fresh CSP nonce: only its own inline script and style run. */
function sendPage(res: Response, status: number, template: string, values: Record<string, string>): void {
  const nonce = randomBytes(16).toString('base64');
  const html = template.replace(/\{\{([A-Z_]+)\}\}/g, (whole, name: string) => (name === 'NONCE' ? nonce : (values[name] ?? whole)));
  res
    .status(status)
    .set({
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': [
        "default-src 'none'",
        `script-src 'nonce-${nonce}'`,
        `style-src 'nonce-${nonce}'`,
        "connect-src 'self'",
        "img-src 'self' data:",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
      ].join('; '),
      'Cache-Control': 'no-store',
      'Referrer-Policy': 'no-referrer',
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
    })
    .send(html);
}

function htmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON safe inside a `<script type="application/json">` element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

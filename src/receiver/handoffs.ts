import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { isGrpcServiceError, ServiceError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { OUTCOMES } from '../../workflows/handoff';
import { HandoffConflictError, HandoffNotFoundError, InvalidFilterError, LIST_STATUSES, type HandoffService } from '../handoff/service';
import type { Logger } from '../log';
import { bearerMatches, safeEqual } from './bearer';
import { HttpProblem, isClientHttpError, problem, sendProblem, type Problem } from './problem';

export interface HandoffRouterOptions {
  service: HandoffService;
  /** Without it the API and the inbox are off: every request gets a 401 saying so. */
  operatorToken?: string;
  logger: Logger;
}

/** The inbox's session cookie. Its value is derived from the token, never the token itself. */
export const OPERATOR_COOKIE = 'hookline_operator';
const COOKIE_MAX_AGE_SECONDS = 12 * 60 * 60;

const Agent = z.string().trim().min(1, 'agent is required').max(100);
const Id = z.string().min(1).max(1000);
const ListQuery = z.object({
  status: z.enum(LIST_STATUSES).optional(),
  queue: z.string().min(1).max(200).optional(),
  customerId: z.string().min(1).max(200).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});
const ClaimBody = z.object({ agent: Agent });
const ReplyBody = z.object({ agent: Agent, text: z.string().trim().min(1, 'text is required').max(10_000) });
const ResolveBody = z.object({
  agent: Agent,
  outcome: z.enum(['approve', 'deny', 'resolved']),
  note: z.string().trim().max(2_000).optional(),
});

/**
 * The operators' side of escalations: `/handoffs` (JSON API) and `/inbox` (the page that uses
 * it). One shared operator token guards both, as `Authorization: Bearer …` or, for a browser,
 * as an HttpOnly SameSite=Strict cookie set by the inbox's login form. SameSite=Strict plus
 * JSON-only bodies keep other sites from driving the API with that cookie.
 */
export function handoffRouter(options: HandoffRouterOptions): Router {
  const { service, logger } = options;
  const token = options.operatorToken && options.operatorToken.length > 0 ? options.operatorToken : undefined;
  const session = token ? createHmac('sha256', token).update('hookline inbox session v1').digest('base64url') : undefined;
  const pages = loadPages();
  const router = express.Router();

  const authorized = (req: Request): boolean => {
    if (!token || !session) return false;
    const header = req.headers.authorization;
    if (header !== undefined) return bearerMatches(header, token);
    const cookie = readCookie(req.headers.cookie, OPERATOR_COOKIE);
    return cookie !== undefined && safeEqual(cookie, session);
  };

  const requireOperator = (req: Request, _res: Response, next: NextFunction) => {
    if (authorized(req)) return next();
    const detail = token
      ? 'Send the operator token as "Authorization: Bearer <OPERATOR_TOKEN>", or log in at /inbox.'
      : 'The handoff API is disabled: set OPERATOR_TOKEN on the receiver to enable it.';
    next(new HttpProblem(problem('unauthorized', detail), { 'WWW-Authenticate': 'Bearer realm="hookline"' }));
  };

  const json = express.json({ limit: '32kb' });
  const run =
    (handler: (req: Request, res: Response) => Promise<void>) =>
    (req: Request, res: Response, next: NextFunction): void => {
      handler(req, res).catch(next);
    };

  // ---- the inbox page and its login -------------------------------------------------------

  router.get('/inbox', (req, res) => {
    if (authorized(req)) return sendPage(res, 200, pages.inbox, { OUTCOMES_JSON: scriptJson(OUTCOMES) });
    const message = token ? '' : 'The inbox is disabled: set OPERATOR_TOKEN on the receiver to enable it.';
    sendPage(res, 401, pages.login, { MESSAGE: htmlEscape(message) });
  });

  router.post('/inbox/login', express.urlencoded({ extended: false, limit: '4kb' }), (req, res) => {
    const given = typeof req.body?.token === 'string' ? req.body.token.trim() : '';
    if (!token || !session) {
      return sendPage(res, 401, pages.login, { MESSAGE: htmlEscape('The inbox is disabled: set OPERATOR_TOKEN on the receiver to enable it.') });
    }
    if (!safeEqual(given, token)) {
      logger.warn('inbox login refused', { ip: req.ip });
      return sendPage(res, 401, pages.login, { MESSAGE: htmlEscape('That is not the operator token.') });
    }
    res.setHeader('Set-Cookie', cookie(session, COOKIE_MAX_AGE_SECONDS, req.secure));
    res.redirect(303, '/inbox');
  });

  router.post('/inbox/logout', (req, res) => {
    res.setHeader('Set-Cookie', cookie('', 0, req.secure));
    res.redirect(303, '/inbox');
  });

  // ---- the API ------------------------------------------------------------------------------

  router.use('/handoffs', requireOperator);

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

  /** `POST /handoffs/:id/<action>`: validate, act as the named agent, log, answer with the conversation. */
  const action = <B extends { agent: string }>(
    name: string,
    schema: z.ZodType<B>,
    done: string,
    perform: (id: string, body: B) => Promise<unknown>,
    logged: (body: B) => Record<string, unknown> = ({ agent }) => ({ agent }),
  ): void => {
    router.post(
      `/handoffs/:id/${name}`,
      json,
      run(async (req, res) => {
        const id = parse(Id, req.params.id, 'id');
        const body = parse(schema, req.body, 'body');
        const conversation = await perform(id, body);
        logger.info(done, { workflowId: id, ...logged(body) });
        res.json(conversation);
      }),
    );
  };

  action('claim', ClaimBody, 'handoff claimed', (id, { agent }) => service.claim(id, agent));
  action('release', ClaimBody, 'handoff released', (id, { agent }) => service.release(id, agent));
  action('reply', ReplyBody, 'handoff reply sent', (id, { agent, text }) => service.reply(id, agent, text));
  action(
    'resolve',
    ResolveBody,
    'handoff resolved',
    (id, { agent, outcome, note }) => service.resolve(id, { agent, outcome, ...(note ? { note } : {}) }),
    ({ agent, outcome }) => ({ agent, outcome }),
  );

  router.use(['/handoffs', '/inbox'], (err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const { p, headers } = toProblem(err);
    if (p.status >= 500) logger.error('handoff request failed', { method: req.method, path: req.path, error: (err as Error)?.stack ?? String(err) });
    sendProblem(res, p, headers);
  });

  return router;
}

function toProblem(err: unknown): { p: Problem; headers: Record<string, string> } {
  if (err instanceof HttpProblem) return { p: err.problem, headers: err.headers };
  if (err instanceof HandoffConflictError) return { p: problem('conflict', err.message), headers: {} };
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
  return `${OPERATOR_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;
}

interface Pages {
  inbox: string;
  login: string;
}

/**
 * The pages are plain files next to this module, read once. `{{NAME}}` placeholders are filled
 * per response; every value put in one is escaped for where it goes.
 */
function loadPages(): Pages {
  const dir = join(__dirname, 'inbox');
  try {
    return { inbox: readFileSync(join(dir, 'inbox.html'), 'utf8'), login: readFileSync(join(dir, 'login.html'), 'utf8') };
  } catch (err) {
    throw new Error(`the inbox page assets are missing from ${dir} (copy src/receiver/inbox/ next to the compiled handoffs.js): ${(err as Error).message}`);
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
      'Content-Security-Policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
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

import type { NextFunction, Request, Response, Router } from 'express';
import type { Kysely } from 'kysely';
import { findEvents } from '../db/repo';
import type { Schema } from '../db/schema';
import { eventFilter, EventQueryError, eventView } from '../eventlog/search';
import type { Actor } from '../handoff/permissions';
import { HttpProblem, problem } from './problem';

/** What the operators' router needs to serve the event log (`GET /events`, the inbox's Events view). */
export interface EventsRouteOptions {
  /** The knowledge base, where the event log is. */
  db: Kysely<Schema>;
  /** TEMPORAL_UI_URL and the namespace: each row links to its run there. */
  temporalUiUrl: string;
  namespace: string;
}

/**
 * `GET /events?order=…&customer=…&type=…&source=…&outcome=…&since=2h&before=…&limit=…` for leads,
 * newest first, paged by `next` (pass it back as `before`), and `/inbox/events`, the page that
 * uses it. Mounted by the operators' router, behind the same credentials: what each delivery of
 * every customer's events came to is a lead's view, not every operator's.
 */
export function mountEvents(
  router: Router,
  deps: EventsRouteOptions & {
    requireOperator: (req: Request, res: Response, next: NextFunction) => void;
    /** The inbox session's operator (the page needs no bearer token). */
    sessionActor: (req: Request) => Promise<Actor | undefined>;
    /** Sends one of the inbox's pages with its placeholders filled. */
    page: (res: Response, status: number, which: 'events' | 'login', values: Record<string, string>) => void;
  },
): void {
  const ui = { base: deps.temporalUiUrl, namespace: deps.namespace };
  const leadsOnly = (actor: Actor) => {
    if (actor.role !== 'lead') throw new HttpProblem(problem('forbidden', 'The event log is for leads.'));
  };

  router.get('/events', deps.requireOperator, (req, res, next) => {
    const run = async () => {
      leadsOnly(res.locals.actor as Actor);
      let filter;
      try {
        filter = eventFilter(req.query);
      } catch (err) {
        if (err instanceof EventQueryError) throw new HttpProblem(problem('bad-request', err.message, { issues: err.issues }));
        throw err;
      }
      const page = await findEvents(deps.db, filter);
      res.json({ events: page.events.map((row) => eventView(row, ui)), ...(page.next === undefined ? {} : { next: String(page.next) }) });
    };
    run().catch(next);
  });

  router.get('/inbox/events', (req, res, next) => {
    const run = async () => {
      const actor = await deps.sessionActor(req);
      if (!actor) return deps.page(res, 401, 'login', { MESSAGE: '' });
      leadsOnly(actor);
      deps.page(res, 200, 'events', { OPERATOR_NAME: actor.name });
    };
    run().catch(next);
  });
}

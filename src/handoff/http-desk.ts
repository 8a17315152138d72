import type { Conversation } from '../../workflows/contracts/conversation';
import type { Actor } from './permissions';
import {
  HandoffConflictError,
  HandoffForbiddenError,
  HandoffNotFoundError,
  InvalidFilterError,
  type HandoffDesk,
  type HandoffRow,
} from './service';

/** The receiver refused the credential (unknown token, or too many wrong ones from here). */
export class OperatorAuthError extends Error {
  override readonly name = 'OperatorAuthError';
}

/** The receiver refused the request as malformed (400). */
export class HandoffRequestError extends Error {
  override readonly name = 'HandoffRequestError';
}

/** The receiver could not be reached, or could not reach Temporal. */
export class ReceiverUnavailableError extends Error {
  override readonly name = 'ReceiverUnavailableError';
}

export interface HttpDeskOptions {
  /** The receiver, e.g. http://localhost:3000. */
  baseUrl: string;
  /** The operator's own token: every action is theirs. */
  token: string;
  timeoutMs?: number;
}

/**
 * The escalation queue over the receiver's operators' API, as the operator whose token this is.
 * The `handoff` CLI uses it, so a person at a terminal acts as themselves exactly as in the
 * inbox: the receiver takes the name and role from the token, never from the command line.
 */
export function createHttpDesk(options: HttpDeskOptions): HandoffDesk & { whoami(): Promise<Actor> } {
  const base = options.baseUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 15_000;

  async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
        headers: {
          authorization: `Bearer ${options.token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : (err as Error).message;
      throw new ReceiverUnavailableError(`cannot reach the receiver at ${base} (${cause})`);
    }
    const text = await res.text();
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      data = undefined;
    }
    if (res.ok) return data as T;
    const detail = (data as { detail?: string } | undefined)?.detail ?? `HTTP ${res.status}`;
    switch (res.status) {
      case 401:
      case 429:
        throw new OperatorAuthError(detail);
      case 403:
        throw new HandoffForbiddenError(detail);
      case 404:
        throw new HandoffNotFoundError(detail);
      case 409:
        throw new HandoffConflictError(detail);
      case 400:
        // The one 400 a well-formed CLI call can meet is a filter the receiver refused.
        throw path.startsWith('/handoffs?') ? new InvalidFilterError(detail) : new HandoffRequestError(detail);
      default:
        throw new ReceiverUnavailableError(`the receiver at ${base} answered ${res.status}: ${detail}`);
    }
  }

  const at = (id: string, action?: string) => `/handoffs/${encodeURIComponent(id)}${action ? `/${action}` : ''}`;

  return {
    whoami: () => call<Actor>('GET', '/operators/me'),
    async list(filter = {}) {
      const query = new URLSearchParams();
      for (const [key, value] of Object.entries(filter)) if (value !== undefined) query.set(key, String(value));
      const qs = query.toString();
      return (await call<{ handoffs: HandoffRow[] }>('GET', `/handoffs${qs ? `?${qs}` : ''}`)).handoffs;
    },
    show: (id) => call<Conversation>('GET', at(id)),
    claim: (id) => call<Conversation>('POST', at(id, 'claim'), {}),
    release: (id) => call<Conversation>('POST', at(id, 'release'), {}),
    reply: (id, text) => call<Conversation>('POST', at(id, 'reply'), { text }),
    resolve: (id, args) => call<Conversation>('POST', at(id, 'resolve'), args),
  };
}

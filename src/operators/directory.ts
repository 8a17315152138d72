import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import {
  deleteOperator,
  deleteOperatorSession,
  insertOperator,
  insertOperatorSession,
  listOperators,
  operatorBySession,
  operatorByTokenHash,
  operatorSessionExists,
  type Schema,
} from '../db';
import { OPERATOR_ROLES, type Actor, type OperatorRole } from '../handoff/permissions';

/**
 * The people who work escalations, each with a token of their own, and the inbox's sessions.
 * Both live in the shared database, so every receiver sees an operator added or removed (and a
 * session opened or closed) on the next request: nothing is cached in a process.
 */
export interface OperatorDirectory {
  /** Creates an operator and returns their token, the only time it is ever shown. */
  add(name: string, role: OperatorRole): Promise<{ operator: Actor; token: string }>;
  /** Creates `name` with a token the caller chose (npm start's first lead), unless the name exists. */
  ensure(name: string, role: OperatorRole, token: string): Promise<'created' | 'exists' | 'exists-with-another-token'>;
  list(): Promise<{ name: string; role: OperatorRole; createdAt: string }[]>;
  /** Removes an operator and ends their sessions; false when there was no such operator. */
  remove(name: string): Promise<boolean>;
  /** The operator a bearer token belongs to, if any. */
  authenticate(token: string): Promise<Actor | undefined>;
  /** Trades a token for a new session; undefined when the token is not (or no longer) an operator's. */
  openSession(token: string): Promise<{ id: string; expiresAt: Date; operator: Actor } | undefined>;
  /** The operator of a live session: unexpired, not logged out, operator not removed. */
  session(id: string): Promise<Actor | undefined>;
  closeSession(id: string): Promise<void>;
}

/** A name that is also safe in a log line, a workflow message and a URL. */
export const OPERATOR_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const TOKEN_PREFIX = 'hlo_';
/** 32 random bytes, base64url: what every token and session id is after its prefix. */
const SECRET = /^[A-Za-z0-9_-]{43}$/;

/** The operator could not be created as asked (bad name or role, name taken). */
export class OperatorError extends Error {
  override readonly name = 'OperatorError';
}

/** 256 random bits; the prefix lets secret scanners and people recognise a hookline operator token. */
export function newOperatorToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** Tokens and session ids are random, not chosen by people, so a fast hash is enough to keep them unusable at rest. */
export function secretHash(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Looks like one of our tokens: anything else is refused without a database round trip. */
export function isOperatorTokenShape(token: string): boolean {
  return token.startsWith(TOKEN_PREFIX) && SECRET.test(token.slice(TOKEN_PREFIX.length));
}

function checkName(name: string): void {
  if (!OPERATOR_NAME.test(name)) {
    // Lowercase only, so `Dana` and `dana` cannot be two people.
    throw new OperatorError(
      'operator names are 1-64 lowercase letters, digits, dots, dashes or underscores, starting with a letter or digit ' +
        `(got ${JSON.stringify(name.slice(0, 80))})`,
    );
  }
}

function checkRole(role: string): asserts role is OperatorRole {
  if (!(OPERATOR_ROLES as readonly string[]).includes(role))
    throw new OperatorError(`role must be one of ${OPERATOR_ROLES.join(', ')} (got ${JSON.stringify(role)})`);
}

export function createOperatorDirectory(db: Kysely<Schema>, options: { sessionTtlMs: number; now?: () => Date }): OperatorDirectory {
  const now = options.now ?? (() => new Date());
  const actor = (row: { name: string; role: OperatorRole }): Actor => ({ name: row.name, role: row.role });

  return {
    async add(name, role) {
      checkName(name);
      checkRole(role);
      const token = newOperatorToken();
      if (!(await insertOperator(db, { name, role, tokenHash: secretHash(token), at: now() }))) {
        throw new OperatorError(`an operator named ${name} exists already (remove it first to issue a new token)`);
      }
      return { operator: { name, role }, token };
    },

    async ensure(name, role, token) {
      checkName(name);
      checkRole(role);
      if (await insertOperator(db, { name, role, tokenHash: secretHash(token), at: now() })) return 'created';
      const existing = await operatorByTokenHash(db, secretHash(token));
      return existing?.name === name ? 'exists' : 'exists-with-another-token';
    },

    async list() {
      return (await listOperators(db)).map((o) => ({ name: o.name, role: o.role, createdAt: o.created_at }));
    },

    remove: (name) => deleteOperator(db, name),

    async authenticate(token) {
      if (!isOperatorTokenShape(token)) return undefined;
      const row = await operatorByTokenHash(db, secretHash(token));
      return row ? actor(row) : undefined;
    },

    async openSession(token) {
      if (!isOperatorTokenShape(token)) return undefined;
      const tokenHash = secretHash(token);
      const row = await operatorByTokenHash(db, tokenHash);
      if (!row) return undefined;
      const id = randomBytes(32).toString('base64url');
      const at = now();
      const expiresAt = new Date(at.getTime() + options.sessionTtlMs);
      // Bound to the token in the same statement: a removal in between leaves no session.
      if (!(await insertOperatorSession(db, { idHash: secretHash(id), tokenHash, at, expiresAt }))) return undefined;
      return { id, expiresAt, operator: actor(row) };
    },

    async session(id) {
      if (!SECRET.test(id)) return undefined;
      const row = await operatorBySession(db, secretHash(id), now());
      return row ? actor(row) : undefined;
    },

    async closeSession(id) {
      if (!SECRET.test(id)) return;
      const idHash = secretHash(id);
      // Anyone can send a logout with a made-up cookie. A write waits for the write lock (up to
      // the busy timeout, and on SQLite that wait blocks the receiver's event loop), so only a
      // session that exists is deleted; the lookup is a read, which in WAL mode waits for no one.
      if (!(await operatorSessionExists(db, idHash))) return;
      await deleteOperatorSession(db, idHash, now());
    },
  };
}

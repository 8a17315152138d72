import { createHash } from 'node:crypto';
import { addressKey, BoundedMap } from './rate-limit';

export interface FailureBackoffOptions {
  /** Wrong attempts allowed before an address has to wait. */
  freeFailures?: number;
  /** The first wait; each further failure doubles it, up to `maxMs`. */
  baseMs?: number;
  maxMs?: number;
  /** An address with no failure for this long starts afresh (and its entry is dropped). */
  forgetAfterMs?: number;
  /** At most this many addresses are remembered; the least recently seen go first. */
  maxEntries?: number;
  now?: () => number;
}

interface Entry {
  failures: number;
  blockedUntil: number;
}

/**
 * Per-address backoff for credential guessing: a few wrong tokens are free, then every further
 * one doubles the wait, during which every credential not known to be good is refused (otherwise
 * the wait would not slow the guessing at all; see {@link CredentialThrottle}). Any other key
 * counts as given (a credential's hash: `addressKey` leaves what is not an address alone). Each
 * receiver process keeps its own count, so N receivers behind a balancer allow N times the free
 * attempts; at 256 random bits a token, that changes nothing.
 * Memory is bounded whatever the address mix: entries expire after a quiet spell, the count is
 * capped (least recently seen evicted, see BoundedMap), and IPv6 addresses count per /64, the
 * block one host usually controls (see addressKey).
 */
export class FailureBackoff {
  private readonly entries: BoundedMap<string, Entry>;
  private readonly freeFailures: number;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly forgetAfterMs: number;
  private readonly now: () => number;

  constructor(options: FailureBackoffOptions = {}) {
    this.freeFailures = options.freeFailures ?? 5;
    this.baseMs = options.baseMs ?? 1_000;
    this.maxMs = options.maxMs ?? 15 * 60_000;
    this.forgetAfterMs = options.forgetAfterMs ?? 15 * 60_000;
    this.now = options.now ?? (() => Date.now());
    this.entries = new BoundedMap({ maxEntries: options.maxEntries ?? 10_000, now: this.now });
  }

  /** Whether `address` may try now; if not, how many seconds until it may. */
  check(address: string): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const entry = this.entries.get(addressKey(address));
    const wait = entry ? entry.blockedUntil - this.now() : 0;
    return wait > 0 ? { ok: false, retryAfterSeconds: Math.ceil(wait / 1000) } : { ok: true };
  }

  /**
   * An attempt from `address`: refused while it must wait; otherwise counted as a failure at once,
   * before the credential is checked, so attempts running concurrently all count. A credential
   * that turns out right is then {@link forgive}n.
   */
  attempt(address: string): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const wait = this.check(address);
    if (wait.ok) this.fail(address);
    return wait;
  }

  /** A wrong credential from `address`. */
  fail(address: string): void {
    const key = addressKey(address);
    const now = this.now();
    const entry = this.entries.get(key) ?? { failures: 0, blockedUntil: 0 };
    entry.failures += 1;
    const over = entry.failures - this.freeFailures;
    if (over > 0) entry.blockedUntil = now + Math.min(this.maxMs, this.baseMs * 2 ** Math.min(over - 1, 30));
    // Forgotten after a quiet spell, but never while the address still has to wait.
    this.entries.set(key, entry, Math.max(entry.blockedUntil, now + this.forgetAfterMs));
  }

  /**
   * The attempt just counted was a right credential: that one failure is taken back. Only that
   * one: holding one good token must not wipe the count of the wrong ones tried beside it.
   */
  forgive(address: string): void {
    const key = addressKey(address);
    const entry = this.entries.get(key);
    if (!entry) return;
    entry.failures = Math.max(0, entry.failures - 1);
    if (entry.failures <= this.freeFailures) entry.blockedUntil = 0;
    if (entry.failures === 0) this.entries.delete(key);
  }

  /** Addresses remembered now (for tests of the bound). */
  get size(): number {
    return this.entries.size;
  }
}

export interface CredentialThrottleOptions {
  /** Wrong credentials per address (IPv6: per /64). */
  byAddress?: FailureBackoff;
  /** Wrong attempts per presented credential (its hash), from whatever address. */
  byCredential?: FailureBackoff;
  /** How long a credential that authenticated stays known good without being used again. */
  knownGoodForMs?: number;
  /** At most this many known-good credentials are remembered (only successes add one). */
  maxKnownGood?: number;
  now?: () => number;
}

/** An attempt let through: settle it with whether the credential turned out right. */
export interface Admitted {
  ok: true;
  settle(right: boolean): void;
}

export interface Refused {
  ok: false;
  retryAfterSeconds: number;
  /** What is waiting: the address (too many wrong credentials from it) or this credential. */
  waiting: 'address' | 'credential';
}

/**
 * Who may present an operator credential now. Failures are counted per address and per
 * credential (its hash); a credential that authenticated on this receiver lately is *known good*.
 *
 * - An address over its free failures waits, and while it waits every credential from it that
 *   is not known good is refused before it is looked up: guessing from one address stays at the
 *   backoff's pace, and so do the lookups it costs.
 * - A known-good credential passes an address's wait and is checked as usual, so an operator
 *   behind the same NAT or proxy as a guesser keeps working. Checking "is this one of the tokens
 *   in use" at full speed is an oracle only for a guess that already is one of them: a few dozen
 *   256-bit tokens, 2^-256 a try whatever the pace, and no lookup is made for any other guess.
 *   A known-good credential that fails (its operator removed) is forgotten at once.
 * - A credential tried wrong too often waits on its own, from any address (a revoked token left in
 *   a script), and its failures never make a right one wait.
 *
 * What remains: a token not used on this receiver within `knownGoodForMs` (a new operator, a
 * restarted receiver), presented from an address a guesser keeps waiting, waits with it. An inbox
 * session opened before is not throttled, and another address (or TRUST_PROXY naming the proxy,
 * so each client counts on its own) is not affected.
 */
export class CredentialThrottle {
  private readonly byAddress: FailureBackoff;
  private readonly byCredential: FailureBackoff;
  private readonly knownGood: BoundedMap<string, true>;
  private readonly knownGoodForMs: number;
  private readonly now: () => number;

  constructor(options: CredentialThrottleOptions = {}) {
    this.now = options.now ?? (() => Date.now());
    this.byAddress = options.byAddress ?? new FailureBackoff({ now: this.now });
    this.byCredential = options.byCredential ?? new FailureBackoff({ now: this.now });
    this.knownGoodForMs = options.knownGoodForMs ?? 12 * 60 * 60_000;
    this.knownGood = new BoundedMap({ maxEntries: options.maxKnownGood ?? 10_000, now: this.now });
  }

  /**
   * An attempt with `credential` (undefined: none was presented) from `address`. Unless it is known
   * good, it is counted as a failure of both at once, before the credential is looked up, so
   * attempts running concurrently all count; {@link Admitted.settle} takes that back when it was right.
   */
  attempt(address: string, credential: string | undefined): Admitted | Refused {
    const key = credential === undefined ? undefined : credentialKey(credential);
    if (key !== undefined && this.knownGood.get(key)) {
      return {
        ok: true,
        settle: (right) => {
          if (right) return this.remember(key);
          this.knownGood.delete(key);
          this.byAddress.fail(address);
          this.byCredential.fail(key);
        },
      };
    }
    if (key !== undefined) {
      const wait = this.byCredential.check(key);
      if (!wait.ok) return { ok: false, retryAfterSeconds: wait.retryAfterSeconds, waiting: 'credential' };
    }
    const wait = this.byAddress.attempt(address);
    if (!wait.ok) return { ok: false, retryAfterSeconds: wait.retryAfterSeconds, waiting: 'address' };
    if (key !== undefined) this.byCredential.fail(key);
    return {
      ok: true,
      settle: (right) => {
        if (!right) return;
        this.byAddress.forgive(address);
        if (key === undefined) return;
        this.byCredential.forgive(key);
        this.remember(key);
      },
    };
  }

  private remember(key: string): void {
    this.knownGood.set(key, true, this.now() + this.knownGoodForMs);
  }
}

/** Credentials are remembered and counted by hash, never as given. */
function credentialKey(credential: string): string {
  return `credential:${createHash('sha256').update(credential).digest('hex')}`;
}

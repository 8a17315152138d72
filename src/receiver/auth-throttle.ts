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
 * one doubles the wait, during which even a right token is refused (otherwise the wait would not
 * slow the guessing at all). Each receiver process keeps its own count, so N receivers behind a
 * balancer allow N times the free attempts; at 256 random bits a token, that changes nothing.
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

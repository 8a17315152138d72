import { isIPv6 } from 'node:net';

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
  lastFailureAt: number;
}

/**
 * Per-address backoff for credential guessing: a few wrong tokens are free, then every further
 * one doubles the wait, during which even a right token is refused (otherwise the wait would not
 * slow the guessing at all). Memory is bounded whatever the address mix: entries expire, the
 * count is capped (least recently seen evicted), and IPv6 addresses count per /64, the block one
 * host usually controls.
 */
export class FailureBackoff {
  private readonly entries = new Map<string, Entry>();
  private readonly freeFailures: number;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly forgetAfterMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: FailureBackoffOptions = {}) {
    this.freeFailures = options.freeFailures ?? 5;
    this.baseMs = options.baseMs ?? 1_000;
    this.maxMs = options.maxMs ?? 15 * 60_000;
    this.forgetAfterMs = options.forgetAfterMs ?? 15 * 60_000;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? (() => Date.now());
  }

  /** Whether `address` may try now; if not, how many seconds until it may. */
  check(address: string): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const entry = this.live(addressKey(address));
    const wait = entry ? entry.blockedUntil - this.now() : 0;
    return wait > 0 ? { ok: false, retryAfterSeconds: Math.ceil(wait / 1000) } : { ok: true };
  }

  /** A wrong credential from `address`. */
  fail(address: string): void {
    const key = addressKey(address);
    const now = this.now();
    const entry = this.live(key) ?? { failures: 0, blockedUntil: 0, lastFailureAt: now };
    entry.failures += 1;
    entry.lastFailureAt = now;
    const over = entry.failures - this.freeFailures;
    if (over > 0) entry.blockedUntil = now + Math.min(this.maxMs, this.baseMs * 2 ** Math.min(over - 1, 30));
    // Re-inserted so the Map's order is least recently failed first: eviction takes the oldest.
    this.entries.delete(key);
    this.entries.set(key, entry);
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  /** A right credential: the address starts afresh. */
  succeed(address: string): void {
    this.entries.delete(addressKey(address));
  }

  /** Addresses remembered now (for tests of the bound). */
  get size(): number {
    return this.entries.size;
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    const now = this.now();
    if (now - entry.lastFailureAt > this.forgetAfterMs && now >= entry.blockedUntil) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }
}

/**
 * The key an address is counted under: IPv4 as is (an IPv4-mapped IPv6 address as its IPv4),
 * IPv6 by its /64, since one host is routinely given a whole /64 and could rotate through it.
 */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!isIPv6(ip)) return ip;
  const [head = '', tail = ''] = ip.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => (g.includes('.') ? g : g.toLowerCase().replace(/^0+(?=.)/, ''))).join(':')}::/64`;
}

import { isIP } from 'node:net';
import type { RateLimit } from './sources';

/**
 * A `Map` with a ceiling on its entries and an optional expiry per entry, for state kept per
 * client address: whoever can reach the port chooses how many keys there are, so nothing keyed
 * by them may grow without bound.
 *
 * - At most `maxEntries` are held. Least recently used go first, by generation: entries live in
 *   a young and an old map of up to half the cap each; when the young one fills it becomes the
 *   old one and the old one is dropped whole, and a `get` from the old one brings the entry back
 *   into the young. (A single Map evicting its oldest key is no good: V8 walks the deleted slots
 *   at its front on every `keys().next()`, which made a million inserts take minutes.)
 * - An entry past its `expiresAt` is gone: `get` never returns it and deletes it. One never read
 *   again leaves with its generation, or with `prune()`.
 *
 * No timers: nothing to close, and every call is O(1).
 */
export class BoundedMap<K, V> {
  private young = new Map<K, { value: V; expiresAt: number }>();
  private old = new Map<K, { value: V; expiresAt: number }>();
  private readonly generationSize: number;
  private readonly now: () => number;

  constructor(options: { maxEntries: number; now?: () => number }) {
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 2) {
      throw new RangeError(`BoundedMap needs maxEntries of at least 2 (got ${options.maxEntries})`);
    }
    this.generationSize = Math.floor(options.maxEntries / 2);
    this.now = options.now ?? (() => Date.now());
  }

  /** How many entries are held, expired ones not yet dropped included (the memory bound). */
  get size(): number {
    return this.young.size + this.old.size;
  }

  /** The live value under `key`, marked as recently used; undefined when absent or expired. */
  get(key: K): V | undefined {
    const young = this.young.get(key);
    if (young) {
      if (young.expiresAt > this.now()) return young.value;
      this.young.delete(key);
      return undefined;
    }
    const old = this.old.get(key);
    if (!old) return undefined;
    this.old.delete(key);
    if (old.expiresAt <= this.now()) return undefined;
    this.insert(key, old);
    return old.value;
  }

  /** Store `value` as recently used; `expiresAt` (ms, on the clock's scale) defaults to never. */
  set(key: K, value: V, expiresAt = Infinity): void {
    const entry = { value, expiresAt };
    if (this.young.has(key)) {
      this.young.set(key, entry);
      return;
    }
    this.old.delete(key);
    this.insert(key, entry);
  }

  delete(key: K): boolean {
    return this.young.delete(key) || this.old.delete(key);
  }

  /** Drop every expired entry now: a full pass, for a caller that wants idle memory back sooner. */
  prune(): void {
    const now = this.now();
    for (const generation of [this.young, this.old]) {
      for (const [key, entry] of generation) if (entry.expiresAt <= now) generation.delete(key);
    }
  }

  private insert(key: K, entry: { value: V; expiresAt: number }): void {
    if (this.young.size >= this.generationSize) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, entry);
  }
}

/**
 * The part of a client address that identifies one sender. IPv4 as is; IPv6 by its /64, the
 * smallest block a site is usually given, so rotating through one's own /64 (2^64 addresses)
 * gains nothing; an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, what a dual-stack listener
 * reports for IPv4 clients) as the IPv4 address. Anything else is returned unchanged.
 */
export function addressKey(ip: string): string {
  const family = isIP(ip);
  if (family === 4) return ip;
  if (family !== 6) return ip;
  const groups = ipv6Groups(ip);
  if (!groups) return ip;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi, lo] = [groups[6]!, groups[7]!];
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address (`::` expanded, a dotted IPv4 tail converted, a zone dropped). */
function ipv6Groups(ip: string): number[] | undefined {
  const address = ip.split('%')[0]!;
  const [head = '', tail, ...more] = address.split('::');
  if (more.length > 0) return undefined;
  const parse = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (group.includes('.')) {
            const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number);
            return [(a << 8) | b, (c << 8) | d];
          }
          return [parseInt(group, 16)];
        });
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const missing = 8 - left.length - right.length;
  if (missing < 0 || (tail === undefined && missing !== 0)) return undefined;
  return [...left, ...Array<number>(missing).fill(0), ...right];
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Enough for every genuine sender and then some; at about 200 bytes an entry, the most the
 * buckets can take is about 20 MiB however many addresses an attacker has.
 */
export const DEFAULT_MAX_BUCKETS = 100_000;

/**
 * A token bucket per key: `requests` tokens refill evenly over `perSeconds`, so a sender may
 * burst up to its whole allowance and is then paced. `take` answers how long to wait when empty,
 * which becomes the 429's Retry-After.
 *
 * Memory is bounded: a bucket expires once it would have refilled to full (a fresh bucket is
 * identical, so forgetting it changes no answer), and past `maxEntries` the least recently used
 * go (see {@link BoundedMap}). Only that eviction can hand a sender a fresh allowance early, and
 * only once the keys in use outnumber the cap.
 */
export class TokenBuckets {
  private readonly buckets: BoundedMap<string, Bucket>;

  constructor(
    private readonly now: () => number = () => Date.now(),
    options: { maxEntries?: number } = {},
  ) {
    this.buckets = new BoundedMap({ maxEntries: options.maxEntries ?? DEFAULT_MAX_BUCKETS, now });
  }

  /** Buckets held in memory (at most `maxEntries`). */
  get size(): number {
    return this.buckets.size;
  }

  take(key: string, limit: RateLimit): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const ratePerMs = limit.requests / (limit.perSeconds * 1000);
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: limit.requests, at: now };
    bucket.tokens = Math.min(limit.requests, bucket.tokens + (now - bucket.at) * ratePerMs);
    bucket.at = now;
    const ok = bucket.tokens >= 1;
    if (ok) bucket.tokens -= 1;
    this.buckets.set(key, bucket, now + (limit.requests - bucket.tokens) / ratePerMs);
    return ok ? { ok: true } : { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / ratePerMs / 1000)) };
  }
}

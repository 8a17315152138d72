import type { RateLimit } from './sources';

/**
 * A token bucket per key: `requests` tokens refill evenly over `perSeconds`, so a sender may
 * burst up to its whole allowance and is then paced. `take` answers how long to wait when empty,
 * which becomes the 429's Retry-After.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly now: () => number = () => Date.now()) {}

  take(key: string, limit: RateLimit): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const ratePerMs = limit.requests / (limit.perSeconds * 1000);
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: limit.requests, at: now };
    bucket.tokens = Math.min(limit.requests, bucket.tokens + (now - bucket.at) * ratePerMs);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / ratePerMs / 1000)) };
  }
}

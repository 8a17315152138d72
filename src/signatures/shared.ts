import { createHmac, timingSafeEqual } from 'node:crypto';
import { WebhookVerificationError } from './errors';
import type { Headers, VerifyOptions } from './types';

const DEFAULT_TOLERANCE_SECONDS = 300;

export function hmacSha256(key: string | Buffer, ...parts: Buffer[]): Buffer {
  const mac = createHmac('sha256', key);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

export function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Header value by name, case-insensitively; empty counts as absent. */
export function headerValue(headers: Headers, name: string): string | undefined {
  const lower = name.toLowerCase();
  let value = headers[lower];
  // Node lowercases names, but hand-built header objects (scripts, other frameworks) may not.
  if (value === undefined) {
    const key = Object.keys(headers).find((k) => k.toLowerCase() === lower);
    value = key === undefined ? undefined : headers[key];
  }
  // Joined the way Node joins repeated headers, so a duplicate fails to parse rather than one copy being picked silently.
  const text = (Array.isArray(value) ? value.join(', ') : value)?.trim();
  return text ? text : undefined;
}

/** Secrets an operator left empty (e.g. an unset env var) must not become an empty HMAC key anyone can use. */
export function requireSecrets(secrets: readonly string[]): string[] {
  const usable = secrets.filter((s) => s.length > 0);
  if (usable.length === 0) throw new WebhookVerificationError('no-secret');
  return usable;
}

/** Whole Unix seconds; the digit cap keeps the value a safe integer and a valid Date. */
export function parseUnixSeconds(text: string): number | undefined {
  return /^\d{1,12}$/.test(text) ? Number(text) : undefined;
}

export function checkTimestamp(signedAtSeconds: number, options: VerifyOptions | undefined): void {
  const tolerance = options?.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  // NaN would make both comparisons false and silently disable replay protection.
  if (!Number.isFinite(tolerance) || tolerance < 0) {
    throw new RangeError(`toleranceSeconds must be a non-negative number, got ${tolerance}`);
  }
  const nowSeconds = Math.floor((options?.now?.() ?? new Date()).getTime() / 1000);
  if (nowSeconds - signedAtSeconds > tolerance) throw new WebhookVerificationError('timestamp-too-old');
  if (signedAtSeconds - nowSeconds > tolerance) throw new WebhookVerificationError('timestamp-too-new');
}

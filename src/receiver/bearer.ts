import { createHmac, timingSafeEqual } from 'node:crypto';

/** The token of an `Authorization: Bearer <token>` header; undefined when the header is absent or not that shape. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
}

/** True when `header` is `Bearer <token>` for exactly this token. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const given = bearerToken(header);
  return given !== undefined && safeEqual(given, token);
}

/** Constant time whatever the lengths: both sides are hashed to the same size first. */
export function safeEqual(given: string, expected: string): boolean {
  const digest = (s: string) => createHmac('sha256', 'hookline compare').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

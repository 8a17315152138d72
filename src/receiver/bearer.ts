import { createHmac, timingSafeEqual } from 'node:crypto';

/** True when `header` is `Bearer <token>` for exactly this token. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  if (header === undefined) return false;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match !== null && safeEqual(match[1]!, token);
}

/** Constant time whatever the lengths: both sides are hashed to the same size first. */
export function safeEqual(given: string, expected: string): boolean {
  const digest = (s: string) => createHmac('sha256', 'hookline compare').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

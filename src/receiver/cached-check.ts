/**
 * `check`, answered from memory for `ttlMs` after each answer, with concurrent callers sharing
 * the one call in flight: a probe that anyone may call as often as they like (`/readyz`) then
 * costs the thing it probes at most one call per `ttlMs`. A rejection is not remembered: every
 * caller waiting on that call gets it, and the next call tries again.
 */
export function cachedCheck<T>(check: () => Promise<T>, ttlMs: number, now: () => number = () => performance.now()): () => Promise<T> {
  let answered: { value: T; at: number } | undefined;
  let inFlight: Promise<T> | undefined;
  return () => {
    if (answered && now() - answered.at < ttlMs) return Promise.resolve(answered.value);
    inFlight ??= check()
      .then((value) => {
        // Timed from the answer, not the call: a slow check is not followed at once by another.
        answered = { value, at: now() };
        return value;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
}

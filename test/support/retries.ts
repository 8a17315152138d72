import { defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import { vi } from 'vitest';

/**
 * The Temporal client's default retries, with each scheduled attempt's due time noted, for tests
 * that take Temporal away. While it is down, the receiver gives up on a start after
 * TEMPORAL_START_TIMEOUT and answers 503, but the client's retry interceptor still holds the call's
 * next attempt in a timer; a connection closed before that timer fires makes the attempt throw
 * "Channel has been shut down" outside any test, and the run is red although every test passed.
 * So: `settle()` stops new retries and waits until the last scheduled one was sent; close the
 * connection after it.
 */
export function trackRetries(): { interceptor: ReturnType<typeof makeGrpcRetryInterceptor>; settle(): Promise<void> } {
  const defaults = defaultGrpcRetryOptions();
  let closing = false;
  let lastRetryDue = 0;
  return {
    interceptor: makeGrpcRetryInterceptor({
      retryableDecider: (attempt, status) => !closing && defaults.retryableDecider(attempt, status),
      delayFunction: (attempt, status) => {
        const delay = defaults.delayFunction(attempt, status);
        lastRetryDue = Math.max(lastRetryDue, Date.now() + delay);
        return delay;
      },
    }),
    async settle() {
      closing = true;
      // vi.waitFor, not expect.poll: this runs in afterAll, outside any test.
      await vi.waitFor(
        () => {
          if (Date.now() <= lastRetryDue) throw new Error('a retry the client scheduled has not been sent yet');
        },
        { timeout: 60_000, interval: 50 },
      );
    },
  };
}

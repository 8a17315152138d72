import { defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import { vi } from 'vitest';

type Interceptor = ReturnType<typeof makeGrpcRetryInterceptor>;

/**
 * The Temporal client's default retries, counted, for tests that take Temporal away. While it is
 * down, the receiver gives up on a start after TEMPORAL_START_TIMEOUT and answers 503, but the
 * client's retry interceptor still holds the call's next attempt in a timer; a connection closed
 * before that timer fires makes the attempt throw "Channel has been shut down" outside any test,
 * and the run is red although every test passed. So: `settle()` stops new retries and waits until
 * every scheduled one was sent; close the connection after it.
 *
 * Sent, not due: the retry's timer is set after its delay is chosen, and a busy machine runs it
 * late, so a retry can still be waiting after its due time has passed. The interceptor counts the
 * calls made and the attempts sent (each retry asks for the next call again), so the retries sent
 * are the difference.
 */
export function trackRetries(): { interceptor: Interceptor; settle(): Promise<void> } {
  const defaults = defaultGrpcRetryOptions();
  let closing = false;
  let calls = 0;
  let attempts = 0;
  let scheduled = 0;
  const retrying = makeGrpcRetryInterceptor({
    retryableDecider: (attempt, status) => !closing && defaults.retryableDecider(attempt, status),
    delayFunction: (attempt, status) => {
      scheduled++;
      return defaults.delayFunction(attempt, status);
    },
  });
  return {
    interceptor: (options, nextCall) => {
      calls++;
      return retrying(options, (next) => {
        attempts++;
        return nextCall(next);
      });
    },
    async settle() {
      closing = true;
      // vi.waitFor, not expect.poll: this runs in afterAll, outside any test.
      await vi.waitFor(
        () => {
          if (attempts - calls < scheduled)
            throw new Error(`${scheduled - (attempts - calls)} retries the client scheduled are not sent yet`);
        },
        { timeout: 60_000, interval: 50 },
      );
    },
  };
}

import http, { type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log';
import { problem, type Problem } from './problem';

/**
 * How long a request's headers and body may take to arrive (RECEIVER_REQUEST_TIMEOUT's default).
 * Webhook senders give up after 5–10 s themselves (GitHub 10 s, Shopify 5 s), so a request still
 * arriving after this has no sender waiting for its answer; Node's own default is 5 minutes.
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/** How long a refused connection stays open for the client to read the answer and close first. */
const LINGER_MS = 1_000;

const refusals = new WeakMap<ServerResponse, Problem>();

/**
 * The problem the server itself answered this request with (it did not arrive in time, or stopped
 * being HTTP), if it did: the app's own refusal of the aborted body then logs that, not a 400.
 */
export function serverRefusal(res: ServerResponse): Problem | undefined {
  return refusals.get(res);
}

export interface ReceiverServerOptions {
  /** How long a request's headers and body together may take to arrive, from its first byte (ms). */
  requestTimeoutMs: number;
  /** Serve HTTPS with this certificate and key. */
  tls?: { cert: Buffer; key: Buffer };
  logger: Logger;
}

/**
 * The receiver's HTTP(S) server: every process that serves the receiver's app listens on one of
 * these (src/receiver/main.ts, and the tests' harness), so each gets the same bounds.
 *
 * Node bounds a request with `headersTimeout` and `requestTimeout`, checked every
 * `connectionsCheckingInterval` (30 s by default, so a 10 s bound could hold for 40). A
 * connection that sends nothing counts from when it opened; an idle keep-alive connection between
 * requests is closed after `keepAliveTimeout` (5 s) instead; `server.timeout` (socket inactivity)
 * stays off, since the request bound covers a stalled sender and a slow answer (a Temporal start)
 * must not be cut. The bound ends once the request has fully arrived: handling it is not timed.
 */
export function createReceiverServer(app: RequestListener, options: ReceiverServerOptions): http.Server | https.Server {
  const bounds = {
    requestTimeout: options.requestTimeoutMs,
    headersTimeout: options.requestTimeoutMs,
    connectionsCheckingInterval: Math.min(1_000, Math.max(50, Math.floor(options.requestTimeoutMs / 4))),
  };
  const server = options.tls ? https.createServer({ ...options.tls, ...bounds }, app) : http.createServer(bounds, app);

  // The response of the request a socket is on, until the exchange is over: a client error then
  // knows whether an answer has already gone out (Node's own check reads a private field).
  const exchanges = new WeakMap<Duplex, ServerResponse>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    exchanges.set(req.socket, res);
    // Over once the request has arrived and its answer has gone, whichever is last: a request
    // still arriving after its answer (an early 413) keeps it, so nothing answers it twice.
    let answered = false;
    const over = () => {
      if (req.complete && answered && exchanges.get(req.socket) === res) exchanges.delete(req.socket);
    };
    res.once('finish', () => {
      answered = true;
      over();
    });
    req.once('end', over);
  });

  // With a listener here Node leaves every client error to us: timeouts and unparsable requests.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const res = exchanges.get(socket);
    // As Node does: answer only on a socket that can still take it and has carried no answer yet.
    if (err.code === 'ECONNRESET' || !socket.writable || res?.headersSent) {
      socket.destroy();
      return;
    }
    const refusal = clientErrorProblem(err, options.requestTimeoutMs);
    options.logger.info('request refused', {
      status: refusal.status,
      problem: refusal.type,
      reason: err.code,
      // The request it is about, when its headers arrived (not bytes after a complete one).
      ...(res && !res.req.complete ? { method: res.req.method, path: res.req.url?.slice(0, 200) } : {}),
      address: (socket as Socket).remoteAddress,
    });
    if (res && !res.req.complete) {
      // Paused, so a late end of the body cannot start handling a request already refused.
      res.req.pause();
      refusals.set(res, refusal);
    }
    // Written on the socket, as Node does, whatever the app is doing: its own answer, if it still
    // makes one, finds the connection ended and goes nowhere.
    const body = JSON.stringify(refusal);
    socket.end(
      `HTTP/1.1 ${refusal.status} ${http.STATUS_CODES[refusal.status]}\r\nContent-Type: application/problem+json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    // The connection closes when the client closes its side; closing it at once, while the
    // client may still be sending, would answer with a reset that can discard the 408 unread.
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  });
  return server;
}

function clientErrorProblem(err: NodeJS.ErrnoException, requestTimeoutMs: number): Problem {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return problem('request-timeout', `The request did not arrive within ${requestTimeoutMs / 1000} s.`);
    case 'HPE_HEADER_OVERFLOW':
      return problem('headers-too-large', 'The request headers are too large.');
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return problem('body-too-large', 'The chunk extensions are too large.');
    default:
      return problem('bad-request', 'The request could not be parsed as HTTP/1.1.');
  }
}

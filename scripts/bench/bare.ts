/**
 * The ceiling `npm run bench` compares hookline with: an Express endpoint that reads the raw body,
 * verifies its HMAC exactly as hookline does (the same verifyWebhook, scheme and secret), and
 * answers 202 — no validation, no log line, no Temporal. Whatever hookline answers per second
 * below this is the price of everything else it does, starting the workflow above all.
 *
 * Env: PORT, BARE_SCHEME (default hmac-sha256-hex), BARE_SECRET. Runs as its own process, under
 * tsx like the receiver, so the two are compared on equal terms.
 */
import express from 'express';
import { verifyWebhook, WebhookVerificationError, type SchemeName } from '../../src/signatures';

const scheme = (process.env.BARE_SCHEME ?? 'hmac-sha256-hex') as SchemeName;
const secret = process.env.BARE_SECRET;
if (!secret) throw new Error('BARE_SECRET is required');

const app = express();
app.disable('x-powered-by');
app.get('/healthz', (_req, res) => {
  res.json({ status: 'ok' });
});
app.post('/webhooks/:source', express.raw({ type: () => true, limit: 256 * 1024 }), (req, res) => {
  try {
    verifyWebhook(scheme, Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), req.headers, [secret]);
    res.status(202).json({ accepted: true });
  } catch (err) {
    if (!(err instanceof WebhookVerificationError)) throw err;
    res.status(401).json({ error: err.reason });
  }
});

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => server.close(() => process.exit(0)));

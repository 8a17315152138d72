import { spawn } from 'node:child_process';
import { findStripeMock } from '../../scripts/stripe-mock';

/**
 * Stripe's official mock (scripts/stripe-mock.ts provisions it), on a free loopback port for one
 * test file: it answers from Stripe's OpenAPI specification and rejects any request the
 * specification does not allow, so a request it turns down fails the test that made it.
 */
export async function startStripeMock(): Promise<{ url: string; close: () => Promise<void> }> {
  const found = await findStripeMock();
  if (!found.path) throw new Error(`stripe-mock is needed: ${found.reason}`);
  // Both listeners on port 0: its default HTTPS port would collide between test files.
  const child = spawn(found.path, ['-http-addr', '127.0.0.1:0', '-https-addr', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /Listening for HTTP at address: (127\.0\.0\.1:\d+)/.exec(output);
      if (match) resolve(`http://${match[1]}`);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`stripe-mock exited with ${code} before listening:\n${output}`)));
  });
  return {
    url,
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

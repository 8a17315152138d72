import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { freePort } from './support/processes';

/**
 * The README's start command as a user runs it: `npm start` brings up the dev server, the
 * sandbox, the worker and the receiver; an event sent with `npm run send` runs to completion;
 * Ctrl-C (SIGINT to the process group, as a terminal sends it) leaves nothing behind.
 */
const ROOT = resolve(__dirname, '..');

/** Every process on the machine whose environment carries this run's unique data directory. */
function processesOf(dataDir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(`HOOKLINE_DATA_DIR=${dataDir}`)) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

describe('npm start', () => {
  let start: ChildProcess | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'hookline-start-'));

  afterAll(() => {
    // Only if the test failed half-way: nothing of this run may outlive it.
    for (const pid of processesOf(dataDir)) process.kill(pid, 'SIGKILL');
  });

  it('starts everything, runs a sent event, and stops cleanly on Ctrl-C', { timeout: 240_000 }, async () => {
    const ports = {
      PORT: await freePort(),
      HOOKLINE_TEMPORAL_PORT: await freePort(),
      HOOKLINE_UI_PORT: await freePort(),
      SANDBOX_PORT: await freePort(),
      HOOKLINE_WORKER_METRICS_PORT: await freePort(),
    };
    const { TEMPORAL_ADDRESS: _external, WORKER_METRICS_ADDRESS: _metrics, ...inherited } = process.env;
    const env = {
      ...inherited,
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
      HOOKLINE_DATA_DIR: dataDir,
      TEMPORAL_CLI_PATH: inject('temporalCliPath'),
    };
    start = spawn('npm', ['start'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    start.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    start.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // The banner's last line: the lines checked below are written after "hookline is running.", each
    // in a write of its own, and may come down the pipe later than it.
    await expect.poll(() => output, { timeout: 180_000, interval: 500 }).toContain('Press Ctrl-C to stop everything.');
    expect(output).toContain('hookline is running.');
    expect(output).toContain(`Receiver      http://localhost:${ports.PORT}/webhooks/`);
    expect(output).toContain(`Temporal UI   http://localhost:${ports.HOOKLINE_UI_PORT}`);
    expect(output).toContain('npm run send -- oms order.status_updated');
    // The worker's build, made current by npm start itself: the event below runs on it.
    expect(output).toMatch(/Worker build {2}[0-9a-f]{16}, current in deployment hookline /);
    const workerMetrics = `http://127.0.0.1:${ports.HOOKLINE_WORKER_METRICS_PORT}/metrics`;
    expect(output).toContain(`Metrics       http://localhost:${ports.PORT}/metrics   (worker: ${workerMetrics})`);

    const ready = await fetch(`http://127.0.0.1:${ports.PORT}/readyz`);
    expect(ready.status).toBe(200);
    const ui = await fetch(`http://127.0.0.1:${ports.HOOKLINE_UI_PORT}/`);
    expect(ui.status).toBe(200);

    // The first lead operator, with the token it printed: the inbox and the CLI work at once.
    const lead = /Operator "lead" \(lead\) created; its token: (hlo_[A-Za-z0-9_-]{43})/.exec(output)?.[1];
    expect(lead, output).toBeDefined();
    const me = await fetch(`http://127.0.0.1:${ports.PORT}/operators/me`, { headers: { authorization: `Bearer ${lead}` } });
    expect(await me.json()).toEqual({ name: 'lead', role: 'lead' });
    const whoami = spawnSync('npm', ['run', '--silent', 'handoff', '--', 'whoami'], {
      cwd: ROOT,
      env: { ...env, HOOKLINE_URL: `http://127.0.0.1:${ports.PORT}`, HOOKLINE_OPERATOR_TOKEN: lead },
      encoding: 'utf8',
    });
    expect(whoami.stdout.trim(), whoami.stderr).toBe('lead (lead)');

    const sent = spawnSync('npm', ['run', '--silent', 'send', '--', 'oms', 'order.status_updated'], { cwd: ROOT, env, encoding: 'utf8' });
    expect(sent.status, sent.stderr).toBe(0);
    expect(sent.stdout).toContain('202 Accepted');
    const workflowId = /"workflowId":"([^"]+)"/.exec(sent.stdout)![1]!;
    const again = spawnSync('npm', ['run', '--silent', 'send', '--', 'oms', 'order.status_updated'], { cwd: ROOT, env, encoding: 'utf8' });
    expect(again.stdout).toContain('"duplicate":true');
    // The worker ran it: the customer's message is in the worker's log.
    await expect.poll(() => output, { timeout: 30_000 }).toContain(workflowId);
    // Both metrics endpoints answer: the receiver counted the two deliveries, the worker's SDK its workflow.
    const receiverMetrics = await (await fetch(`http://127.0.0.1:${ports.PORT}/metrics`)).text();
    expect(receiverMetrics).toContain('hookline_webhook_requests_total{source="oms",outcome="accepted"} 1');
    expect(receiverMetrics).toContain('hookline_webhook_requests_total{source="oms",outcome="duplicate"} 1');
    await expect
      .poll(async () => (await fetch(workerMetrics)).text(), { timeout: 30_000 })
      .toMatch(/^temporal_workflow_completed\{[^}]*workflow_type="orderStatusWorkflow"[^}]*\} 1$/m);

    const children = processesOf(dataDir);
    expect(children.length).toBeGreaterThanOrEqual(4);
    process.kill(-start.pid!, 'SIGINT');
    // npm itself dies of the SIGINT (as in a terminal); what matters is that start.ts stopped everything.
    await new Promise<void>((done) => start!.once('exit', () => done()));
    // npm may be gone before start.ts has stopped its children: wait for its last line.
    await expect.poll(() => output, { timeout: 60_000 }).toContain('  stopped temporal\n');
    expect(output).toContain('Stopping hookline…');
    expect(output).toMatch(/stopped receiver[\s\S]*stopped worker[\s\S]*stopped sandbox[\s\S]*stopped temporal/);
    await expect.poll(() => processesOf(dataDir), { timeout: 15_000 }).toEqual([]);
    for (const port of Object.values(ports)) {
      await expect(fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) })).rejects.toThrow();
    }
  });
});

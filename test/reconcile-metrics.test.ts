import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { freePort } from '../scripts/ports';

const children: ReturnType<typeof spawn>[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

it('the worker serves hookline_reconciled_total and the last-success gauge under the names the alert reads', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'support/reconcile-metrics-child.ts'), address], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`the child exited with ${code}`)));
  });
  // The exporter serves what was recorded once its next collection has it: wait on the lines.
  let text = '';
  await expect
    .poll(
      async () =>
        (text = await fetch(`http://${address}/metrics`).then(
          (r) => r.text(),
          () => '',
        )),
      { timeout: 20_000, interval: 100 },
    )
    .toContain('hookline_reconciled_total{');
  const lines = text.split('\n').filter((l) => l.startsWith('hookline_'));
  expect(lines.sort()).toEqual(
    [
      'hookline_reconcile_last_success_timestamp_seconds{source="stripe"} 1700000000',
      'hookline_reconcile_last_success_timestamp_seconds{source="easypost"} 1700000200',
      'hookline_reconciled_total{outcome="known",source="easypost"} 2',
      'hookline_reconciled_total{outcome="unreadable",source="easypost"} 1',
      'hookline_reconciled_total{outcome="failed",source="stripe"} 1',
      'hookline_reconciled_total{outcome="known",source="stripe"} 31',
      'hookline_reconciled_total{outcome="started",source="stripe"} 9',
    ].sort(),
  );
});

/**
 * The one-activity pipeline's worker (issue 12's peer; a benchmark, not product code): one
 * workflow that runs one activity writing the event to SQLite. The workflow file is bundled here at
 * start, as hookline's worker bundles its own in development. No Runtime.install: the SDK's default
 * runtime is created once, on first use, and a process can have only one; this process is only this.
 *
 * Env: TEMPORAL_ADDRESS, PIPELINE_TASK_QUEUE, PIPELINE_DB (a SQLite file).
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { createPipelineActivities } from './activity';

async function main(): Promise<void> {
  const taskQueue = process.env.PIPELINE_TASK_QUEUE ?? 'pipeline-bench';
  const path = process.env.PIPELINE_DB;
  if (!path) throw new Error('PIPELINE_DB is required');
  const { activities, db } = createPipelineActivities(path);
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  const worker = await Worker.create({
    connection,
    namespace: 'default',
    taskQueue,
    workflowsPath: require.resolve('./workflow'),
    activities,
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => worker.shutdown());
  const running = worker.run();
  // The bench waits for this line, as it waits for hookline's "worker started".
  console.log(JSON.stringify({ msg: 'pipeline worker started', taskQueue }));
  await running;
  db.close();
  await connection.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

/**
 * Preloaded (`node --import`) into the processes `npm run bench` starts — receiver, worker,
 * sandbox, bare endpoint — and into nothing else. It never touches a request: it only
 *
 * - answers `memory?` over the IPC channel with process.memoryUsage() before and after a full GC
 *   (the heap after GC is what the process retains; garbage not yet collected would hide a leak);
 * - stops the process when the bench goes away, even if the bench was SIGKILLed, so no receiver or
 *   worker outlives it (the channel closing is the one signal that always arrives).
 *
 * Plain JavaScript, not TypeScript: Node also preloads it into the worker's threads, where tsx's
 * loader is not there to compile it (and where there is no IPC channel, so it does nothing).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

if (process.send) {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc');
  process.on('message', (message) => {
    if (message !== 'memory?') return;
    const before = process.memoryUsage();
    gc();
    process.send({
      kind: 'memory',
      rss: before.rss,
      heapUsed: before.heapUsed,
      heapUsedAfterGc: process.memoryUsage().heapUsed,
      external: before.external,
    });
  });
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  // The channel must not keep alive a process that would otherwise have exited.
  process.channel.unref();
}

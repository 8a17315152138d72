import { Client, Connection } from '@temporalio/client';
import type { TemporalConfig } from '../config/temporal';

/**
 * One client per process. The connection is lazy so the receiver starts (and answers /healthz,
 * and 503 on webhooks) while Temporal is still coming up or briefly away.
 */
export function createTemporalClient(config: TemporalConfig): { client: Client; connection: Connection } {
  const connection = Connection.lazy({
    ...config.connectionOptions,
    channelArgs: {
      // grpc-js waits up to 120 s between reconnects after a long outage, so Temporal could be
      // back for two minutes before the receiver's spool starts draining; 5 s bounds that wait.
      'grpc.max_reconnect_backoff_ms': 5_000,
    },
  });
  return { client: new Client({ connection, namespace: config.namespace }), connection };
}

/** True when the namespace answers within `timeoutMs`; used by /readyz. */
export async function isReachable(client: Client, timeoutMs = 2000): Promise<boolean> {
  try {
    await client.withDeadline(Date.now() + timeoutMs, () =>
      client.workflowService.describeNamespace({ namespace: client.options.namespace }),
    );
    return true;
  } catch {
    return false;
  }
}

import { Client, Connection } from '@temporalio/client';
import type { TemporalConfig } from '../config/temporal';

/**
 * One client per process. The connection is lazy so the receiver starts (and answers /healthz,
 * and 503 on webhooks) while Temporal is still coming up or briefly away.
 */
export function createTemporalClient(config: TemporalConfig): { client: Client; connection: Connection } {
  const connection = Connection.lazy(config.connectionOptions);
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

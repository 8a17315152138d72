import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { terminateAll } from './handoff';
import { connectTestEnv, startAgent, startReceiver, testDatabases, type Agent, type Receiver } from './harness';

/** What the provider tests run against: the shared dev server, an in-process agent, a receiver. */
export interface ProviderStack {
  env: TestWorkflowEnvironment;
  agent: Agent;
  receiver: Receiver;
}

/**
 * The agent acting through the providers' stand-ins (startAgent with `providers`: Stripe, Shopify,
 * EasyPost and Zendesk as SHOPIFY_* and the rest configure them), on the first test database, with
 * a receiver for `sourceEnv` in front, on the agent's task queue.
 */
export async function startProviderStack(sourceEnv: Record<string, string>): Promise<ProviderStack> {
  const env = await connectTestEnv();
  const agent = await startAgent({ env, databaseUrl: testDatabases()[0]!.url(), providers: true });
  const receiver = await startReceiver({ env, taskQueue: agent.taskQueue, sourceEnv });
  return { env, agent, receiver };
}

/** Stops what started (any part may be missing after a failed start), terminating the `raised` runs first. */
export async function stopProviderStack(stack: Partial<ProviderStack>, raised: string[]): Promise<void> {
  await terminateAll(stack.env, raised);
  await stack.receiver?.close();
  await stack.agent?.close();
  await stack.env?.teardown();
}

import { startSandbox, SYSTEMS } from './index';

/** Run the SANDBOX standalone: `PORT=4010 SANDBOX_TOKEN=... npx tsx src/sandbox/main.ts`. */
async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 4010);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, got ${process.env.PORT}`);
  const token = process.env.SANDBOX_TOKEN?.trim() || undefined;
  // SANDBOX_RATE_LIMIT_<SYSTEM>=N: the system answers 429 with Retry-After past N requests a second.
  const rateLimits = Object.fromEntries(
    SYSTEMS.flatMap((system) => {
      const text = process.env[`SANDBOX_RATE_LIMIT_${system.toUpperCase()}`]?.trim();
      if (!text) return [];
      const rate = Number(text);
      if (!(rate > 0)) throw new Error(`SANDBOX_RATE_LIMIT_${system.toUpperCase()} must be requests a second above 0, got ${text}`);
      return [[system, rate]];
    }),
  );
  const sandbox = await startSandbox({ port, host: process.env.HOST ?? '127.0.0.1', ...(token ? { token } : {}), rateLimits });
  console.log(`SANDBOX third-party systems listening on ${sandbox.url}`);
  for (const system of ['crm', 'carrier', 'warehouse', 'inventory', 'payments'])
    console.log(`  ${system.padEnd(9)} ${sandbox.url}/${system}`);
  console.log(`  llm       ${sandbox.url}/llm/v1   (OpenAI-compatible chat completions: LLM_BASE_URL)`);
  console.log(`  stripe    ${sandbox.url}/stripe   (Stripe's API for refunds and lookups: STRIPE_API_BASE_URL)`);
  console.log(`  easypost  ${sandbox.url}/easypost/v2   (EasyPost's API for return labels: EASYPOST_API_BASE_URL)`);
  console.log(
    `  control   ${sandbox.url}/_sandbox/{calls,state,faults,reset}` +
      (token ? ' (these and the system routes need the bearer token; health is open)' : ''),
  );
  const stop = () => {
    void sandbox.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});

import type { ReturnLabel } from '../src/agent/types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { ApplicationFailure } from '@temporalio/common';
import { partners } from '../activities';
import { createClients } from '../src/clients';
import { loadProvidersConfig } from '../src/config/providers';
import { migrateToLatest, openDatabase, type Database } from '../src/db';
import * as repo from '../src/db/repo';
import { createOutboundProviders } from '../src/providers/outbound';
import { sandboxClientsConfig, sandboxProvidersEnv, startSandbox, type RunningSandbox } from '../src/sandbox';
import { unique } from './support/fixtures';
import { testDatabases } from './support/harness';

/**
 * The partner activities choosing the provider for each write, in Temporal's mock activity
 * context over the real database and the sandbox: what is refused before anything is sent.
 */
describe('partner activities with and without the providers', () => {
  let database: Database;
  let sandbox: RunningSandbox;
  let withProviders: ReturnType<typeof partners>;
  let without: ReturnType<typeof partners>;

  beforeAll(async () => {
    database = await openDatabase(testDatabases()[0]!.url());
    await migrateToLatest(database);
    sandbox = await startSandbox({ port: 0, generatePayments: false });
    const clients = createClients(sandboxClientsConfig(sandbox.url, { timeoutMs: 5_000 }));
    const providers = createOutboundProviders(loadProvidersConfig(sandboxProvidersEnv(sandbox.url)));
    withProviders = partners({ db: database.db, clients, providers });
    without = partners({ db: database.db, clients });
  });
  afterAll(async () => {
    await sandbox?.close();
    await database?.close();
  });

  async function paidThroughStripe(testMode: boolean, currency = 'usd'): Promise<{ orderId: string; intent: string }> {
    const orderId = `ORD-${unique()}`;
    const intent = `pi_${unique().toLowerCase()}`;
    await repo.recordPayment(database.db, {
      paymentId: intent,
      orderId,
      status: 'succeeded',
      amount: 20,
      currency,
      eventAt: new Date(),
      testMode,
    });
    sandbox.sandbox.addStripePaymentIntent({ id: intent, amount: 2000, currency, metadata: { order_id: orderId }, livemode: !testMode });
    return { orderId, intent };
  }
  const failureOf = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: unknown) => e as ApplicationFailure,
    );
  const stripeCalls = () => sandbox.sandbox.calls().filter((c) => c.system === 'stripe').length;

  it('a Stripe payment with no Stripe key: refused for good, naming the variable, nothing sent anywhere', async () => {
    const { orderId } = await paidThroughStripe(true);
    const before = sandbox.sandbox.calls().length;
    const err = await failureOf(
      new MockActivityEnvironment().run(without.refund, {
        orderId,
        amount: 20,
        currency: 'USD',
        reason: 'r',
        idempotencyKey: `k-${orderId}`,
      }),
    );
    expect(err).toMatchObject({ type: 'ProviderNotConfigured', nonRetryable: true });
    expect((err as Error).message).toContain('STRIPE_API_KEY is not set');
    expect(sandbox.sandbox.calls().length).toBe(before);
  });

  it('a live payment is not refunded with a test key, nor in another currency', async () => {
    const live = await paidThroughStripe(false);
    const before = stripeCalls();
    const refund = (orderId: string, currency: string) =>
      new MockActivityEnvironment().run(withProviders.refund, {
        orderId,
        amount: 20,
        currency,
        reason: 'r',
        idempotencyKey: `k-${orderId}`,
      });
    expect(await failureOf(refund(live.orderId, 'USD'))).toMatchObject({ type: 'TestModeMismatch', nonRetryable: true });
    const euros = await paidThroughStripe(true, 'eur');
    expect(await failureOf(refund(euros.orderId, 'USD'))).toMatchObject({ type: 'CurrencyMismatch', nonRetryable: true });
    expect(stripeCalls()).toBe(before);
    // The right currency goes through, once, however often the activity runs.
    const first = await refund(euros.orderId, 'EUR');
    expect(await refund(euros.orderId, 'EUR')).toEqual(first);
    expect(sandbox.state.stripe.refunds.filter((r) => r.payment_intent === euros.intent)).toHaveLength(1);
  });

  it('a seed-format payment is refunded by the payments system as before', async () => {
    const orderId = `ORD-${unique()}`;
    await repo.recordPayment(database.db, {
      paymentId: `PMT-${orderId}`,
      orderId,
      status: 'succeeded',
      amount: 20,
      currency: 'USD',
      eventAt: new Date(),
    });
    const refund: { refundId: string } = await new MockActivityEnvironment().run(withProviders.refund, {
      orderId,
      amount: 20,
      currency: 'USD',
      reason: 'r',
      idempotencyKey: `k-${orderId}`,
    });
    expect(refund.refundId).toMatch(/^RFN-/);
    expect(sandbox.state.refunds.filter((r) => r.order_id === orderId)).toHaveLength(1);
  });

  it('an EasyPost label is voided only where it was bought; without the key, refused for good', async () => {
    const err = await failureOf(
      new MockActivityEnvironment().run(without.voidReturnLabel, { labelId: 'shp_abc', idempotencyKey: `v-${unique()}` }),
    );
    expect(err).toMatchObject({ type: 'ProviderNotConfigured', nonRetryable: true });
    expect((err as Error).message).toContain('EASYPOST_API_KEY is not set');
  });

  it('a customer the CRM does not know gets no EasyPost label (no address to send it from): refused for good, nothing bought', async () => {
    sandbox.sandbox.addFault({ system: 'crm', kind: 'status', status: 404, times: 1 });
    const err = await failureOf(
      new MockActivityEnvironment().run(withProviders.createReturnLabel, {
        returnId: `RET-${unique()}`,
        orderId: 'ORD-1',
        customerId: 'CUST-67890',
        items: [{ product_id: 'PROD-A', quantity: 1 }],
        idempotencyKey: `l-${unique()}`,
      }),
    );
    expect(err).toMatchObject({ nonRetryable: true });
    expect(sandbox.state.easypost.purchases).toHaveLength(0);
  });

  describe("EasyPost's test mode", () => {
    /** The agent's partner activities with EasyPost's account key a production one (EZAK…), and the given test key, if any. */
    const withEasyPost = (extra: Record<string, string> = {}) =>
      partners({
        db: database.db,
        clients: createClients(sandboxClientsConfig(sandbox.url, { timeoutMs: 5_000 })),
        providers: createOutboundProviders(
          loadProvidersConfig({ ...sandboxProvidersEnv(sandbox.url), EASYPOST_API_KEY: 'EZAKhooklinelive0123', ...extra }),
        ),
      });
    const label = (activities: ReturnType<typeof partners>, testMode: boolean) => {
      const returnId = `RET-${unique()}`;
      return {
        returnId,
        made: new MockActivityEnvironment().run(activities.createReturnLabel, {
          returnId,
          orderId: 'ORD-1',
          customerId: 'CUST-67890',
          items: [{ product_id: 'PROD-A', quantity: 1 }],
          idempotencyKey: `l-${returnId}`,
          testMode,
        }),
      };
    };
    const shipmentOf = (returnId: string) => sandbox.state.easypost.shipments.filter((s) => s.reference === returnId);

    it('a test-mode return with only a production key: refused for good, naming the variable, nothing sent to EasyPost', async () => {
      const before = sandbox.sandbox.calls().filter((c) => c.system === 'easypost').length;
      const { returnId, made } = label(withEasyPost(), true);
      const err = await failureOf(made);
      expect(err).toMatchObject({ type: 'TestModeMismatch', nonRetryable: true });
      expect((err as Error).message).toMatch(/production key \(EASYPOST_API_KEY is EZAK…\).*EASYPOST_TEST_API_KEY/);
      expect(sandbox.sandbox.calls().filter((c) => c.system === 'easypost').length).toBe(before);
      expect(shipmentOf(returnId)).toHaveLength(0);
      // Nor voided with it: a test label is voided where it was bought.
      const voided = await failureOf(
        new MockActivityEnvironment().run(withEasyPost().voidReturnLabel, {
          labelId: 'shp_test',
          idempotencyKey: `v-${unique()}`,
          testMode: true,
        }),
      );
      expect(voided).toMatchObject({ type: 'TestModeMismatch', nonRetryable: true });
    });

    it('with EASYPOST_TEST_API_KEY a test-mode return buys (and voids) its label in test mode, a live one in production', async () => {
      const activities = withEasyPost({
        EASYPOST_TEST_API_KEY: 'EZTKhooklinetest0123',
        EASYPOST_TEST_RETURN_ADDRESS_ID: 'adr_sandboxwarehouse',
      });
      const test = label(activities, true);
      const live = label(activities, false);
      const [testLabel, liveLabel] = (await Promise.all([test.made, live.made])) as ReturnLabel[];
      // The stand-in makes what EasyPost makes: a test key's objects in test mode, a production key's in production.
      expect(shipmentOf(test.returnId).map((s) => s.mode)).toEqual(['test']);
      expect(shipmentOf(live.returnId).map((s) => s.mode)).toEqual(['production']);
      expect(testLabel!.labelId).toBe(shipmentOf(test.returnId)[0]!.id);
      expect(liveLabel!.labelId).toBe(shipmentOf(live.returnId)[0]!.id);
      // Each label says the mode it was bought in, which is the mode the saga voids it in.
      expect(testLabel!.testMode).toBe(true);
      expect(liveLabel).not.toHaveProperty('testMode');
      for (const [bought, returnId] of [
        [testLabel!, test.returnId],
        [liveLabel!, live.returnId],
      ] as const) {
        await new MockActivityEnvironment().run(activities.voidReturnLabel, {
          labelId: bought.labelId,
          idempotencyKey: `v-${returnId}`,
          ...(bought.testMode ? { testMode: true } : {}),
        });
        expect(shipmentOf(returnId)[0]!.refund_status).toBe('submitted');
      }
    });
  });
});

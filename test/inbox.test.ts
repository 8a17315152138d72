import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandoffService, type HandoffService } from '../src/handoff/service';
import { OPERATOR_COOKIE } from '../src/receiver/handoffs';
import type { InquiryResult } from '../workflows/contracts/inquiries';
import { CUSTOMER, raiseEscalation, terminateAll, waitForNotification } from './support/handoff';
import { setupAgent } from './support/harness';

const CHROMIUM = '/usr/bin/chromium';

describe('the inbox page in a real browser', () => {
  const t = setupAgent({ operators: true });
  let token: string;
  let service: HandoffService;
  let browser: Browser;
  const raised: string[] = [];

  beforeAll(async () => {
    // Fail loudly: a skipped browser test looks like a passing one.
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium is not installed at ${CHROMIUM}; the inbox test needs it. Install it with: apt-get update && apt-get install -y chromium`,
      );
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    service = createHandoffService(t.env.client);
    token = (await t.operators.add('alice', 'agent')).token;
  });
  afterAll(async () => {
    await terminateAll(t.env, raised);
    await browser?.close();
  });

  it('logs in, finds the escalation, and claims, replies and resolves it with the buttons', async () => {
    const { id, workflowId } = await raiseEscalation(t.receiver.url, { source: 'web' });
    raised.push(workflowId);

    const context = await browser.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('response', (r) => {
      if (r.status() === 404) problems.push(`404: ${r.url()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of 40[19]/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    const testid = (p: Page, name: string) => p.locator(`[data-testid="${name}"]`);
    const poll = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 10_000, interval: 100 });

    // Log in: the page itself is behind the token.
    const first = await page.goto(`${t.receiver.url}/inbox`);
    expect(first?.status()).toBe(401);
    await testid(page, 'login-token').fill('wrong-token');
    await testid(page, 'login-submit').click();
    await poll(() => testid(page, 'login-message').textContent()).toContain('not an operator token');
    await testid(page, 'login-token').fill(token);
    await Promise.all([page.waitForURL(`${t.receiver.url}/inbox`), testid(page, 'login-submit').click()]);
    await testid(page, 'queue-table').waitFor();
    const cookie = (await context.cookies()).find((c) => c.name === OPERATOR_COOKIE);
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });

    // Signed in as the token's operator: there is no name to type, and none to fake.
    expect(await testid(page, 'operator-name').textContent()).toBe('alice');
    expect(await testid(page, 'operator-role').textContent()).toBe('agent');

    // The queue refreshes itself until the new escalation shows up.
    const row = page.locator(`[data-testid="queue-row"][data-id="${id}"]`);
    await row.waitFor({ timeout: 25_000 });
    expect(await row.locator('[data-testid="row-status"]').textContent()).toBe('waiting');
    expect(await row.locator('[data-testid="row-customer"]').textContent()).toBe(CUSTOMER);
    await row.click();

    await poll(() => testid(page, 'conv-id').textContent()).toBe(id);
    expect(await testid(page, 'conv-reason').textContent()).toBe('the customer is complaining');
    expect(await testid(page, 'conv-raised-by').textContent()).toBe(workflowId);
    expect(await testid(page, 'customer-name').textContent()).toBe('Alice Smith');
    expect(await testid(page, 'customer-email').textContent()).toBe('alice@example.com');
    expect(await testid(page, 'customer-orders').textContent()).toContain('ORD-12345');
    expect(await testid(page, 'conv-messages').textContent()).toContain('This is unacceptable, my order arrived broken');
    expect(await testid(page, 'conv-sla').textContent()).not.toBe('—');
    expect(await testid(page, 'resolve-outcome').locator('option').allTextContents()).toEqual(['resolved']);
    // The agent's suggested reply waits in the reply box, marked as a draft to edit.
    const suggested = (await service.show(id)).suggestedReply;
    expect(suggested).toMatch(/^Thanks for reaching out/);
    expect(await testid(page, 'reply-text').inputValue()).toBe(suggested);
    expect(await testid(page, 'suggested-note').isVisible()).toBe(true);

    // Someone else got there first: the button shows the workflow's refusal.
    await service.claim(id, { name: 'bob', role: 'agent' });
    await testid(page, 'claim').click();
    await poll(() => testid(page, 'error').textContent()).toContain('already claimed by bob');
    expect(await testid(page, 'error').isVisible()).toBe(true);
    await service.release(id, { name: 'bob', role: 'agent' });

    await testid(page, 'claim').click();
    await poll(() => testid(page, 'conv-assignee').textContent()).toBe('alice');
    expect(await testid(page, 'conv-status').textContent()).toBe('claimed');
    expect(await testid(page, 'error').isVisible()).toBe(false);

    const text = `So sorry: a replacement ships today <b>${randomUUID().slice(0, 8)}</b>`;
    await testid(page, 'reply-text').fill(text);
    await testid(page, 'reply').click();
    // Shown as text, never as markup.
    await poll(() => page.locator('[data-testid="message"][data-from="agent"] .text').last().textContent()).toBe(text);
    expect(await page.locator('[data-testid="conv-messages"] b').count()).toBe(0);
    expect(await testid(page, 'reply-text').inputValue()).toBe('');

    await testid(page, 'resolve-note').fill('replacement shipped');
    await testid(page, 'resolve').click();
    await poll(() => testid(page, 'conv-status').textContent()).toBe('resolved');
    expect(await testid(page, 'resolve').isDisabled()).toBe(true);

    const result = (await t.env.client.workflow.getHandle(workflowId).result()) as InquiryResult;
    expect(result).toMatchObject({ decision: 'handoff', handoff: { outcome: 'resolved', agent: 'alice', note: 'replacement shipped' } });
    const notification = await waitForNotification(
      t.agent.db,
      { audience: 'customer', customerId: CUSTOMER, idempotencyKey: `${id}:reply:1` },
      10_000,
    );
    expect(notification.body).toContain(text);

    const done = await service.show(id);
    expect(done.messages.filter((m) => m.from === 'system' && m.author).map((m) => m.author)).toEqual(['bob', 'bob', 'alice', 'alice']);

    // Log out: the session ends, and the page asks for a token again.
    await testid(page, 'logout').click();
    await testid(page, 'login-form').waitFor();
    expect((await page.goto(`${t.receiver.url}/inbox`))?.status()).toBe(401);

    expect(problems).toEqual([]);
    await context.close();
  });
});

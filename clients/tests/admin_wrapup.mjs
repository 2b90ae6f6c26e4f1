// tests/admin_wrapup.mjs — owns the browser test of wrap-up codes end to end: the admin
// console (/admin/) manages the list and makes queue `billing` require one; the agent
// desktop (/agent/) then offers exactly that queue's codes at resolve and will not
// resolve without one.
//
// Steps: a code with a bad name and no English label is refused with an error under
// each and not listed; codes `paid` (billing only) and `refund` (every queue) are
// created; `upsell` is created for queue `sales`; billing's queue form gets "Wrap-up
// code required"; the agent (in billing) accepts an SMS conversation, opens Resolve:
// the dialog says a code is required and offers "Choose…", Paid and Refund (not
// upsell, not the built-in choices); confirming with no choice keeps the dialog open;
// choosing Paid with details resolves it. The Rust side reads the disposition stored.
//
//   SWITCHBOARD_URL=http://127.0.0.1:43210 ADMIN_ID=admin ADMIN_PASSWORD=… \
//     AGENT_ID=ann AGENT_PASSWORD=… ADMIN_TOKEN=… node clients/tests/admin_wrapup.mjs
//
// Prints "wrap-up browser test passed" and exits 0, or exits 1 with the failing step.

import { harness, BASE } from './harness.mjs';

const ADMIN_ID = process.env.ADMIN_ID || 'admin';
const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD || '';
const AGENT_ID = process.env.AGENT_ID || '';
const AGENT_PASSWORD = process.env.AGENT_PASSWORD || '';
const ADMIN_TOKEN = process.env.ADMIN_TOKEN || '';
if (!BASE || !ADMIN_PASSWORD || !AGENT_ID || !ADMIN_TOKEN) {
  console.error('usage: SWITCHBOARD_URL=… ADMIN_ID=admin ADMIN_PASSWORD=… AGENT_ID=… AGENT_PASSWORD=… ADMIN_TOKEN=… node clients/tests/admin_wrapup.mjs');
  process.exit(2);
}

const run = harness('wrap-up');

/**
 * Fills and saves the code form.
 * @param {import('playwright-core').Page} page
 * @param {{code: string, ja: string, en: string, queues?: string[]}} c
 */
async function newCode(page, c) {
  await page.getByTestId('wrapup-new').click();
  await page.getByTestId('wrapup-code').fill(c.code);
  await page.getByTestId('wrapup-label-ja').fill(c.ja);
  await page.getByTestId('wrapup-label-en').fill(c.en);
  for (const q of c.queues || []) await page.getByTestId(`wrapup-queue-${q}`).check();
  await page.getByTestId('wrapup-save').click();
}

await run.main(async () => {
  const admin = await run.page();

  await run.step('the admin signs in and opens the wrap-up codes', async () => {
    await admin.goto(`${BASE}/admin/?lang=en`);
    await admin.getByTestId('login-id').fill(ADMIN_ID);
    await admin.getByTestId('login-password').fill(ADMIN_PASSWORD);
    await admin.getByTestId('login-submit').click();
    await admin.getByTestId('app-view').waitFor({ state: 'visible' });
    await admin.getByTestId('agent-row').first().waitFor();
    await admin.getByTestId('tab-wrapup').click();
    await admin.getByTestId('section-wrapup').waitFor({ state: 'visible' });
  });

  await run.step('a bad code is refused field by field and not listed', async () => {
    await newCode(admin, { code: 'Bad Code', ja: '悪い', en: '' });
    await admin.getByTestId('wrapup-error-code').waitFor({ state: 'visible' });
    await admin.getByTestId('wrapup-error-label-en').waitFor({ state: 'visible' });
    run.check((await admin.getByTestId('wrapup-row').count()) === 0, 'a refused code is listed');
    await admin.getByTestId('wrapup-cancel').click();
  });

  await run.step('codes are created for billing, every queue and sales', async () => {
    await newCode(admin, { code: 'paid', ja: '支払い済み', en: 'Paid', queues: ['billing'] });
    await admin.getByTestId('wrapup-form').waitFor({ state: 'hidden' });
    await newCode(admin, { code: 'refund', ja: '返金', en: 'Refund' });
    await admin.getByTestId('wrapup-form').waitFor({ state: 'hidden' });
    await newCode(admin, { code: 'upsell', ja: 'アップセル', en: 'Upsell', queues: ['sales'] });
    await admin.getByTestId('wrapup-form').waitFor({ state: 'hidden' });
    await admin.locator('[data-testid="wrapup-row"][data-code="upsell"]').waitFor();
    const codes = await admin.getByTestId('wrapup-row').locator('td:first-child').allTextContents();
    run.check(JSON.stringify(codes) === JSON.stringify(['paid', 'refund', 'upsell']), `listed: ${codes}`);
  });

  await run.step('billing requires a wrap-up code', async () => {
    await admin.getByTestId('tab-queues').click();
    const row = admin.locator('[data-testid="queue-row"][data-queue="billing"]');
    await row.getByTestId('queue-edit').click();
    await admin.getByTestId('queue-wrapup-required').check();
    await admin.getByTestId('queue-save').click();
    await admin.getByTestId('queue-form').waitFor({ state: 'hidden' });
  });

  const agent = await run.page();
  await run.step('the agent accepts a billing conversation', async () => {
    await run.signIn(agent, AGENT_ID, AGENT_PASSWORD);
    const r = await fetch(`${BASE}/api/v1/inbound`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'sms', address: '+819055550077', text: '請求が二重です', queue: 'billing' }),
    });
    run.check(r.status === 202, `inbound answered ${r.status}`);
    await agent.getByTestId('offer-accept').click();
    await agent.getByTestId('action-resolve').waitFor({ state: 'visible' });
  });

  await run.step("the resolve dialog offers the queue's codes and requires one", async () => {
    await agent.getByTestId('action-resolve').click();
    await agent.getByTestId('resolve-dialog').waitFor();
    await agent.getByTestId('resolve-required').waitFor({ state: 'visible' });
    const options = await agent.getByTestId('resolve-disposition').locator('option').evaluateAll((els) =>
      els.map((e) => `${/** @type {HTMLOptionElement} */ (e).value}=${e.textContent}`),
    );
    run.check(
      JSON.stringify(options) === JSON.stringify(['=Choose a wrap-up code…', 'paid=Paid', 'refund=Refund']),
      `offered: ${JSON.stringify(options)}`,
    );
    await agent.getByTestId('resolve-confirm').click();
    run.check(await agent.getByTestId('resolve-dialog').isVisible(), 'the dialog closed without a code');
  });

  await run.step('with a code chosen the conversation is resolved', async () => {
    await agent.getByTestId('resolve-disposition').selectOption('paid');
    await agent.getByTestId('resolve-notes').fill('refunded the double charge');
    await agent.getByTestId('resolve-confirm').click();
    await agent.getByTestId('resolve-dialog').waitFor({ state: 'hidden' });
    await agent.getByTestId('conversation-item').waitFor({ state: 'detached' });
  });
});

// tests/admin_console.mjs — owns the browser test of the admin console (/admin/)
// against a running engine with an admin (`ADMIN_ID`/`ADMIN_PASSWORD`) and a
// supervisor `sup` (password `sup-password`).
//
// Steps: the supervisor is turned away; the admin signs in and the console lists the
// agents, and switches to Japanese and back; a queue "billing" is created (least
// occupied, billing:2 required, default for email) and listed; a queue with a 5 ms
// offer timeout and max waiting 0 is refused with an error under each of the two
// fields and not listed; an agent "nadia" is created (billing:3, japanese:5, queue
// billing, chat capacity 2) and listed; an agent with an empty name, a short password
// and a bad phone is refused with an error under each of the three and not listed; a
// skill level of 9 is refused before anything is sent; nadia is disabled by editing
// her, and the list says so; a canned response with a bad title, template, language
// and shortcut is refused with an error under each, then a good one is saved, edited
// and deleted; the audit log, filtered to agent saves, shows them with
// the refusal, exports the same search as CSV, and finds nothing for an unknown actor.
// The Rust side then reads what was stored.
//
//   SWITCHBOARD_URL=http://127.0.0.1:43210 ADMIN_ID=admin ADMIN_PASSWORD=… node clients/tests/admin_console.mjs
//
// Prints "admin console browser test passed" and exits 0, or exits 1 with the failing step.

import { harness, BASE } from './harness.mjs';

const ADMIN_ID = process.env.ADMIN_ID || 'admin';
const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD || '';
if (!BASE || !ADMIN_PASSWORD) {
  console.error('usage: SWITCHBOARD_URL=http://127.0.0.1:PORT ADMIN_ID=admin ADMIN_PASSWORD=… node clients/tests/admin_console.mjs');
  process.exit(2);
}

const run = harness('admin console');

/**
 * @param {import('playwright-core').Page} page
 * @param {string} id
 * @param {string} password
 */
async function signIn(page, id, password) {
  await page.goto(`${BASE}/admin/`);
  await page.getByTestId('login-id').fill(id);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
}

/**
 * The visible field errors of a form, by field.
 * @param {import('playwright-core').Page} page
 * @param {string} form `agent-form` or `queue-form`
 */
async function fieldErrors(page, form) {
  return page.evaluate((id) => {
    /** @type {Record<string, string>} */
    const out = {};
    for (const el of document.querySelectorAll(`#${id} [data-error]`)) {
      const e = /** @type {HTMLElement} */ (el);
      if (!e.hidden) out[e.dataset.error || ''] = e.textContent || '';
    }
    return out;
  }, form);
}

/**
 * The rows' first cells of a table.
 * @param {import('playwright-core').Page} page
 * @param {string} row `agent-row` or `queue-row`
 */
async function listed(page, row) {
  return page.getByTestId(row).locator('td:first-child').allTextContents();
}

await run.main(async () => {
  const page = await run.page();

  await run.step('a supervisor is turned away', async () => {
    await signIn(page, 'sup', 'sup-password');
    const error = page.getByTestId('login-error');
    await error.waitFor({ state: 'visible' });
    run.check((await error.textContent()).includes('not an admin'), `the error says ${await error.textContent()}`);
  });

  await run.step('the admin signs in and sees the agents', async () => {
    await signIn(page, ADMIN_ID, ADMIN_PASSWORD);
    await page.getByTestId('app-view').waitFor({ state: 'visible' });
    await page.getByTestId('agent-row').first().waitFor();
    const ids = await listed(page, 'agent-row');
    run.check(ids.includes(ADMIN_ID) && ids.includes('sup'), `agents listed: ${ids}`);
  });

  await run.step('the console speaks Japanese and back', async () => {
    await page.getByTestId('lang-toggle').click();
    run.check((await page.getByTestId('tab-queues').textContent()) === 'キュー', 'the queues tab is not in Japanese');
    await page.getByTestId('lang-toggle').click();
    run.check((await page.getByTestId('tab-queues').textContent()) === 'Queues', 'the queues tab is not back in English');
  });

  await run.step('a queue is created and listed', async () => {
    await page.getByTestId('tab-queues').click();
    await page.getByTestId('queue-new').click();
    await page.getByTestId('queue-name').fill('billing');
    await page.getByTestId('queue-display-name').fill('Billing');
    await page.getByTestId('queue-strategy').selectOption('least_occupied');
    await page.getByTestId('queue-required-skills').fill('billing:2');
    await page.getByTestId('queue-default-email').check();
    await page.getByTestId('queue-save').click();
    await page.getByTestId('queue-form').waitFor({ state: 'hidden' });
    await page.locator('[data-testid="queue-row"][data-queue="billing"]').waitFor();
    run.check((await page.getByTestId('notice').textContent()).includes('billing'), 'no saved notice');
  });

  await run.step('a bad queue is refused field by field and not stored', async () => {
    await page.getByTestId('queue-new').click();
    await page.getByTestId('queue-name').fill('bad');
    await page.getByTestId('queue-offer-timeout').fill('5');
    await page.getByTestId('queue-max-waiting').fill('0');
    await page.getByTestId('queue-save').click();
    await page.getByTestId('queue-error-offer_timeout_ms').waitFor({ state: 'visible' });
    const errors = await fieldErrors(page, 'queue-form');
    run.check(!!errors.offer_timeout_ms && !!errors.max_waiting, `errors ${JSON.stringify(errors)}`);
    run.check(!(await listed(page, 'queue-row')).includes('bad'), 'the bad queue is listed');
    await page.getByTestId('queue-cancel').click();
  });

  await run.step('an agent is created with skills, a queue and a capacity', async () => {
    await page.getByTestId('tab-agents').click();
    await page.getByTestId('agent-new').click();
    await page.getByTestId('agent-id').fill('nadia');
    await page.getByTestId('agent-display-name').fill('Nadia');
    await page.getByTestId('agent-password').fill('nadia-password');
    await page.getByTestId('agent-skills').fill('billing:3, japanese:5');
    await page.getByTestId('agent-queue-billing').check();
    await page.getByTestId('agent-cap-chat').fill('2');
    await page.getByTestId('agent-save').click();
    await page.getByTestId('agent-form').waitFor({ state: 'hidden' });
    await page.locator('[data-testid="agent-row"][data-agent="nadia"]').waitFor();
  });

  await run.step('a bad agent is refused field by field and not stored', async () => {
    await page.getByTestId('agent-new').click();
    await page.getByTestId('agent-id').fill('omar');
    await page.getByTestId('agent-password').fill('short');
    await page.getByTestId('agent-phone').fill('not a phone');
    await page.getByTestId('agent-save').click();
    await page.getByTestId('agent-error-password').waitFor({ state: 'visible' });
    const errors = await fieldErrors(page, 'agent-form');
    run.check(!!errors.display_name && !!errors.password && !!errors.phone, `errors ${JSON.stringify(errors)}`);
    run.check(!(await listed(page, 'agent-row')).includes('omar'), 'the bad agent is listed');
  });

  await run.step('a skill level of 9 is refused before sending', async () => {
    let sent = 0;
    page.on('request', (r) => {
      if (r.method() === 'PUT') sent += 1;
    });
    await page.getByTestId('agent-display-name').fill('Omar');
    await page.getByTestId('agent-password').fill('omar-password');
    await page.getByTestId('agent-phone').fill('');
    await page.getByTestId('agent-skills').fill('billing:9');
    await page.getByTestId('agent-save').click();
    await page.getByTestId('agent-error-skills').waitFor({ state: 'visible' });
    run.check(sent === 0, `${sent} PUT requests were sent`);
    await page.getByTestId('agent-cancel').click();
  });

  await run.step('nadia is disabled by editing her', async () => {
    const row = page.locator('[data-testid="agent-row"][data-agent="nadia"]');
    await row.getByTestId('agent-edit').click();
    run.check((await page.getByTestId('agent-skills').inputValue()) === 'billing:3, japanese:5', 'her skills are not in the form');
    run.check(await page.getByTestId('agent-queue-billing').isChecked(), 'her queue is not checked');
    await page.getByTestId('agent-disabled').check();
    await page.getByTestId('agent-save').click();
    await page.getByTestId('agent-form').waitFor({ state: 'hidden' });
    await page.locator('[data-testid="agent-row"][data-agent="nadia"] [data-testid="agent-status"]', { hasText: 'Disabled' }).waitFor();
  });

  await run.step('a bad canned response is refused field by field, then a good one saved, edited and deleted', async () => {
    page.on('dialog', (d) => void d.accept());
    await page.getByTestId('tab-canned').click();
    await page.getByTestId('canned-new').click();
    await page.getByTestId('canned-text').fill('Hello {{customer.nme}}');
    await page.getByTestId('canned-language').fill('english!');
    await page.getByTestId('canned-shortcut').fill('Bad Shortcut');
    await page.getByTestId('canned-save').click();
    await page.getByTestId('canned-error-text').waitFor({ state: 'visible' });
    const errors = await fieldErrors(page, 'canned-form');
    run.check(!!errors.title && !!errors.language && !!errors.shortcut && errors.text.includes('customer.nme'), `errors ${JSON.stringify(errors)}`);
    run.check((await page.getByTestId('canned-row').count()) === 0, 'the bad response is listed');
    await page.getByTestId('canned-title').fill('Greeting');
    await page.getByTestId('canned-text').fill('Hello {{customer.name}}');
    await page.getByTestId('canned-language').fill('en');
    await page.getByTestId('canned-tags').fill('greeting, welcome');
    await page.getByTestId('canned-shortcut').fill('hello');
    await page.getByTestId('canned-save').click();
    await page.getByTestId('canned-form').waitFor({ state: 'hidden' });
    await page.getByTestId('canned-row').filter({ hasText: '/hello' }).waitFor();
    await page.getByTestId('canned-row').getByTestId('canned-edit').click();
    await page.getByTestId('canned-title').fill('Greeting (en)');
    await page.getByTestId('canned-save').click();
    await page.getByTestId('canned-form').waitFor({ state: 'hidden' });
    await page.getByTestId('canned-row').filter({ hasText: 'Greeting (en)' }).waitFor();
    await page.getByTestId('canned-row').getByTestId('canned-delete').click();
    await page.getByTestId('canned-row').waitFor({ state: 'detached' });
  });

  await run.step('the audit log finds the agent saves, refusals included, and exports them as CSV', async () => {
    await page.getByTestId('tab-audit').click();
    await page.getByTestId('audit-row').first().waitFor();
    await page.getByTestId('audit-action').fill('PUT /api/v1/agents');
    await page.getByTestId('audit-search').click();
    await page.waitForFunction(() =>
      [...document.querySelectorAll('[data-testid="audit-row-action"]')].every((el) => (el.textContent || '').startsWith('PUT /api/v1/agents')),
    );
    const details = await page.locator('[data-testid="audit-row"] td.adm-detail').allTextContents();
    run.check(details.some((d) => d.includes('"status":400')) && details.some((d) => d.includes('nadia')), `details ${details.join(' | ')}`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('audit-csv').click()]);
    const path = await download.path();
    const { readFile } = await import('node:fs/promises');
    const csv = await readFile(path, 'utf8');
    run.check(csv.startsWith('id,at,actor,action,customer_id,detail'), `the CSV starts ${JSON.stringify(csv.slice(0, 60))}`);
    run.check(csv.includes('PUT /api/v1/agents/{id}') && !csv.includes('PUT /api/v1/queues'), 'the CSV is not the filtered search');
    await page.getByTestId('audit-actor').fill('nobody');
    await page.getByTestId('audit-search').click();
    await page.getByTestId('audit-empty').waitFor({ state: 'visible' });
    run.check((await page.getByTestId('audit-row').count()) === 0, 'rows for nobody');
  });
});

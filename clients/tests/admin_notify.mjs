// tests/admin_notify.mjs — owns the browser test of the admin console's notifications
// section (/admin/, clients/admin/notify.js) against a running engine with an admin
// (`ADMIN_ID`/`ADMIN_PASSWORD`) and no notification rules.
//
// Steps: the admin signs in and opens Notifications (empty); a rule without an event
// type is refused under the field before anything is sent; a rule whose Japanese
// template does not parse is refused by the server, its message (with the byte offset)
// under that template, and nothing is listed; a good rule `order.shipped` (both
// languages, an English subject, variables, LINE before SMS) is saved and listed; it
// is edited (a new English template) and, after the page is reloaded, the list shows
// the new text and the form loads it; the rules as `GET /api/v1/notification-rules`
// answers them (with the page's own session token) are what the page shows; the rule
// is deleted after the confirmation and the list is empty, on the page and over REST.
// The Rust side then reads the store and the audit log.
//
//   SWITCHBOARD_URL=http://127.0.0.1:43210 ADMIN_ID=admin ADMIN_PASSWORD=… node clients/tests/admin_notify.mjs
//
// Prints "admin notify browser test passed" and exits 0, or exits 1 with the failing step.

import { harness, BASE } from './harness.mjs';

const ADMIN_ID = process.env.ADMIN_ID || 'admin';
const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD || '';
if (!BASE || !ADMIN_PASSWORD) {
  console.error('usage: SWITCHBOARD_URL=http://127.0.0.1:PORT ADMIN_ID=admin ADMIN_PASSWORD=… node clients/tests/admin_notify.mjs');
  process.exit(2);
}

const TYPE = 'order.shipped';
const JA = '{{customer.name}}様、ご注文{{order.id}}を発送しました。{{carrier?}}';
const EN = '{{customer.name}}, your order {{order.id}} has shipped.';
const EN_EDITED = '{{customer.name}}, order {{order.id}} is on its way with {{carrier?}}.';
const SUBJECT = 'Order {{order.id}} shipped';

const run = harness('admin notify');

/**
 * A REST call made from the console page with its own session token.
 * @param {import('playwright-core').Page} page
 * @param {string} path under /api/v1
 * @returns {Promise<{ status: number, body: any }>}
 */
async function getFromPage(page, path) {
  return page.evaluate(async (path) => {
    const session = JSON.parse(sessionStorage.getItem('switchboard.admin.session') || 'null');
    const res = await fetch(`../api/v1${path}`, {
      headers: { accept: 'application/json', authorization: `Bearer ${session && session.token}` },
    });
    return { status: res.status, body: await res.json().catch(() => null) };
  }, path);
}

/**
 * The visible field errors of the rule form, by field.
 * @param {import('playwright-core').Page} page
 */
async function fieldErrors(page) {
  return page.evaluate(() => {
    /** @type {Record<string, string>} */
    const out = {};
    for (const el of document.querySelectorAll('#notify-form [data-error]')) {
      const e = /** @type {HTMLElement} */ (el);
      if (!e.hidden) out[e.dataset.error || ''] = e.textContent || '';
    }
    return out;
  });
}

/**
 * `v` as JSON with every object's keys sorted (the server's order is not the page's).
 * @param {unknown} v
 * @returns {string}
 */
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = /** @type {Record<string, unknown>} */ (v);
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * What each row of the table shows.
 * @param {import('playwright-core').Page} page
 */
async function rows(page) {
  return page.getByTestId('notify-row').evaluateAll((els) =>
    els.map((tr) => {
      const cell = (/** @type {string} */ id) => tr.querySelector(`[data-testid="${id}"]`)?.textContent || '';
      return {
        type: /** @type {HTMLElement} */ (tr).dataset.type,
        channels: cell('notify-row-channels'),
        languages: cell('notify-row-languages'),
        variables: cell('notify-row-variables'),
        template: cell('notify-row-template'),
      };
    }),
  );
}

/**
 * Opens the Notifications tab and waits for its list to be drawn.
 * @param {import('playwright-core').Page} page
 */
async function openSection(page) {
  await page.getByTestId('tab-notify').click();
  await page.getByTestId('section-notify').waitFor({ state: 'visible' });
}

await run.main(async () => {
  const page = await run.page();

  await run.step('the admin signs in and opens Notifications: no rules', async () => {
    await page.goto(`${BASE}/admin/?lang=en`);
    await page.getByTestId('login-id').fill(ADMIN_ID);
    await page.getByTestId('login-password').fill(ADMIN_PASSWORD);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('app-view').waitFor({ state: 'visible' });
    await page.getByTestId('agent-row').first().waitFor();
    run.check((await page.getByTestId('tab-notify').textContent()) === 'Notifications', 'the tab is not labelled Notifications');
    await openSection(page);
    await page.getByTestId('notify-empty').waitFor({ state: 'visible' });
    run.check((await page.getByTestId('notify-row').count()) === 0, 'a rule is listed at start');
  });

  await run.step('a rule without an event type is refused before it is sent', async () => {
    await page.getByTestId('notify-new').click();
    await page.getByTestId('notify-form').waitFor({ state: 'visible' });
    const hint = (await page.getByTestId('notify-template-hint').textContent()) || '';
    run.check(hint.includes('{{customer.name}}') && hint.includes('{{unsubscribe_url}}'), `the hint says ${hint}`);
    await page.getByTestId('notify-template-en').fill(EN);
    await page.getByTestId('notify-save').click();
    await page.getByTestId('notify-error-type').waitFor({ state: 'visible' });
    const errors = await fieldErrors(page);
    run.check(Object.keys(errors).sort().join() === 'channels,type', `errors: ${JSON.stringify(errors)}`);
    await page.getByTestId('notify-cancel').click();
    await page.getByTestId('notify-form').waitFor({ state: 'hidden' });
  });

  await run.step('a template that does not parse is refused by the server and nothing is listed', async () => {
    await page.getByTestId('notify-new').click();
    await page.getByTestId('notify-type').fill(TYPE);
    await page.getByTestId('notify-template-ja').fill('ご注文 {{order.id');
    await page.getByTestId('notify-variables').fill('order.id');
    const hint = (await page.getByTestId('notify-template-hint').textContent()) || '';
    run.check(hint.includes('{{order.id}}'), `the hint does not list the form's variable: ${hint}`);
    await page.getByTestId('notify-channel-sms').check();
    await page.getByTestId('notify-save').click();
    // The server names the field: the error is under the Japanese template.
    const slot = page.getByTestId('notify-error-templates-ja');
    await slot.waitFor({ state: 'visible' });
    const text = (await slot.textContent()) || '';
    run.check(text.includes('byte 10'), `the Japanese template's error says ${text}`);
    run.check(await page.getByTestId('notify-form').isVisible(), 'the form closed on a refusal');
    run.check((await page.getByTestId('notify-row').count()) === 0, 'a refused rule is listed');
    await page.getByTestId('notify-cancel').click();
  });

  await run.step('a good rule is saved and listed, LINE before SMS', async () => {
    await page.getByTestId('notify-new').click();
    await page.getByTestId('notify-type').fill(TYPE);
    await page.getByTestId('notify-template-ja').fill(JA);
    await page.getByTestId('notify-template-en').fill(EN);
    await page.getByTestId('notify-subject-en').fill(SUBJECT);
    await page.getByTestId('notify-variables').fill('order.id, carrier');
    await page.getByTestId('notify-channel-sms').check();
    await page.getByTestId('notify-channel-line').check();
    // The list starts sms, email, line, …: LINE moves up twice to the top.
    await page.getByTestId('notify-channel-up-line').click();
    await page.getByTestId('notify-channel-up-line').click();
    const order = await page
      .getByTestId('notify-channels')
      .locator('li')
      .evaluateAll((els) => els.map((li) => /** @type {HTMLElement} */ (li).dataset.channel));
    run.check(order.slice(0, 2).join() === 'line,sms', `channel order: ${order}`);
    run.check(await page.getByTestId('notify-channel-line').isChecked(), 'moving LINE unchecked it');
    await page.getByTestId('notify-save').click();
    await page.getByTestId('notify-form').waitFor({ state: 'hidden' });
    await page.locator(`[data-testid="notify-row"][data-type="${TYPE}"]`).waitFor();
    const listed = await rows(page);
    run.check(
      JSON.stringify(listed) ===
        JSON.stringify([{ type: TYPE, channels: 'LINE → SMS', languages: 'ja, en', variables: 'order.id, carrier', template: EN }]),
      `listed: ${JSON.stringify(listed)}`,
    );
  });

  await run.step('the rule is edited and the change is there after a reload', async () => {
    const row = page.locator(`[data-testid="notify-row"][data-type="${TYPE}"]`);
    await row.getByTestId('notify-edit').click();
    await page.getByTestId('notify-form').waitFor({ state: 'visible' });
    run.check(await page.getByTestId('notify-type').evaluate((el) => /** @type {HTMLInputElement} */ (el).readOnly), 'the event type can be changed');
    run.check((await page.getByTestId('notify-template-ja').inputValue()) === JA, 'the form did not load the Japanese template');
    run.check((await page.getByTestId('notify-subject-en').inputValue()) === SUBJECT, 'the form did not load the subject');
    await page.getByTestId('notify-template-en').fill(EN_EDITED);
    await page.getByTestId('notify-save').click();
    await page.getByTestId('notify-form').waitFor({ state: 'hidden' });

    await page.reload();
    await page.getByTestId('app-view').waitFor({ state: 'visible' });
    await openSection(page);
    const cell = page.locator(`[data-testid="notify-row"][data-type="${TYPE}"] [data-testid="notify-row-template"]`);
    await cell.waitFor();
    run.check((await cell.textContent()) === EN_EDITED, `the list shows ${await cell.textContent()}`);
    await page.locator(`[data-testid="notify-row"][data-type="${TYPE}"]`).getByTestId('notify-edit').click();
    run.check((await page.getByTestId('notify-template-en').inputValue()) === EN_EDITED, 'the form did not load the edit');
    const channels = await page.getByTestId('notify-channels').locator('input:checked').evaluateAll((els) => els.map((e) => /** @type {HTMLInputElement} */ (e).value));
    run.check(channels.join() === 'line,sms', `checked after the reload: ${channels}`);
    await page.getByTestId('notify-cancel').click();
  });

  await run.step('the REST answer is what the page shows', async () => {
    const { status, body } = await getFromPage(page, '/notification-rules');
    run.check(status === 200, `GET /notification-rules answered ${status}`);
    const rules = body.rules;
    run.check(rules.length === 1 && rules[0].type === TYPE, `rules: ${JSON.stringify(rules)}`);
    const r = rules[0].rule;
    // Saved, then edited with the version the form loaded: version 2.
    const want = { templates: { en: EN_EDITED, ja: JA }, subjects: { en: SUBJECT }, variables: ['order.id', 'carrier'], channels: ['line', 'sms'], version: 2 };
    run.check(canonical(r) === canonical(want), `stored: ${JSON.stringify(r)}`);
    const shown = await rows(page);
    run.check(shown.length === rules.length && shown[0].type === rules[0].type && shown[0].template === r.templates.en, `shown: ${JSON.stringify(shown)}`);
  });

  await run.step('the rule is deleted after the confirmation', async () => {
    page.once('dialog', (d) => void d.accept());
    await page.locator(`[data-testid="notify-row"][data-type="${TYPE}"]`).getByTestId('notify-delete').click();
    await page.locator(`[data-testid="notify-row"][data-type="${TYPE}"]`).waitFor({ state: 'detached' });
    await page.getByTestId('notify-empty').waitFor({ state: 'visible' });
    const { status, body } = await getFromPage(page, '/notification-rules');
    run.check(status === 200 && Array.isArray(body.rules) && body.rules.length === 0, `after delete: ${status} ${JSON.stringify(body)}`);
    run.check((await page.getByTestId('notify-row').count()) === body.rules.length, 'the page and the REST answer differ');
  });
});

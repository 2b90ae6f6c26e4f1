// tests/admin_ivr.mjs — owns the browser test of the admin console's IVR section
// (/admin/, clients/admin/ivr.js) against a running engine with an admin
// (`ADMIN_ID`/`ADMIN_PASSWORD`), queues "billing" and "general", and this tree as
// version 0 (from the configuration file):
//
//   main "How can we help?": 1 Billing → chat billing; 2 FAQ → menu faq
//   faq "Pick a question":   1 Opening hours → article hours; 9 Back → back
//
// Steps: the admin opens the IVR tab and sees version 0, both menus and a preview that
// walks into the FAQ; an empty English label and a key used twice are refused by Check
// with an error at each field's path, and nothing is saved; the fixed tree with a new
// option (3 "Talk to us" → chat general) is saved as version 1 with a note, and a fresh
// visitor's web chat (/chat/?lang=en, a new browser context so nothing is cached) shows
// it at once; version 0 is restored as version 2 ("restored from 0") and the web chat
// shows the old menu again; a save that names a stale version is refused with 409.
// The Rust side then reads what was stored.
//
//   SWITCHBOARD_URL=http://127.0.0.1:43210 ADMIN_ID=admin ADMIN_PASSWORD=… node clients/tests/admin_ivr.mjs
//
// Prints "admin ivr browser test passed" and exits 0, or exits 1 with the failing step.

import { harness, BASE } from './harness.mjs';

const ADMIN_ID = process.env.ADMIN_ID || 'admin';
const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD || '';
if (!BASE || !ADMIN_PASSWORD) {
  console.error('usage: SWITCHBOARD_URL=http://127.0.0.1:PORT ADMIN_ID=admin ADMIN_PASSWORD=… node clients/tests/admin_ivr.mjs');
  process.exit(2);
}

const run = harness('admin ivr');

/**
 * A REST call made from the console page with the admin's session token.
 * @param {import('playwright-core').Page} page
 * @param {string} method
 * @param {string} path under /api/v1
 * @param {unknown} [body]
 * @returns {Promise<{ status: number, body: any }>}
 */
async function apiFromPage(page, method, path, body) {
  return page.evaluate(
    async ({ method, path, body }) => {
      const session = JSON.parse(sessionStorage.getItem('switchboard.admin.session') || 'null');
      const res = await fetch(`../api/v1${path}`, {
        method,
        headers: {
          accept: 'application/json',
          authorization: `Bearer ${session && session.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json().catch(() => null) };
    },
    { method, path, body },
  );
}

/**
 * The IVR section's visible field errors, by `data-path`.
 * @param {import('playwright-core').Page} page
 */
async function fieldErrors(page) {
  return page.evaluate(() => {
    /** @type {Record<string, string>} */
    const out = {};
    for (const el of document.querySelectorAll('#section-ivr [data-path]')) {
      const e = /** @type {HTMLElement} */ (el);
      if (!e.hidden && (e.textContent || '').trim()) out[e.dataset.path || ''] = e.textContent || '';
    }
    return out;
  });
}

/**
 * Waits until the editor says it edits version `n`.
 * @param {import('playwright-core').Page} page
 * @param {number} n
 */
async function editingVersion(page, n) {
  await page.locator(`[data-testid="ivr-version"][data-version="${n}"]`).waitFor();
  const text = await page.getByTestId('ivr-version').textContent();
  run.check(text.includes(String(n)), `the version reads ${JSON.stringify(text)}`);
}

/**
 * The option labels a new visitor's web chat shows at its first menu (a new browser
 * context: nothing cached from an earlier visit).
 */
async function chatMenu() {
  const chat = await run.page({ viewport: { width: 390, height: 780 } });
  await chat.goto(`${BASE}/chat/?lang=en`);
  await chat.getByTestId('ivr').filter({ hasText: 'How can we help?' }).waitFor();
  await chat.getByTestId('ivr-option').first().waitFor();
  const labels = (await chat.getByTestId('ivr-option').allTextContents()).map((s) => s.trim());
  await chat.context().close();
  return labels;
}

await run.main(async () => {
  const page = await run.page();
  page.on('dialog', (d) => void d.accept());
  const main = page.getByTestId('ivr-menu-main');
  const preview = page.getByTestId('ivr-preview');
  const previewOption = (/** @type {string} */ text) => preview.getByTestId('ivr-preview-option').filter({ hasText: text });

  await run.step('the admin opens the IVR: version 0, both menus, a preview that walks the tree', async () => {
    await page.goto(`${BASE}/admin/?lang=en`);
    await page.getByTestId('login-id').fill(ADMIN_ID);
    await page.getByTestId('login-password').fill(ADMIN_PASSWORD);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('app-view').waitFor({ state: 'visible' });
    await page.getByTestId('tab-ivr').click();
    await page.getByTestId('section-ivr').waitFor({ state: 'visible' });
    await editingVersion(page, 0);
    await main.waitFor();
    await page.getByTestId('ivr-menu-faq').waitFor();
    run.check((await main.getByTestId('ivr-prompt-en').inputValue()) === 'How can we help?', 'the main prompt is not in the editor');
    run.check((await main.getByTestId('ivr-opt-label-en').nth(0).inputValue()) === 'Billing', 'the first label is not Billing');
    run.check((await page.getByTestId('ivr-root').locator('option:checked').textContent()) === 'main', 'the root is not main');
    await preview.getByTestId('ivr-preview-prompt').filter({ hasText: 'How can we help?' }).waitFor();
    await previewOption('Billing').waitFor();
    await previewOption('FAQ').click();
    await preview.getByTestId('ivr-preview-prompt').filter({ hasText: 'Pick a question' }).waitFor();
    await previewOption('Opening hours').waitFor();
    await previewOption('Opening hours').click();
    await preview.getByTestId('ivr-preview-exit').filter({ hasText: 'hours' }).waitFor();
    await preview.getByTestId('ivr-preview-home').click();
    await previewOption('Billing').waitFor();
  });

  await run.step('an empty label and a key used twice are refused field by field, nothing saved', async () => {
    await main.getByTestId('ivr-opt-label-en').nth(0).fill('');
    await main.getByTestId('ivr-opt-key').nth(1).selectOption('1');
    await page.getByTestId('ivr-dirty').waitFor({ state: 'visible' });
    await page.getByTestId('ivr-check').click();
    await page.locator('#section-ivr [data-path="menus[0].options[0].label"]:not([hidden])').waitFor();
    await page.locator('#section-ivr [data-path="menus[0].options[1].key"]:not([hidden])').waitFor();
    const errors = await fieldErrors(page);
    run.check(!!errors['menus[0].options[0].label'] && !!errors['menus[0].options[1].key'], `errors ${JSON.stringify(errors)}`);
    await page.getByTestId('ivr-error').waitFor({ state: 'visible' });
    run.check(!(await page.getByTestId('ivr-status').isVisible()) || !(await page.getByTestId('ivr-status').textContent()).includes('Valid'), 'the tree is said to be valid');
    await editingVersion(page, 0);
    const listed = await apiFromPage(page, 'GET', '/ivr/versions');
    run.check(listed.status === 200 && listed.body.current === 0, `versions ${JSON.stringify(listed)}`);
  });

  await run.step('the fixed tree with a new option is valid and saved as version 1', async () => {
    await main.getByTestId('ivr-opt-label-en').nth(0).fill('Billing and invoices');
    await main.getByTestId('ivr-opt-label-ja').nth(0).fill('請求・お支払い');
    await main.getByTestId('ivr-opt-key').nth(1).selectOption('2');
    await main.getByTestId('ivr-add-option').click();
    const added = main.getByTestId('ivr-option-row').nth(2);
    await added.getByTestId('ivr-opt-key').selectOption('3');
    await added.getByTestId('ivr-opt-label-en').fill('Talk to us');
    await added.getByTestId('ivr-opt-label-ja').fill('相談する');
    await added.getByTestId('ivr-opt-action').selectOption('chat');
    await added.getByTestId('ivr-opt-target').selectOption('general');
    // The preview follows the unsaved edits.
    await previewOption('Billing and invoices').waitFor();
    await previewOption('Talk to us').waitFor();
    await page.getByTestId('ivr-check').click();
    await page.getByTestId('ivr-status').filter({ hasText: 'Valid' }).waitFor();
    run.check(Object.keys(await fieldErrors(page)).length === 0, `errors left ${JSON.stringify(await fieldErrors(page))}`);
    await page.getByTestId('ivr-note').fill('rename billing');
    await page.getByTestId('ivr-save').click();
    await editingVersion(page, 1);
    await page.getByTestId('ivr-dirty').waitFor({ state: 'hidden' });
    run.check((await main.getByTestId('ivr-option-row').count()) === 3, 'main does not have three options after saving');
    run.check((await main.getByTestId('ivr-opt-label-en').nth(0).inputValue()) === 'Billing and invoices', 'the saved label is not in the editor');
  });

  await run.step('a new visitor sees version 1 in the web chat at once', async () => {
    const labels = await chatMenu();
    run.check(labels.includes('Billing and invoices') && labels.includes('Talk to us') && labels.includes('FAQ'), `chat options ${JSON.stringify(labels)}`);
    run.check(!labels.includes('Billing'), `chat options ${JSON.stringify(labels)}`);
  });

  await run.step('version 0 is restored as version 2', async () => {
    const row = (/** @type {number} */ n) => page.locator(`[data-testid="ivr-version-row"][data-version="${n}"]`);
    await row(1).waitFor();
    await row(0).waitFor();
    const order = await page.getByTestId('ivr-version-row').evaluateAll((rows) => rows.map((r) => /** @type {HTMLElement} */ (r).dataset.version));
    run.check(JSON.stringify(order) === JSON.stringify(['1', '0']), `version rows ${JSON.stringify(order)}`);
    run.check((await row(1).getByTestId('ivr-version-note').textContent()) === 'rename billing', 'version 1 lacks its note');
    run.check((await row(1).getByTestId('ivr-restore').count()) === 0, 'the current version offers Restore');
    await row(0).getByTestId('ivr-restore').click();
    await editingVersion(page, 2);
    run.check((await main.getByTestId('ivr-opt-label-en').nth(0).inputValue()) === 'Billing', 'the editor does not show Billing again');
    run.check((await main.getByTestId('ivr-option-row').count()) === 2, 'main does not have two options again');
    await row(2).getByTestId('ivr-version-restored').filter({ hasText: 'restored from 0' }).waitFor();
    await previewOption('Billing').waitFor();
    run.check((await previewOption('Talk to us').count()) === 0, 'the preview still offers Talk to us');
  });

  await run.step('a new visitor sees version 0 again', async () => {
    const labels = await chatMenu();
    run.check(labels.includes('Billing') && labels.includes('FAQ'), `chat options ${JSON.stringify(labels)}`);
    run.check(!labels.includes('Talk to us') && !labels.includes('Billing and invoices'), `chat options ${JSON.stringify(labels)}`);
  });

  await run.step('a save from a stale version is refused with 409', async () => {
    const current = await apiFromPage(page, 'GET', '/ivr/versions/2');
    run.check(current.status === 200 && current.body.tree && current.body.tree.root === 'main', `version 2 ${JSON.stringify(current)}`);
    const stale = await apiFromPage(page, 'PUT', '/ivr', { version: 1, tree: current.body.tree, note: 'stale' });
    const code = stale.body && (stale.body.error ? stale.body.error.code : stale.body.code);
    run.check(stale.status === 409 && code === 'conflict', `stale save answered ${JSON.stringify(stale)}`);
    const listed = await apiFromPage(page, 'GET', '/ivr/versions');
    run.check(listed.body.current === 2, `current is ${listed.body.current}`);
  });
});

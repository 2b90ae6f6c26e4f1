// tests/admin_connectors.mjs — owns the browser test of the console's connectors section
// (/admin/, Connectors): the settings file's values are shown as such, SMS with its
// "on" badge, its auth token as "set" and never in the page, the relay password (absent)
// as a secret "not set"; saving with nothing changed
// sends nothing; a list that is not JSON is refused under its field (nothing sent), an
// SMS number the start-up check refuses (empty while SMS is on) under its input, and
// a save someone else overtook (a 409, answered here by the page's route) with a message
// to reload; the auth token is rotated and the number changed, sent as just those two
// keys with version 0, and the page shows version 1, an empty token input whose
// placeholder has the new token's last four characters; reloading shows what was saved.
// The Rust side then checks the engine over REST and signs an SMS webhook with the new
// token.
//
//   SWITCHBOARD_URL=http://127.0.0.1:43210 ADMIN_ID=admin ADMIN_PASSWORD=… TWILIO_TOKEN=… node clients/tests/admin_connectors.mjs
//
// Prints "admin connectors browser test passed" and exits 0, or exits 1 with the failing step.

import { harness, BASE } from './harness.mjs';

const ADMIN_ID = process.env.ADMIN_ID || 'admin';
const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD || '';
const TWILIO_TOKEN = process.env.TWILIO_TOKEN || '';
if (!BASE || !ADMIN_PASSWORD || !TWILIO_TOKEN) {
  console.error('usage: SWITCHBOARD_URL=… ADMIN_ID=admin ADMIN_PASSWORD=… TWILIO_TOKEN=… node clients/tests/admin_connectors.mjs');
  process.exit(2);
}

const ROTATED = 'rotated-token-0123456789';
const NUMBER = '+15005550007';

const run = harness('admin connectors');

await run.main(async () => {
  const page = await run.page();
  /** @type {{method: string, body: string | null}[]} the connectors API calls the page made */
  const calls = [];
  page.on('request', (req) => {
    if (new URL(req.url()).pathname === '/api/v1/connectors') calls.push({ method: req.method(), body: req.postData() });
  });
  const puts = () => calls.filter((c) => c.method === 'PUT');
  const field = (/** @type {string} */ path) => page.getByTestId(`conn-field-${path}`);
  const secret = (/** @type {string} */ path) => page.getByTestId(`conn-secret-${path}`);
  const formError = page.getByTestId('conn-error-form');
  const version = page.getByTestId('conn-version');

  await run.step('the admin opens the connectors from the settings file', async () => {
    await page.goto(`${BASE}/admin/?lang=en`);
    await page.getByTestId('login-id').fill(ADMIN_ID);
    await page.getByTestId('login-password').fill(ADMIN_PASSWORD);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('agent-row').first().waitFor();
    await page.getByTestId('tab-connectors').click();
    await page.getByTestId('section-connectors').waitFor();
    await version.filter({ hasText: 'settings file' }).waitFor();
    await page.getByTestId('conn-card-general').waitFor();
    run.check((await page.getByTestId('conn-enabled-sms').textContent()).trim() === 'On', 'SMS is not shown as on');
    run.check((await field('sms.from_number').inputValue()) === '+15005550006', 'the SMS number is not the file\'s');
    run.check((await field('outbound_retry_ms').inputValue()) === '20', 'outbound_retry_ms is not the file\'s 20');
  });

  await run.step('secrets are shown as set, never their value', async () => {
    const token = secret('sms.auth_token');
    run.check((await token.getAttribute('type')) === 'password', 'the auth token input is not a password input');
    run.check((await token.inputValue()) === '', 'the auth token input is not empty');
    const placeholder = (await token.getAttribute('placeholder')) || '';
    run.check(placeholder.startsWith('set'), `the auth token placeholder does not say set: ${placeholder}`);
    const relay = secret('email.relay.password');
    run.check((await relay.getAttribute('type')) === 'password', 'an optional secret (the relay password) is not a password input');
    run.check((await relay.getAttribute('placeholder')) === 'not set', 'the relay password does not say not set');
    run.check(!(await page.content()).includes(TWILIO_TOKEN), 'the SMS auth token is in the page');
    run.check(await page.getByTestId('conn-error-sms.from_number').isHidden(), 'an error is shown before any save');
  });

  await run.step('nothing changed: nothing is saved', async () => {
    await page.getByTestId('conn-save').click();
    await page.getByTestId('conn-status').filter({ hasText: 'Nothing to save' }).waitFor();
    run.check(puts().length === 0, 'a save was sent with nothing changed');
  });

  await run.step('a list that is not JSON is refused under its field and nothing is sent', async () => {
    await field('media.hosts').fill('["api.twilio.com",');
    await page.getByTestId('conn-save').click();
    await page.getByTestId('conn-error-media.hosts').filter({ hasText: 'JSON' }).waitFor();
    run.check(puts().length === 0, 'a save was sent with a field that does not parse');
    run.check(await page.getByTestId('conn-status').isHidden(), 'the "nothing to save" note stayed');
  });

  await run.step('a setting the start-up check refuses is named and nothing is saved', async () => {
    await page.getByTestId('conn-reload').click();
    await page.getByTestId('conn-error-media.hosts').waitFor({ state: 'hidden' });
    run.check((await field('media.hosts').inputValue()).includes('api.twilio.com'), 'reload did not restore the list');
    await field('sms.from_number').fill('');
    await page.getByTestId('conn-save').click();
    await page.getByTestId('conn-error-sms.from_number').filter({ hasText: 'required' }).waitFor();
    run.check(await formError.isHidden(), 'the error is on the form line, not under its input');
    run.check(puts().length === 1, `expected one save, got ${puts().length}`);
    run.check((await version.textContent()).includes('settings file'), 'a version was saved');
  });

  await run.step('a save someone else overtook asks for a reload', async () => {
    await page.route('**/api/v1/connectors', (route) =>
      route.request().method() === 'PUT'
        ? route.fulfill({ status: 409, contentType: 'application/json', body: JSON.stringify({ code: 'conflict', message: 'version 1 was saved since this edit began' }) })
        : route.fallback(),
    );
    await field('sms.from_number').fill('+15005550099');
    await page.getByTestId('conn-save').click();
    await formError.filter({ hasText: 'Reload' }).waitFor();
    await page.unroute('**/api/v1/connectors');
    await page.getByTestId('conn-reload').click();
    await formError.waitFor({ state: 'hidden' });
    run.check((await field('sms.from_number').inputValue()) === '+15005550006', 'reload did not restore the number');
    run.check((await version.textContent()).includes('settings file'), 'a version was saved');
  });

  await run.step('the auth token is rotated and the number changed', async () => {
    const before = puts().length;
    await secret('sms.auth_token').fill(ROTATED);
    await field('sms.from_number').fill(NUMBER);
    await page.getByTestId('conn-save').click();
    await version.filter({ hasText: 'Version 1' }).waitFor();
    const sent = puts().slice(before);
    run.check(sent.length === 1, `expected one save, got ${sent.length}`);
    const body = JSON.parse(sent[0].body || '{}');
    run.check(
      JSON.stringify(body) === JSON.stringify({ version: 0, settings: { sms: { auth_token: ROTATED, from_number: NUMBER } } }),
      `the save was not just the two changes: ${sent[0].body}`,
    );
    const token = secret('sms.auth_token');
    run.check((await token.inputValue()) === '', 'the auth token input was not emptied');
    const placeholder = (await token.getAttribute('placeholder')) || '';
    run.check(placeholder.includes('…6789'), `the placeholder does not show the new token's end: ${placeholder}`);
    run.check(await formError.isHidden(), 'an old error is still shown');
    const html = await page.content();
    run.check(!html.includes(ROTATED) && !html.includes(TWILIO_TOKEN), 'a token is in the page');
  });

  await run.step('the saved settings are what the section loads', async () => {
    await page.reload();
    await page.getByTestId('agent-row').first().waitFor();
    await page.getByTestId('tab-connectors').click();
    await version.filter({ hasText: 'Version 1' }).waitFor();
    run.check((await version.textContent()).includes(ADMIN_ID), 'the version does not say who saved it');
    run.check((await field('sms.from_number').inputValue()) === NUMBER, 'the number is not the one saved');
    run.check(((await secret('sms.auth_token').getAttribute('placeholder')) || '').includes('…6789'), 'the token hint is not the new one');
    run.check(!(await page.content()).includes(ROTATED), 'the rotated token is in the page');
  });
});

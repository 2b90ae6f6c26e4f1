// tests/sso.mjs — owns the browser test of staff single sign-on: the agent desktop and
// the supervisor dashboard against a running engine whose `[oidc]` points at the local
// OpenID provider (clients/tests/oidc_provider.mjs, `OIDC_URL`), with password sign-in
// turned off. The provider's accounts: alice (group cc-agents), sam (cc-leads), eve
// (a group mapped to nothing) and ghost (cc-agents, but no agent account here).
//
// Steps: /agent/ offers only the SSO button; alice signs in through the provider's
// login and consent pages and lands on the desktop, connected, with no token left in
// the address bar; sam signs in on /supervisor/ as a supervisor; eve is told her groups
// grant nothing and ghost that there is no account; then, one at a time, the provider
// alters the next ID token (payload changed under its signature, another audience,
// expired, another nonce, signed by an unpublished key) and each sign-in is refused
// with no session kept; after the provider rotates its signing key, alice signs in
// again (the engine fetched the new JWKS). The Rust side checks the counts by reason
// and the audit entries.
//
//   SWITCHBOARD_URL=http://127.0.0.1:43210 OIDC_URL=http://127.0.0.1:9000 node clients/tests/sso.mjs
//
// Prints "sso browser test passed" and exits 0, or exits 1 with the failing step.

import { harness, BASE } from './harness.mjs';

const OIDC = (process.env.OIDC_URL || '').replace(/\/+$/, '');
if (!BASE || !OIDC) {
  console.error('usage: SWITCHBOARD_URL=http://127.0.0.1:PORT OIDC_URL=http://127.0.0.1:PORT node clients/tests/sso.mjs');
  process.exit(2);
}

const run = harness('sso');

/**
 * Goes to `path`, follows its SSO button and signs in at the provider as `login`
 * (any password: the provider's development login), consenting; waits to be back.
 * @param {string} path `/agent/` or `/supervisor/`
 * @param {string} login
 */
async function ssoSignIn(path, login) {
  const page = await run.page();
  await page.goto(`${BASE}${path}`);
  const sso = page.getByTestId('login-sso');
  await sso.waitFor({ state: 'visible' });
  await sso.click();
  await page.waitForURL((url) => url.origin === OIDC);
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('anything');
  await page.locator('button.login-submit').click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL((url) => url.origin === BASE && url.pathname === path);
  return page;
}

/**
 * The session the page keeps, or null.
 * @param {import('playwright-core').Page} page
 * @param {string} key
 */
async function storedSession(page, key) {
  return page.evaluate((k) => JSON.parse(sessionStorage.getItem(k) || 'null'), key);
}

/**
 * Signs `login` in on /agent/ and checks it is refused with `message`.
 * @param {string} login
 * @param {string} message
 */
async function refused(login, message) {
  const page = await ssoSignIn('/agent/', login);
  const error = page.getByTestId('login-error');
  await error.waitFor({ state: 'visible' });
  const text = await error.textContent();
  run.check(text.includes(message), `the error says ${JSON.stringify(text)}`);
  run.check(await page.getByTestId('login-view').isVisible(), 'the sign-in view is gone');
  run.check((await storedSession(page, 'switchboard.agent.session')) === null, 'a session was kept');
  run.check(new URL(page.url()).hash === '', `the address bar keeps ${page.url()}`);
  await page.context().close();
}

/** @param {string} what */
async function provider(what) {
  const res = await fetch(`${OIDC}/__test/${what}`, { method: 'POST' });
  run.check(res.status === 204, `the provider's test hook ${what} answered ${res.status}`);
}

await run.main(async () => {
  await run.step('/agent/ offers single sign-on only', async () => {
    const page = await run.page();
    await page.goto(`${BASE}/agent/`);
    const sso = page.getByTestId('login-sso');
    await sso.waitFor({ state: 'visible' });
    run.check((await sso.textContent()) === 'Company SSO', `the button says ${await sso.textContent()}`);
    await page.getByTestId('login-password-fields').waitFor({ state: 'hidden' });
    run.check(await page.getByTestId('login-submit').isHidden(), 'the password submit shows');
    await page.context().close();
  });

  await run.step('alice signs in through the provider and lands on the desktop', async () => {
    const page = await ssoSignIn('/agent/', 'alice');
    await page.locator('[data-testid="connection-indicator"][data-state="connected"]').waitFor();
    const s = await storedSession(page, 'switchboard.agent.session');
    run.check(s && s.agent_id === 'alice' && s.role === 'agent' && s.expires_at > Date.now(), `session ${JSON.stringify(s)}`);
    run.check(new URL(page.url()).hash === '', `the token stays in the address bar: ${page.url()}`);
    await page.context().close();
  });

  await run.step('sam signs in on the supervisor dashboard as a supervisor', async () => {
    const page = await ssoSignIn('/supervisor/', 'sam');
    await page.locator('#app-view').waitFor({ state: 'visible' });
    const s = await storedSession(page, 'switchboard.supervisor.session');
    run.check(s && s.agent_id === 'sam' && s.role === 'supervisor', `session ${JSON.stringify(s)}`);
    await page.context().close();
  });

  await run.step('eve, in no mapped group, is refused', async () => {
    await refused('eve', 'no group that grants access');
  });

  await run.step('ghost, without an agent account, is refused', async () => {
    await refused('ghost', 'no agent account for you');
  });

  for (const alteration of ['tamper', 'audience', 'expired', 'nonce', 'unknown_key']) {
    await run.step(`an ID token altered (${alteration}) is refused`, async () => {
      await provider(alteration);
      await refused('alice', 'Single sign-on failed');
    });
  }

  await run.step('after the provider rotates its signing key, alice signs in again', async () => {
    await provider('rotate');
    const page = await ssoSignIn('/agent/', 'alice');
    await page.locator('[data-testid="connection-indicator"][data-state="connected"]').waitFor();
    const s = await storedSession(page, 'switchboard.agent.session');
    run.check(s && s.agent_id === 'alice', `session ${JSON.stringify(s)}`);
    await page.context().close();
  });
});

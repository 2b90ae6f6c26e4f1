// tests/agent_window.mjs — owns the end-to-end browser test of the reply window on the
// agent desktop (/agent/): a WhatsApp conversation whose customer wrote 25 hours ago
// (on the engine's clock) is accepted; the composer says the window has closed and
// offers the approved templates; the agent fills the template's parameters, sees the
// preview and sends it (the timeline shows the text the customer reads); free text is
// refused with its reason; the customer writes again (over REST, as the provider's
// webhook would) and the window line turns to the time left, the template box gone.
//
//   SWITCHBOARD_URL=http://127.0.0.1:43210 AGENT_ID=amy AGENT_PASSWORD=... \
//     ADMIN_TOKEN=... node clients/tests/agent_window.mjs
//
// The engine must run with WhatsApp on and the template `order_update` (ja, two
// parameters) approved, and hold one waiting WhatsApp conversation from +819012345678
// whose message is over 24 hours old. Prints "window browser test passed" and exits 0,
// or exits 1 with the failing step.

import { chromium } from 'playwright-core';

const OVERALL_TIMEOUT_MS = 90_000;
const STEP_TIMEOUT_MS = 20_000;
const BASE = (process.env.SWITCHBOARD_URL || '').replace(/\/+$/, '');
const AGENT_ID = process.env.AGENT_ID || '';
const AGENT_PASSWORD = process.env.AGENT_PASSWORD || '';
const ADMIN_TOKEN = process.env.ADMIN_TOKEN || '';
const PHONE = '+819012345678';

/** @type {import('playwright-core').Browser | null} */
let browser = null;
let currentStep = 'start';
/** @type {string[]} */
const pageErrors = [];

/** @param {string} message */
function fail(message) {
  console.error(`window browser test FAILED at step "${currentStep}": ${message}`);
  if (pageErrors.length) console.error(`page errors:\n  ${pageErrors.join('\n  ')}`);
  process.exit(1);
}
setTimeout(() => fail('overall timeout'), OVERALL_TIMEOUT_MS).unref();

/**
 * @param {string} name
 * @param {() => Promise<void>} fn
 */
async function step(name, fn) {
  currentStep = name;
  console.log(`- ${name}`);
  await fn();
}

/**
 * @param {boolean} cond
 * @param {string} message
 */
function check(cond, message) {
  if (!cond) throw new Error(message);
}

async function main() {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const ctx = await browser.newContext({ locale: 'en-US', viewport: { width: 1366, height: 860 } });
  ctx.setDefaultTimeout(STEP_TIMEOUT_MS);
  const agent = await ctx.newPage();
  agent.on('pageerror', (e) => pageErrors.push(e.message));
  const windowLine = agent.getByTestId('reply-window');
  const templateBox = agent.getByTestId('template-box');

  await step('agent logs in and accepts the WhatsApp conversation', async () => {
    await agent.goto(`${BASE}/agent/`);
    await agent.getByTestId('login-agent-id').fill(AGENT_ID);
    await agent.getByTestId('login-password').fill(AGENT_PASSWORD);
    await agent.getByTestId('login-submit').click();
    await agent.locator('[data-testid="connection-indicator"][data-state="connected"]').waitFor();
    await agent.getByTestId('status-select').selectOption('available');
    await agent.getByTestId('offer-card').first().getByTestId('offer-accept').click();
    await agent.locator('[data-testid="conversation-item"][data-state="assigned"]').waitFor();
    await agent.getByText('Where is my order?').first().waitFor();
  });

  await step('the window has closed: the templates are offered', async () => {
    await agent.locator('[data-testid="reply-window"][data-phase="closed"]').waitFor();
    const line = (await windowLine.textContent()) || '';
    check(line.includes('WhatsApp reply window has closed') && line.includes('template'), `window line: ${line}`);
    await templateBox.waitFor();
    check((await agent.getByTestId('template-select').inputValue()) === '0', 'the first template is chosen');
    check((await agent.getByTestId('template-param').count()) === 2, 'one input per parameter');
    check(await agent.getByTestId('template-send').isDisabled(), 'no send before the parameters are filled');
  });

  await step('free text is refused with its reason', async () => {
    await agent.getByTestId('composer-input').fill('Are you still there?');
    await agent.getByTestId('composer-send').click();
    await agent.getByText('outside the whatsapp reply window').first().waitFor();
  });

  await step('the template is filled, previewed and sent', async () => {
    const params = agent.getByTestId('template-param');
    await params.nth(0).fill('山田');
    await params.nth(1).fill('A-1001');
    const preview = (await agent.getByTestId('template-preview').textContent()) || '';
    check(preview === '山田様、ご注文A-1001を発送しました。', `preview: ${preview}`);
    await agent.getByTestId('template-send').click();
    await agent.locator('[data-testid="timeline"]').getByText('山田様、ご注文A-1001を発送しました。').first().waitFor();
  });

  await step('the customer writes again: the window opens', async () => {
    const r = await fetch(`${BASE}/api/v1/inbound`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'whatsapp', address: PHONE, text: 'Thank you!' }),
    });
    check(r.status === 202, `inbound answered ${r.status}`);
    await agent.getByText('Thank you!').first().waitFor();
    await agent.locator('[data-testid="reply-window"][data-phase="open"]').waitFor();
    const line = (await windowLine.textContent()) || '';
    check(/WhatsApp reply window: 2[34]h \d+m left/.test(line), `window line: ${line}`);
    await templateBox.waitFor({ state: 'hidden' });
  });

  await step('no script errors', async () => {
    check(pageErrors.length === 0, pageErrors.join(' | '));
  });
}

main()
  .then(async () => {
    if (browser) await browser.close();
    console.log('window browser test passed');
    process.exit(0);
  })
  .catch((e) => fail(e && e.message ? e.message.split('\n')[0] : String(e)));

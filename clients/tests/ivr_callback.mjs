// tests/ivr_callback.mjs — owns the end-to-end browser test of the visual IVR and the
// callback task: the visitor (/chat/?lang=en) walks the menu tree as buttons, reads a
// knowledge-base article, starts a chat in the tree's chat queue, then asks for a
// callback while waiting; the agent (/agent/) gets the callback as an outbound-call
// task with the number and note, and records "reached".
//
//   SWITCHBOARD_URL=http://127.0.0.1:43210 AGENT_ID=alice AGENT_PASSWORD=... \
//     node clients/tests/ivr_callback.mjs
//
// The engine must run the tree of tests/api/ivr.rs (`tree`) with article `returns`.
// Prints "ivr browser test passed" and exits 0, or exits 1 with the failing step.

import { chromium } from 'playwright-core';

const OVERALL_TIMEOUT_MS = 90_000;
const STEP_TIMEOUT_MS = 20_000;
const BASE = (process.env.SWITCHBOARD_URL || '').replace(/\/+$/, '');
const AGENT_ID = process.env.AGENT_ID || '';
const AGENT_PASSWORD = process.env.AGENT_PASSWORD || '';
const TEXT = 'I would like to talk about my order';

let browser = null;
let currentStep = 'start';
const pageErrors = [];

function fail(message) {
  console.error(`ivr browser test FAILED at step "${currentStep}": ${message}`);
  if (pageErrors.length) console.error(`page errors:\n  ${pageErrors.join('\n  ')}`);
  process.exit(1);
}
setTimeout(() => fail('overall timeout'), OVERALL_TIMEOUT_MS).unref();

async function step(name, fn) {
  currentStep = name;
  console.log(`- ${name}`);
  await fn();
}

function check(cond, message) {
  if (!cond) throw new Error(message);
}

function watch(page, label) {
  page.on('pageerror', (e) => pageErrors.push(`${label}: ${e.message}`));
}

async function main() {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const ctxA = await browser.newContext({ locale: 'en-US', viewport: { width: 1366, height: 860 } });
  ctxA.setDefaultTimeout(STEP_TIMEOUT_MS);
  const agent = await ctxA.newPage();
  watch(agent, 'agent');
  const ctxB = await browser.newContext({ locale: 'en-US', viewport: { width: 390, height: 780 } });
  ctxB.setDefaultTimeout(STEP_TIMEOUT_MS);
  const chat = await ctxB.newPage();
  watch(chat, 'chat');

  await step('agent logs in (away)', async () => {
    await agent.goto(`${BASE}/agent/`);
    await agent.getByTestId('login-agent-id').fill(AGENT_ID);
    await agent.getByTestId('login-password').fill(AGENT_PASSWORD);
    await agent.getByTestId('login-submit').click();
    await agent.locator('[data-testid="connection-indicator"][data-state="connected"]').waitFor();
  });

  await step('visitor sees the menu as buttons', async () => {
    await chat.goto(`${BASE}/chat/?lang=en`);
    await chat.getByTestId('ivr').filter({ hasText: 'Please choose.' }).waitFor();
    const labels = await chat.getByTestId('ivr-option').allTextContents();
    // Billing is a phone queue: not offered on the web.
    check(JSON.stringify(labels) === JSON.stringify(['Orders', 'Returns', 'Chat']), `options ${JSON.stringify(labels)}`);
  });

  await step('visitor reads an article and comes back', async () => {
    await chat.getByTestId('ivr-option').filter({ hasText: 'Returns' }).click();
    await chat.getByTestId('ivr-article-title').filter({ hasText: '返品について' }).waitFor();
    await chat.getByTestId('ivr-article-body').filter({ hasText: '30日以内' }).waitFor();
    await chat.getByTestId('ivr-back').click();
    await chat.getByTestId('ivr-option').filter({ hasText: 'Orders' }).click();
    const sub = await chat.getByTestId('ivr-option').allTextContents();
    check(JSON.stringify(sub) === JSON.stringify(['Call me back', 'Back']), `submenu ${JSON.stringify(sub)}`);
    await chat.getByTestId('ivr-home').click();
  });

  await step('visitor starts the chat from the menu', async () => {
    await chat.getByTestId('ivr-option').filter({ hasText: 'Chat' }).click();
    await chat.getByTestId('chat-input').fill(TEXT);
    await chat.getByTestId('chat-input').press('Enter');
    await chat.locator('[data-testid="chat-message"][data-role="customer"]:not([data-pending])').filter({ hasText: TEXT }).waitFor();
  });

  await step('visitor asks for a callback while waiting', async () => {
    await chat.getByTestId('ivr-callback-button').click();
    await chat.getByTestId('ivr-phone').fill('+81 90 1234 5678');
    await chat.getByTestId('ivr-note').fill('after 5pm');
    await chat.getByTestId('ivr-callback-submit').click();
    await chat.getByTestId('ivr-done').filter({ hasText: '+819012345678' }).waitFor();
  });

  await step('agent gets the outbound-call task', async () => {
    await agent.getByTestId('status-select').selectOption('available');
    const card = agent.getByTestId('offer-card').first();
    await card.getByTestId('offer-accept').click();
    await agent.getByTestId('callback-number').filter({ hasText: '+819012345678' }).waitFor();
    await agent.getByTestId('callback-note').filter({ hasText: 'after 5pm' }).waitFor();
    const href = await agent.getByTestId('callback-number').getAttribute('href');
    check(href === 'tel:+819012345678', `href ${href}`);
  });

  await step('agent records "reached"', async () => {
    await agent.getByTestId('callback-reached').click();
    await agent.getByTestId('callback-task').waitFor({ state: 'hidden' });
    await agent.getByText('Callback attempt 1: Reached — connected').waitFor();
  });

  await step('no script errors', async () => {
    check(pageErrors.length === 0, pageErrors.join(' | '));
  });
}

main()
  .then(async () => {
    await browser.close();
    console.log('ivr browser test passed');
    process.exit(0);
  })
  .catch((e) => fail(e && e.message ? e.message.split('\n')[0] : String(e)));

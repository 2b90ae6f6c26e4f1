// tests/agent_park.mjs — owns the end-to-end browser test of parking on the agent
// desktop (/agent/): an SMS conversation is accepted and parked (the Park button, the
// parked list, the freed slot); the customer's next message brings it back as an
// offer; parked again it is taken back from the list, and parked once more it is
// resolved from the list (through the resolve dialog). The SMS messages are delivered with the admin's token over
// REST, as a provider's webhook would.
//
//   SWITCHBOARD_URL=http://127.0.0.1:43210 AGENT_ID=amy AGENT_PASSWORD=... \
//     ADMIN_TOKEN=... node clients/tests/agent_park.mjs
//
// The engine must run queue `support` with the agent in it and auto-parking off.
// Prints "park browser test passed" and exits 0, or exits 1 with the failing step.

import { chromium } from 'playwright-core';

const OVERALL_TIMEOUT_MS = 90_000;
const STEP_TIMEOUT_MS = 20_000;
const BASE = (process.env.SWITCHBOARD_URL || '').replace(/\/+$/, '');
const AGENT_ID = process.env.AGENT_ID || '';
const AGENT_PASSWORD = process.env.AGENT_PASSWORD || '';
const ADMIN_TOKEN = process.env.ADMIN_TOKEN || '';
const PHONE = '+819055550001';

/** @type {import('playwright-core').Browser | null} */
let browser = null;
let currentStep = 'start';
/** @type {string[]} */
const pageErrors = [];

/** @param {string} message */
function fail(message) {
  console.error(`park browser test FAILED at step "${currentStep}": ${message}`);
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

/**
 * The customer's SMS, delivered over REST; returns its conversation id.
 * @param {string} text
 */
async function sms(text) {
  const r = await fetch(`${BASE}/api/v1/inbound`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ channel: 'sms', address: PHONE, text, queue: 'support' }),
  });
  check(r.status === 202, `inbound answered ${r.status}`);
  const body = /** @type {{ conversation_id: string }} */ (await r.json());
  return body.conversation_id;
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
  const parkedItem = agent.getByTestId('parked-item');

  /** Accepts the offer on screen; the conversation opens in the pane. */
  const acceptOffer = async () => {
    await agent.getByTestId('offer-card').first().getByTestId('offer-accept').click();
    await agent.locator('[data-testid="conversation-item"][data-state="assigned"]').waitFor();
  };
  /** Parks the conversation in the pane; it moves to the parked list. */
  const park = async () => {
    await agent.getByTestId('action-park').click();
    await parkedItem.waitFor();
    await agent.getByTestId('conversation-item').waitFor({ state: 'detached' });
  };

  let conversation = '';
  await step('agent logs in and is available', async () => {
    await agent.goto(`${BASE}/agent/`);
    await agent.getByTestId('login-agent-id').fill(AGENT_ID);
    await agent.getByTestId('login-password').fill(AGENT_PASSWORD);
    await agent.getByTestId('login-submit').click();
    await agent.locator('[data-testid="connection-indicator"][data-state="connected"]').waitFor();
    await agent.getByTestId('status-select').selectOption('available');
  });

  await step('an SMS is accepted and parked', async () => {
    conversation = await sms('My parcel has not arrived');
    await acceptOffer();
    await agent.getByText('My parcel has not arrived').first().waitFor();
    await park();
    check((await parkedItem.getAttribute('data-conversation-id')) === conversation, 'the parked item is the conversation');
    await parkedItem.filter({ hasText: 'support' }).waitFor();
  });

  await step('the customer writes again: it comes back as an offer', async () => {
    const again = await sms('Any news?');
    check(again === conversation, 'the same conversation continues');
    await parkedItem.waitFor({ state: 'detached' });
    await acceptOffer();
    await agent.getByText('Any news?').first().waitFor();
  });

  await step('parked again, taken back from the list', async () => {
    await park();
    await parkedItem.getByTestId('parked-take-back').click();
    await parkedItem.waitFor({ state: 'detached' });
    await acceptOffer();
  });

  await step('parked once more, resolved from the list', async () => {
    await park();
    await parkedItem.getByTestId('parked-resolve').click();
    // The resolve dialog asks for the disposition, as for a held conversation.
    await agent.getByTestId('resolve-dialog').waitFor();
    await agent.getByTestId('resolve-disposition').selectOption('follow_up');
    await agent.getByTestId('resolve-confirm').click();
    await parkedItem.waitFor({ state: 'detached' });
    await agent.getByTestId('parked-list').waitFor({ state: 'hidden' });
  });

  await step('no script errors', async () => {
    check(pageErrors.length === 0, pageErrors.join(' | '));
  });
}

main()
  .then(async () => {
    if (browser) await browser.close();
    console.log('park browser test passed');
    process.exit(0);
  })
  .catch((e) => fail(e && e.message ? e.message.split('\n')[0] : String(e)));

// tests/bot_chat.mjs — owns the end-to-end browser test of the FAQ bot in the two web
// clients against a running Switchboard engine with the bot on and a "返品方法について"
// article: the visitor (/chat/?lang=ja) asks about returns and sees the bot's answer
// under the assistant's name, presses "担当者と話す", and the agent (/agent/) gets the
// offer, accepts it and sees the bot's reply and the hand-off transcript (the
// question the bot got) in the timeline.
//
//   SWITCHBOARD_URL=http://127.0.0.1:43210 AGENT_ID=alice AGENT_PASSWORD=... \
//     node clients/tests/bot_chat.mjs
//
// Uses Debian's chromium through playwright-core. Prints "browser test passed" and
// exits 0, or saves screenshots to clients/tests/output/ and exits 1 with the failing
// step. Stops by itself after 60 s.

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const OVERALL_TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 20_000;
const BASE = (process.env.SWITCHBOARD_URL || '').replace(/\/+$/, '');
const AGENT_ID = process.env.AGENT_ID || '';
const AGENT_PASSWORD = process.env.AGENT_PASSWORD || '';
const OUTPUT_DIR = fileURLToPath(new URL('./output/', import.meta.url));
const QUESTION = '返品したいのですが';

if (!BASE || !AGENT_ID || !AGENT_PASSWORD) {
  console.error('usage: SWITCHBOARD_URL=http://127.0.0.1:PORT AGENT_ID=alice AGENT_PASSWORD=... node clients/tests/bot_chat.mjs');
  process.exit(2);
}

let browser = null;
let pageA = null;
let pageB = null;
let currentStep = 'start';
const pageErrors = [];
let finished = false;

async function fail(message) {
  if (finished) return;
  finished = true;
  console.error(`browser test FAILED at step "${currentStep}": ${message}`);
  if (pageErrors.length) console.error(`page errors:\n  ${pageErrors.join('\n  ')}`);
  mkdirSync(OUTPUT_DIR, { recursive: true });
  for (const [name, page] of [['bot-agent', pageA], ['bot-chat', pageB]]) {
    if (!page || page.isClosed()) continue;
    const file = `${OUTPUT_DIR}failure-${name}.png`;
    await page.screenshot({ path: file, timeout: 5000 }).then(() => console.error(`screenshot: ${file}`)).catch(() => {});
  }
  if (browser) await Promise.race([browser.close().catch(() => {}), new Promise((r) => setTimeout(r, 3000))]);
  process.exit(1);
}

const overall = setTimeout(() => fail(`overall timeout of ${OVERALL_TIMEOUT_MS / 1000} s exceeded`), OVERALL_TIMEOUT_MS);

async function step(name, fn) {
  currentStep = name;
  console.log(`- ${name}`);
  await fn();
}

function watch(page, label) {
  page.on('pageerror', (e) => pageErrors.push(`${label}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/WebSocket|Failed to load resource/i.test(m.text())) pageErrors.push(`${label} console: ${m.text()}`);
  });
}

async function main() {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });

  const ctxA = await browser.newContext({ locale: 'en-US', viewport: { width: 1366, height: 860 } });
  ctxA.setDefaultTimeout(STEP_TIMEOUT_MS);
  pageA = await ctxA.newPage();
  watch(pageA, 'agent');
  await step('agent logs in and is available', async () => {
    await pageA.goto(`${BASE}/agent/`);
    await pageA.getByTestId('login-agent-id').fill(AGENT_ID);
    await pageA.getByTestId('login-password').fill(AGENT_PASSWORD);
    await pageA.getByTestId('login-submit').click();
    await pageA.locator('[data-testid="connection-indicator"][data-state="connected"]').waitFor();
    await pageA.getByTestId('status-select').selectOption('available');
    await pageA.locator('[data-testid="agent-status"][data-status="available"]').waitFor();
  });

  const ctxB = await browser.newContext({ locale: 'ja-JP', viewport: { width: 390, height: 780 } });
  ctxB.setDefaultTimeout(STEP_TIMEOUT_MS);
  pageB = await ctxB.newPage();
  watch(pageB, 'chat');
  await step('visitor asks the bot in Japanese', async () => {
    await pageB.goto(`${BASE}/chat/?lang=ja`);
    await pageB.locator('[data-testid="chat-status"][data-state="ready"]').waitFor();
    await pageB.getByTestId('chat-input').fill(QUESTION);
    await pageB.getByTestId('chat-input').press('Enter');
  });

  await step('visitor sees the bot answer under the assistant name', async () => {
    const answer = pageB.locator('[data-testid="chat-message"][data-role="agent"]').filter({ hasText: '返品方法について' });
    await answer.first().waitFor();
    const text = await answer.first().textContent();
    if (!text.includes('アシスタント')) throw new Error(`bot answer not labelled as the assistant: ${text}`);
  });

  await step('visitor presses the hand-off button', async () => {
    const btn = pageB.getByTestId('chat-handoff');
    await btn.filter({ hasText: '担当者と話す' }).waitFor();
    await btn.click();
    await pageB.locator('[data-testid="chat-message"][data-role="customer"]:not([data-pending])').filter({ hasText: '担当者と話したいです' }).waitFor();
    await pageB.locator('[data-testid="chat-message"][data-role="agent"]').filter({ hasText: '担当者におつなぎします' }).first().waitFor();
    await btn.waitFor({ state: 'hidden' });
  });

  await step('agent accepts and reads the bot transcript', async () => {
    const card = pageA.getByTestId('offer-card').first();
    await card.waitFor();
    await card.getByTestId('offer-accept').click();
    await pageA.getByTestId('bot-transcript-turn').filter({ hasText: QUESTION }).first().waitFor();
    await pageA.getByTestId('bot-reply-text').filter({ hasText: '返品方法について' }).first().waitFor();
  });

  await step('visitor is connected to the agent', async () => {
    await pageB.locator('[data-testid="chat-status"][data-state="assigned"]').waitFor();
  });

  if (process.env.SAVE_SCREENSHOTS === '1') {
    mkdirSync(OUTPUT_DIR, { recursive: true });
    await pageA.screenshot({ path: `${OUTPUT_DIR}bot-agent.png` });
    await pageB.screenshot({ path: `${OUTPUT_DIR}bot-chat.png` });
  }

  await step('no script errors in either page', async () => {
    if (pageErrors.length) throw new Error(`page errors: ${pageErrors.join(' | ')}`);
  });
}

main()
  .then(async () => {
    if (finished) return;
    finished = true;
    clearTimeout(overall);
    await browser.close();
    console.log('browser test passed');
    process.exit(0);
  })
  .catch((e) => fail(e && e.message ? e.message.split('\n')[0] : String(e)));

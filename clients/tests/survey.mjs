// tests/survey.mjs — owns the browser test of the web chat's CSAT survey card
// (chat/survey.js): a visitor (/chat/?lang=ja) sends a message; the Rust side
// (tests/api/survey.rs) accepts and resolves it as an agent over the agent
// socket; the page then shows the Japanese question with five buttons, the visitor
// writes a comment and presses 4, and the card turns into the thank-you line.
//
//   SWITCHBOARD_URL=http://127.0.0.1:43210 node clients/tests/survey.mjs
//
// Uses Debian's chromium through playwright-core. Prints "browser survey test passed"
// and exits 0, or exits 1 with the failing step. Stops by itself after 60 s.

import { chromium } from 'playwright-core';

const BASE = (process.env.SWITCHBOARD_URL || '').replace(/\/+$/, '');
const STEP_TIMEOUT_MS = 25_000;
export const COMMENT = 'とても親切でした';

if (!BASE) {
  console.error('usage: SWITCHBOARD_URL=http://127.0.0.1:PORT node clients/tests/survey.mjs');
  process.exit(2);
}

let browser = null;
let step = 'start';
const pageErrors = [];

async function fail(message) {
  console.error(`browser survey test FAILED at step "${step}": ${message}`);
  if (pageErrors.length) console.error(`page errors:\n  ${pageErrors.join('\n  ')}`);
  if (browser) await Promise.race([browser.close().catch(() => {}), new Promise((r) => setTimeout(r, 3000))]);
  process.exit(1);
}

setTimeout(() => fail('overall timeout of 60 s exceeded'), 60_000);

async function main() {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const ctx = await browser.newContext({ locale: 'ja-JP' });
  ctx.setDefaultTimeout(STEP_TIMEOUT_MS);
  const page = await ctx.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));

  step = 'visitor sends a message';
  console.log(`- ${step}`);
  const res = await page.goto(`${BASE}/chat/?lang=ja`);
  if (!res || !res.ok()) throw new Error(`GET /chat/ answered ${res && res.status()}`);
  await page.locator('[data-testid="chat-status"][data-state="ready"]').waitFor();
  await page.getByTestId('chat-input').fill('返品の方法を教えてください');
  await page.getByTestId('chat-input').press('Enter');
  await page.locator('[data-testid="chat-message"][data-role="customer"]:not([data-pending])').waitFor();
  console.log('message sent');

  step = 'the survey card appears after the agent resolves';
  console.log(`- ${step}`);
  await page.getByTestId('survey').waitFor({ state: 'visible' });
  const q = await page.getByTestId('survey-question').textContent();
  if (!q.includes('1（不満）')) throw new Error(`question is ${q}`);
  for (let n = 1; n <= 5; n++) await page.getByTestId(`survey-score-${n}`).waitFor();

  step = 'visitor comments and presses 4';
  console.log(`- ${step}`);
  await page.getByTestId('survey-comment').fill(COMMENT);
  await page.getByTestId('survey-score-4').click();
  await page.getByTestId('survey-thanks').filter({ hasText: 'ありがとうございました' }).waitFor();

  step = 'no script errors';
  if (pageErrors.length) throw new Error(pageErrors.join(' | '));
}

main()
  .then(async () => {
    await browser.close();
    console.log('browser survey test passed');
    process.exit(0);
  })
  .catch((e) => fail(e && e.message ? e.message.split('\n')[0] : String(e)));

// tests/assist_common.mjs — owns the steps the two assist browser tests share
// (agent_assist.mjs and agent_assist_kb.mjs): launching Debian's chromium through
// playwright-core, the step/check/fail harness with screenshots, the agent login, and
// a visitor chat that the agent accepts.

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const STEP_TIMEOUT_MS = 20_000;
const OUTPUT_DIR = fileURLToPath(new URL('./output/', import.meta.url));

export const env = {
  BASE: (process.env.SWITCHBOARD_URL || '').replace(/\/+$/, ''),
  AGENT_ID: process.env.AGENT_ID || '',
  AGENT_PASSWORD: process.env.AGENT_PASSWORD || '',
  ADMIN_TOKEN: process.env.ADMIN_TOKEN || '',
};

export function harness(name, overallMs = 90_000) {
  const run = { browser: null, pages: {}, current: 'start', errors: [], finished: false };
  const fail = async (message) => {
    if (run.finished) return;
    run.finished = true;
    console.error(`${name} FAILED at step "${run.current}": ${message}`);
    if (run.errors.length) console.error(`page errors:\n  ${run.errors.join('\n  ')}`);
    mkdirSync(OUTPUT_DIR, { recursive: true });
    for (const [label, page] of Object.entries(run.pages)) {
      const file = `${OUTPUT_DIR}${name}-failure-${label}.png`;
      await page.screenshot({ path: file, timeout: 5000 }).then(() => console.error(`screenshot: ${file}`)).catch(() => {});
    }
    if (run.browser) await Promise.race([run.browser.close().catch(() => {}), new Promise((r) => setTimeout(r, 3000))]);
    process.exit(1);
  };
  const overall = setTimeout(() => fail(`overall timeout of ${overallMs / 1000} s exceeded`), overallMs);
  run.step = async (label, fn) => {
    run.current = label;
    console.log(`- ${label}`);
    await fn();
  };
  run.fail = fail;
  run.run = (main) =>
    main()
      .then(async () => {
        if (run.finished) return;
        run.finished = true;
        clearTimeout(overall);
        await run.browser.close();
        console.log(`${name} passed`);
        process.exit(0);
      })
      .catch((e) => fail(e && e.message ? e.message.split('\n')[0] : String(e)));
  return run;
}

export function check(cond, message) {
  if (!cond) throw new Error(message);
}

export async function launch(run) {
  run.browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export async function newPage(run, label, { locale, width, height }) {
  const ctx = await run.browser.newContext({ locale, viewport: { width, height } });
  ctx.setDefaultTimeout(STEP_TIMEOUT_MS);
  const page = await ctx.newPage();
  page.on('pageerror', (e) => run.errors.push(`${label}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/WebSocket|Failed to load resource/i.test(m.text())) run.errors.push(`${label} console: ${m.text()}`);
  });
  run.pages[label] = page;
  return page;
}

/** Logs the agent in on /agent/ and sets it available. */
export async function agentLogin(page) {
  const res = await page.goto(`${env.BASE}/agent/?lang=en`);
  check(res && res.ok(), `GET /agent/ answered ${res && res.status()}`);
  await page.getByTestId('login-agent-id').fill(env.AGENT_ID);
  await page.getByTestId('login-password').fill(env.AGENT_PASSWORD);
  await page.getByTestId('login-submit').click();
  await page.locator('[data-testid="connection-indicator"][data-state="connected"]').waitFor();
  await page.getByTestId('status-select').selectOption('available');
  await page.locator('[data-testid="agent-status"][data-status="available"]').waitFor();
}

/** A visitor on /chat/ sends `text`; returns when the message is stored. */
export async function visitorSays(page, text) {
  const res = await page.goto(`${env.BASE}/chat/?lang=en`);
  check(res && res.ok(), `GET /chat/ answered ${res && res.status()}`);
  await page.locator('[data-testid="chat-status"][data-state="ready"]').waitFor();
  await page.getByTestId('chat-input').fill(text);
  await page.getByTestId('chat-input').press('Enter');
  await page.locator('[data-testid="chat-message"][data-role="customer"]:not([data-pending])').filter({ hasText: text }).waitFor();
}

/** The agent accepts the offer whose preview is `text`; returns the conversation id. */
export async function acceptOffer(page, text) {
  const card = page.getByTestId('offer-card').filter({ has: page.getByTestId('offer-preview').filter({ hasText: text }) }).first();
  await card.waitFor();
  const id = await card.getAttribute('data-conversation-id');
  await card.getByTestId('offer-accept').click();
  await page.locator(`[data-testid="conversation-item"][data-conversation-id="${id}"].is-selected`).waitFor();
  return id;
}

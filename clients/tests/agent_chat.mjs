// tests/agent_chat.mjs — owns the end-to-end browser test of the two web clients against
// a running Switchboard engine: an agent (page A, /agent/) and a visitor (page B,
// /chat/?lang=ja) hold a Japanese conversation, an HTML/script payload from the visitor
// must reach the agent as literal text, the visitor escalates to video (both pages show
// the join link; the agent's reply-channel picker follows to `video`), the agent replies
// on `chat` with the picker and the visitor gets it, and the agent resolves.
//
//   SWITCHBOARD_URL=http://127.0.0.1:43210 AGENT_ID=alice AGENT_PASSWORD=... \
//     node clients/tests/agent_chat.mjs
//
// Uses Debian's chromium through playwright-core (never downloads a browser). Prints
// "browser test passed" and exits 0, or saves screenshots to clients/tests/output/ and
// exits 1 with the failing step. Stops by itself after 90 s.

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const OVERALL_TIMEOUT_MS = 90_000;
const STEP_TIMEOUT_MS = 20_000;
const OFFER_TIMEOUT_MS = 30_000;

const BASE = (process.env.SWITCHBOARD_URL || '').replace(/\/+$/, '');
const AGENT_ID = process.env.AGENT_ID || '';
const AGENT_PASSWORD = process.env.AGENT_PASSWORD || '';
const SAVE_SCREENSHOTS = process.env.SAVE_SCREENSHOTS === '1';
const OUTPUT_DIR = fileURLToPath(new URL('./output/', import.meta.url));

const CUSTOMER_TEXT = '注文の配送について質問があります';
const AGENT_REPLY = 'かしこまりました。確認します。';
const XSS_TEXT = '<b>bold</b><script>window.__xss=1</script> & 日本語';
// English markup with event handlers, and an agent reply with a javascript: link.
const XSS_EN = 'Hello <img src=x onerror="window.__xss=2"><svg onload="window.__xss=3"></svg> <i>there</i>';
const XSS_REPLY = '<a href="javascript:window.__xss=4">クリック</a> <u>reply</u>';
const PICKED_REPLY = 'チャットでお送りします。';
// The engine's default `channels.video.join_url_template`.
const JOIN_URL = /^https:\/\/meet\.example\.com\/[^\s/]+$/;
const RUN_ID = Math.random().toString(36).slice(2, 8);
const VISITOR_NAME = `E2E ${RUN_ID}`;

if (!BASE || !AGENT_ID || !AGENT_PASSWORD) {
  console.error('usage: SWITCHBOARD_URL=http://127.0.0.1:PORT AGENT_ID=alice AGENT_PASSWORD=... node clients/tests/agent_chat.mjs');
  process.exit(2);
}

let browser = null;
let pageA = null;
let pageB = null;
let currentStep = 'start';
const pageErrors = [];
let finished = false;

async function screenshots(tag) {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  const saved = [];
  for (const [name, page] of [['agent', pageA], ['chat', pageB]]) {
    if (!page || page.isClosed()) continue;
    const file = `${OUTPUT_DIR}${tag}-${name}.png`;
    try {
      await page.screenshot({ path: file, fullPage: false, timeout: 5000 });
      saved.push(file);
    } catch {
      /* the page may be gone; keep going */
    }
  }
  return saved;
}

async function fail(message) {
  if (finished) return;
  finished = true;
  console.error(`browser test FAILED at step "${currentStep}": ${message}`);
  if (pageErrors.length) console.error(`page errors:\n  ${pageErrors.join('\n  ')}`);
  const files = await Promise.race([screenshots('failure'), new Promise((r) => setTimeout(() => r([]), 8000))]);
  for (const f of files) console.error(`screenshot: ${f}`);
  if (browser) await Promise.race([browser.close().catch(() => {}), new Promise((r) => setTimeout(r, 3000))]);
  process.exit(1);
}

const overall = setTimeout(() => fail(`overall timeout of ${OVERALL_TIMEOUT_MS / 1000} s exceeded`), OVERALL_TIMEOUT_MS);

async function step(name, fn) {
  currentStep = name;
  console.log(`- ${name}`);
  await fn();
  if (SAVE_SCREENSHOTS) await screenshots(name.replace(/[^a-z0-9]+/gi, '-').toLowerCase());
}

function check(cond, message) {
  if (!cond) throw new Error(message);
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

  // ---- page A: the agent -------------------------------------------------------
  const ctxA = await browser.newContext({ locale: 'en-US', viewport: { width: 1366, height: 860 } });
  ctxA.setDefaultTimeout(STEP_TIMEOUT_MS);
  pageA = await ctxA.newPage();
  watch(pageA, 'agent');
  // What the agent page sends: proves `channel` is named only when it is not the default.
  const agentMessages = [];
  pageA.on('websocket', (ws) =>
    ws.on('framesent', (f) => {
      try {
        const m = JSON.parse(typeof f.payload === 'string' ? f.payload : f.payload.toString());
        if (m.type === 'message') agentMessages.push(m);
      } catch {
        /* not JSON */
      }
    }),
  );

  await step('agent opens /agent/', async () => {
    const res = await pageA.goto(`${BASE}/agent/`);
    check(res && res.ok(), `GET /agent/ answered ${res && res.status()}`);
    await pageA.getByTestId('login-form').waitFor();
  });

  await step('agent logs in', async () => {
    await pageA.getByTestId('login-agent-id').fill(AGENT_ID);
    await pageA.getByTestId('login-password').fill(AGENT_PASSWORD);
    await pageA.getByTestId('login-submit').click();
    const outcome = await Promise.race([
      pageA.locator('[data-testid="connection-indicator"][data-state="connected"]').waitFor().then(() => 'connected'),
      pageA.getByTestId('login-error').waitFor().then(() => 'error'),
    ]);
    if (outcome === 'error') throw new Error(`login refused: ${await pageA.getByTestId('login-error').textContent()}`);
    await pageA.getByTestId('agent-name').filter({ hasText: /\S/ }).waitFor();
  });

  await step('agent sets status available', async () => {
    await pageA.getByTestId('status-select').selectOption('available');
    await pageA.locator('[data-testid="agent-status"][data-status="available"]').waitFor();
  });

  // ---- page B: the visitor -----------------------------------------------------
  const ctxB = await browser.newContext({ locale: 'ja-JP', viewport: { width: 390, height: 780 } });
  ctxB.setDefaultTimeout(STEP_TIMEOUT_MS);
  pageB = await ctxB.newPage();
  watch(pageB, 'chat');

  await step('visitor opens /chat/?lang=ja', async () => {
    const res = await pageB.goto(`${BASE}/chat/?lang=ja`);
    check(res && res.ok(), `GET /chat/ answered ${res && res.status()}`);
    await pageB.locator('[data-testid="chat-status"][data-state="ready"]').waitFor();
    const lang = await pageB.evaluate(() => document.documentElement.lang);
    check(lang === 'ja', `chat page language is ${lang}, expected ja`);
    await pageB.getByTestId('chat-end').filter({ hasText: 'チャットを終了' }).waitFor();
  });

  await step('visitor introduces themself', async () => {
    await pageB.getByTestId('identify').locator('summary').click();
    await pageB.getByTestId('identify-name').fill(VISITOR_NAME);
    await pageB.getByTestId('identify-submit').click();
    await pageB.getByTestId('identify-done').waitFor();
  });

  await step('visitor sends a Japanese message', async () => {
    await pageB.getByTestId('chat-input').fill(CUSTOMER_TEXT);
    await pageB.getByTestId('chat-input').press('Enter');
    await pageB
      .locator('[data-testid="chat-message"][data-role="customer"]:not([data-pending])')
      .filter({ hasText: CUSTOMER_TEXT })
      .waitFor();
  });

  // ---- the agent takes it ---------------------------------------------------------
  let conversationId = null;
  await step('agent sees the offer and accepts it', async () => {
    const ours = pageA.getByTestId('offer-preview').filter({ hasText: CUSTOMER_TEXT });
    const cards = pageA.getByTestId('offer-card').filter({ has: ours });
    const strays = pageA.getByTestId('offer-card').filter({ hasNot: ours });
    // Conversations left queued by someone else are offered too: decline them while waiting.
    const deadline = Date.now() + OFFER_TIMEOUT_MS;
    while ((await cards.count()) === 0) {
      if (Date.now() > deadline) throw new Error(`no offer with the preview "${CUSTOMER_TEXT}" within ${OFFER_TIMEOUT_MS / 1000} s`);
      if ((await strays.count()) > 0) await strays.first().getByTestId('offer-reject').click({ timeout: 2000 }).catch(() => {});
      await cards.first().waitFor({ timeout: 500 }).catch(() => {});
    }
    // Prefer the card of this run's visitor if older test visitors are still queued.
    const mine = cards.filter({ hasText: VISITOR_NAME });
    const card = (await mine.count()) > 0 ? mine.first() : cards.first();
    conversationId = await card.getAttribute('data-conversation-id');
    await card.getByTestId('offer-countdown').filter({ hasText: /\d/ }).waitFor();
    await card.getByTestId('offer-accept').click();
    await pageA.locator(`[data-testid="conversation-item"][data-conversation-id="${conversationId}"]`).waitFor();
  });

  await step('agent sees the customer message in the timeline', async () => {
    await pageA.locator(`[data-testid="conversation-item"][data-conversation-id="${conversationId}"].is-selected`).waitFor();
    await pageA.locator('[data-testid="timeline-message"][data-kind="message_in"]').filter({ hasText: CUSTOMER_TEXT }).first().waitFor();
  });

  await step('agent replies', async () => {
    await pageA.getByTestId('composer-input').fill(AGENT_REPLY);
    await pageA.getByTestId('composer-input').press('Enter');
    await pageA
      .locator('[data-testid="timeline-message"][data-kind="message_out"]:not([data-pending])')
      .filter({ hasText: AGENT_REPLY })
      .first()
      .waitFor();
  });

  await step('visitor sees the agent reply', async () => {
    await pageB.locator('[data-testid="chat-message"][data-role="agent"]').filter({ hasText: AGENT_REPLY }).first().waitFor();
    await pageB.locator('[data-testid="chat-status"][data-state="assigned"]').waitFor();
  });

  // ---- markup from the customer stays text -------------------------------------
  await step('visitor sends markup', async () => {
    await pageB.getByTestId('chat-input').fill(XSS_TEXT);
    await pageB.getByTestId('chat-send').click();
    await pageB
      .locator('[data-testid="chat-message"][data-role="customer"]:not([data-pending])')
      .filter({ hasText: 'window.__xss=1' })
      .waitFor();
  });

  await step('agent shows the markup literally', async () => {
    const msg = pageA.locator('[data-testid="timeline-message"][data-kind="message_in"]').filter({ hasText: 'window.__xss=1' }).first();
    await msg.waitFor();
    const info = await msg.evaluate((el) => {
      const text = el.querySelector('[data-testid="message-text"]');
      return {
        text: text ? text.textContent : el.textContent,
        bold: el.querySelectorAll('b').length,
        scripts: el.querySelectorAll('script').length,
      };
    });
    check(info.text.includes('<script>'), `message text lost "<script>": ${JSON.stringify(info.text)}`);
    check(info.text.includes(XSS_TEXT), `message text differs from what was sent: ${JSON.stringify(info.text)}`);
    check(info.bold === 0, 'a <b> element was created inside the message');
    check(info.scripts === 0, 'a <script> element was created inside the message');
    check((await pageA.evaluate(() => typeof window.__xss)) === 'undefined', 'window.__xss is set in the agent page');
    check((await pageB.evaluate(() => typeof window.__xss)) === 'undefined', 'window.__xss is set in the chat page');
    const chatBold = await pageB.locator('[data-testid="chat-messages"] b, [data-testid="chat-messages"] script').count();
    check(chatBold === 0, 'markup was rendered as elements in the chat page');
  });

  await step('English markup with handlers stays text in both pages', async () => {
    await pageB.getByTestId('chat-input').fill(XSS_EN);
    await pageB.getByTestId('chat-send').click();
    const msg = pageA.locator('[data-testid="timeline-message"][data-kind="message_in"]').filter({ hasText: 'onerror=' }).first();
    await msg.waitFor();
    const info = await msg.evaluate((el) => ({
      text: el.textContent,
      elements: el.querySelectorAll('img, svg, i').length,
    }));
    check(info.text.includes(XSS_EN), `agent page shows ${JSON.stringify(info.text)}`);
    check(info.elements === 0, 'an <img>, <svg> or <i> element was created in the agent page');
    const chatElements = await pageB.locator('[data-testid="chat-messages"] img, [data-testid="chat-messages"] svg, [data-testid="chat-messages"] i').count();
    check(chatElements === 0, 'markup was rendered as elements in the chat page');
  });

  await step('agent markup reaches the visitor as text', async () => {
    await pageA.getByTestId('composer-input').fill(XSS_REPLY);
    await pageA.getByTestId('composer-input').press('Enter');
    const msg = pageB.locator('[data-testid="chat-message"][data-role="agent"]').filter({ hasText: 'javascript:' }).first();
    await msg.waitFor();
    const info = await msg.evaluate((el) => ({ text: el.textContent, elements: el.querySelectorAll('a, u').length }));
    check(info.text.includes(XSS_REPLY), `chat page shows ${JSON.stringify(info.text)}`);
    check(info.elements === 0, 'an <a> or <u> element was created from the agent reply');
    check((await pageA.evaluate(() => typeof window.__xss)) === 'undefined', 'window.__xss is set in the agent page');
    check((await pageB.evaluate(() => typeof window.__xss)) === 'undefined', 'window.__xss is set in the chat page');
  });

  // ---- reply channel picker and video escalation ---------------------------------
  const picker = pageA.getByTestId('reply-channel');
  const pickerValues = () => picker.locator('option').evaluateAll((os) => os.map((o) => o.value));

  await step('agent reply picker offers chat, the default', async () => {
    await picker.waitFor();
    const values = await pickerValues();
    check(values.includes('chat'), `picker options ${JSON.stringify(values)} lack chat`);
    check(!values.includes('voice'), `picker offers voice: ${JSON.stringify(values)}`);
    check((await picker.inputValue()) === 'chat', `picker shows ${await picker.inputValue()}, expected chat`);
    const first = agentMessages.find((m) => m.text === AGENT_REPLY);
    check(first, 'the first reply was not seen on the agent socket');
    check(!('channel' in first), `a reply on the default channel named one: ${JSON.stringify(first)}`);
  });

  let joinUrl = null;
  await step('visitor clicks Video and gets the join link', async () => {
    await pageB.getByTestId('chat-video').filter({ hasText: 'ビデオ' }).click();
    const link = pageB.locator('[data-testid="chat-video-invite"] a[data-testid="chat-video-link"]');
    await link.waitFor();
    joinUrl = await link.getAttribute('href');
    check(JOIN_URL.test(joinUrl || ''), `join link ${JSON.stringify(joinUrl)} is not the engine's default template`);
    check(((await link.getAttribute('rel')) || '').includes('noopener'), 'the join link lacks rel=noopener');
    check((await link.textContent()).includes('ビデオ通話に参加'), `join link text is ${JSON.stringify(await link.textContent())}`);
  });

  await step('agent sees the join link and the picker follows to video', async () => {
    const link = pageA.locator('[data-testid="timeline-system"][data-kind="video_invited"] a[data-testid="video-link"]');
    await link.waitFor();
    check((await link.getAttribute('href')) === joinUrl, `agent join link ${await link.getAttribute('href')} != ${joinUrl}`);
    await pageA.locator('[data-testid="timeline-system"][data-kind="channel_switched"]').first().waitFor();
    await picker.locator('option[value="video"]').waitFor({ state: 'attached' });
    const values = await pickerValues();
    check(values.includes('chat') && values.includes('video'), `picker options after the switch: ${JSON.stringify(values)}`);
    check((await picker.inputValue()) === 'video', `picker shows ${await picker.inputValue()} after the switch, expected video`);
  });

  await step('agent replies on chat with the picker', async () => {
    await picker.selectOption('chat');
    await pageA.getByTestId('composer-input').fill(PICKED_REPLY);
    await pageA.getByTestId('composer-input').press('Enter');
    await pageA
      .locator('[data-testid="timeline-message"][data-kind="message_out"][data-channel="chat"]:not([data-pending])')
      .filter({ hasText: PICKED_REPLY })
      .first()
      .waitFor();
    const sent = agentMessages.find((m) => m.text === PICKED_REPLY);
    check(sent && sent.channel === 'chat', `the picked reply went out as ${JSON.stringify(sent)}`);
  });

  await step('visitor sees the picked reply', async () => {
    await pageB.locator('[data-testid="chat-message"][data-role="agent"]').filter({ hasText: PICKED_REPLY }).first().waitFor();
  });

  await step('visitor reloads and the history keeps the join link', async () => {
    await pageB.reload();
    await pageB.locator('[data-testid="chat-status"][data-state="assigned"]').waitFor();
    const link = pageB.locator('[data-testid="chat-video-invite"] a[data-testid="chat-video-link"]');
    await link.waitFor();
    check((await link.getAttribute('href')) === joinUrl, `join link after reload ${await link.getAttribute('href')} != ${joinUrl}`);
    await pageB.locator('[data-testid="chat-message"][data-role="agent"]').filter({ hasText: PICKED_REPLY }).first().waitFor();
  });

  // ---- the agent resolves; the visitor sees the end ------------------------------
  await step('agent resolves with a disposition', async () => {
    await pageA.getByTestId('action-resolve').click();
    await pageA.getByTestId('resolve-dialog').waitFor();
    await pageA.getByTestId('resolve-disposition').selectOption('resolved');
    await pageA.getByTestId('resolve-notes').fill(`browser test ${RUN_ID}`);
    await pageA.getByTestId('resolve-confirm').click();
    await pageA.locator(`[data-testid="conversation-item"][data-conversation-id="${conversationId}"]`).waitFor({ state: 'detached' });
  });

  await step('visitor sees the conversation ended', async () => {
    await pageB.locator('[data-testid="chat-status"][data-state="ended"]').waitFor();
  });

  await step('no script errors in either page', async () => {
    check(pageErrors.length === 0, `page errors: ${pageErrors.join(' | ')}`);
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

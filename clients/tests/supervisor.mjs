// tests/supervisor.mjs — owns the end-to-end browser test of the supervisor dashboard
// against a running Switchboard engine: a supervisor (page S, /supervisor/) watches
// while this script runs a small load — customers arrive over REST (SMS inbound, admin
// token) and an agent (page A, the real agent desktop) accepts them — and the live
// tiles, the agent table and the live chart must follow: waiting rises to the number
// of arrivals, the customers past the queue's 1 s first-reply target are listed as
// overdue, the supervisor sets the agent available from the table, the agent
// accepts every offer, waiting falls to 0, service level shows 100 %, the agent shows
// busy; the supervisor then watches one of the conversations and a new customer
// message appears live. The history panel must say "no data" / "not available" or
// draw a chart, the self-service funnel must count the SMS contacts (direct, open),
// the "what if" replay must show what happened beside the queue as configured and
// with one more agent,
// the engine nodes must show this engine live and active, and the page
// must switch to Japanese.
//
//   SWITCHBOARD_URL=http://127.0.0.1:43210 SUPERVISOR_ID=sup SUPERVISOR_PASSWORD=... \
//   AGENT_ID=alice AGENT_PASSWORD=... ADMIN_TOKEN=... node clients/tests/supervisor.mjs
//
// Uses Debian's chromium through playwright-core. Prints "supervisor browser test
// passed" and exits 0, or saves screenshots to clients/tests/output/ and exits 1 with
// the failing step. Stops by itself after 90 s.

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const OVERALL_TIMEOUT_MS = 90_000;
const STEP_TIMEOUT_MS = 20_000;
const ARRIVALS = 3;

const BASE = (process.env.SWITCHBOARD_URL || '').replace(/\/+$/, '');
const SUP_ID = process.env.SUPERVISOR_ID || '';
const SUP_PASSWORD = process.env.SUPERVISOR_PASSWORD || '';
const AGENT_ID = process.env.AGENT_ID || '';
const AGENT_PASSWORD = process.env.AGENT_PASSWORD || '';
const ADMIN_TOKEN = process.env.ADMIN_TOKEN || '';
const SAVE_SCREENSHOTS = process.env.SAVE_SCREENSHOTS === '1';
const OUTPUT_DIR = fileURLToPath(new URL('./output/', import.meta.url));
const QUEUE = 'general';

if (!BASE || !SUP_ID || !SUP_PASSWORD || !AGENT_ID || !AGENT_PASSWORD || !ADMIN_TOKEN) {
  console.error('usage: SWITCHBOARD_URL=... SUPERVISOR_ID=... SUPERVISOR_PASSWORD=... AGENT_ID=... AGENT_PASSWORD=... ADMIN_TOKEN=... node clients/tests/supervisor.mjs');
  process.exit(2);
}

let browser = null;
let pageS = null;
let pageA = null;
let currentStep = 'start';
const pageErrors = [];
let finished = false;

async function screenshots(tag) {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  const saved = [];
  for (const [name, page] of [['supervisor', pageS], ['agent', pageA]]) {
    if (!page || page.isClosed()) continue;
    const file = `${OUTPUT_DIR}${tag}-${name}.png`;
    try {
      await page.screenshot({ path: file, fullPage: true, timeout: 5000 });
      saved.push(file);
    } catch {
      /* the page may be gone */
    }
  }
  return saved;
}

async function fail(message) {
  if (finished) return;
  finished = true;
  console.error(`supervisor browser test FAILED at step "${currentStep}": ${message}`);
  if (pageErrors.length) console.error(`page errors:\n  ${pageErrors.join('\n  ')}`);
  const files = await Promise.race([screenshots('supervisor-failure'), new Promise((r) => setTimeout(() => r([]), 8000))]);
  for (const f of files) console.error(`screenshot: ${f}`);
  if (browser) await Promise.race([browser.close().catch(() => {}), new Promise((r) => setTimeout(r, 3000))]);
  process.exit(1);
}

const overall = setTimeout(() => fail(`overall timeout of ${OVERALL_TIMEOUT_MS / 1000} s exceeded`), OVERALL_TIMEOUT_MS);

async function step(name, fn) {
  currentStep = name;
  console.log(`- ${name}`);
  await fn();
  if (SAVE_SCREENSHOTS) await screenshots(`supervisor-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`);
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

/** Text of a dashboard element once it matches. */
async function waitText(page, testid, re) {
  await page.getByTestId(testid).filter({ hasText: re }).waitFor();
  return page.getByTestId(testid).textContent();
}

async function arrive(i) {
  const res = await fetch(`${BASE}/api/v1/inbound`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ channel: 'sms', address: `+1555077${String(i).padStart(4, '0')}`, text: `customer ${i}`, queue: QUEUE }),
  });
  check(res.status === 202, `inbound ${i} answered ${res.status}`);
}

async function main() {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });

  const ctxS = await browser.newContext({ locale: 'en-US', viewport: { width: 1366, height: 1000 } });
  ctxS.setDefaultTimeout(STEP_TIMEOUT_MS);
  pageS = await ctxS.newPage();
  watch(pageS, 'supervisor');
  // What the dashboard acknowledges: the server's window depends on it.
  const acks = [];
  pageS.on('websocket', (ws) =>
    ws.on('framesent', (f) => {
      try {
        const m = JSON.parse(typeof f.payload === 'string' ? f.payload : f.payload.toString());
        if (m.type === 'ack') acks.push(m.seq);
      } catch {
        /* not JSON */
      }
    }),
  );

  await step('an agent is refused by the dashboard', async () => {
    const res = await pageS.goto(`${BASE}/supervisor/?lang=en`);
    check(res && res.ok(), `GET /supervisor/ answered ${res && res.status()}`);
    await pageS.getByTestId('login-id').fill(AGENT_ID);
    await pageS.getByTestId('login-password').fill(AGENT_PASSWORD);
    await pageS.getByTestId('login-submit').click();
    await waitText(pageS, 'login-error', /supervisor or admin/);
  });

  await step('the supervisor signs in and sees the queue', async () => {
    await pageS.getByTestId('login-id').fill(SUP_ID);
    await pageS.getByTestId('login-password').fill(SUP_PASSWORD);
    await pageS.getByTestId('login-submit').click();
    await pageS.locator('[data-testid="connection-indicator"][data-state="connected"]').waitFor();
    await waitText(pageS, `waiting-${QUEUE}`, /^0$/);
    await pageS.locator('#live-chart canvas').first().waitFor();
  });

  /** This engine's node name, from the cluster view the dashboard reads too. */
  let nodeName = '';
  await step('the engine nodes show this node, live and active', async () => {
    const res = await fetch(`${BASE}/api/v1/cluster`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    check(res.status === 200, `GET /api/v1/cluster answered ${res.status}`);
    nodeName = (await res.json()).node.name;
    await pageS.locator(`[data-testid="node-${nodeName}"][data-role="active"]`).waitFor();
    await pageS.locator(`[data-testid="node-status-${nodeName}"][data-state="live"]`).waitFor();
    await pageS.locator(`[data-testid="node-reach-${nodeName}"][data-reach="none"]`).filter({ hasText: 'this node' }).waitFor();
    await waitText(pageS, `node-holds-${nodeName}`, /singleton\/active-engine/);
    const quoted = nodeName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    await waitText(pageS, 'cluster-summary', new RegExp(`^1 of 1 nodes live · active engine: ${quoted} \\(epoch \\d+\\)$`));
  });

  await step('the flood badge shows the anonymous requests refused', async () => {
    // The test refused one visitor callback request (over its address's budget)
    // before the script started, with a flood threshold of 1 a minute.
    await pageS.locator('[data-testid="flood-badge"]:not([hidden])').waitFor();
    await waitText(pageS, 'flood-badge', /^Flood: 1 anonymous requests refused in the last minute$/);
  });

  const ctxA = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 820 } });
  ctxA.setDefaultTimeout(STEP_TIMEOUT_MS);
  pageA = await ctxA.newPage();
  watch(pageA, 'agent');

  await step('the agent signs in (away) and shows in the table', async () => {
    await pageA.goto(`${BASE}/agent/?lang=en`);
    await pageA.getByTestId('login-agent-id').fill(AGENT_ID);
    await pageA.getByTestId('login-password').fill(AGENT_PASSWORD);
    await pageA.getByTestId('login-submit').click();
    await pageA.locator('[data-testid="connection-indicator"][data-state="connected"]').waitFor();
    await waitText(pageS, `agent-state-${AGENT_ID}`, /Away/);
    await waitText(pageS, `agents-${QUEUE}-away`, /Away 1/);
  });

  await step(`${ARRIVALS} customers arrive: waiting rises`, async () => {
    const seen = [];
    for (let i = 0; i < ARRIVALS; i += 1) {
      await arrive(i);
      seen.push(await waitText(pageS, `waiting-${QUEUE}`, new RegExp(`^${i + 1}$`)));
    }
    check(seen.join(',') === '1,2,3', `waiting went ${seen.join(',')}`);
    await waitText(pageS, `answered-${QUEUE}`, new RegExp(`0 answered of ${ARRIVALS} offered`));
  });

  await step('the customers past their 1 s reply target are listed as overdue', async () => {
    await waitText(pageS, 'overdue-list', /first reply past .* waiting in the queue/);
    const listed = await pageS.getByTestId('overdue-list').locator('li').count();
    check(listed >= 1 && listed <= ARRIVALS, `${listed} overdue replies listed`);
    await waitText(pageS, `responses-${QUEUE}`, /[1-9]\d* overdue/);
    check(await pageS.getByTestId('overdue-list').locator('li').first().getByRole('button', { name: 'Watch' }).isVisible(), 'a Watch button');
  });

  await step('the supervisor sets the agent available from the table', async () => {
    await pageS.getByTestId(`agent-${AGENT_ID}`).getByRole('button', { name: 'Set available' }).click();
    await pageA.locator('[data-testid="agent-status"][data-status="available"]').waitFor();
  });

  const accepted = [];
  await step('the agent accepts every offer: waiting falls to 0, SL 100 %', async () => {
    for (let i = 0; i < ARRIVALS; i += 1) {
      const first = pageA.getByTestId('offer-card').first();
      await first.waitFor();
      const offerId = await first.getAttribute('data-offer-id');
      accepted.push(await first.getAttribute('data-conversation-id'));
      const card = pageA.locator(`[data-testid="offer-card"][data-offer-id="${offerId}"]`);
      await card.getByTestId('offer-accept').click();
      await card.waitFor({ state: 'detached' });
    }
    await waitText(pageS, `waiting-${QUEUE}`, /^0$/);
    await waitText(pageS, `answered-${QUEUE}`, new RegExp(`${ARRIVALS} answered of ${ARRIVALS} offered`));
    await waitText(pageS, `sl-${QUEUE}`, /100\s?%/);
    await waitText(pageS, `agent-state-${AGENT_ID}`, /Busy/);
    await waitText(pageS, `agents-${QUEUE}-busy`, /Busy 1/);
    await waitText(pageS, `offers-${QUEUE}`, new RegExp(`${ARRIVALS} accepted`));
    check(acks.length >= 3, `the dashboard acknowledged ${acks.length} pushes`);
    check(acks.every((s, i) => i === 0 || s > acks[i - 1]), `acks out of order: ${acks}`);
  });

  await step('the live chart has drawn the load', async () => {
    const series = await pageS.locator('#live-chart .u-legend .u-series').count();
    check(series >= 2, `live chart legend has ${series} entries`);
  });

  await step('the supervisor watches a conversation live', async () => {
    // The first offer shown was customer 0's (arrival order).
    await pageS.getByTestId('watch-id').fill(accepted[0]);
    await pageS.getByTestId('watch-form').getByRole('button').click();
    await pageS.getByTestId('watch-event').filter({ hasText: 'customer 0' }).waitFor();
    const res = await fetch(`${BASE}/api/v1/inbound`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ channel: 'sms', address: '+15550770000', text: 'are you there?' }),
    });
    check(res.status === 202, `inbound answered ${res.status}`);
    await pageS.getByTestId('watch-event').filter({ hasText: 'are you there?' }).waitFor();
  });

  await step('history answers with a chart or "no data"', async () => {
    await pageS.locator('[data-testid="history-status"]:not([hidden]), #history-card:not([hidden])').first().waitFor();
  });

  await step('the funnel shows the SMS contacts, straight in and still open', async () => {
    // Shown again: the period's contacts now include this run's (the late SMS was
    // customer 0 writing again: the same contact).
    await pageS.getByTestId('history-form').getByRole('button').click();
    await waitText(pageS, 'funnel-entry-sms-none', /^SMS · direct$/);
    await waitText(pageS, 'funnel-contacts-sms-none', new RegExp(`^${ARRIVALS}$`));
    await waitText(pageS, 'funnel-open-sms-none', new RegExp(`^${ARRIVALS}$`));
    await waitText(pageS, 'funnel-fcr-sms-none', /^—$/);
  });

  await step('the period replays as configured now and with one more agent', async () => {
    await pageS.getByTestId('sim-queue').selectOption(QUEUE);
    await pageS.getByTestId('sim-label-0').fill('one more');
    await pageS.getByTestId('sim-add-0').fill('1');
    await pageS.getByTestId('sim-run').click();
    await waitText(pageS, 'sim-col-0', /^What happened$/);
    await waitText(pageS, 'sim-col-1', /^As configured now$/);
    await waitText(pageS, 'sim-col-2', /^one more$/);
    // Every arrival was answered, and the replay answers them all too.
    await waitText(pageS, 'sim-answered-0', new RegExp(`^${ARRIVALS}$`));
    await waitText(pageS, 'sim-answered-1', new RegExp(`^${ARRIVALS}$`));
    await waitText(pageS, 'sim-agents-1', /^1$/);
    await waitText(pageS, 'sim-agents-2', /^2$/);
    // The agent's shift came from the presence log.
    await waitText(pageS, 'sim-shifts', /^Shifts: 1 from the presence log, 0 from the first answer/);
    check((await pageS.getByTestId('sim-col-3').count()) === 0, 'only one proposal was filled in');
  });

  await step('the dashboard switches to Japanese', async () => {
    await pageS.getByTestId('lang-toggle').click();
    await waitText(pageS, `agent-state-${AGENT_ID}`, /対応中/);
    await pageS.getByText('待機中', { exact: true }).first().waitFor();
    await waitText(pageS, 'overdue-title', /^返信期限の超過$/);
    await waitText(pageS, `responses-${QUEUE}`, /超過 [1-9]/);
    await waitText(pageS, `node-role-${nodeName}`, /^アクティブ$/);
    await waitText(pageS, 'funnel-title', /^セルフサービスの流れ$/);
    await waitText(pageS, 'funnel-entry-sms-none', /^SMS · 直接$/);
    await waitText(pageS, 'sim-col-0', /^実績$/);
    await waitText(pageS, 'sim-col-1', /^現在の設定$/);
    await waitText(pageS, 'sim-shifts', /^シフト：在席ログから 1 人、最初の応答から 0 人/);
    await waitText(pageS, 'cluster-summary', /^1 ノード中 1 ノード稼働・アクティブ エンジン: /);
    await waitText(pageS, 'flood-badge', /^大量アクセス: 直近1分で匿名リクエスト 1 件を拒否$/);
    const lang = await pageS.evaluate(() => document.documentElement.lang);
    check(lang === 'ja', `language is ${lang}`);
  });

  check(pageErrors.length === 0, `page errors: ${pageErrors.join('; ')}`);
  clearTimeout(overall);
  finished = true;
  await browser.close();
  console.log('supervisor browser test passed');
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));

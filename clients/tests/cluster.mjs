// tests/cluster.mjs — owns the browser test of the supervisor dashboard's engine
// nodes against two real engines on one CQL keyspace (tests/api_cql/cluster_page.rs
// starts them): the active engine A, whose dashboard the supervisor opens, and a
// standby B (pid STANDBY_PID, node name STANDBY_NAME). The page must show A active and
// B standby, live and reachable with a round-trip time; B SIGSTOPped (this script
// sends the signals) shows unreachable while still live by its lease; SIGCONT makes it
// reachable again; SIGKILL makes its lease lapse, and the summary counts one live node
// of two. Then the page switches to Japanese.
//
// With PLACEMENT=spread the two engines are spread nodes sharing SHARDS shards: the
// page shows both as members, each holding some of the shards (together all of
// them); SIGKILL of B (here STANDBY_PID/STANDBY_NAME name the other member) makes its
// lease lapse and A hold every shard, which the summary counts. Then Japanese.
//
//   SWITCHBOARD_URL=http://127.0.0.1:43210 SUPERVISOR_ID=sup SUPERVISOR_PASSWORD=... \
//   ADMIN_TOKEN=... STANDBY_PID=1234 STANDBY_NAME=node-b node clients/tests/cluster.mjs
//
// Uses Debian's chromium through playwright-core. Prints "cluster browser test passed"
// and exits 0, or saves a screenshot to clients/tests/output/ and exits 1 with the
// failing step. Stops by itself after 90 s.

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const OVERALL_TIMEOUT_MS = 90_000;
const STEP_TIMEOUT_MS = 20_000;

const BASE = (process.env.SWITCHBOARD_URL || '').replace(/\/+$/, '');
const SUP_ID = process.env.SUPERVISOR_ID || '';
const SUP_PASSWORD = process.env.SUPERVISOR_PASSWORD || '';
const ADMIN_TOKEN = process.env.ADMIN_TOKEN || '';
const STANDBY_PID = Number(process.env.STANDBY_PID || 0);
const STANDBY = process.env.STANDBY_NAME || '';
const SPREAD = process.env.PLACEMENT === 'spread';
const SHARDS = Number(process.env.SHARDS || 0);
const OUTPUT_DIR = fileURLToPath(new URL('./output/', import.meta.url));

if (!BASE || !SUP_ID || !SUP_PASSWORD || !ADMIN_TOKEN || !STANDBY_PID || !STANDBY || (SPREAD && !SHARDS)) {
  console.error('usage: SWITCHBOARD_URL=... SUPERVISOR_ID=... SUPERVISOR_PASSWORD=... ADMIN_TOKEN=... STANDBY_PID=... STANDBY_NAME=... node clients/tests/cluster.mjs');
  process.exit(2);
}

let browser = null;
let page = null;
let currentStep = 'start';
const pageErrors = [];
let finished = false;

async function fail(message) {
  if (finished) return;
  finished = true;
  console.error(`cluster browser test FAILED at step "${currentStep}": ${message}`);
  if (pageErrors.length) console.error(`page errors:\n  ${pageErrors.join('\n  ')}`);
  // Never leave the standby stopped for the test that started it.
  try {
    process.kill(STANDBY_PID, 'SIGCONT');
  } catch {
    /* gone */
  }
  if (page && !page.isClosed()) {
    mkdirSync(OUTPUT_DIR, { recursive: true });
    const file = `${OUTPUT_DIR}cluster-failure.png`;
    await page.screenshot({ path: file, fullPage: true, timeout: 5000 }).then(() => console.error(`screenshot: ${file}`)).catch(() => {});
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

function check(cond, message) {
  if (!cond) throw new Error(message);
}

/** The row cell `testid` once one with `attr="value"` is shown. */
async function shown(testid, attr, value) {
  await page.locator(`[data-testid="${testid}"][${attr}="${value}"]`).waitFor();
}

async function main() {
  const res = await fetch(`${BASE}/api/v1/cluster`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  check(res.status === 200, `GET /api/v1/cluster answered ${res.status}`);
  const active = (await res.json()).node.name;

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const ctx = await browser.newContext({ locale: 'en-US', viewport: { width: 1366, height: 1000 } });
  ctx.setDefaultTimeout(STEP_TIMEOUT_MS);
  page = await ctx.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));

  await step('the supervisor signs in on the active engine', async () => {
    const r = await page.goto(`${BASE}/supervisor/?lang=en`);
    check(r && r.ok(), `GET /supervisor/ answered ${r && r.status()}`);
    await page.getByTestId('login-id').fill(SUP_ID);
    await page.getByTestId('login-password').fill(SUP_PASSWORD);
    await page.getByTestId('login-submit').click();
    await page.locator('[data-testid="connection-indicator"][data-state="connected"]').waitFor();
  });

  if (SPREAD) {
    await spreadSteps(active);
    return;
  }

  await step('both engines are shown: one active, one standby and reachable', async () => {
    await shown(`node-${active}`, 'data-role', 'active');
    await shown(`node-${STANDBY}`, 'data-role', 'standby');
    await shown(`node-status-${STANDBY}`, 'data-state', 'live');
    await shown(`node-reach-${STANDBY}`, 'data-reach', 'yes');
    await page.getByTestId(`node-reach-${STANDBY}`).filter({ hasText: /^[\d.]+ ms · clock [+-]?\d+ ms$/ }).waitFor();
    await page.getByTestId(`node-holds-${active}`).filter({ hasText: 'singleton/active-engine' }).waitFor();
    await page.getByTestId('cluster-summary').filter({ hasText: new RegExp(`^2 of 2 nodes live · active engine: ${active} `) }).waitFor();
  });

  await step('the standby paused (SIGSTOP) is live but unreachable', async () => {
    process.kill(STANDBY_PID, 'SIGSTOP');
    await shown(`node-reach-${STANDBY}`, 'data-reach', 'no');
    await shown(`node-status-${STANDBY}`, 'data-state', 'live');
  });

  await step('woken (SIGCONT), it is reachable again', async () => {
    process.kill(STANDBY_PID, 'SIGCONT');
    await shown(`node-reach-${STANDBY}`, 'data-reach', 'yes');
  });

  await step('killed (SIGKILL), its lease lapses: one live node of two', async () => {
    process.kill(STANDBY_PID, 'SIGKILL');
    await shown(`node-status-${STANDBY}`, 'data-state', 'lapsed');
    await shown(`node-${STANDBY}`, 'data-role', 'gone');
    await page.getByTestId('cluster-summary').filter({ hasText: /^1 of 2 nodes live · active engine: / }).waitFor();
  });

  await step('the engine nodes switch to Japanese', async () => {
    await page.getByTestId('lang-toggle').click();
    await page.getByTestId(`node-role-${active}`).filter({ hasText: /^アクティブ$/ }).waitFor();
    await page.getByTestId(`node-status-${STANDBY}`).filter({ hasText: /^失効$/ }).waitFor();
    await page.getByTestId('cluster-summary').filter({ hasText: /^2 ノード中 1 ノード稼働・アクティブ エンジン: / }).waitFor();
  });

  await passed();
}

async function passed() {
  check(pageErrors.length === 0, `page errors: ${pageErrors.join('; ')}`);
  clearTimeout(overall);
  finished = true;
  await browser.close();
  console.log('cluster browser test passed');
}

/** The number of shards a node's keys cell shows (0 if none). */
async function shardsOf(name) {
  const text = await page.getByTestId(`node-holds-${name}`).innerText();
  const m = /(\d+) shards/.exec(text);
  return m ? Number(m[1]) : 0;
}

/** Spread placement: two members sharing the shards; one killed, the other holds all. */
async function spreadSteps(a) {
  const b = STANDBY;
  await step('both spread nodes are members, live and reachable, sharing every shard', async () => {
    await shown(`node-${a}`, 'data-role', 'member');
    await shown(`node-${b}`, 'data-role', 'member');
    await shown(`node-status-${b}`, 'data-state', 'live');
    await shown(`node-reach-${b}`, 'data-reach', 'yes');
    await page.getByTestId(`node-role-${b}`).filter({ hasText: /^Member$/ }).waitFor();
    await page.getByTestId('cluster-summary').filter({ hasText: `2 of 2 nodes live · spread placement: ${SHARDS} of ${SHARDS} shards held` }).waitFor();
    const [na, nb] = [await shardsOf(a), await shardsOf(b)];
    check(na > 0 && nb > 0 && na + nb === SHARDS, `shards held: ${a} ${na}, ${b} ${nb} of ${SHARDS}`);
    // Queues and singletons are named beside the count, on one node or the other.
    const cells = (await page.getByTestId(`node-holds-${a}`).innerText()) + (await page.getByTestId(`node-holds-${b}`).innerText());
    check(cells.includes('singleton/hub') && cells.includes('queue/'), `keys shown: ${cells}`);
  });

  await step(`${b} killed (SIGKILL): its lease lapses and ${a} holds every shard`, async () => {
    process.kill(STANDBY_PID, 'SIGKILL');
    await shown(`node-status-${b}`, 'data-state', 'lapsed');
    await shown(`node-${b}`, 'data-role', 'gone');
    await page.getByTestId(`node-holds-${a}`).filter({ hasText: new RegExp(`^${SHARDS} shards · `) }).waitFor();
    await page.getByTestId('cluster-summary').filter({ hasText: `1 of 2 nodes live · spread placement: ${SHARDS} of ${SHARDS} shards held` }).waitFor();
  });

  await step('the spread nodes switch to Japanese', async () => {
    await page.getByTestId('lang-toggle').click();
    await page.getByTestId(`node-role-${a}`).filter({ hasText: /^メンバー$/ }).waitFor();
    await page.getByTestId('cluster-summary').filter({ hasText: `2 ノード中 1 ノード稼働・分散配置: シャード ${SHARDS} 個中 ${SHARDS} 個を保持` }).waitFor();
  });

  await passed();
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));

// tests/supervisor_listen.mjs — owns the browser test of a supervisor listening in on,
// and whispering into, an agent's live phone call from the supervisor dashboard
// (supervisor/app.js; docs/voice.md "Hold, consult and listen-in") against a running
// engine.
//
// Before this script starts, the Rust side has put AGENT_ID on a live phone call: the
// voice conversation CONVERSATION_ID of queue QUEUE, assigned to AGENT_ID, talking. The
// script does nothing on the agent's side. Steps: the supervisor signs in to
// /supervisor/; the tile `calls-{QUEUE}` shows the call (`data-talking="1"`, the other
// phases 0, "Calls: 1 talking"); the agent's row shows the phone call talking
// (`agent-call-{AGENT_ID}`, `data-phase="talking"`, `data-queue` QUEUE) with the Listen
// and Whisper buttons; Listen asks `POST /api/v1/voice/listen` exactly once, with the
// body `{conversation_id: CONVERSATION_ID, whisper: false}` and the staff token as
// Bearer, the engine answers 202 `{conversation_id, agent_id: AGENT_ID}` and the
// `listen-ringing` notice names AGENT_ID; Whisper then asks it exactly once with
// `whisper: true`, the engine refuses with 409 `conflict` (the supervisor is already in
// this call) and the `listen-failed` warning shows the engine's message; the dashboard
// switches to Japanese (the tile reads "通話: 通話中 1", the buttons モニタリング /
// ウィスパー) and back. No other request went to /api/v1/voice/*. That the engine rang
// the supervisor into the call is checked by the Rust side (its recorder) once this
// script has passed.
//
//   SWITCHBOARD_URL=http://127.0.0.1:43210 SUPERVISOR_ID=sup SUPERVISOR_PASSWORD=... \
//     ADMIN_TOKEN=... AGENT_ID=pat CONVERSATION_ID=... QUEUE=general \
//     node clients/tests/supervisor_listen.mjs
//
// ADMIN_TOKEN is passed by the Rust side like to every browser test; this one does not
// need it. With SCREENSHOT_DIR set, the dashboard showing the call is saved there in
// English and Japanese (supervisor-call-en.png, supervisor-call-ja.png). Prints
// "supervisor listen browser test passed" and exits 0, or exits 1 with the failing step.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { harness, BASE } from './harness.mjs';

const SUP_ID = process.env.SUPERVISOR_ID || '';
const SUP_PASSWORD = process.env.SUPERVISOR_PASSWORD || '';
const AGENT_ID = process.env.AGENT_ID || '';
const CONVERSATION_ID = process.env.CONVERSATION_ID || '';
const QUEUE = process.env.QUEUE || '';
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || '';

if (!BASE || !SUP_ID || !SUP_PASSWORD || !AGENT_ID || !CONVERSATION_ID || !QUEUE) {
  console.error(
    'usage: SWITCHBOARD_URL=... SUPERVISOR_ID=... SUPERVISOR_PASSWORD=... ADMIN_TOKEN=... AGENT_ID=... ' +
      'CONVERSATION_ID=... QUEUE=... node clients/tests/supervisor_listen.mjs',
  );
  process.exit(2);
}

const run = harness('supervisor listen');
const LISTEN_PATH = '/api/v1/voice/listen';

/**
 * The dashboard's state for a screenshot: the agent's row in view (the tiles sit above
 * it), then `supervisor-call-<lang>.png`.
 * @param {import('playwright-core').Page} page
 * @param {string} lang
 */
async function screenshot(page, lang) {
  if (!SCREENSHOT_DIR) return;
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.getByTestId(`agent-${AGENT_ID}`).scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(SCREENSHOT_DIR, `supervisor-call-${lang}.png`) });
}

/**
 * Clicks `button` and returns the one answer of `POST /api/v1/voice/listen` it brought,
 * after checking the request: POST, no query, exactly `body`, the staff token as Bearer.
 * @param {import('playwright-core').Locator} button
 * @param {{ conversation_id: string, whisper: boolean }} body
 */
async function listenAnswer(button, body) {
  const answer = button.page().waitForResponse((res) => new URL(res.url()).pathname === LISTEN_PATH);
  await button.click();
  const res = await answer;
  const req = res.request();
  run.check(req.method() === 'POST' && new URL(req.url()).search === '', `listen asked with ${req.method()} ${req.url()}`);
  run.check(JSON.stringify(req.postDataJSON()) === JSON.stringify(body), `listen body ${req.postData()}`);
  const headers = await req.allHeaders();
  run.check(/^Bearer \S+$/.test(headers.authorization || ''), `listen asked with authorization ${JSON.stringify(headers.authorization)}`);
  const text = await res.text();
  /** @type {Record<string, unknown>} */
  let json = {};
  try {
    json = JSON.parse(text);
  } catch {
    run.check(false, `listen answered ${res.status()} with no JSON: ${text}`);
  }
  return { status: res.status(), json, text };
}

await run.main(async () => {
  const page = await run.page({ viewport: { width: 1366, height: 1200 } });
  /** Every request of the page below /api/v1/voice/. */
  /** @type {import('playwright-core').Request[]} */
  const voiceRequests = [];
  page.on('request', (req) => {
    if (new URL(req.url()).pathname.startsWith('/api/v1/voice/')) voiceRequests.push(req);
  });
  const listenRequests = () => voiceRequests.filter((r) => new URL(r.url()).pathname === LISTEN_PATH);

  const tile = page.getByTestId(`calls-${QUEUE}`);
  const callCell = page.getByTestId(`agent-call-${AGENT_ID}`);
  const listen = page.getByTestId(`listen-${AGENT_ID}`);
  const whisper = page.getByTestId(`whisper-${AGENT_ID}`);

  await run.step('the supervisor signs in to the dashboard', async () => {
    const res = await page.goto(`${BASE}/supervisor/?lang=en`);
    run.check(!!res && res.ok(), `GET /supervisor/ answered ${res && res.status()}`);
    await page.getByTestId('login-id').fill(SUP_ID);
    await page.getByTestId('login-password').fill(SUP_PASSWORD);
    await page.getByTestId('login-submit').click();
    await page.locator('[data-testid="connection-indicator"][data-state="connected"]').waitFor();
    await page.getByTestId(`tile-${QUEUE}`).waitFor();
  });

  await run.step('the queue’s tile shows the call talking', async () => {
    await page.locator(`[data-testid="calls-${QUEUE}"][data-talking="1"]`).waitFor();
    await tile.filter({ hasText: /^Calls: 1 talking$/ }).waitFor();
    run.check(await tile.isVisible(), 'the tile’s calls line is hidden');
    for (const phase of ['ringing', 'on-hold', 'wrap-up']) {
      const n = await tile.getAttribute(`data-${phase}`);
      run.check(n === '0', `data-${phase}="${n}"`);
    }
  });

  await run.step('the agent’s row shows the phone call with Listen and Whisper', async () => {
    await page.locator(`[data-testid="agent-call-${AGENT_ID}"][data-phase="talking"]`).waitFor();
    const text = (await callCell.textContent()) || '';
    run.check(text.startsWith('Phone call · talking'), `call cell "${text}"`);
    const queue = await callCell.getAttribute('data-queue');
    run.check(queue === QUEUE, `the call's queue is ${JSON.stringify(queue)}`);
    await listen.filter({ hasText: /^Listen$/ }).waitFor();
    await whisper.filter({ hasText: /^Whisper$/ }).waitFor();
    run.check((await listen.isEnabled()) && (await whisper.isEnabled()), 'Listen or Whisper is disabled');
    run.check(voiceRequests.length === 0, `${voiceRequests.length} requests to /api/v1/voice/ before any click`);
    await screenshot(page, 'en');
  });

  await run.step('Listen asks the engine once: 202, the supervisor’s phone rings', async () => {
    const answer = await listenAnswer(listen, { conversation_id: CONVERSATION_ID, whisper: false });
    run.check(answer.status === 202, `listen answered ${answer.status}: ${answer.text}`);
    run.check(answer.json.conversation_id === CONVERSATION_ID && answer.json.agent_id === AGENT_ID, `listen answer ${answer.text}`);
    const ringing = page.getByTestId('listen-ringing');
    await ringing.filter({ hasText: AGENT_ID }).waitFor();
    const text = (await ringing.first().textContent()) || '';
    run.check(text.startsWith('Your phone rings') && text.includes('muted'), `ringing notice "${text}"`);
    // Once the answer is in, the buttons can be used again; give a second request the time to show.
    await page.locator(`[data-testid="listen-${AGENT_ID}"]:not([disabled])`).waitFor();
    await page.locator(`[data-testid="whisper-${AGENT_ID}"]:not([disabled])`).waitFor();
    await page.waitForTimeout(500);
    run.check(listenRequests().length === 1, `listen asked ${listenRequests().length} times`);
    run.check((await page.getByTestId('listen-failed').count()) === 0, 'a failure notice shows');
  });

  await run.step('Whisper asks once: the engine refuses (already in the call), a warning says why', async () => {
    const answer = await listenAnswer(whisper, { conversation_id: CONVERSATION_ID, whisper: true });
    run.check(answer.status === 409 && answer.json.code === 'conflict', `whisper answered ${answer.status}: ${answer.text}`);
    const message = typeof answer.json.message === 'string' ? answer.json.message : '';
    run.check(message !== '', `the refusal has no message: ${answer.text}`);
    const failed = page.getByTestId('listen-failed');
    await failed.filter({ hasText: message }).waitFor();
    run.check((await failed.count()) === 1, `${await failed.count()} failure notices`);
    await page.locator(`[data-testid="whisper-${AGENT_ID}"]:not([disabled])`).waitFor();
    await page.waitForTimeout(500);
    run.check(listenRequests().length === 2, `listen asked ${listenRequests().length} times in all`);
    run.check((await page.getByTestId('listen-ringing').count()) <= 1, 'a second ringing notice shows');
  });

  await run.step('the dashboard reads the call in Japanese, then English again', async () => {
    await page.getByTestId('lang-toggle').click();
    await tile.filter({ hasText: /^通話: 通話中 1$/ }).waitFor();
    await callCell.filter({ hasText: /^電話 · 通話中/ }).waitFor();
    await listen.filter({ hasText: /^モニタリング$/ }).waitFor();
    await whisper.filter({ hasText: /^ウィスパー$/ }).waitFor();
    const lang = await page.evaluate(() => document.documentElement.lang);
    run.check(lang === 'ja', `language is ${lang}`);
    await screenshot(page, 'ja');
    await page.getByTestId('lang-toggle').click();
    await tile.filter({ hasText: /^Calls: 1 talking$/ }).waitFor();
    await listen.filter({ hasText: /^Listen$/ }).waitFor();
  });

  await run.step('nothing else was asked of /api/v1/voice/', async () => {
    const paths = voiceRequests.map((r) => `${r.method()} ${new URL(r.url()).pathname}`);
    run.check(paths.length === 2 && paths.every((p) => p === `POST ${LISTEN_PATH}`), `voice requests: ${paths.join(', ')}`);
  });
});

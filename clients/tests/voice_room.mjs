// tests/voice_room.mjs — owns the browser test of the live phone call's controls in the
// agent desktop (agent/callcontrols.js: hold, consult, hand-over; docs/voice.md "Hold,
// consult and listen-in") and of incoming calls on the softphone (agent/softphone.js: a
// colleague's consult), against a running engine with `[channels.voice.softphone]` set.
// The Twilio Voice JS SDK is replaced as in softphone.mjs: an init script defines
// `window.Twilio = { Device: FakeDevice }` as a non-writable, non-configurable property
// before any page script, so the vendored SDK keeps it. The fake records the tokens,
// `register()` and `connect()` and hands out fake calls (`on`/`emit`, `mute`, `isMuted`,
// `disconnect`, and for incoming calls `parameters`, `accept()` and `reject()`, counted);
// `window.__fakeTwilio.ring(from)` makes the Device emit `incoming` with a new fake call
// whose `parameters.From` is `from`. The same init script keeps every warning notice and
// error toast the page shows in `window.__warnings` (notices go after 7 s: this sees
// them all). No media and no Twilio account are involved.
//
// Steps: the agent signs in; the softphone gets ready (the desktop asked
// `GET /api/v1/voice/me` and heard a softphone and no phone on the profile); a phone call
// comes in through Twilio's voice webhook (`POST /webhooks/twilio/voice`, signed
// `X-Twilio-Signature`: base64 HMAC-SHA1 over TWILIO_AUTH_TOKEN of TWILIO_PUBLIC_URL +
// path + every param name and value, sorted by name), answered 200 with `<Enqueue>`
// naming the conversation; the agent accepts its offer and the softphone dials
// `connect({ params: { conversation } })`; the script then posts, as Twilio would when
// the SDK's call reaches the TwiML App, the signed `POST /webhooks/twilio/voice/client`
// (`AccountSid`, `ApplicationSid` = TWILIO_APP, `CallSid`, `From` = `client:<AGENT_ID>`,
// `To` '', `conversation`, `CallStatus` `ringing`, `Direction` `inbound`), answered 200
// with `<Dial>…<Queue>conversation</Queue></Dial>`; the fake call is answered and the
// controls show (`phone-controls`: Hold, Consult…). Hold asks `POST /api/v1/voice/hold`
// once with `{conversation_id, hold: true}` (202): Resume and "On hold" show (also in
// Japanese); Resume asks it with `hold: false` (202): Hold again. Consult… opens the
// dialog; OTHER_AGENT submitted asks `POST /api/v1/voice/consult` once with
// `{conversation_id, agent_id}` (202): Complete transfer and Cancel consult show, Hold is
// disabled; Cancel asks `POST /api/v1/voice/consult/cancel {conversation_id}` (202):
// Hold and Consult… again. A second consult (202) and Complete transfer asks
// `POST /api/v1/voice/consult/complete {conversation_id}` — after the script posted the
// conference's signed status callback (`POST /webhooks/twilio/voice/room`,
// `participant-join` of the agent's leg, answered 204: the consulted agent is rung) —
// (202 naming OTHER_AGENT): the
// controls go, and the conversation leaves the agent as after a transfer (its softphone
// call ends with it). Then a colleague's consult rings the softphone: `softphone-incoming`
// names them; Accept calls the fake call's `accept()` once; its `accept` event connects
// the panel ("Consult · someone", no controls: no conversation); a second call ringing
// meanwhile is rejected at once (`reject()` once, a notice says who tried); Hang up ends
// the call. No warning notice or error toast showed at any point.
//
//   SWITCHBOARD_URL=http://127.0.0.1:43210 AGENT_ID=amy AGENT_PASSWORD=... \
//     ADMIN_TOKEN=... CALLER=+81312345678 OTHER_AGENT=bob TWILIO_ACCOUNT=AC... \
//     TWILIO_APP=AP... TWILIO_AUTH_TOKEN=... TWILIO_PUBLIC_URL=https://switchboard.example \
//     node clients/tests/voice_room.mjs
//
// TWILIO_ACCOUNT is the engine's `channels.voice.account_sid` (and the softphone's),
// TWILIO_APP `channels.voice.softphone.twiml_app_sid`, TWILIO_AUTH_TOKEN
// `channels.voice.auth_token` (signs the webhooks) and TWILIO_PUBLIC_URL
// `channels.public_url` (what the signatures cover); `channels.voice.api_base` must answer
// the call updates and participants the engine asks of the platform. AGENT_ID must have
// no phone on their profile and be in the queue voice calls go to by default; OTHER_AGENT
// serves that queue too (they need not be signed in). ADMIN_TOKEN is passed by the Rust
// side like to every browser test; this one does not need it. With SCREENSHOT_DIR, the
// desktop during the held call is saved there in English and Japanese
// (phone-call-hold-en.png, phone-call-hold-ja.png). Prints "voice room browser
// test passed" and exits 0, or exits 1 with the failing step.

import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { harness, BASE } from './harness.mjs';
import { installFakeTwilio } from './fake_twilio.mjs';

const AGENT_ID = process.env.AGENT_ID || '';
const AGENT_PASSWORD = process.env.AGENT_PASSWORD || '';
const CALLER = process.env.CALLER || '';
const OTHER_AGENT = process.env.OTHER_AGENT || '';
const TWILIO_ACCOUNT = process.env.TWILIO_ACCOUNT || '';
const TWILIO_APP = process.env.TWILIO_APP || '';
const TWILIO_AUTH_TOKEN = process.env.TWILIO_AUTH_TOKEN || '';
const TWILIO_PUBLIC_URL = (process.env.TWILIO_PUBLIC_URL || '').replace(/\/+$/, '');
/** Where the desktop during a held call is saved, in English and Japanese ('' = not). */
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || '';

if (!BASE || !AGENT_ID || !AGENT_PASSWORD || !CALLER || !OTHER_AGENT || !TWILIO_ACCOUNT || !TWILIO_APP || !TWILIO_AUTH_TOKEN || !TWILIO_PUBLIC_URL) {
  console.error(
    'usage: SWITCHBOARD_URL=... AGENT_ID=... AGENT_PASSWORD=... ADMIN_TOKEN=... CALLER=+81... OTHER_AGENT=... ' +
      'TWILIO_ACCOUNT=AC... TWILIO_APP=AP... TWILIO_AUTH_TOKEN=... TWILIO_PUBLIC_URL=https://... node clients/tests/voice_room.mjs',
  );
  process.exit(2);
}

const run = harness('voice room');
/** The caller's call (the voice webhook) and the agent's softphone leg (the client webhook). */
const CALLER_SID = 'CA00000000000000000000000000000a10';
const AGENT_LEG_SID = 'CA00000000000000000000000000000a11';
const OUR_NUMBER = '+81501234567';
/** The conference the call moves into (its status callback names it). */
const CONFERENCE_SID = 'CF00000000000000000000000000000c0f';

/** Runs in the page before its scripts: keeps every warning notice and error toast. */
function watchWarnings() {
  // Every warning notice and error toast, as it is added (they remove themselves later).
  /** @type {string[]} */
  const warnings = [];
  window.__warnings = warnings;
  new MutationObserver((records) => {
    for (const r of records) {
      for (const n of r.addedNodes) {
        if (n instanceof HTMLElement && (n.classList.contains('notice--warn') || n.classList.contains('toast'))) {
          warnings.push(`${n.dataset.testid || n.className}: ${n.textContent}`);
        }
      }
    }
  }).observe(document, { childList: true, subtree: true });
}

/**
 * `X-Twilio-Signature` as Twilio computes it: base64 HMAC-SHA1, keyed with the auth
 * token, of the public URL the engine is reached at (its path and query included)
 * followed by every POST param's name and value, sorted by name.
 * @param {string} pathAndQuery
 * @param {Record<string, string>} params
 */
function twilioSignature(pathAndQuery, params) {
  const data =
    TWILIO_PUBLIC_URL +
    pathAndQuery +
    Object.keys(params)
      .sort()
      .map((k) => k + params[k])
      .join('');
  return createHmac('sha1', TWILIO_AUTH_TOKEN).update(data, 'utf8').digest('base64');
}

/**
 * A signed Twilio voice webhook: `params` posted as a form to `path`.
 * @param {string} path
 * @param {Record<string, string>} params
 * @returns {Promise<{ status: number, body: string }>}
 */
async function twilioPost(path, params) {
  const r = await fetch(`${BASE}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(path, params) },
    body: new URLSearchParams(params).toString(),
  });
  return { status: r.status, body: await r.text() };
}

/**
 * A phone call arriving at our number from CALLER, as Twilio's voice webhook says it.
 * Returns the conversation the caller waits in (the `<Enqueue>`'s text).
 */
async function incomingCall() {
  const { status, body } = await twilioPost('/webhooks/twilio/voice', {
    AccountSid: TWILIO_ACCOUNT,
    CallSid: CALLER_SID,
    From: CALLER,
    To: OUR_NUMBER,
    CallStatus: 'ringing',
    Direction: 'inbound',
  });
  run.check(status === 200, `voice webhook answered ${status}: ${body}`);
  const enqueue = /<Enqueue\b[^>]*>\s*([^<\s]+)\s*<\/Enqueue>/.exec(body);
  run.check(!!enqueue, `the caller does not wait in <Enqueue>: ${body}`);
  return enqueue[1];
}

await run.main(async () => {
  const page = await run.page();
  await page.addInitScript(installFakeTwilio);
  await page.addInitScript(watchWarnings);
  /** Every request of the page to the call's controls, by path. */
  /** @type {Record<string, import('playwright-core').Request[]>} */
  const asked = { hold: [], consult: [], complete: [], cancel: [], bridge: [] };
  /** @type {Record<string, string>} */
  const paths = {
    '/api/v1/voice/hold': 'hold',
    '/api/v1/voice/consult': 'consult',
    '/api/v1/voice/consult/complete': 'complete',
    '/api/v1/voice/consult/cancel': 'cancel',
    '/api/v1/voice/bridge': 'bridge',
  };
  page.on('request', (req) => {
    const kind = paths[new URL(req.url()).pathname];
    if (kind) asked[kind].push(req);
  });
  /** @type {number[]} */
  const tokenAnswers = [];
  page.on('response', (res) => {
    if (res.request().method() === 'POST' && new URL(res.url()).pathname === '/api/v1/voice/token') tokenAnswers.push(res.status());
  });

  const panel = page.getByTestId('softphone-panel');
  const bar = page.getByTestId('phone-controls');
  const holdBtn = page.getByTestId('phone-hold');
  const resumeBtn = page.getByTestId('phone-resume');
  const consultBtn = page.getByTestId('phone-consult');
  const completeBtn = page.getByTestId('phone-consult-complete');
  const cancelBtn = page.getByTestId('phone-consult-cancel');
  const holdState = page.getByTestId('phone-hold-state');
  const incomingBox = page.getByTestId('softphone-incoming');
  /** The fake's record of the desktop's calls, as JSON. */
  const fake = () =>
    page.evaluate(() => {
      const f = window.__fakeTwilio;
      /** @param {FakeTwilioCall} c */
      const call = (c) => ({ params: c.params, parameters: c.parameters, disconnects: c.disconnects, accepts: c.accepts, rejects: c.rejects });
      return { tokens: f.tokens, connects: f.connects, calls: f.calls.map(call), incoming: f.incoming.map(call) };
    });
  /**
   * Emits `event` on the fake's latest outgoing call (or incoming call `incoming`), as the SDK would.
   * @param {string} event
   * @param {number} [incoming]  the index of an incoming call
   */
  const callEmits = (event, incoming = -1) =>
    page.evaluate(
      ([ev, i]) => {
        const f = window.__fakeTwilio;
        const call = i >= 0 ? f.incoming[i] : f.calls[f.calls.length - 1];
        call.emit(ev, call);
      },
      /** @type {[string, number]} */ ([event, incoming]),
    );
  /**
   * Clicks `button` and returns the engine's answer to the one request it makes to `path`:
   * 202, its JSON body, sent as a POST with JSON `body` and the staff token as Bearer.
   * @param {import('playwright-core').Locator} button
   * @param {string} path
   * @param {Record<string, unknown>} body
   */
  const answered = async (button, path, body) => {
    const answer = page.waitForResponse((res) => new URL(res.url()).pathname === path);
    await button.click();
    const res = await answer;
    const text = await res.text();
    run.check(res.status() === 202, `${path} answered ${res.status()}: ${text}`);
    const req = res.request();
    run.check(req.method() === 'POST' && new URL(req.url()).search === '', `${path} asked with ${req.method()} ${req.url()}`);
    run.check(JSON.stringify(req.postDataJSON()) === JSON.stringify(body), `${path} body ${req.postData()}`);
    const headers = await req.allHeaders();
    run.check(/^Bearer \S+$/.test(headers.authorization || ''), `${path} asked with authorization ${JSON.stringify(headers.authorization)}`);
    return JSON.parse(text);
  };
  /**
   * After an answer: the page asked each control exactly as often as `counts` says (a
   * second request would have had the time to show).
   * @param {Record<string, number>} counts
   */
  const askedExactly = async (counts) => {
    await page.waitForTimeout(300);
    for (const [kind, n] of Object.entries(counts)) {
      run.check(asked[kind].length === n, `${kind} asked ${asked[kind].length} times, expected ${n}`);
    }
  };
  /** No warning notice or error toast so far. */
  const noWarnings = async () => {
    const seen = await page.evaluate(() => window.__warnings);
    run.check(seen.length === 0, `warnings shown: ${seen.join(' | ')}`);
  };
  /** Hold and Consult… usable; nothing of a hold or a consult shows. */
  const idle = async () => {
    await holdBtn.waitFor();
    await consultBtn.waitFor();
    run.check(await holdBtn.isEnabled(), 'Hold is disabled');
    run.check(await consultBtn.isEnabled(), 'Consult is disabled');
    await holdBtn.filter({ hasText: 'Hold' }).waitFor();
    await consultBtn.filter({ hasText: 'Consult' }).waitFor();
    for (const [name, el] of /** @type {const} */ ([['Resume', resumeBtn], ['Complete transfer', completeBtn], ['Cancel consult', cancelBtn], ['the hold label', holdState]])) {
      run.check(await el.isHidden(), `${name} shows`);
    }
  };
  /**
   * Consult… → the dialog → OTHER_AGENT: one consult asked and answered 202; Complete and
   * Cancel show, Hold is disabled.
   * @param {string} conversation
   */
  const consult = async (conversation) => {
    await consultBtn.click();
    const dialog = page.getByTestId('consult-dialog');
    await dialog.waitFor();
    await page.getByTestId('consult-agent').fill(OTHER_AGENT);
    const done = await answered(page.getByTestId('consult-confirm'), '/api/v1/voice/consult', { conversation_id: conversation, agent_id: OTHER_AGENT });
    run.check(done.conversation_id === conversation && done.agent_id === OTHER_AGENT, `consult answer ${JSON.stringify(done)}`);
    await dialog.waitFor({ state: 'hidden' });
    await completeBtn.filter({ hasText: 'Complete transfer' }).waitFor();
    await cancelBtn.filter({ hasText: 'Cancel consult' }).waitFor();
    run.check(await completeBtn.isEnabled() && (await cancelBtn.isEnabled()), 'Complete or Cancel is disabled');
    await holdBtn.waitFor();
    run.check(await holdBtn.isDisabled(), 'Hold is enabled during the consult');
    run.check(await consultBtn.isHidden(), 'Consult shows during the consult');
    await holdState.filter({ hasText: `On hold · consulting ${OTHER_AGENT}` }).waitFor();
  };

  await run.step('agent signs in; the softphone is ready and no phone is on the profile', async () => {
    const me = page.waitForResponse((res) => new URL(res.url()).pathname === '/api/v1/voice/me');
    await run.signIn(page, AGENT_ID, AGENT_PASSWORD);
    await page.locator('[data-testid="softphone-status"][data-state="ready"]').waitFor();
    const meRes = await me;
    const meBody = await meRes.text();
    run.check(meRes.status() === 200, `voice/me answered ${meRes.status()}: ${meBody}`);
    const told = JSON.parse(meBody);
    run.check(told.softphone === true && !told.phone, `voice/me answer ${meBody}`);
    const f = await fake();
    run.check(f.tokens.length === 1, `Device tokens ${JSON.stringify(f.tokens)}`);
    run.check(JSON.stringify(tokenAnswers) === '[200]', `token answers ${JSON.stringify(tokenAnswers)}`);
    run.check(await bar.isHidden(), 'the phone controls show before any call');
  });

  let conversation = '';
  await run.step('a phone call comes in through the voice webhook; accepted, the softphone dials it', async () => {
    conversation = await incomingCall();
    const card = page.locator(`[data-testid="offer-card"][data-conversation-id="${conversation}"]`);
    await card.getByTestId('offer-accept').click();
    await page.locator(`[data-testid="conversation-item"][data-conversation-id="${conversation}"]`).waitFor();
    await page.locator(`[data-testid="softphone-panel"][data-state="connecting"][data-conversation-id="${conversation}"]`).waitFor();
    const f = await fake();
    run.check(JSON.stringify(f.connects) === JSON.stringify([{ params: { conversation } }]), `connect() calls ${JSON.stringify(f.connects)}`);
    run.check(asked.bridge.length === 0, 'the agent’s own phone was asked for');
    // Connecting: no controls yet.
    run.check(await bar.isHidden(), 'the phone controls show while the call connects');
  });

  await run.step('the softphone’s call reaches the TwiML App: bridged to the caller', async () => {
    const { status, body } = await twilioPost('/webhooks/twilio/voice/client', {
      AccountSid: TWILIO_ACCOUNT,
      ApplicationSid: TWILIO_APP,
      CallSid: AGENT_LEG_SID,
      From: `client:${AGENT_ID}`,
      To: '',
      conversation,
      CallStatus: 'ringing',
      Direction: 'inbound',
    });
    run.check(status === 200, `client webhook answered ${status}: ${body}`);
    run.check(body.includes('<Dial') && body.includes(`<Queue>${conversation}</Queue>`), `the softphone is not bridged to the caller: ${body}`);
  });

  await run.step('the call connects: the phone controls show', async () => {
    await callEmits('accept');
    await page.locator('[data-testid="softphone-panel"][data-state="connected"]').waitFor();
    await page.locator(`[data-testid="phone-controls"][data-conversation-id="${conversation}"][data-via="softphone"]`).waitFor();
    await idle();
    await askedExactly({ hold: 0, consult: 0, complete: 0, cancel: 0 });
  });

  await run.step('Hold puts the caller on hold: Resume and "On hold" show', async () => {
    const done = await answered(holdBtn, '/api/v1/voice/hold', { conversation_id: conversation, hold: true });
    run.check(done.conversation_id === conversation && done.hold === true, `hold answer ${JSON.stringify(done)}`);
    await resumeBtn.filter({ hasText: 'Resume' }).waitFor();
    await holdState.filter({ hasText: 'On hold' }).waitFor();
    run.check(await holdBtn.isHidden(), 'Hold still shows');
    run.check(await resumeBtn.isEnabled(), 'Resume is disabled');
    await askedExactly({ hold: 1, consult: 0 });
    // In Japanese, then back (saved as screenshots when asked).
    if (SCREENSHOT_DIR) mkdirSync(SCREENSHOT_DIR, { recursive: true });
    if (SCREENSHOT_DIR) await page.screenshot({ path: join(SCREENSHOT_DIR, 'phone-call-hold-en.png') });
    await page.getByTestId('lang-toggle').click();
    await resumeBtn.filter({ hasText: '保留解除' }).waitFor();
    await holdState.filter({ hasText: '保留中' }).waitFor();
    await consultBtn.filter({ hasText: '相談' }).waitFor();
    if (SCREENSHOT_DIR) await page.screenshot({ path: join(SCREENSHOT_DIR, 'phone-call-hold-ja.png') });
    await page.getByTestId('lang-toggle').click();
    await resumeBtn.filter({ hasText: 'Resume' }).waitFor();
  });

  await run.step('Resume takes the caller off hold: Hold shows again', async () => {
    const done = await answered(resumeBtn, '/api/v1/voice/hold', { conversation_id: conversation, hold: false });
    run.check(done.conversation_id === conversation && done.hold === false, `resume answer ${JSON.stringify(done)}`);
    await idle();
    await askedExactly({ hold: 2, consult: 0 });
  });

  await run.step('Consult another agent: Complete and Cancel show, Hold is disabled', async () => {
    await consult(conversation);
    await askedExactly({ hold: 2, consult: 1, complete: 0, cancel: 0 });
  });

  await run.step('Cancel consult: back to Hold and Consult', async () => {
    const done = await answered(cancelBtn, '/api/v1/voice/consult/cancel', { conversation_id: conversation });
    run.check(done.conversation_id === conversation, `cancel answer ${JSON.stringify(done)}`);
    await idle();
    await askedExactly({ hold: 2, consult: 1, complete: 0, cancel: 1 });
  });

  await run.step('consult again and Complete transfer: the controls go, so does the conversation', async () => {
    await consult(conversation);
    // The platform moved the agent's leg into the conference: its status callback names
    // the conference and the consulted agent is rung (the hand-over needs their leg).
    const joined = await twilioPost(`/webhooks/twilio/voice/room?conversation=${conversation}`, {
      AccountSid: TWILIO_ACCOUNT,
      ConferenceSid: CONFERENCE_SID,
      FriendlyName: `sb-${conversation}`,
      StatusCallbackEvent: 'participant-join',
      CallSid: AGENT_LEG_SID,
    });
    run.check(joined.status === 204, `the conference callback answered ${joined.status}: ${joined.body}`);
    const done = await answered(completeBtn, '/api/v1/voice/consult/complete', { conversation_id: conversation });
    run.check(done.conversation_id === conversation && done.agent_id === OTHER_AGENT, `complete answer ${JSON.stringify(done)}`);
    await bar.waitFor({ state: 'hidden' });
    await askedExactly({ hold: 2, consult: 2, complete: 1, cancel: 1 });
    // Handed over: the conversation leaves the agent as after a transfer, and its
    // softphone call ends with it.
    await page.locator(`[data-testid="conversation-item"][data-conversation-id="${conversation}"]`).waitFor({ state: 'detached' });
    await page.locator('[data-testid="softphone-panel"][data-state="ended"]').waitFor();
    run.check(await bar.isHidden(), 'the phone controls came back');
    await noWarnings();
  });

  await run.step('a colleague’s consult rings the softphone and is accepted', async () => {
    await page.evaluate(() => {
      window.__fakeTwilio.ring('client:someone');
    });
    await incomingBox.filter({ hasText: 'someone' }).waitFor();
    const text = (await incomingBox.textContent()) || '';
    run.check(text.includes('consult from someone'), `incoming call reads "${text}"`);
    await page.getByTestId('softphone-incoming-accept').click();
    await page.locator('[data-testid="softphone-panel"][data-state="connecting"][data-direction="incoming"]').waitFor();
    await incomingBox.waitFor({ state: 'hidden' });
    let f = await fake();
    run.check(f.incoming.length === 1 && f.incoming[0].accepts === 1, `accept() calls ${JSON.stringify(f.incoming)}`);
    run.check(f.incoming[0].rejects === 0, 'the consult was rejected');
    await callEmits('accept', 0);
    await page.locator('[data-testid="softphone-panel"][data-state="connected"]').waitFor();
    await panel.getByTestId('softphone-title').filter({ hasText: 'someone' }).waitFor();
    await panel.getByTestId('softphone-timer').filter({ hasText: /^00:0[1-9]$/ }).waitFor();
    // A call with no conversation of this agent's: no controls.
    run.check(await bar.isHidden(), 'the phone controls show for a consult call');
    f = await fake();
    run.check(f.incoming[0].accepts === 1, `accept() called ${f.incoming[0].accepts} times`);
    run.check(f.connects.length === 1, `connect() calls ${JSON.stringify(f.connects)}`);
  });

  await run.step('a second call while one is live is rejected at once', async () => {
    await page.evaluate(() => {
      window.__fakeTwilio.ring('client:another');
    });
    await page.waitForFunction(() => window.__fakeTwilio.incoming.length === 2 && window.__fakeTwilio.incoming[1].rejects === 1);
    await page.getByTestId('softphone-incoming-missed').filter({ hasText: 'another' }).first().waitFor();
    run.check(await incomingBox.isHidden(), 'the second call rings');
    const f = await fake();
    run.check(f.incoming[1].accepts === 0, 'the second call was accepted');
    run.check(f.incoming[0].disconnects === 0, 'the live call was disconnected');
    await page.locator('[data-testid="softphone-panel"][data-state="connected"]').waitFor();
  });

  await run.step('Hang up ends the consult call; no warning showed', async () => {
    await panel.getByTestId('softphone-hangup').click();
    await page.locator('[data-testid="softphone-panel"][data-state="ended"]').waitFor();
    const f = await fake();
    run.check(f.incoming[0].disconnects === 1, `disconnect() called ${f.incoming[0].disconnects} times`);
    await noWarnings();
  });
});

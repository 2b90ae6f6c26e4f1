// tests/softphone.mjs — owns the browser test of the agent desktop's phone softphone
// (agent/softphone.js) against a running engine with `[channels.voice.softphone]` set.
// The Twilio Voice JS SDK is replaced at its documented interface: an init script defines
// `window.Twilio = { Device: FakeDevice }` before any page script, as a non-writable,
// non-configurable property, so the vendored SDK (agent/vendor/twilio-voice.min.js,
// which still loads and runs) keeps it: its UMD wrapper does
// `root.Twilio = root.Twilio || {}` and `Twilio.Device = Twilio.Device || Voice.Device`
// in sloppy mode, which leaves the fake in place without throwing. The fake records the
// constructor's tokens and options, `register()`, `updateToken()` and `connect()`, and
// hands out fake calls (`on`/`emit`, `mute`, `isMuted`, `disconnect`) the test drives
// through `window.__fakeTwilio`. No media and no Twilio account are involved.
//
// Steps: the agent signs in; the chip reaches `ready` after one token (a real one from
// `POST /api/v1/voice/token`) and one `register()`; a phone call arrives (the admin posts
// a `voice` message to `/api/v1/inbound`, which opens a voice conversation in the default
// queue just as a call does); the agent accepts the offer and the desktop dials
// `connect({ params: { conversation } })`; the fake call is answered: the panel connects
// and the timer runs; Mute toggles; `tokenWillExpire` fetches a second token for
// `updateToken`; the chip and panel speak Japanese; Hang up disconnects the call and the
// panel ends. While the agent still holds that conversation, its recording arrives:
// the test posts Twilio's recording status callback
// (`POST /webhooks/twilio/voice/recording?conversation=<id>`, `RecordingStatus`
// `completed`, `RecordingDuration` 62), signed as Twilio signs it
// (`X-Twilio-Signature`: base64 HMAC-SHA1 over TWILIO_AUTH_TOKEN of TWILIO_PUBLIC_URL +
// path and query + every param name and value, sorted by name), and the engine answers
// 204; the timeline shows the `call_recorded` line "Call recorded (1:02)" with Play
// recording, and nothing has fetched the recording (every play is audited); Play fetches
// `GET /api/v1/conversations/{id}/recordings/{recording}` with the staff token as Bearer
// (not in the URL) into a `blob:` URL, the `<audio>` player takes the button's place,
// and the audit log (admin token) holds one `recording_played` by the agent; in Japanese
// the line is drawn again ("通話を録音しました（1:02）") with its player, without a
// second fetch. Then the conversation is resolved, a second call is accepted, and
// resolving it while it is live hangs it up. Last, click-to-call: an SMS from the same
// number opens a conversation; once the agent accepts it, the customer panel offers
// `customer-dial` for that number; clicking it dials
// `connect({ params: { conversation, to } })` and shows the panel ("Calling …"), the
// button disabled while the call is live; the fake call is answered and hung up. Then
// that customer asks for a callback (`POST /api/v1/callbacks`): accepting it dials
// nothing by itself (no caller waits), and the callback card's `callback-dial` dials
// `connect({ params: { conversation, to } })` to the callback's number.
//
//   SWITCHBOARD_URL=http://127.0.0.1:43210 AGENT_ID=amy AGENT_PASSWORD=... \
//     ADMIN_TOKEN=... CALLER=+819012345678 TWILIO_ACCOUNT=AC... \
//     TWILIO_AUTH_TOKEN=... TWILIO_PUBLIC_URL=https://switchboard.example \
//     node clients/tests/softphone.mjs
//
// TWILIO_ACCOUNT is the engine's `channels.voice.account_sid`, TWILIO_AUTH_TOKEN its
// `channels.voice.auth_token` (signs the recording callback) and TWILIO_PUBLIC_URL its
// `channels.public_url` (what the signature covers); the engine's `channels.voice.api_base`
// must answer `GET .../Recordings/<id>.mp3` (the Rust side points it at a local
// recorder). The agent must be in the queue voice conversations go to by default, and
// that queue must have `record_calls`. Prints "softphone browser test passed" and exits
// 0, or exits 1 with the failing step.

import { createHmac } from 'node:crypto';
import { harness, BASE } from './harness.mjs';
import { installFakeTwilio } from './fake_twilio.mjs';

const AGENT_ID = process.env.AGENT_ID || '';
const AGENT_PASSWORD = process.env.AGENT_PASSWORD || '';
const ADMIN_TOKEN = process.env.ADMIN_TOKEN || '';
const CALLER = process.env.CALLER || '';
const TWILIO_ACCOUNT = process.env.TWILIO_ACCOUNT || '';
const TWILIO_AUTH_TOKEN = process.env.TWILIO_AUTH_TOKEN || '';
const TWILIO_PUBLIC_URL = process.env.TWILIO_PUBLIC_URL || '';

if (!BASE || !AGENT_ID || !AGENT_PASSWORD || !ADMIN_TOKEN || !CALLER || !TWILIO_ACCOUNT || !TWILIO_AUTH_TOKEN || !TWILIO_PUBLIC_URL) {
  console.error(
    'usage: SWITCHBOARD_URL=... AGENT_ID=... AGENT_PASSWORD=... ADMIN_TOKEN=... CALLER=+81... ' +
      'TWILIO_ACCOUNT=AC... TWILIO_AUTH_TOKEN=... TWILIO_PUBLIC_URL=https://... node clients/tests/softphone.mjs',
  );
  process.exit(2);
}

const run = harness('softphone');
const JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/;
const RECORDING = 'RE0000000000000000000000000000beef';

/**
 * A message from CALLER on `channel` over REST (`/api/v1/inbound`, the admin's token).
 * Returns its conversation and customer ids.
 * @param {string} channel
 * @param {string} text
 * @returns {Promise<{ conversation_id: string, customer_id: string }>}
 */
async function inbound(channel, text) {
  const r = await fetch(`${BASE}/api/v1/inbound`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ channel, address: CALLER, text }),
  });
  const answer = await r.text();
  run.check(r.status === 202, `inbound ${channel} answered ${r.status}: ${answer}`);
  return JSON.parse(answer);
}

/**
 * `X-Twilio-Signature` as Twilio computes it: base64 HMAC-SHA1, keyed with the auth
 * token, of the public URL the engine is reached at (its path and query included)
 * followed by every POST param's name and value, sorted by name.
 * @param {string} pathAndQuery
 * @param {Record<string, string>} params
 */
function twilioSignature(pathAndQuery, params) {
  const data = TWILIO_PUBLIC_URL + pathAndQuery + Object.keys(params).sort().map((k) => k + params[k]).join('');
  return createHmac('sha1', TWILIO_AUTH_TOKEN).update(data, 'utf8').digest('base64');
}

/**
 * Twilio's recording status callback for a recording of `conversation`, signed.
 * Returns the engine's answer status and body.
 * @param {string} conversation
 * @param {Record<string, string>} params
 */
async function recordingCallback(conversation, params) {
  const path = `/webhooks/twilio/voice/recording?conversation=${encodeURIComponent(conversation)}`;
  const r = await fetch(`${BASE}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(path, params) },
    body: new URLSearchParams(params).toString(),
  });
  return { status: r.status, body: await r.text() };
}

/**
 * The audit log's `recording_played` entries (`GET /api/v1/audit`, the admin's token).
 * @returns {Promise<{ actor?: string, action?: string, detail?: { recording_id?: string, conversation_id?: string } }[]>}
 */
async function recordingPlays() {
  const r = await fetch(`${BASE}/api/v1/audit`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  const answer = await r.text();
  run.check(r.status === 200, `audit answered ${r.status}: ${answer}`);
  const entries = JSON.parse(answer).entries || [];
  return entries.filter((/** @type {{ action?: string }} */ e) => e.action === 'recording_played');
}

/**
 * A phone call arriving: a `voice` message over REST opens a voice conversation in the
 * default queue, as the IVR does for a real call. Returns its conversation id.
 */
const incomingCall = async () => (await inbound('voice', '(call)')).conversation_id;

/**
 * A queued callback to CALLER for `customer` (`POST /api/v1/callbacks`, the admin's
 * token). Returns its conversation id.
 * @param {string} customer
 */
async function callbackRequest(customer) {
  const r = await fetch(`${BASE}/api/v1/callbacks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ customer_id: customer, phone: CALLER, note: 'after 3 pm' }),
  });
  const answer = await r.text();
  run.check(r.status === 201, `callback answered ${r.status}: ${answer}`);
  return /** @type {{ conversation_id: string }} */ (JSON.parse(answer)).conversation_id;
}

await run.main(async () => {
  const page = await run.page();
  await page.addInitScript(installFakeTwilio);
  /** @type {number[]} */
  const tokenAnswers = [];
  page.on('response', (res) => {
    if (res.request().method() === 'POST' && new URL(res.url()).pathname === '/api/v1/voice/token') tokenAnswers.push(res.status());
  });
  /** @type {number[]} */
  const sdkAnswers = [];
  page.on('response', (res) => {
    if (new URL(res.url()).pathname === '/agent/vendor/twilio-voice.min.js') sdkAnswers.push(res.status());
  });
  /** Every request of the page for a call recording (only a click on Play may make one). */
  /** @type {import('playwright-core').Request[]} */
  const recordingRequests = [];
  page.on('request', (req) => {
    if (req.url().includes('/recordings/')) recordingRequests.push(req);
  });

  const panel = page.getByTestId('softphone-panel');
  const chip = page.getByTestId('softphone-status');
  /** The fake's record, as JSON. */
  const fake = () =>
    page.evaluate(() => {
      const f = window.__fakeTwilio;
      return {
        tokens: f.tokens,
        options: f.options,
        registers: f.registers,
        updates: f.updates,
        connects: f.connects,
        calls: f.calls.map((c) => ({ params: c.params, muteCalls: c.muteCalls, disconnects: c.disconnects })),
      };
    });
  /**
   * Emits `event` on the fake's latest call, as the SDK would.
   * @param {string} event
   */
  const callEmits = (event) =>
    page.evaluate((ev) => {
      const calls = window.__fakeTwilio.calls;
      const call = calls[calls.length - 1];
      call.emit(ev, call);
    }, event);
  /**
   * Accepts the offer of `conversation`; it opens in the pane.
   * @param {string} conversation
   */
  const accept = async (conversation) => {
    const card = page.locator(`[data-testid="offer-card"][data-conversation-id="${conversation}"]`);
    await card.getByTestId('offer-accept').click();
    await page.locator(`[data-testid="conversation-item"][data-conversation-id="${conversation}"]`).waitFor();
  };
  const resolve = async () => {
    await page.getByTestId('action-resolve').click();
    await page.getByTestId('resolve-dialog').waitFor();
    await page.getByTestId('resolve-confirm').click();
  };

  await run.step('agent signs in; the softphone registers with one token', async () => {
    await run.signIn(page, AGENT_ID, AGENT_PASSWORD);
    await page.locator('[data-testid="softphone-status"][data-state="ready"]').waitFor();
    await chip.filter({ hasText: 'Phone ready' }).waitFor();
    const f = await fake();
    run.check(f.tokens.length === 1 && JWT.test(f.tokens[0]), `Device tokens ${JSON.stringify(f.tokens)}`);
    run.check(f.registers === 1, `register() called ${f.registers} times`);
    const opts = JSON.stringify(f.options[0]);
    run.check(opts === JSON.stringify({ codecPreferences: ['opus', 'pcmu'], closeProtection: true }), `Device options ${opts}`);
    run.check(JSON.stringify(tokenAnswers) === '[200]', `token answers ${JSON.stringify(tokenAnswers)}`);
    // The vendored SDK loaded and ran (it added Call beside the fake Device), and the
    // fake survived it.
    run.check(JSON.stringify(sdkAnswers) === '[200]', `vendored SDK answers ${JSON.stringify(sdkAnswers)}`);
    const kept = await page.evaluate(() => window.Twilio.Device === window.__fakeTwilio.Device && typeof window.Twilio.Call === 'function');
    run.check(kept, 'the vendored SDK replaced the fake Device (or did not run)');
    run.check(await panel.isHidden(), 'a call panel shows before any call');
  });

  let first = '';
  await run.step('a phone call is accepted: the softphone dials its conversation', async () => {
    first = await incomingCall();
    await accept(first);
    await page.locator('[data-testid="softphone-panel"][data-state="connecting"]').waitFor();
    await panel.getByTestId('softphone-state-text').filter({ hasText: 'Connecting…' }).waitFor();
    const f = await fake();
    run.check(JSON.stringify(f.connects) === JSON.stringify([{ params: { conversation: first } }]), `connect() calls ${JSON.stringify(f.connects)}`);
    run.check((await panel.getAttribute('data-conversation-id')) === first, 'the panel names the conversation');
    await panel.getByTestId('softphone-title').filter({ hasText: 'Phone call' }).waitFor();
  });

  await run.step('the call is answered: connected, the timer runs', async () => {
    await callEmits('accept');
    await page.locator('[data-testid="softphone-panel"][data-state="connected"]').waitFor();
    await panel.getByTestId('softphone-state-text').filter({ hasText: 'Connected' }).waitFor();
    const timer = panel.getByTestId('softphone-timer');
    run.check(/^00:0\d$/.test((await timer.textContent()) || ''), `timer ${await timer.textContent()}`);
    await timer.filter({ hasText: /^00:0[1-9]$/ }).waitFor();
  });

  await run.step('Mute toggles the call’s mute', async () => {
    const mute = panel.getByTestId('softphone-mute');
    run.check((await mute.getAttribute('aria-pressed')) === 'false', 'Mute starts unpressed');
    await mute.click();
    await page.locator('[data-testid="softphone-mute"][aria-pressed="true"]').waitFor();
    await mute.click();
    await page.locator('[data-testid="softphone-mute"][aria-pressed="false"]').waitFor();
    const f = await fake();
    run.check(JSON.stringify(f.calls[0].muteCalls) === '[true,false]', `mute() calls ${JSON.stringify(f.calls[0].muteCalls)}`);
  });

  await run.step('tokenWillExpire: a second token goes to updateToken', async () => {
    await page.evaluate(() => {
      const d = window.__fakeTwilio.devices[0];
      d.emit('tokenWillExpire', d);
    });
    await page.waitForFunction(() => window.__fakeTwilio.updates.length === 1);
    const f = await fake();
    run.check(JWT.test(f.updates[0]), `updateToken(${JSON.stringify(f.updates[0])})`);
    run.check(f.tokens.length === 1, 'no second Device');
    run.check(JSON.stringify(tokenAnswers) === '[200,200]', `token answers ${JSON.stringify(tokenAnswers)}`);
  });

  await run.step('in Japanese: the chip and the panel', async () => {
    await page.getByTestId('lang-toggle').click();
    await chip.filter({ hasText: '電話: 待機中' }).waitFor();
    await panel.getByTestId('softphone-title').filter({ hasText: '電話 ·' }).waitFor();
    await panel.getByTestId('softphone-state-text').filter({ hasText: '通話中' }).waitFor();
    await panel.getByTestId('softphone-hangup').filter({ hasText: '通話を終了' }).waitFor();
    await panel.getByTestId('softphone-mute').filter({ hasText: 'ミュート' }).waitFor();
    await page.getByTestId('lang-toggle').click();
    await chip.filter({ hasText: 'Phone ready' }).waitFor();
  });

  await run.step('Hang up disconnects the call; the panel ends', async () => {
    await panel.getByTestId('softphone-hangup').click();
    await page.locator('[data-testid="softphone-panel"][data-state="ended"]').waitFor();
    await panel.getByTestId('softphone-state-text').filter({ hasText: 'Call ended' }).waitFor();
    const f = await fake();
    run.check(f.calls[0].disconnects === 1, `disconnect() called ${f.calls[0].disconnects} times`);
    run.check(await panel.getByTestId('softphone-hangup').isHidden(), 'Hang up still shows');
  });

  await run.step('the call’s recording is shown, fetched only on Play, played from a blob and audited', async () => {
    // The agent still holds the first call's conversation (selected in the pane): the
    // platform reports its recording.
    const cb = await recordingCallback(first, {
      AccountSid: TWILIO_ACCOUNT,
      CallSid: 'CA00000000000000000000000000000020',
      RecordingSid: RECORDING,
      RecordingStatus: 'completed',
      RecordingDuration: '62',
      RecordingUrl: 'https://api.twilio.com/x',
    });
    run.check(cb.status === 204, `recording callback answered ${cb.status}: ${cb.body}`);
    const line = page.locator(`[data-testid="timeline-system"][data-kind="call_recorded"]`);
    await line.filter({ hasText: 'Call recorded (1:02)' }).waitFor();
    const play = line.getByTestId('recording-play');
    await play.filter({ hasText: 'Play recording' }).waitFor();
    // Drawn, not fetched: every play is audited.
    run.check(recordingRequests.length === 0, `the recording was fetched before Play: ${recordingRequests.map((r) => r.url()).join(' ')}`);
    run.check((await recordingPlays()).length === 0, 'a play was audited before Play was clicked');
    run.check((await line.getByTestId('recording-audio').count()) === 0, 'a player shows before Play');

    await play.click();
    const audio = line.locator('[data-testid="recording-audio"][src^="blob:"]');
    await audio.waitFor();
    run.check((await line.getByTestId('recording-play').count()) === 0, 'Play still shows beside the player');
    run.check((await line.getByTestId('recording-failed').count()) === 0, 'the recording was reported unavailable');
    // One request, at the engine's path, the token in its header and not in its URL.
    run.check(recordingRequests.length === 1, `recording requests ${recordingRequests.map((r) => r.url()).join(' ')}`);
    const req = recordingRequests[0];
    const url = new URL(req.url());
    run.check(url.pathname === `/api/v1/conversations/${first}/recordings/${RECORDING}` && url.search === '', `recording fetched at ${req.url()}`);
    const headers = await req.allHeaders();
    run.check(/^Bearer \S+$/.test(headers.authorization || ''), `recording fetched with authorization ${JSON.stringify(headers.authorization)}`);
    const res = await req.response();
    run.check(res !== null && res.status() === 200, `recording answered ${res && res.status()}`);
    run.check((res.headers()['content-type'] || '').startsWith('audio/mpeg'), `recording content type ${res.headers()['content-type']}`);
    // The play is audited, as this agent's.
    const plays = await recordingPlays();
    const mine = plays.filter((e) => e.actor === AGENT_ID);
    run.check(mine.length === 1 && mine[0].detail?.recording_id === RECORDING, `recording_played entries ${JSON.stringify(plays)}`);

    // Drawn again in Japanese: the same player, no second fetch (no second audit).
    await page.getByTestId('lang-toggle').click();
    await line.filter({ hasText: '通話を録音しました（1:02）' }).waitFor();
    await audio.waitFor();
    run.check((await line.getByTestId('recording-play').count()) === 0, 'Play shows again after the language change');
    run.check(recordingRequests.length === 1, `recording requests after the language change ${recordingRequests.length}`);
    await page.getByTestId('lang-toggle').click();
    await chip.filter({ hasText: 'Phone ready' }).waitFor();
    await line.filter({ hasText: 'Call recorded (1:02)' }).waitFor();
  });

  await run.step('a second call, resolved while live, is hung up', async () => {
    await resolve();
    await page.locator(`[data-testid="conversation-item"][data-conversation-id="${first}"]`).waitFor({ state: 'detached' });
    const second = await incomingCall();
    await accept(second);
    await page.locator('[data-testid="softphone-panel"][data-state="connecting"]').waitFor();
    let f = await fake();
    run.check(f.connects.length === 2 && f.connects[1].params.conversation === second, `connect() calls ${JSON.stringify(f.connects)}`);
    await callEmits('accept');
    await page.locator('[data-testid="softphone-panel"][data-state="connected"]').waitFor();
    await resolve();
    await page.locator('[data-testid="softphone-panel"][data-state="ended"]').waitFor();
    await panel.getByTestId('softphone-state-text').filter({ hasText: 'the conversation closed' }).waitFor();
    f = await fake();
    run.check(f.calls[1].disconnects === 1, `disconnect() called ${f.calls[1].disconnects} times`);
    run.check(f.calls[0].disconnects === 1, 'the first call was disconnected again');
  });

  let customer = '';
  await run.step('click-to-call: an SMS conversation’s customer is called from the customer panel', async () => {
    // The voice calls are over: no phone call is live.
    run.check((await panel.getAttribute('data-state')) === 'ended', `panel state ${await panel.getAttribute('data-state')} before dialling out`);
    const before = (await fake()).connects.length;
    const smsIn = await inbound('sms', 'please call me');
    const sms = smsIn.conversation_id;
    customer = smsIn.customer_id;
    await accept(sms);
    // Accepted here, it is selected: its customer's SMS number has a Call button.
    const dial = page.locator(`[data-testid="customer-dial"][data-address="${CALLER}"][data-channel="sms"]`);
    await dial.waitFor();
    run.check(await dial.isEnabled(), 'customer-dial is disabled with no phone call live');
    await dial.click();
    await page.locator(`[data-testid="softphone-panel"][data-state="connecting"][data-conversation-id="${sms}"]`).waitFor();
    let f = await fake();
    run.check(f.connects.length === before + 1, `connect() calls ${JSON.stringify(f.connects)}`);
    const params = JSON.stringify(f.connects[f.connects.length - 1]);
    run.check(params === JSON.stringify({ params: { conversation: sms, to: CALLER } }), `connect(${params})`);
    await panel.getByTestId('softphone-title').filter({ hasText: `Calling ${CALLER} ·` }).waitFor();
    // While it is live, the Call buttons are disabled.
    await page.locator(`[data-testid="customer-dial"][data-address="${CALLER}"][disabled]`).first().waitFor();
    await callEmits('accept');
    await page.locator('[data-testid="softphone-panel"][data-state="connected"]').waitFor();
    await panel.getByTestId('softphone-timer').filter({ hasText: /^00:0[1-9]$/ }).waitFor();
    await page.getByTestId('lang-toggle').click();
    await panel.getByTestId('softphone-title').filter({ hasText: `${CALLER} に発信 ·` }).waitFor();
    await page.locator(`[data-testid="customer-dial"][data-address="${CALLER}"]`).filter({ hasText: '発信' }).first().waitFor();
    await page.getByTestId('lang-toggle').click();
    await panel.getByTestId('softphone-title').filter({ hasText: `Calling ${CALLER} ·` }).waitFor();
    await panel.getByTestId('softphone-hangup').click();
    await page.locator('[data-testid="softphone-panel"][data-state="ended"]').waitFor();
    await panel.getByTestId('softphone-state-text').filter({ hasText: 'Call ended' }).waitFor();
    f = await fake();
    const call = f.calls[f.calls.length - 1];
    run.check(call.disconnects === 1, `disconnect() called ${call.disconnects} times`);
    run.check(JSON.stringify(call.params) === JSON.stringify({ conversation: sms, to: CALLER }), `call params ${JSON.stringify(call.params)}`);
    // Ended: the button can dial again.
    await page.locator(`[data-testid="customer-dial"][data-address="${CALLER}"]:not([disabled])`).first().waitFor();
  });

  await run.step('a queued callback is dialled from its task card', async () => {
    await resolve();
    await page.locator('[data-testid="conversation-item"]').first().waitFor({ state: 'detached' });
    const cb = await callbackRequest(customer);
    const before = (await fake()).connects.length;
    await accept(cb);
    const card = page.getByTestId('callback-task');
    await card.getByTestId('callback-number').filter({ hasText: CALLER }).waitFor();
    const dial = card.getByTestId('callback-dial');
    await dial.filter({ hasText: 'Call with softphone' }).waitFor();
    // No caller waits on a callback: accepting it dialled nothing.
    let f = await fake();
    run.check(f.connects.length === before, `accepting the callback dialled ${JSON.stringify(f.connects.slice(before))}`);
    run.check(await dial.isEnabled(), 'callback-dial is disabled with no phone call live');
    await dial.click();
    await page.locator(`[data-testid="softphone-panel"][data-state="connecting"][data-conversation-id="${cb}"]`).waitFor();
    f = await fake();
    const params = JSON.stringify(f.connects.slice(before));
    run.check(params === JSON.stringify([{ params: { conversation: cb, to: CALLER } }]), `connect() calls ${params}`);
    await page.locator('[data-testid="callback-dial"][disabled]').waitFor();
    // The outcome buttons stay usable during the call.
    run.check(await card.getByTestId('callback-reached').isEnabled(), 'the outcome buttons are disabled during the call');
    await callEmits('accept');
    await page.locator('[data-testid="softphone-panel"][data-state="connected"]').waitFor();
    await panel.getByTestId('softphone-hangup').click();
    await page.locator('[data-testid="softphone-panel"][data-state="ended"]').waitFor();
    await page.locator('[data-testid="callback-dial"]:not([disabled])').waitFor();
  });
});

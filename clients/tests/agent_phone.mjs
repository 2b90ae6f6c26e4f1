// tests/agent_phone.mjs — owns the browser test of the agent's own phone
// (agent/agentphone.js, docs/voice.md "The agent's own phone") against a running engine
// with `channels.voice.account_sid` and `channels.voice.caller_id` set and no
// `[channels.voice.softphone]` (so the softphone's token answers 503 and it shows
// nothing).
//
// Steps: the agent, whose profile has the phone AGENT_PHONE, signs in and is available
// (the softphone's token answered 503: no softphone; the desktop asked
// `GET /api/v1/voice/me` once and heard `{softphone: false, phone: AGENT_PHONE,
// calls_out: true}`); a phone call comes in through
// Twilio's voice webhook (`POST /webhooks/twilio/voice`, `CallSid`, `From` = CALLER, `To`,
// `CallStatus` `ringing`), signed as Twilio signs it (`X-Twilio-Signature`: base64
// HMAC-SHA1 over TWILIO_AUTH_TOKEN of TWILIO_PUBLIC_URL + path + every param name and
// value, sorted by name), and the engine answers 200 with `<Enqueue>` naming the
// conversation (a real CallSid on the conversation, which a `voice` message posted to
// `/api/v1/inbound` would not have); the page gets the offer and the agent accepts it;
// the desktop asks `POST /api/v1/voice/bridge` once, with the conversation in its JSON
// body and the staff token as Bearer, the engine answers 202, and the page shows the
// notice `agent-phone-ringing` naming AGENT_PHONE and the caller; the softphone drew no
// call panel and no failure was shown. Then a call out through the agent's phone: the
// customer panel of the accepted call shows a Call button (`customer-dial`) for CALLER
// although there is no softphone; clicking it asks `POST /api/v1/voice/call-out` exactly
// once, with `{conversation_id, to: CALLER}` and the staff token as Bearer, the engine
// answers 202 naming AGENT_PHONE, and the page shows the notice `agent-phone-calling`
// naming AGENT_PHONE and CALLER, no failure and no softphone panel. That the engine
// moved the call and placed the call out at the platform is checked by the Rust side
// (its recorder) once this script has passed.
//
//   SWITCHBOARD_URL=http://127.0.0.1:43210 AGENT_ID=pat AGENT_PASSWORD=... \
//     ADMIN_TOKEN=... CALLER=+81355507777 AGENT_PHONE=+819055550001 \
//     TWILIO_AUTH_TOKEN=... TWILIO_PUBLIC_URL=https://switchboard.example \
//     node clients/tests/agent_phone.mjs
//
// TWILIO_AUTH_TOKEN is the engine's `channels.voice.auth_token` (signs the webhook) and
// TWILIO_PUBLIC_URL its `channels.public_url` (what the signature covers). The agent must
// be in the queue voice calls go to by default. ADMIN_TOKEN is passed by the Rust side
// like to every browser test; this one does not need it. Prints "agent phone browser
// test passed" and exits 0, or exits 1 with the failing step.

import { createHmac } from 'node:crypto';
import { harness, BASE } from './harness.mjs';

const AGENT_ID = process.env.AGENT_ID || '';
const AGENT_PASSWORD = process.env.AGENT_PASSWORD || '';
const CALLER = process.env.CALLER || '';
const AGENT_PHONE = process.env.AGENT_PHONE || '';
const TWILIO_AUTH_TOKEN = process.env.TWILIO_AUTH_TOKEN || '';
const TWILIO_PUBLIC_URL = (process.env.TWILIO_PUBLIC_URL || '').replace(/\/+$/, '');

if (!BASE || !AGENT_ID || !AGENT_PASSWORD || !CALLER || !AGENT_PHONE || !TWILIO_AUTH_TOKEN || !TWILIO_PUBLIC_URL) {
  console.error(
    'usage: SWITCHBOARD_URL=... AGENT_ID=... AGENT_PASSWORD=... ADMIN_TOKEN=... CALLER=+81... AGENT_PHONE=+81... ' +
      'TWILIO_AUTH_TOKEN=... TWILIO_PUBLIC_URL=https://... node clients/tests/agent_phone.mjs',
  );
  process.exit(2);
}

const run = harness('agent phone');
const CALL_SID = 'CA00000000000000000000000000000077';
const OUR_NUMBER = '+81501234567';

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
 * A phone call arriving at our number from CALLER, as Twilio's voice webhook says it.
 * Returns the conversation the caller waits in (the `<Enqueue>`'s text).
 */
async function incomingCall() {
  const path = '/webhooks/twilio/voice';
  /** @type {Record<string, string>} */
  const params = { CallSid: CALL_SID, From: CALLER, To: OUR_NUMBER, CallStatus: 'ringing' };
  const r = await fetch(`${BASE}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(path, params) },
    body: new URLSearchParams(params).toString(),
  });
  const xml = await r.text();
  run.check(r.status === 200, `voice webhook answered ${r.status}: ${xml}`);
  const enqueue = /<Enqueue\b[^>]*>\s*([^<\s]+)\s*<\/Enqueue>/.exec(xml);
  run.check(!!enqueue, `the caller does not wait in <Enqueue>: ${xml}`);
  return enqueue[1];
}

await run.main(async () => {
  const page = await run.page();
  /** The softphone's token answers (503: not configured). */
  /** @type {number[]} */
  const tokenAnswers = [];
  page.on('response', (res) => {
    if (res.request().method() === 'POST' && new URL(res.url()).pathname === '/api/v1/voice/token') tokenAnswers.push(res.status());
  });
  /** Every request of the page to the bridge. */
  /** @type {import('playwright-core').Request[]} */
  const bridgeRequests = [];
  page.on('request', (req) => {
    if (new URL(req.url()).pathname === '/api/v1/voice/bridge') bridgeRequests.push(req);
  });
  /** Every request of the page to `/voice/me` and to the call out. */
  /** @type {import('playwright-core').Request[]} */
  const meRequests = [];
  /** @type {import('playwright-core').Request[]} */
  const callOutRequests = [];
  page.on('request', (req) => {
    const path = new URL(req.url()).pathname;
    if (path === '/api/v1/voice/me') meRequests.push(req);
    if (path === '/api/v1/voice/call-out') callOutRequests.push(req);
  });

  await run.step('agent signs in and is available; no softphone', async () => {
    const token = page.waitForResponse((res) => res.request().method() === 'POST' && new URL(res.url()).pathname === '/api/v1/voice/token');
    const me = page.waitForResponse((res) => new URL(res.url()).pathname === '/api/v1/voice/me');
    await run.signIn(page, AGENT_ID, AGENT_PASSWORD);
    const answered = (await token).status();
    run.check(answered === 503, `softphone token answered ${answered}`);
    const meRes = await me;
    const meBody = await meRes.text();
    run.check(meRes.status() === 200 && meRes.request().method() === 'GET', `voice/me: ${meRes.request().method()} answered ${meRes.status()}: ${meBody}`);
    const told = JSON.parse(meBody);
    run.check(told.softphone === false && told.phone === AGENT_PHONE && told.calls_out === true, `voice/me answer ${meBody}`);
    run.check((await page.getByTestId('softphone-status').getAttribute('data-state')) === 'off', 'the softphone chip is not off');
    run.check(await page.getByTestId('softphone-status').isHidden(), 'the softphone chip shows');
  });

  let conversation = '';
  await run.step('a phone call comes in through the voice webhook and is offered', async () => {
    conversation = await incomingCall();
    await page.locator(`[data-testid="offer-card"][data-conversation-id="${conversation}"]`).waitFor();
    run.check(bridgeRequests.length === 0, 'the bridge was asked before the offer was accepted');
  });

  await run.step('the agent accepts: the desktop asks the engine to ring their phone', async () => {
    const answer = page.waitForResponse((res) => new URL(res.url()).pathname === '/api/v1/voice/bridge');
    const card = page.locator(`[data-testid="offer-card"][data-conversation-id="${conversation}"]`);
    await card.getByTestId('offer-accept').click();
    await page.locator(`[data-testid="conversation-item"][data-conversation-id="${conversation}"]`).waitFor();
    const res = await answer;
    const body = await res.text();
    run.check(res.status() === 202, `bridge answered ${res.status()}: ${body}`);
    const bridged = JSON.parse(body);
    run.check(bridged.conversation_id === conversation && bridged.phone === AGENT_PHONE, `bridge answer ${body}`);
    const req = res.request();
    run.check(req.method() === 'POST' && new URL(req.url()).search === '', `bridge asked with ${req.method()} ${req.url()}`);
    run.check(JSON.stringify(req.postDataJSON()) === JSON.stringify({ conversation_id: conversation }), `bridge body ${req.postData()}`);
    const headers = await req.allHeaders();
    run.check(/^Bearer \S+$/.test(headers.authorization || ''), `bridge asked with authorization ${JSON.stringify(headers.authorization)}`);
  });

  await run.step('the page says the agent’s phone rings', async () => {
    const ringing = page.getByTestId('agent-phone-ringing');
    await ringing.filter({ hasText: AGENT_PHONE }).waitFor();
    const text = (await ringing.first().textContent()) || '';
    run.check(text.includes('is ringing') && text.includes(CALLER), `ringing notice "${text}"`);
  });

  await run.step('the softphone did not dial and nothing failed', async () => {
    // The answer came before the notice; give a late dial the time to show.
    await page.waitForTimeout(1000);
    run.check(await page.getByTestId('softphone-area').isHidden(), 'the softphone area shows');
    run.check(await page.getByTestId('softphone-panel').isHidden(), 'a softphone call panel shows');
    const panelState = await page.getByTestId('softphone-panel').getAttribute('data-state');
    run.check(panelState === 'ended', `softphone panel state ${panelState}`);
    run.check((await page.getByTestId('softphone-busy').count()) === 0, 'the softphone said it is busy');
    run.check((await page.getByTestId('agent-phone-failed').count()) === 0, 'a failure notice shows');
    run.check(bridgeRequests.length === 1, `bridge asked ${bridgeRequests.length} times`);
    run.check(JSON.stringify(tokenAnswers) === '[503]', `softphone token answers ${JSON.stringify(tokenAnswers)}`);
    // The agent still holds the call's conversation.
    await page.locator(`[data-testid="conversation-item"][data-conversation-id="${conversation}"]`).waitFor();
  });

  await run.step('the customer panel calls the caller through the agent’s phone', async () => {
    // Without a softphone, the Call button is there because the agent's phone can call out.
    const dial = page.locator(`[data-testid="customer-dial"][data-address="${CALLER}"]`);
    await dial.first().waitFor();
    run.check((await dial.count()) === 1, `${await dial.count()} Call buttons for ${CALLER}`);
    run.check(await dial.isEnabled(), 'customer-dial is disabled');
    const answer = page.waitForResponse((res) => new URL(res.url()).pathname === '/api/v1/voice/call-out');
    await dial.click();
    const res = await answer;
    const body = await res.text();
    run.check(res.status() === 202, `call-out answered ${res.status()}: ${body}`);
    const placed = JSON.parse(body);
    run.check(placed.conversation_id === conversation && placed.phone === AGENT_PHONE && placed.to === CALLER, `call-out answer ${body}`);
    const req = res.request();
    run.check(req.method() === 'POST' && new URL(req.url()).search === '', `call-out asked with ${req.method()} ${req.url()}`);
    run.check(JSON.stringify(req.postDataJSON()) === JSON.stringify({ conversation_id: conversation, to: CALLER }), `call-out body ${req.postData()}`);
    const headers = await req.allHeaders();
    run.check(/^Bearer \S+$/.test(headers.authorization || ''), `call-out asked with authorization ${JSON.stringify(headers.authorization)}`);
    const calling = page.getByTestId('agent-phone-calling');
    await calling.filter({ hasText: AGENT_PHONE }).waitFor();
    const text = (await calling.first().textContent()) || '';
    run.check(text.includes('is ringing') && text.includes(CALLER), `calling notice "${text}"`);
    // Once the answer is in, the button can be used again; give a second request the time to show.
    await page.locator(`[data-testid="customer-dial"][data-address="${CALLER}"]:not([disabled])`).first().waitFor();
    await page.waitForTimeout(500);
    run.check(callOutRequests.length === 1, `call-out asked ${callOutRequests.length} times`);
    run.check((await page.getByTestId('agent-phone-failed').count()) === 0, 'a failure notice shows');
    run.check(await page.getByTestId('softphone-panel').isHidden(), 'a softphone call panel shows');
    run.check(bridgeRequests.length === 1, `bridge asked ${bridgeRequests.length} times`);
    run.check(meRequests.length === 1, `voice/me asked ${meRequests.length} times`);
  });
});

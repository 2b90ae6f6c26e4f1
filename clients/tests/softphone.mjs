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
// panel ends. Then the conversation is resolved, a second call is accepted, and
// resolving it while it is live hangs it up.
//
//   SWITCHBOARD_URL=http://127.0.0.1:43210 AGENT_ID=amy AGENT_PASSWORD=... \
//     ADMIN_TOKEN=... CALLER=+819012345678 node clients/tests/softphone.mjs
//
// The agent must be in the queue voice conversations go to by default. Prints
// "softphone browser test passed" and exits 0, or exits 1 with the failing step.

import { harness, BASE } from './harness.mjs';

const AGENT_ID = process.env.AGENT_ID || '';
const AGENT_PASSWORD = process.env.AGENT_PASSWORD || '';
const ADMIN_TOKEN = process.env.ADMIN_TOKEN || '';
const CALLER = process.env.CALLER || '';

if (!BASE || !AGENT_ID || !AGENT_PASSWORD || !ADMIN_TOKEN || !CALLER) {
  console.error('usage: SWITCHBOARD_URL=... AGENT_ID=... AGENT_PASSWORD=... ADMIN_TOKEN=... CALLER=+81... node clients/tests/softphone.mjs');
  process.exit(2);
}

const run = harness('softphone');
const JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/;

/** Runs in the page before its scripts: the fake SDK and its handle. */
function installFakeTwilio() {
  /** @type {Window['__fakeTwilio']} */
  const fake = {
    Device: null,
    tokens: [],
    options: [],
    registers: 0,
    updates: [],
    connects: [],
    destroyed: 0,
    devices: [],
    calls: [],
  };

  /** on/emit, as the SDK's EventEmitter-based classes have. */
  class Emitter {
    constructor() {
      /** @type {Record<string, ((...args: unknown[]) => void)[]>} */
      this.listeners = {};
    }
    /**
     * @param {string} event
     * @param {(...args: unknown[]) => void} fn
     */
    on(event, fn) {
      (this.listeners[event] = this.listeners[event] || []).push(fn);
      return this;
    }
    /**
     * @param {string} event
     * @param {...unknown} args
     */
    emit(event, ...args) {
      for (const fn of this.listeners[event] || []) fn(...args);
    }
  }

  class FakeCall extends Emitter {
    /** @param {Record<string, string>} params */
    constructor(params) {
      super();
      this.params = params;
      this.muted = false;
      /** @type {boolean[]} */
      this.muteCalls = [];
      this.disconnects = 0;
    }
    mute(shouldMute = true) {
      this.muteCalls.push(shouldMute);
      const changed = this.muted !== shouldMute;
      this.muted = shouldMute;
      if (changed) this.emit('mute', shouldMute, this);
    }
    isMuted() {
      return this.muted;
    }
    disconnect() {
      this.disconnects += 1;
      this.emit('disconnect', this);
    }
  }

  class FakeDevice extends Emitter {
    /**
     * @param {string} token
     * @param {unknown} options
     */
    constructor(token, options) {
      super();
      fake.tokens.push(token);
      fake.options.push(options);
      fake.devices.push(this);
    }
    register() {
      fake.registers += 1;
      this.emit('registering');
      return new Promise((resolve) =>
        setTimeout(() => {
          this.emit('registered');
          resolve(undefined);
        }, 50),
      );
    }
    /** @param {string} token */
    updateToken(token) {
      fake.updates.push(token);
    }
    /** @param {{ params?: Record<string, string> }} [options] */
    connect(options = {}) {
      fake.connects.push(JSON.parse(JSON.stringify(options)));
      const call = new FakeCall(options.params || {});
      fake.calls.push(call);
      return Promise.resolve(call);
    }
    destroy() {
      fake.destroyed += 1;
    }
  }

  fake.Device = FakeDevice;
  const twilio = {};
  Object.defineProperty(twilio, 'Device', { value: FakeDevice, writable: false, configurable: false, enumerable: true });
  Object.defineProperty(window, 'Twilio', { value: twilio, writable: false, configurable: false, enumerable: true });
  window.__fakeTwilio = fake;
}

/**
 * A phone call arriving: a `voice` message over REST opens a voice conversation in the
 * default queue, as the IVR does for a real call. Returns its conversation id.
 */
async function incomingCall() {
  const r = await fetch(`${BASE}/api/v1/inbound`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ channel: 'voice', address: CALLER, text: '(call)' }),
  });
  const text = await r.text();
  run.check(r.status === 202, `inbound answered ${r.status}: ${text}`);
  const body = /** @type {{ conversation_id: string }} */ (JSON.parse(text));
  return body.conversation_id;
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
});

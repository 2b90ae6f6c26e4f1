// tests/webrtc_call.mjs — owns the end-to-end browser test of browser calls (WebRTC,
// shared/call.js) between the customer web chat (/chat/) and the agent desktop
// (/agent/): a visitor writes, the agent accepts; then a voice call started by the
// visitor and answered by the agent, and a video call started by the agent from the
// pane and answered by the visitor. For each: both call panels reach `connected`, media
// arrives on both sides (inbound-rtp bytes of audio, and of video for the video call,
// read with getStats() on `window.__switchboardCall`), the mm:ss timer moves, Mute (and
// Camera off) turn the local track off, then one side hangs up (the visitor the voice
// call, the agent the video call): both panels end, the peer connections are gone and
// both timelines show the call's "ended" line.
//
//   SWITCHBOARD_URL=http://127.0.0.1:43210 AGENT_ID=alice AGENT_PASSWORD=... \
//     node clients/tests/webrtc_call.mjs
//
// The engine must offer browser calls with audio and video (`welcome.calls`), and the
// agent must be in the queue web chats go to. Chromium runs with fake camera and
// microphone (and no permission prompt). With SCREENSHOT_DIR set, the agent desktop is
// photographed during the video call in English and in Japanese. Prints "webrtc call
// browser test passed" and exits 0, or exits 1 with the failing step.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { harness, BASE } from './harness.mjs';

/** @typedef {import('playwright-core').Page} Page */

const run = harness('webrtc call', {
  args: [
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
    '--autoplay-policy=no-user-gesture-required',
    // Both pages are on this machine: let ICE pair loopback candidates too.
    '--allow-loopback-in-peer-connection',
  ],
});
const AGENT_ID = process.env.AGENT_ID || '';
const AGENT_PASSWORD = process.env.AGENT_PASSWORD || '';
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || '';
const RUN_ID = Math.random().toString(36).slice(2, 8);
const FIRST = `Could we talk on a call? ${RUN_ID}`;
const MEDIA_WAIT_MS = 15_000;
const POLL_MS = 250;
const MEDIA_PERMISSIONS = ['microphone', 'camera'];

if (!BASE || !AGENT_ID || !AGENT_PASSWORD) {
  console.error('usage: SWITCHBOARD_URL=http://127.0.0.1:PORT AGENT_ID=alice AGENT_PASSWORD=... node clients/tests/webrtc_call.mjs');
  process.exit(2);
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Bytes of inbound RTP by kind on the page's live call; null when it has none.
 * @param {Page} page
 */
function inbound(page) {
  return page.evaluate(async () => {
    const pc = window.__switchboardCall;
    if (!pc) return null;
    const bytes = { audio: 0, video: 0 };
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && (s.kind === 'audio' || s.kind === 'video')) bytes[s.kind] += Number(s.bytesReceived) || 0;
    });
    return bytes;
  });
}

/**
 * Whether the page's local track of `kind` is enabled (what the call sends).
 * @param {Page} page
 * @param {'audio' | 'video'} kind
 */
function localTrackEnabled(page, kind) {
  return page.evaluate((k) => {
    const pc = window.__switchboardCall;
    const sender = pc ? pc.getSenders().find((s) => s.track && s.track.kind === k) : undefined;
    return sender && sender.track ? sender.track.enabled : null;
  }, kind);
}

/**
 * A toggle of the call panel: clicking it sets aria-pressed and turns the local track
 * of `kind` off; clicking again turns it back on.
 * @param {Page} page
 * @param {string} testid  call-mute | call-camera
 * @param {'audio' | 'video'} kind
 */
async function checkToggle(page, testid, kind) {
  const btn = page.getByTestId(testid);
  run.check((await btn.getAttribute('aria-pressed')) === 'false', `${testid} starts pressed`);
  await btn.click();
  await page.locator(`[data-testid="${testid}"][aria-pressed="true"]`).waitFor();
  run.check((await localTrackEnabled(page, kind)) === false, `${testid} left the local ${kind} track on`);
  await btn.click();
  await page.locator(`[data-testid="${testid}"][aria-pressed="false"]`).waitFor();
  run.check((await localTrackEnabled(page, kind)) === true, `${testid} did not turn the local ${kind} track back on`);
}

/**
 * @param {Page} page
 * @param {string} name
 */
async function screenshot(page, name) {
  if (!SCREENSHOT_DIR) return;
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  // Some fresh frames of the remote video first (camera toggles just ran).
  await page.evaluate(() => new Promise((resolve) => {
    const v = /** @type {HTMLVideoElement | null} */ (document.querySelector('video[data-testid="call-remote"]'));
    if (!v) return resolve(null);
    let frames = 0;
    const next = () => (++frames >= 15 ? resolve(null) : v.requestVideoFrameCallback(next));
    v.requestVideoFrameCallback(next);
  }));
  await page.screenshot({ path: join(SCREENSHOT_DIR, `webrtc-call-${name}.png`) });
}

await run.main(async () => {
  const agent = await run.page({ permissions: MEDIA_PERMISSIONS });
  const chat = await run.page({ viewport: { width: 420, height: 860 }, permissions: MEDIA_PERMISSIONS });
  const sides = /** @type {[string, Page][]} */ ([
    ['agent', agent],
    ['visitor', chat],
  ]);

  await run.step('agent signs in and is available', async () => {
    await run.signIn(agent, AGENT_ID, AGENT_PASSWORD);
    await agent.locator('[data-testid="agent-status"][data-status="available"]').waitFor();
  });

  await run.step('visitor opens /chat/ and writes', async () => {
    await chat.goto(`${BASE}/chat/?lang=en`);
    await chat.locator('[data-testid="chat-status"][data-state="ready"]').waitFor();
    await chat.getByTestId('chat-input').fill(FIRST);
    await chat.getByTestId('chat-input').press('Enter');
    await chat.locator('[data-testid="chat-message"][data-role="customer"]:not([data-pending])').filter({ hasText: FIRST }).waitFor();
  });

  await run.step('agent accepts the offer; both sides get the call buttons', async () => {
    const card = agent.getByTestId('offer-card').filter({ has: agent.getByTestId('offer-preview').filter({ hasText: FIRST }) }).first();
    await card.waitFor();
    const id = await card.getAttribute('data-conversation-id');
    await card.getByTestId('offer-accept').click();
    await agent.locator(`[data-testid="conversation-item"][data-conversation-id="${id}"].is-selected`).waitFor();
    await chat.locator('[data-testid="chat-status"][data-state="assigned"]').waitFor();
    for (const [label, page] of sides) {
      await page.getByTestId('call-audio').waitFor();
      await page.getByTestId('call-video').waitFor();
      run.check(!(await page.getByTestId('call-panel').isVisible()), `${label}: a call panel shows before any call`);
    }
    run.check(await chat.getByTestId('chat-video').isHidden(), 'the video link button shows beside the video call button');
  });

  /**
   * One call: `caller` starts it, `callee` answers, `ender` hangs up.
   * @param {'audio' | 'video'} media
   * @param {{ caller: Page, callerName: string, callee: Page, calleeName: string, ender: Page, enderName: string }} who
   */
  const callRound = async (media, { caller, callerName, callee, calleeName, ender, enderName }) => {
    /** @type {('audio' | 'video')[]} */
    const kinds = media === 'video' ? ['audio', 'video'] : ['audio'];
    let callId = '';

    await run.step(`${media}: ${callerName} calls, ${calleeName} answers, both connect`, async () => {
      await caller.getByTestId(`call-${media}`).click();
      await caller.locator('[data-testid="call-panel"][data-state="ringing"]').waitFor();
      const banner = callee.getByTestId('call-incoming');
      await banner.waitFor();
      run.check((await banner.getAttribute('data-media')) === media, `the incoming banner is for ${await banner.getAttribute('data-media')}`);
      if (callee === agent) {
        const name = ((await agent.getByTestId('conversation-title').textContent()) || '').trim();
        run.check(!!name && ((await banner.textContent()) || '').includes(name), `the banner does not name the customer ${JSON.stringify(name)}`);
      }
      await callee.getByTestId('call-answer').click();
      await banner.waitFor({ state: 'hidden' });
      for (const [label, page] of sides) {
        await page.locator(`[data-testid="call-panel"][data-state="connected"][data-media="${media}"]`).waitFor().catch((e) => {
          throw new Error(`${label}: ${e.message.split('\n')[0]}`);
        });
      }
      callId = (await caller.getByTestId('call-panel').getAttribute('data-call-id')) || '';
      run.check(!!callId, 'the call panel has no call id');
      run.check((await callee.getByTestId('call-panel').getAttribute('data-call-id')) === callId, 'the two panels show different calls');
      for (const [label, page] of sides) {
        const remote = await page.getByTestId('call-remote').evaluate((el) => el.tagName);
        run.check(remote === (media === 'video' ? 'VIDEO' : 'AUDIO'), `${label}: the remote media is a <${remote.toLowerCase()}>`);
        const local = page.getByTestId('call-local');
        if (media === 'video') {
          run.check(await local.evaluate((el) => el instanceof HTMLVideoElement && el.muted), `${label}: the local preview is not a muted <video>`);
        } else {
          run.check((await local.count()) === 0, `${label}: a voice call shows a local preview`);
        }
      }
    });

    await run.step(`${media}: media arrives on both sides`, async () => {
      const deadline = Date.now() + MEDIA_WAIT_MS;
      for (;;) {
        const stats = await Promise.all(sides.map(([, page]) => inbound(page)));
        if (stats.every((s) => s && kinds.every((k) => s[k] > 0))) break;
        if (Date.now() > deadline) {
          throw new Error(`no inbound ${kinds.join('+')} within ${MEDIA_WAIT_MS / 1000} s: agent ${JSON.stringify(stats[0])}, visitor ${JSON.stringify(stats[1])}`);
        }
        await sleep(POLL_MS);
      }
    });

    await run.step(`${media}: the timers move`, async () => {
      const read = () => Promise.all(sides.map(([, page]) => page.getByTestId('call-timer').textContent()));
      const before = await read();
      await sleep(1500);
      const after = await read();
      for (let i = 0; i < sides.length; i += 1) {
        run.check(/^\d{2}:\d{2}$/.test(after[i] || ''), `${sides[i][0]}: timer reads ${JSON.stringify(after[i])}`);
        run.check(after[i] !== before[i], `${sides[i][0]}: timer stuck at ${JSON.stringify(after[i])}`);
      }
    });

    await run.step(`${media}: mute${media === 'video' ? ' and camera off' : ''}`, async () => {
      await checkToggle(caller, 'call-mute', 'audio');
      await checkToggle(callee, 'call-mute', 'audio');
      if (media === 'video') {
        await checkToggle(callee, 'call-camera', 'video');
      } else {
        run.check(await caller.getByTestId('call-camera').isHidden(), 'a voice call offers Camera off');
      }
    });

    if (media === 'video' && SCREENSHOT_DIR) {
      await run.step('video: the agent desktop in English and Japanese', async () => {
        await screenshot(agent, 'agent-en');
        await screenshot(chat, 'visitor-en');
        await agent.getByTestId('lang-toggle').click();
        await agent.locator('html[lang="ja"]').waitFor({ state: 'attached' });
        await agent.getByTestId('call-panel').filter({ hasText: 'ビデオ通話' }).waitFor();
        await screenshot(agent, 'agent-ja');
        await agent.getByTestId('lang-toggle').click();
        await agent.locator('html[lang="en"]').waitFor({ state: 'attached' });
      });
    }

    await run.step(`${media}: ${enderName} hangs up; both sides end`, async () => {
      await ender.getByTestId('call-hangup').click();
      for (const [label, page] of sides) {
        await page.locator('[data-testid="call-panel"][data-state="ended"]').waitFor({ state: 'attached' }).catch((e) => {
          throw new Error(`${label}: ${e.message.split('\n')[0]}`);
        });
        run.check(await page.getByTestId('call-panel').isHidden(), `${label}: the ended call's panel still shows`);
        await page.getByTestId('call-notice').waitFor();
        run.check((await page.evaluate(() => window.__switchboardCall)) === null, `${label}: the peer connection is still there`);
      }
    });

    await run.step(`${media}: both timelines show the call ended`, async () => {
      await agent.locator(`[data-testid="timeline-system"][data-kind="call_started"][data-call-id="${callId}"]`).waitFor();
      await agent.locator(`[data-testid="timeline-system"][data-kind="call_ended"][data-call-id="${callId}"]`).waitFor();
      await chat.locator(`[data-testid="chat-system"][data-kind="call_ended"][data-call-id="${callId}"]`).waitFor();
      const line = ((await agent.locator(`[data-testid="timeline-system"][data-kind="call_ended"][data-call-id="${callId}"]`).textContent()) || '').trim();
      const by = enderName === 'visitor' ? 'the customer' : 'the agent';
      run.check(line.includes('Call ended') && line.includes(`hung up by ${by}`), `the agent's line reads ${JSON.stringify(line)}`);
    });
  };

  await callRound('audio', { caller: chat, callerName: 'visitor', callee: agent, calleeName: 'agent', ender: chat, enderName: 'visitor' });
  await callRound('video', { caller: agent, callerName: 'agent', callee: chat, calleeName: 'visitor', ender: agent, enderName: 'agent' });
});

// agent/softphone.js — owns the agent desktop's phone softphone for PSTN calls
// (docs/voice.md, "Phone calls"): the Twilio Voice JS SDK's `Device` (vendored:
// vendor/twilio-voice.min.js sets `window.Twilio`), its token from
// `POST /api/v1/voice/token` (asked once per sign-in, after the socket's first `welcome`;
// renewed on `tokenWillExpire` with `updateToken`), the status chip in the top bar
// (`#softphone-status`: registering / ready / error), and the one phone call at a time:
// when a `voice` conversation this tab accepted is assigned, it dials the engine with
// `device.connect({ params: { conversation } })` (the engine bridges the agent to the
// waiting caller) and draws the phone call panel in `#softphone-area` above the pane
// (connecting / connected / ended, mm:ss timer from the answer, Mute, Hang up, and after
// the end how long or why it failed). The call is hung up when its conversation leaves
// the agent and at sign-out. Click-to-call: `dialOut(conversation, phone)` (the customer
// panel's and the callback card's Call buttons) dials
// `device.connect({ params: { conversation, to } })` for a conversation the agent holds
// (the engine dials `to` from our number if it is one of that customer's phone
// identities) and shows the same panel. `softphoneReady()`, `phoneCallLive()` and
// `onSoftphoneChange(fn)` let those panels show and enable their buttons;
// `softphoneCall()` tells callcontrols.js (hold, consult) which conversation the live
// call is with. A queued callback's conversation is not dialled when accepted (no caller
// waits). Incoming calls (`incoming` on the Device: a colleague consulting this agent
// about their caller, `From` = `client:<their id>`) ring in the same area
// (`#softphone-incoming`: Accept / Decline) and, accepted, become the one phone call
// (same panel); one arriving while a call is live, or another rings, is rejected at
// once. Such a call has no conversation until the colleague hands the caller over: the
// conversation then offered and accepted here is that caller's, already on this call, so
// `softphoneAttach` makes it the call's conversation instead of dialling (and frames.js
// asks nothing of the agent's own phone). Not configured (the token answers 503) or no
// SDK: no softphone and no UI at all. Browser calls with web-chat visitors (WebRTC) are
// calls.js / ../shared/call.js, not this; the panel borrows their styles.
//
// Text only through text nodes (h() from ../shared/dom.js).

import { t, onLanguageChange } from '../shared/i18n.js';
import { h, byId } from '../shared/dom.js';
import { formatCallClock } from '../shared/call.js';
import { state } from './state.js';
import { customerName } from './labels.js';
import { notice } from './notices.js';

/** @import { ConversationView } from './frames.js' */

/** The chip's states; `off` hides it. */
/** @typedef {'off' | 'registering' | 'ready' | 'error'} SoftphoneStatus */

/**
 * The phone call on screen (live, or ended and still shown).
 * @typedef {object} PhoneCall
 * @property {string} conversationId  '' = none (yet): a call taken from the Device, a colleague's consult
 * @property {string} name  the caller as shown: name, else number (outbound: the customer's name; a consult: the colleague's id)
 * @property {string} to  the number dialled out ('' = a call the engine bridges to a waiting caller)
 * @property {string} from  a call taken from the Device (`incoming`): who rang, the SDK's `From` ('' = the desktop dialled it)
 * @property {'connecting' | 'connected' | 'ended'} phase
 * @property {TwilioVoice.Call | null} call  null until `device.connect` resolves
 * @property {number} acceptedAt  local clock, ms; 0 = not answered
 * @property {number} endedAt  local clock, ms; 0 = live
 * @property {boolean} muted
 * @property {string} error  why it failed ('' = it did not)
 * @property {string} reasonKey  i18n key of why it ended, if not a plain hang-up ('' = none)
 */

const TIMER_EVERY_MS = 250;
/** An ended call's panel stays this long (one that failed stays until dismissed). */
const ENDED_SHOW_MS = 8000;
/** A token that could not be fetched is asked again after this long. */
const RETRY_MS = 15_000;
const RENEW_TRIES = 3;

/** @type {SoftphoneStatus} */
let status = 'off';
let statusDetail = '';
/** @type {TwilioVoice.Device | null} */
let device = null;
/** Bumped at every stop: answers for an earlier sign-in are dropped. */
let generation = 0;
/** The softphone was started for this sign-in (at its first `welcome`). */
let started = false;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let retryTimer;
/** A voice conversation assigned while the Device was still being set up. */
/** @type {ConversationView | null} */
let waiting = null;
/** @type {PhoneCall | null} */
let current = null;
/**
 * An incoming call ringing on the Device, not answered yet.
 * @typedef {object} Ringing
 * @property {TwilioVoice.Call} call
 * @property {string} from  the SDK's `From`: `client:<agent id>` for a colleague's softphone
 */
/** @type {Ringing | null} */
let ringing = null;
/** @type {ReturnType<typeof setInterval> | undefined} */
let clockTimer;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let hideTimer;

/**
 * A new phone call, connecting, made the one on screen.
 * @param {string} conversationId
 * @param {string} name
 * @param {string} to
 * @param {string} from
 * @returns {PhoneCall}
 */
function startCall(conversationId, name, to, from) {
  /** @type {PhoneCall} */
  const c = {
    conversationId,
    name,
    to,
    from,
    phase: 'connecting',
    call: null,
    acceptedAt: 0,
    endedAt: 0,
    muted: false,
    error: '',
    reasonKey: '',
  };
  current = c;
  clearTimeout(hideTimer);
  return c;
}

/** @type {Set<() => void>} */
const listeners = new Set();
/** What the listeners last heard ("ready/live"): they hear only changes. */
let lastSignal = '';

/** An E.164 number ("+819012345678"): what click-to-call dials. */
const E164 = /^\+[1-9]\d{1,14}$/;
/** How the SDK names another softphone (`From` of a colleague's call): `client:<identity>`. */
const CLIENT_PREFIX = 'client:';

// ---- the UI: the chip is in index.html, the panel is built once ----------------------

const chipText = h('span', { class: 'softphone-chip__text' });
const title = h('span', { class: 'call-panel__title', dataset: { testid: 'softphone-title' } });
const phaseText = h('span', { class: 'call-panel__status', role: 'status', dataset: { testid: 'softphone-state-text' } });
const clock = h('span', { class: 'call-panel__timer', dataset: { testid: 'softphone-timer' }, 'aria-live': 'off' }, '00:00');
const errorLine = h('p', { class: 'softphone-panel__error', role: 'alert', dataset: { testid: 'softphone-error' }, hidden: true });
const muteBtn = h('button', { type: 'button', class: 'btn btn--small call-panel__toggle', 'aria-pressed': 'false', dataset: { testid: 'softphone-mute' }, onclick: () => toggleMute() });
const hangupBtn = h('button', { type: 'button', class: 'btn btn--small call-panel__hangup', dataset: { testid: 'softphone-hangup' }, onclick: () => hangup() });
const dismissBtn = h('button', { type: 'button', class: 'btn btn--small btn--ghost softphone-panel__dismiss', dataset: { testid: 'softphone-dismiss' }, onclick: () => dismiss() });
const panel = h(
  'section',
  { class: 'call-panel softphone-panel', dataset: { testid: 'softphone-panel', state: 'ended' }, hidden: true },
  h('div', { class: 'call-panel__head' }, h('span', { class: 'call-panel__dot', 'aria-hidden': 'true' }), title, phaseText, clock),
  errorLine,
  h('div', { class: 'call-panel__controls' }, muteBtn, hangupBtn, dismissBtn),
);
const incomingText = h('span', { class: 'call-incoming__text', dataset: { testid: 'softphone-incoming-text' } });
const incomingAccept = h('button', { type: 'button', class: 'btn btn--ok btn--small', dataset: { testid: 'softphone-incoming-accept' }, onclick: () => acceptIncoming() });
const incomingDecline = h('button', { type: 'button', class: 'btn btn--danger btn--small', dataset: { testid: 'softphone-incoming-decline' }, onclick: () => declineIncoming() });
const incomingBox = h(
  'section',
  { class: 'call-incoming softphone-incoming', role: 'alertdialog', 'aria-live': 'assertive', dataset: { testid: 'softphone-incoming' }, hidden: true },
  h('span', { class: 'call-incoming__icon', 'aria-hidden': 'true' }),
  incomingText,
  h('span', { class: 'call-incoming__actions' }, incomingAccept, incomingDecline),
);

/** Puts the panel in its place and keeps chip and panel in the page's language. */
export function initSoftphone() {
  const chip = byId('softphone-status');
  chip.replaceChildren(h('span', { class: 'conn__dot softphone-chip__dot', 'aria-hidden': 'true' }), chipText);
  byId('softphone-area').append(incomingBox, panel);
  onLanguageChange(() => render());
  render();
}

/** The softphone can place a call: configured, its Device registered. */
export function softphoneReady() {
  return status === 'ready' && device !== null;
}

/** A phone call is connecting or connected (an ended one still on screen is not). */
export function phoneCallLive() {
  return !!current && current.phase !== 'ended';
}

/**
 * `phone` is a number click-to-call can dial (E.164).
 * @param {unknown} phone
 * @returns {phone is string}
 */
export function isDialable(phone) {
  return typeof phone === 'string' && E164.test(phone);
}

/**
 * The live phone call as the call controls (callcontrols.js) see it, or null (none live).
 * `conversationId` '' = a call with no conversation (a colleague's consult taken here);
 * `outbound`: the desktop dialled a number (click-to-call, a callback).
 * @returns {{ conversationId: string, phase: 'connecting' | 'connected', outbound: boolean } | null}
 */
export function softphoneCall() {
  const c = current;
  if (!c || c.phase === 'ended') return null;
  return { conversationId: c.conversationId, phase: c.phase, outbound: !!c.to };
}

/**
 * Calls `fn` whenever `softphoneReady()` or `phoneCallLive()` changes, or the live call's
 * phase or conversation (`softphoneCall()`).
 * @param {() => void} fn
 * @returns {() => void}  unsubscribes
 */
export function onSoftphoneChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function signalChange() {
  const c = softphoneCall();
  const signal = `${softphoneReady()}/${phoneCallLive()}/${c ? `${c.phase}/${c.conversationId}` : ''}`;
  if (signal === lastSignal) return;
  lastSignal = signal;
  for (const fn of [...listeners]) {
    try {
      fn();
    } catch (e) {
      console.warn('[softphone] listener failed', e);
    }
  }
}

/**
 * Click-to-call: dials `phone` for conversation `conversationId` (one the agent holds),
 * `device.connect({ params: { conversation, to } })`, and shows the phone call panel.
 * False (nothing dialled) when the softphone is not ready, a phone call is live, the
 * conversation is not held here, or `phone` is not an E.164 number.
 * @param {string} conversationId
 * @param {string} phone
 */
export function dialOut(conversationId, phone) {
  const conv = state.convs.get(conversationId);
  const d = device;
  if (!d || !softphoneReady() || phoneCallLive() || !conv || !isDialable(phone)) return false;
  dial(d, conversationId, customerName(conv.view.customer), phone);
  return true;
}

// ---- the Device -------------------------------------------------------------------

/**
 * @param {SoftphoneStatus} s
 * @param {string} [detail]  for `error`: what failed
 */
function setStatus(s, detail = '') {
  status = s;
  statusDetail = detail;
  renderChip();
}

/**
 * A fresh token; null when the softphone is not configured (503).
 * @returns {Promise<string | null>}
 */
async function fetchToken() {
  const res = await fetch('../api/v1/voice/token', {
    method: 'POST',
    headers: { accept: 'application/json', authorization: `Bearer ${state.session ? state.session.token : ''}` },
  });
  if (res.status === 503) return null;
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const body = /** @type {{ token?: unknown }} */ (await res.json());
  if (!body || typeof body.token !== 'string' || !body.token) throw new Error('no token in the answer');
  return body.token;
}

/**
 * An SDK error as one line, with its code: "UnknownError (31000): An unknown error…".
 * @param {unknown} e
 */
function errorText(e) {
  if (e && typeof e === 'object') {
    const err = /** @type {TwilioVoice.TwilioError} */ (e);
    const text = err.message || err.description || err.explanation || '';
    if (!err.code) return text || String(e);
    return text.includes(String(err.code)) ? text : `${text || 'error'} (${err.code})`;
  }
  return String(e || 'error');
}

/**
 * The socket's `welcome` (its conversations already in `state.convs`): the first of a
 * sign-in starts the softphone; a later one (a reconnect) hangs up a call whose
 * conversation the agent no longer holds (it left while the socket was down).
 */
export function softphoneWelcome() {
  const c = current;
  // (A colleague's consult has no conversation of this agent's yet: it goes on.)
  if (c && c.phase !== 'ended' && c.conversationId && !state.convs.has(c.conversationId)) end(c, '', 'softphone.closed');
  if (started || !state.session) return;
  started = true;
  start(generation);
}

/** @param {number} gen */
async function start(gen) {
  clearTimeout(retryTimer);
  const Device = window.Twilio && window.Twilio.Device;
  if (typeof Device !== 'function') {
    // The vendored SDK did not load: no softphone.
    setStatus('off');
    return;
  }
  /** @type {string | null} */
  let token;
  try {
    token = await fetchToken();
  } catch (e) {
    if (gen !== generation) return;
    console.warn('[softphone] no token', e);
    setStatus('error', errorText(e));
    retryTimer = setTimeout(() => {
      if (gen === generation) start(gen);
    }, RETRY_MS);
    return;
  }
  if (gen !== generation) return;
  if (token === null) {
    // Not configured: no softphone at all, silently.
    setStatus('off');
    waiting = null;
    return;
  }
  /** @type {TwilioVoice.Device} */
  let d;
  try {
    d = new Device(token, { codecPreferences: ['opus', 'pcmu'], closeProtection: true });
  } catch (e) {
    console.warn('[softphone] no Device', e);
    setStatus('error', errorText(e));
    return;
  }
  device = d;
  d.on('registering', () => {
    if (device === d) setStatus('registering');
  });
  d.on('registered', () => {
    if (device === d) setStatus('ready');
  });
  // Signalling lost: the SDK registers again once it is back.
  d.on('unregistered', () => {
    if (device === d && status !== 'error') setStatus('registering');
  });
  d.on('error', (e, call) => {
    // A call's own errors end that call (its `error` handler); these are the Device's.
    if (device !== d || call) return;
    console.warn('[softphone] device error', e);
    setStatus('error', errorText(e));
  });
  d.on('tokenWillExpire', () => renew(d, RENEW_TRIES));
  d.on('incoming', (call) => incoming(d, call));
  setStatus('registering');
  d.register().catch((e) => {
    if (device !== d) return;
    console.warn('[softphone] register failed', e);
    setStatus('error', errorText(e));
  });
  const pending = waiting;
  waiting = null;
  if (pending && state.convs.has(pending.id)) softphoneAssigned(pending, true);
}

/**
 * A new token for a Device whose token is about to expire.
 * @param {TwilioVoice.Device} d
 * @param {number} tries  left
 */
async function renew(d, tries) {
  try {
    const token = await fetchToken();
    if (device === d && token) d.updateToken(token);
  } catch (e) {
    console.warn('[softphone] token renewal failed', e);
    if (device === d && tries > 1) setTimeout(() => renew(d, tries - 1), 5000);
  }
}

/** Sign-out (or a new sign-in): the call hung up, the Device gone, nothing shown. */
export function stopSoftphone() {
  generation += 1;
  started = false;
  waiting = null;
  clearTimeout(retryTimer);
  const r = ringing;
  ringing = null;
  if (r) rejectQuietly(r.call);
  const c = current;
  if (c && c.phase !== 'ended') end(c, '');
  current = null;
  clearTimeout(hideTimer);
  const d = device;
  device = null;
  if (d) {
    try {
      d.destroy();
    } catch (e) {
      console.warn('[softphone] destroy failed', e);
    }
  }
  setStatus('off');
  render();
}

// ---- the phone call -----------------------------------------------------------------

/**
 * The caller as the panel names them: the customer's name, else their phone number.
 * @param {ConversationView} view
 */
export function callerName(view) {
  const c = view.customer;
  if (c && c.display_name) return c.display_name;
  const phone = c && c.identities ? c.identities.find((i) => i.channel === 'voice') : undefined;
  return phone ? phone.address : customerName(c);
}

/**
 * A conversation was assigned (`conversation_assigned`); `here`: this tab accepted it.
 * A phone call (channel `voice`) is dialled from the tab that accepted it, one at a time;
 * not a queued callback's (`callback`: no caller waits, the agent calls out from the
 * callback card, `dialOut`).
 * @param {ConversationView} view
 * @param {boolean} here
 * @param {boolean} [callback]
 */
export function softphoneAssigned(view, here, callback = false) {
  if (view.channel !== 'voice' || !here || callback || !started) return;
  if (!device) {
    // The token is still on its way: dial once the Device is there (never, if the
    // softphone turns out not to be configured).
    waiting = view;
    return;
  }
  if (current && current.phase !== 'ended') {
    if (current.conversationId !== view.id) {
      notice(t('softphone.busy', { name: callerName(view) }), 'warn', { testid: 'softphone-busy' });
    }
    return;
  }
  dial(device, view.id, callerName(view));
}

/**
 * A conversation was assigned (`conversation_assigned`; `here`: this tab accepted its
 * offer) while the softphone is on a call taken from the Device that has no conversation
 * yet: a colleague's consult, whose caller they handed over to this agent (the
 * conversation transferred here). That caller is on this call already: it becomes the
 * call of this conversation (panel, hang-up when the conversation leaves, the call
 * controls) and nothing is dialled. When the call names its conversation (a
 * `conversation` custom parameter), only that one. True when it did (then neither the
 * agent's own phone nor `softphoneAssigned` must take the conversation).
 * @param {ConversationView} view
 * @param {boolean} here
 * @param {boolean} [callback]
 */
export function softphoneAttach(view, here, callback = false) {
  const c = current;
  if (view.channel !== 'voice' || !here || callback || !c || c.phase === 'ended' || c.conversationId || !c.from) return false;
  const named = c.call && c.call.customParameters ? c.call.customParameters.get('conversation') : undefined;
  if (named && named !== view.id) return false;
  c.conversationId = view.id;
  c.name = callerName(view);
  c.from = '';
  render();
  return true;
}

/**
 * Dials the engine for conversation `conversationId` — bridged to its waiting caller,
 * or with `to`, dialling out to that number — and shows the call in the panel. A call
 * ringing on the Device meanwhile is declined (one phone call at a time).
 * @param {TwilioVoice.Device} d
 * @param {string} conversationId
 * @param {string} name  as the panel names the other side
 * @param {string} [to]  the number to dial out ('' = none)
 */
function dial(d, conversationId, name, to = '') {
  const c = startCall(conversationId, name, to, '');
  const r = ringing;
  ringing = null;
  if (r) rejectQuietly(r.call);
  render();
  /** @type {Promise<TwilioVoice.Call>} */
  let connecting;
  try {
    /** @type {Record<string, string>} */
    const params = to ? { conversation: conversationId, to } : { conversation: conversationId };
    connecting = d.connect({ params });
  } catch (e) {
    connecting = Promise.reject(e);
  }
  connecting.then(
    (call) => {
      if (current !== c || c.phase === 'ended') {
        // Hung up (or signed out) while it was connecting.
        disconnectQuietly(call);
        return;
      }
      follow(c, call);
      render();
    },
    (e) => {
      console.warn('[softphone] connect failed', e);
      finish(c, errorText(e));
    },
  );
}

/**
 * The SDK's call `call` is the one on screen as `c`: its `accept` connects it (the
 * timer starts); `disconnect`, `cancel`, `reject` and `error` end it.
 * @param {PhoneCall} c
 * @param {TwilioVoice.Call} call
 */
function follow(c, call) {
  c.call = call;
  call.on('accept', () => {
    if (c.phase !== 'connecting') return;
    c.phase = 'connected';
    c.acceptedAt = Date.now();
    clearInterval(clockTimer);
    clockTimer = setInterval(renderClock, TIMER_EVERY_MS);
    render();
  });
  call.on('disconnect', () => finish(c, ''));
  call.on('cancel', () => finish(c, ''));
  call.on('reject', () => finish(c, ''));
  call.on('error', (e) => {
    console.warn('[softphone] call error', e);
    end(c, errorText(e));
  });
  call.on('mute', (muted) => {
    if (current !== c) return;
    c.muted = muted;
    render();
  });
}

/** @param {TwilioVoice.Call} call */
function disconnectQuietly(call) {
  try {
    call.disconnect();
  } catch (e) {
    console.warn('[softphone] disconnect failed', e);
  }
}

/** @param {TwilioVoice.Call} call */
function rejectQuietly(call) {
  try {
    call.reject();
  } catch (e) {
    console.warn('[softphone] reject failed', e);
  }
}

// ---- incoming calls (a colleague's consult) -------------------------------------------

/**
 * The colleague's agent id of a softphone's `From` (`client:<id>`), or '' (not a softphone).
 * @param {string} from
 */
function colleague(from) {
  return from.startsWith(CLIENT_PREFIX) ? from.slice(CLIENT_PREFIX.length) : '';
}

/**
 * A call to this agent's softphone (`incoming` on Device `d`): rings in the area above
 * the pane until accepted, declined, or given up by the other side (`cancel`). One phone
 * call at a time: with a call live, or another one ringing, it is rejected at once (a
 * notice says who tried).
 * @param {TwilioVoice.Device} d
 * @param {TwilioVoice.Call} call
 */
function incoming(d, call) {
  const params = call.parameters || {};
  const from = typeof params.From === 'string' ? params.From : '';
  if (device !== d || phoneCallLive() || ringing) {
    rejectQuietly(call);
    if (device === d) notice(t('softphone.incoming_missed', { from: colleague(from) || from || t('common.unknown') }), 'info', { testid: 'softphone-incoming-missed' });
    return;
  }
  /** @type {Ringing} */
  const r = { call, from };
  ringing = r;
  const gone = () => {
    if (ringing !== r) return;
    ringing = null;
    render();
  };
  // Given up before the answer (or failed): the ringing stops. Once accepted these change
  // nothing: the call's own events (`follow`) end it.
  call.on('cancel', gone);
  call.on('disconnect', gone);
  call.on('reject', gone);
  call.on('error', (e) => {
    if (ringing !== r) return;
    console.warn('[softphone] incoming call error', e);
    gone();
  });
  render();
}

/** Accept: the ringing call is answered and becomes the phone call on screen. */
function acceptIncoming() {
  const r = ringing;
  if (!r) return;
  ringing = null;
  if (phoneCallLive()) {
    rejectQuietly(r.call);
    render();
    return;
  }
  const c = startCall('', colleague(r.from) || r.from || t('common.unknown'), '', r.from);
  follow(c, r.call);
  try {
    r.call.accept();
  } catch (e) {
    console.warn('[softphone] accept failed', e);
    finish(c, errorText(e));
    return;
  }
  render();
}

/** Decline: the ringing call is rejected. */
function declineIncoming() {
  const r = ringing;
  if (!r) return;
  ringing = null;
  rejectQuietly(r.call);
  render();
}

/**
 * The call is over: the panel says so (with the error, if any) for a while.
 * @param {PhoneCall} c
 * @param {string} error
 * @param {string} [reasonKey]
 */
function finish(c, error, reasonKey = '') {
  if (c.phase === 'ended') return;
  c.phase = 'ended';
  c.endedAt = Date.now();
  c.error = error;
  c.reasonKey = reasonKey;
  if (current !== c) return;
  clearInterval(clockTimer);
  clockTimer = undefined;
  clearTimeout(hideTimer);
  if (!error) hideTimer = setTimeout(() => dismiss(c), ENDED_SHOW_MS);
  render();
}

/**
 * Ends the call from this side: marked ended first (so the SDK's `disconnect` event that
 * follows changes nothing), then disconnected.
 * @param {PhoneCall} c
 * @param {string} error
 * @param {string} [reasonKey]
 */
function end(c, error, reasonKey = '') {
  finish(c, error, reasonKey);
  if (c.call) disconnectQuietly(c.call);
}

function hangup() {
  const c = current;
  if (c && c.phase !== 'ended') end(c, '');
}

function toggleMute() {
  const c = current;
  if (!c || !c.call || c.phase === 'ended') return;
  c.call.mute(!c.muted);
  c.muted = c.call.isMuted();
  render();
}

/** @param {PhoneCall | null} [c]  only this call's panel (default: whatever is shown) */
function dismiss(c = current) {
  if (!c || current !== c || c.phase !== 'ended') return;
  current = null;
  clearTimeout(hideTimer);
  render();
}

/**
 * The conversation left the agent (`conversation_updated` with `held: false`): its
 * phone call is hung up.
 * @param {string} conversationId
 */
export function softphoneLeft(conversationId) {
  if (waiting && waiting.id === conversationId) waiting = null;
  const c = current;
  if (c && c.conversationId === conversationId && c.phase !== 'ended') end(c, '', 'softphone.closed');
}

// ---- drawing --------------------------------------------------------------------------

function renderChip() {
  const chip = byId('softphone-status');
  chip.dataset.state = status;
  chip.hidden = status === 'off';
  const text = status === 'off' ? '' : t(`softphone.status.${status}`);
  chipText.textContent = text;
  const label = status === 'error' && statusDetail ? `${text} (${statusDetail})` : text;
  chip.title = label;
  chip.setAttribute('aria-label', label);
  signalChange();
}

function renderClock() {
  const c = current;
  const answered = !!c && c.acceptedAt > 0;
  clock.hidden = !answered;
  const ms = c && answered ? (c.endedAt || Date.now()) - c.acceptedAt : 0;
  const text = formatCallClock(ms, true);
  if (clock.textContent !== text) clock.textContent = text;
}

function renderIncoming() {
  const r = ringing;
  incomingBox.hidden = !r;
  if (!r) return;
  const agent = colleague(r.from);
  incomingText.textContent = agent
    ? t('softphone.incoming_consult', { agent })
    : t('softphone.incoming', { from: r.from || t('common.unknown') });
  incomingBox.setAttribute('aria-label', incomingText.textContent);
  incomingAccept.textContent = t('softphone.accept');
  incomingDecline.textContent = t('softphone.decline');
}

/**
 * The panel's title: the caller, the number dialled, or the colleague on a consult.
 * @param {PhoneCall} c
 */
function titleOf(c) {
  if (c.to) return t('softphone.title_out', { phone: c.to, name: c.name });
  if (c.from) return colleague(c.from) ? t('softphone.title_consult', { agent: c.name }) : t('softphone.title', { name: c.name });
  return t('softphone.title', { name: c.name });
}

function render() {
  renderChip();
  renderIncoming();
  const c = current;
  const area = byId('softphone-area');
  panel.hidden = !c;
  area.hidden = !c && !ringing;
  if (!c) return;
  panel.dataset.state = c.phase;
  panel.dataset.conversationId = c.conversationId;
  panel.dataset.direction = c.to ? 'outbound' : c.from ? 'incoming' : 'inbound';
  title.textContent = titleOf(c);
  panel.setAttribute('aria-label', title.textContent);
  phaseText.textContent = c.phase === 'ended' && c.reasonKey ? t(c.reasonKey) : t(`softphone.state.${c.phase}`);
  errorLine.hidden = !c.error;
  errorLine.textContent = c.error ? t('softphone.failed', { detail: c.error }) : '';
  const live = c.phase !== 'ended';
  muteBtn.hidden = !live;
  hangupBtn.hidden = !live;
  dismissBtn.hidden = live;
  muteBtn.disabled = !c.call;
  muteBtn.setAttribute('aria-pressed', String(c.muted));
  muteBtn.textContent = t('call.mute');
  muteBtn.title = c.muted ? t('call.unmute') : t('call.mute');
  hangupBtn.textContent = t('call.hangup');
  dismissBtn.textContent = t('common.close');
  renderClock();
}

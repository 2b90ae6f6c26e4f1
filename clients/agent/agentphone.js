// agent/agentphone.js — owns the agent's own phone in the desktop (docs/voice.md, "The
// agent's own phone"): how the signed-in agent takes phone calls, accepted calls sent to
// that phone, and calls out placed through it.
//
// After the socket's first `welcome` of a sign-in (`agentPhoneWelcome`, from frames.js
// next to the softphone's start) it asks `GET ../api/v1/voice/me` once, with the staff
// token as Bearer: `{softphone, phone?, calls_out}`. The answer is kept for that sign-in
// only (tied to its session; answers for an earlier sign-in are dropped; one that failed
// is asked again at the next `welcome`), and `onAgentPhoneChange(fn)` listeners (pane.js:
// the customer panel and the callback card) hear when it arrives. `agentPhone()` is the
// phone on the profile ('' = none or not known yet); `agentPhoneCanCallOut()` is true
// with a phone and `calls_out` (a caller id configured).
//
// Accepted calls: when a `voice` conversation this tab accepted is assigned (not a queued
// callback: no caller waits), it asks `POST ../api/v1/voice/bridge {conversation_id}`.
// A 202 means the engine moved the waiting caller's call to a `<Dial>` of the agent's
// phone: a notice says that phone is ringing (`agent-phone-ringing`) and the softphone
// must not dial. Not asked when `/voice/me` said the profile has no phone; before that
// answer, a 409 `conflict` saying so is remembered for that agent for the rest of the
// page (an agent on the softphone pays at most one request); any other refusal, or no
// answer, is a warning notice (`agent-phone-failed`). Either way frames.js then lets
// softphone.js dial as before. The conversations sent to the agent's phone are kept for
// the sign-in (`agentPhoneBridges()`, listeners hear of each): callcontrols.js shows the
// call's controls (hold, consult) for them while the agent holds them.
//
// Calls out: `callOutViaPhone(conversation, to)` (the customer panel's and the callback
// card's Call buttons, when `agentPhoneCanCallOut()`: the agent's own phone wins over
// the softphone) asks `POST ../api/v1/voice/call-out {conversation_id, to}`; on the 202
// the engine rings the agent's phone and dials `to` once they answer, and a notice says
// so (`agent-phone-calling`); a refusal (400 `invalid`, 403, 409 no phone — then the
// phone is forgotten and the softphone's button comes back —, 503) or no answer is a
// warning with the engine's message (`agent-phone-failed`). One request at a time:
// `agentPhoneCallingOut()` is true meanwhile (the buttons are disabled) and listeners
// hear when it starts and ends.
//
// Text only through text nodes (notice() from ./notices.js).

import { t } from '../shared/i18n.js';
import { state, serverNow } from './state.js';
import { token } from './session.js';
import { callerName, isDialable } from './softphone.js';
import { notice } from './notices.js';

/** @import { ConversationView } from './frames.js' */
/** @import { StaffSession } from '../shared/staff-login.js' */

/**
 * `GET /voice/me`'s answer, for one sign-in (its session).
 * @typedef {object} VoiceMe
 * @property {StaffSession} session  the sign-in it was asked for
 * @property {boolean} softphone  the browser softphone is configured
 * @property {string} phone  the phone on the agent's profile ('' = none)
 * @property {boolean} callsOut  calls out can be placed (a caller id is configured)
 */

/** @type {VoiceMe | null} */
let me = null;
/** The sign-in `/voice/me` was asked for (or is being asked for): not asked again. */
/** @type {StaffSession | null} */
let askedFor = null;
/** Bumped at every ask: only the latest ask's answer is kept. */
let generation = 0;
/** A call out on its way (one at a time). */
let callingOut = false;

/**
 * Conversations whose caller the engine sent to the agent's phone (`/voice/bridge`'s
 * 202): conversation id -> the sign-in and when (server clock, ms).
 * @type {Map<string, { session: StaffSession, at: number }>}
 */
const bridged = new Map();

/** Agents this page was told have no phone on their profile: not asked again. */
/** @type {Set<string>} */
const withoutPhone = new Set();

/** @type {Set<() => void>} */
const listeners = new Set();

/**
 * Calls `fn` whenever `agentPhone()`, `agentPhoneCanCallOut()`,
 * `agentPhoneCallingOut()` or `agentPhoneBridges()` may have changed.
 * @param {() => void} fn
 * @returns {() => void}  unsubscribes
 */
export function onAgentPhoneChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function signalChange() {
  for (const fn of [...listeners]) {
    try {
      fn();
    } catch (e) {
      console.warn('[agentphone] listener failed', e);
    }
  }
}

/** `/voice/me`'s answer for the current sign-in, or null (not answered yet). */
function current() {
  return me && state.session && me.session === state.session ? me : null;
}

/** The phone on the signed-in agent's profile (E.164), or '' (none, or not known yet). */
export function agentPhone() {
  const m = current();
  return m ? m.phone : '';
}

/** Calls out go through the agent's own phone: it has one, and calls out are possible. */
export function agentPhoneCanCallOut() {
  const m = current();
  return !!m && !!m.phone && m.callsOut;
}

/** A call out through the agent's phone is being asked for. */
export function agentPhoneCallingOut() {
  return callingOut;
}

/**
 * The calls the engine sent to the agent's phone in this sign-in whose conversation the
 * agent still holds: conversation id and when (server clock, ms), oldest first.
 * @returns {{ conversationId: string, at: number }[]}
 */
export function agentPhoneBridges() {
  /** @type {{ conversationId: string, at: number }[]} */
  const out = [];
  for (const [id, b] of bridged) {
    if (b.session !== state.session || !state.convs.has(id)) bridged.delete(id);
    else out.push({ conversationId: id, at: b.at });
  }
  return out;
}

/**
 * The socket's `welcome`: the first of a sign-in asks `GET /voice/me` (a later one, a
 * reconnect, asks again only if that failed).
 */
export function agentPhoneWelcome() {
  const session = state.session;
  if (!session || askedFor === session) return;
  askedFor = session;
  generation += 1;
  void askMe(session, generation);
}

/**
 * @param {StaffSession} session
 * @param {number} gen
 */
async function askMe(session, gen) {
  /** @type {{ softphone?: unknown, phone?: unknown, calls_out?: unknown }} */
  let body;
  try {
    const res = await fetch('../api/v1/voice/me', {
      headers: { accept: 'application/json', authorization: `Bearer ${session.token}` },
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = await res.json();
    if (!body || typeof body !== 'object') throw new Error('no answer');
  } catch (e) {
    if (gen !== generation || state.session !== session) return;
    console.warn('[agentphone] /voice/me failed', e);
    // Asked again at the next `welcome`; meanwhile the bridge is asked as before.
    askedFor = null;
    return;
  }
  if (gen !== generation || state.session !== session) return;
  me = {
    session,
    softphone: body.softphone === true,
    phone: typeof body.phone === 'string' ? body.phone : '',
    callsOut: body.calls_out === true,
  };
  // Fresher than a 409 remembered earlier on this page.
  if (me.phone) withoutPhone.delete(session.agent_id);
  signalChange();
}

/**
 * A conversation was assigned (`conversation_assigned`); `here`: this tab accepted it;
 * `callback`: it is a queued callback. For a phone call accepted here, asks the engine
 * to ring the agent's own phone. True when it does (the softphone must not dial);
 * false when nothing was asked or the engine did not (the softphone dials as usual).
 * @param {ConversationView} view
 * @param {boolean} here
 * @param {boolean} [callback]
 * @returns {Promise<boolean>}
 */
export async function agentPhoneAssigned(view, here, callback = false) {
  if (view.channel !== 'voice' || !here || callback) return false;
  const session = state.session;
  const bearer = token();
  if (!session || !bearer || withoutPhone.has(session.agent_id)) return false;
  // `/voice/me` said the profile has no phone: the softphone takes the call.
  const known = current();
  if (known && !known.phone) return false;
  const name = callerName(view);
  /** @type {number} */
  let status;
  /** @type {{ code?: unknown, message?: unknown, phone?: unknown }} */
  let body;
  try {
    const res = await fetch('../api/v1/voice/bridge', {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
      body: JSON.stringify({ conversation_id: view.id }),
    });
    status = res.status;
    body = await res.json().catch(() => ({}));
    if (!body || typeof body !== 'object') body = {};
  } catch (e) {
    // No answer at all (offline, aborted): the softphone is the way left.
    if (state.session !== session) return false;
    console.warn('[agentphone] bridge failed', e);
    failed(t('agentphone.failed', { message: e instanceof Error && e.message ? e.message : String(e) }));
    return false;
  }
  // Signed out (or in again) meanwhile: nothing to say on this page any more.
  if (state.session !== session) return status === 202;
  const message = typeof body.message === 'string' ? body.message : '';
  if (status === 202) {
    const phone = typeof body.phone === 'string' ? body.phone : '';
    notice(t('agentphone.ringing', { phone, name }), 'info', { testid: 'agent-phone-ringing' });
    bridged.delete(view.id);
    bridged.set(view.id, { session, at: serverNow() });
    signalChange();
    return true;
  }
  if (status === 409 && body.code === 'conflict' && message.includes('no phone')) {
    // The agent takes calls with the softphone: do not ask again on this page.
    noPhone(session);
    return false;
  }
  failed(t('agentphone.failed', { message: message || `HTTP ${status}` }));
  return false;
}

/**
 * Calls `to` for conversation `conversationId` (one the agent holds) through the agent's
 * own phone: `POST /voice/call-out`; the engine rings that phone first and dials `to`
 * once the agent answers. Resolves true on the engine's 202, false when nothing was
 * asked (no phone known, a call out already on its way, the conversation not held here,
 * `to` not E.164) or the engine refused (a warning says why).
 * @param {string} conversationId
 * @param {string} to
 * @returns {Promise<boolean>}
 */
export async function callOutViaPhone(conversationId, to) {
  const session = state.session;
  const bearer = token();
  if (callingOut || !session || !bearer || !agentPhoneCanCallOut()) return false;
  if (!state.convs.has(conversationId) || !isDialable(to)) return false;
  callingOut = true;
  signalChange();
  try {
    /** @type {number} */
    let status;
    /** @type {{ code?: unknown, message?: unknown, phone?: unknown, to?: unknown }} */
    let body;
    try {
      const res = await fetch('../api/v1/voice/call-out', {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
        body: JSON.stringify({ conversation_id: conversationId, to }),
      });
      status = res.status;
      body = await res.json().catch(() => ({}));
      if (!body || typeof body !== 'object') body = {};
    } catch (e) {
      if (state.session !== session) return false;
      console.warn('[agentphone] call out failed', e);
      failed(t('agentphone.call_out_failed', { to, message: e instanceof Error && e.message ? e.message : String(e) }));
      return false;
    }
    if (state.session !== session) return status === 202;
    if (status === 202) {
      const phone = typeof body.phone === 'string' && body.phone ? body.phone : agentPhone();
      const dialled = typeof body.to === 'string' && body.to ? body.to : to;
      notice(t('agentphone.calling', { phone, to: dialled }), 'info', { testid: 'agent-phone-calling' });
      return true;
    }
    const message = typeof body.message === 'string' ? body.message : '';
    if (status === 409 && body.code === 'conflict') {
      // The phone left the profile since `/voice/me`: the softphone (if any) calls out.
      noPhone(session);
    }
    failed(t('agentphone.call_out_failed', { to, message: message || `HTTP ${status}` }));
    return false;
  } finally {
    callingOut = false;
    signalChange();
  }
}

/**
 * The engine said the agent's profile has no phone: not asked again on this page.
 * @param {StaffSession} session
 */
function noPhone(session) {
  withoutPhone.add(session.agent_id);
  const m = current();
  if (m && m.session === session && m.phone) {
    m.phone = '';
    signalChange();
  }
}

/** @param {string} text */
function failed(text) {
  notice(text, 'warn', { testid: 'agent-phone-failed' });
}

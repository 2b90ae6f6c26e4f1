// agent/callcontrols.js — owns the controls of the live phone call in the agent desktop
// (docs/voice.md, "Hold, consult and listen-in"): the bar `#phone-controls` above the
// pane, under the softphone's call panel, with Hold / Resume (and an "On hold" label),
// Consult… (the consult dialog `#consult-dialog`: another agent's id, as the transfer
// dialog's agent field takes it), and while a consult is under way Complete transfer and
// Cancel consult (Hold / Resume disabled then: the consult holds the caller).
//
// Which call: the softphone's connected call with a caller of a `voice` conversation the
// agent holds `assigned` (softphone.js `softphoneCall()`; not a number the desktop dialled
// out, so never a queued callback's), else the latest call the engine sent to the agent's
// own phone (agentphone.js `agentPhoneBridges()`) whose conversation is still held
// `assigned` and whose caller has not hung up (no ending `call` event since). The bar
// then names the call, as no softphone panel does. Nothing else shows it: no call, no bar.
//
// Each button asks the engine with the staff token as Bearer, one request at a time (the
// buttons are disabled while it is on its way): `POST ../api/v1/voice/hold
// {conversation_id, hold}`, `POST ../api/v1/voice/consult {conversation_id, agent_id}`,
// `POST ../api/v1/voice/consult/complete {conversation_id}` and
// `POST ../api/v1/voice/consult/cancel {conversation_id}`. The engine tells the desktop
// nothing more of the call, so its 202 changes what the bar shows: held (Resume), a
// consult under way (Complete / Cancel), handed over (the bar goes; the conversation
// leaves the agent as after a transfer, and the softphone's call is ended by the
// platform), the consult cancelled (the caller is off hold: Hold / Consult again). A
// refusal (400, 403, 409, 503) or no answer is a warning notice with the engine's message
// (`phone-control-failed`) and nothing changes. What the bar knows is forgotten when
// its call goes.
//
// Text only through text nodes (h() from ../shared/dom.js, notice() from ./notices.js).

import { t, onLanguageChange } from '../shared/i18n.js';
import { h, byId } from '../shared/dom.js';
import { state } from './state.js';
import { token } from './session.js';
import { notice } from './notices.js';
import { softphoneCall, onSoftphoneChange, callerName } from './softphone.js';
import { agentPhoneBridges, onAgentPhoneChange } from './agentphone.js';

/**
 * The call the controls are for.
 * @typedef {object} Target
 * @property {string} conversationId
 * @property {'softphone' | 'phone'} via  the softphone, or the agent's own phone
 */

/**
 * What this page did to that call.
 * @typedef {object} Control
 * @property {string} conversationId
 * @property {boolean} held  the caller is on hold (Hold was answered 202)
 * @property {string} consulting  the agent consulted while a consult is under way ('' = none)
 * @property {boolean} handedOver  the consult was completed: the call is the other agent's
 * @property {boolean} busy  a request is on its way
 */

/** `call` statuses that say the caller's call is over (the voice status webhook's). */
const ENDED = new Set(['completed', 'busy', 'no-answer', 'canceled', 'failed']);
/** A `call` event this much older than the hand-over to the agent's phone still counts (clock skew). */
const CLOCK_SLACK_MS = 2000;

/** @type {Control | null} */
let ctl = null;

// ---- the UI: the bar's place and the dialog are in index.html -------------------------

const barTitle = h('span', { class: 'phone-controls__title', dataset: { testid: 'phone-controls-title' } });
const holdState = h('span', { class: 'phone-controls__state', role: 'status', dataset: { testid: 'phone-hold-state' }, hidden: true });
/**
 * @param {string} testid
 * @param {string} cls
 * @param {() => void} onclick
 */
const button = (testid, cls, onclick) => h('button', { type: 'button', class: `btn btn--small ${cls}`, dataset: { testid }, onclick });
const holdBtn = button('phone-hold', '', () => setHold(true));
const resumeBtn = button('phone-resume', 'btn--primary', () => setHold(false));
const consultBtn = button('phone-consult', '', () => openConsult());
const completeBtn = button('phone-consult-complete', 'btn--primary', () => completeConsult());
const cancelBtn = button('phone-consult-cancel', '', () => cancelConsult());

const consultDialog = () => byId('consult-dialog', HTMLDialogElement);
const consultField = () => byId('consult-agent', HTMLInputElement);

/** Builds the bar in `#phone-controls`, wires the consult dialog, follows the calls. */
export function initCallControls() {
  byId('phone-controls').replaceChildren(
    barTitle,
    holdState,
    h('span', { class: 'phone-controls__buttons' }, holdBtn, resumeBtn, consultBtn, completeBtn, cancelBtn),
  );
  byId('consult-form').addEventListener('submit', submitConsult);
  onSoftphoneChange(renderCallControls);
  onAgentPhoneChange(renderCallControls);
  onLanguageChange(() => renderCallControls());
  renderCallControls();
}

// ---- which call -----------------------------------------------------------------------

/**
 * The agent holds `id`, a phone call, and works on it (`assigned`).
 * @param {string} id
 */
function talking(id) {
  const conv = state.convs.get(id);
  return !!conv && conv.state === 'assigned' && conv.view.channel === 'voice';
}

/**
 * The caller of `id` hung up since `at` (server clock): an ending `call` event.
 * @param {string} id
 * @param {number} at
 */
function callEnded(id, at) {
  const conv = state.convs.get(id);
  const tl = conv ? state.timelines.get(conv.view.customer.id) : undefined;
  if (!tl) return false;
  for (const e of tl.events.values()) {
    if (e.type !== 'call' || !ENDED.has(e.status || '') || e.at < at - CLOCK_SLACK_MS) continue;
    if (!e.conversation_id || e.conversation_id === id) return true;
  }
  return false;
}

/** @returns {Target | null} */
function target() {
  const sp = softphoneCall();
  if (sp && sp.phase === 'connected' && sp.conversationId && !sp.outbound && talking(sp.conversationId)) {
    return { conversationId: sp.conversationId, via: 'softphone' };
  }
  // A softphone call with someone else (a colleague's consult, a call out) is the agent's
  // call now: not one on their own phone.
  if (sp) return null;
  const bridges = agentPhoneBridges().filter((b) => talking(b.conversationId) && !callEnded(b.conversationId, b.at));
  const last = bridges[bridges.length - 1];
  return last ? { conversationId: last.conversationId, via: 'phone' } : null;
}

// ---- asking the engine ----------------------------------------------------------------

/**
 * Asks `POST ../api/v1/voice/<path>` for `c`'s call with `body`; on the 202, `apply(answer)`
 * changes what the bar shows. A refusal or no answer is a warning `failKey` with the
 * engine's message (`{message}`; `vars` fill the rest). One request at a time.
 * @param {Control} c
 * @param {string} path
 * @param {Record<string, unknown>} body
 * @param {(answer: Record<string, unknown>) => void} apply
 * @param {string} failKey
 * @param {Record<string, string>} [vars]
 */
async function ask(c, path, body, apply, failKey, vars = {}) {
  const session = state.session;
  const bearer = token();
  if (c.busy || !session || !bearer) return;
  c.busy = true;
  renderCallControls();
  try {
    /** @type {number} */
    let status;
    /** @type {Record<string, unknown>} */
    let answer;
    try {
      const res = await fetch(`../api/v1/voice/${path}`, {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
        body: JSON.stringify(body),
      });
      status = res.status;
      answer = await res.json().catch(() => ({}));
      if (!answer || typeof answer !== 'object') answer = {};
    } catch (e) {
      if (state.session !== session) return;
      console.warn(`[callcontrols] ${path} failed`, e);
      failed(t(failKey, { ...vars, message: e instanceof Error && e.message ? e.message : String(e) }));
      return;
    }
    // Signed out (or in again) meanwhile: nothing to say on this page any more.
    if (state.session !== session) return;
    if (status === 202) {
      apply(answer);
      return;
    }
    const message = typeof answer.message === 'string' && answer.message ? answer.message : `HTTP ${status}`;
    failed(t(failKey, { ...vars, message }));
  } finally {
    c.busy = false;
    renderCallControls();
  }
}

/** @param {string} text */
function failed(text) {
  notice(text, 'warn', { testid: 'phone-control-failed' });
}

/** @param {boolean} on  on hold, or back */
function setHold(on) {
  const c = ctl;
  if (!c || c.consulting || c.handedOver || c.held === on) return;
  void ask(
    c,
    'hold',
    { conversation_id: c.conversationId, hold: on },
    () => {
      c.held = on;
    },
    on ? 'phonectl.hold_failed' : 'phonectl.resume_failed',
  );
}

function openConsult() {
  const c = ctl;
  if (!c || c.busy || c.consulting || c.handedOver) return;
  const dlg = consultDialog();
  byId('consult-form', HTMLFormElement).reset();
  consultField().value = '';
  dlg.dataset.conversationId = c.conversationId;
  dlg.showModal();
  consultField().focus();
}

/** @param {SubmitEvent} ev */
function submitConsult(ev) {
  ev.preventDefault();
  const dlg = consultDialog();
  const agent = consultField().value.trim();
  if (!agent) return consultField().focus();
  const c = ctl;
  dlg.close();
  // The call went (or another one is shown) while the dialog was open: nothing to ask.
  if (!c || c.conversationId !== dlg.dataset.conversationId || c.busy || c.consulting || c.handedOver) return;
  void ask(
    c,
    'consult',
    { conversation_id: c.conversationId, agent_id: agent },
    (answer) => {
      c.consulting = typeof answer.agent_id === 'string' && answer.agent_id ? answer.agent_id : agent;
    },
    'phonectl.consult_failed',
    { agent },
  );
}

function completeConsult() {
  const c = ctl;
  if (!c || !c.consulting || c.handedOver) return;
  void ask(
    c,
    'consult/complete',
    { conversation_id: c.conversationId },
    () => {
      c.consulting = '';
      c.handedOver = true;
    },
    'phonectl.complete_failed',
    { agent: c.consulting },
  );
}

function cancelConsult() {
  const c = ctl;
  if (!c || !c.consulting || c.handedOver) return;
  void ask(
    c,
    'consult/cancel',
    { conversation_id: c.conversationId },
    () => {
      // The consulted agent's leg is dropped and the caller is taken off hold.
      c.consulting = '';
      c.held = false;
    },
    'phonectl.cancel_failed',
    { agent: c.consulting },
  );
}

// ---- drawing --------------------------------------------------------------------------

/**
 * Draws the bar for the call there is now (if any); what was done to a call that went is
 * forgotten. Called whenever a call, a conversation or the language may have changed.
 */
export function renderCallControls() {
  const bar = byId('phone-controls');
  const tg = target();
  if (!tg) {
    if (ctl && !ctl.busy) ctl = null;
  } else if (!ctl || ctl.conversationId !== tg.conversationId) {
    ctl = { conversationId: tg.conversationId, held: false, consulting: '', handedOver: false, busy: false };
  }
  const c = tg && ctl && ctl.conversationId === tg.conversationId && !ctl.handedOver ? ctl : null;
  bar.hidden = !c;
  if (!c || !tg) {
    delete bar.dataset.conversationId;
    const dlg = consultDialog();
    if (dlg.open) dlg.close();
    return;
  }
  bar.dataset.conversationId = c.conversationId;
  bar.dataset.via = tg.via;
  bar.dataset.hold = String(c.held || !!c.consulting);
  bar.setAttribute('aria-label', t('phonectl.label'));
  bar.setAttribute('aria-busy', String(c.busy));
  const conv = state.convs.get(c.conversationId);
  barTitle.hidden = tg.via !== 'phone' || !conv;
  barTitle.textContent = tg.via === 'phone' && conv ? t('phonectl.title_phone', { name: callerName(conv.view) }) : '';
  holdState.hidden = !c.held && !c.consulting;
  holdState.textContent = c.consulting ? t('phonectl.consulting', { agent: c.consulting }) : c.held ? t('phonectl.on_hold') : '';
  holdBtn.hidden = c.held;
  resumeBtn.hidden = !c.held;
  holdBtn.disabled = c.busy || !!c.consulting;
  resumeBtn.disabled = c.busy || !!c.consulting;
  consultBtn.hidden = !!c.consulting;
  consultBtn.disabled = c.busy;
  completeBtn.hidden = !c.consulting;
  cancelBtn.hidden = !c.consulting;
  completeBtn.disabled = c.busy;
  cancelBtn.disabled = c.busy;
  holdBtn.textContent = t('phonectl.hold');
  resumeBtn.textContent = t('phonectl.resume');
  consultBtn.textContent = t('phonectl.consult');
  completeBtn.textContent = t('phonectl.complete');
  cancelBtn.textContent = t('phonectl.cancel');
  completeBtn.title = c.consulting ? t('phonectl.complete_title', { agent: c.consulting }) : '';
}

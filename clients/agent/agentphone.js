// agent/agentphone.js — owns sending an accepted phone call to the agent's own phone
// (docs/voice.md, "The agent's own phone"): when a `voice` conversation this tab accepted
// is assigned (not a queued callback: no caller waits), it asks
// `POST ../api/v1/voice/bridge {conversation_id}` with the staff token as Bearer. A 202
// means the engine moved the waiting caller's call to a `<Dial>` of the phone on the
// agent's profile: a notice says that phone is ringing (`agent-phone-ringing`) and the
// softphone must not dial. A 409 `conflict` saying the profile has no phone is remembered
// for that agent for the rest of the page (not asked again: an agent on the softphone
// pays one request); any other refusal, or no answer, is a warning notice
// (`agent-phone-failed`). Either way frames.js then lets softphone.js dial as before.
//
// Text only through text nodes (notice() from ./notices.js).

import { t } from '../shared/i18n.js';
import { state } from './state.js';
import { token } from './session.js';
import { callerName } from './softphone.js';
import { notice } from './notices.js';

/** @import { ConversationView } from './frames.js' */

/** Agents this page was told have no phone on their profile: not asked again. */
/** @type {Set<string>} */
const withoutPhone = new Set();

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
    failed(e instanceof Error && e.message ? e.message : String(e));
    return false;
  }
  // Signed out (or in again) meanwhile: nothing to say on this page any more.
  if (state.session !== session) return status === 202;
  const message = typeof body.message === 'string' ? body.message : '';
  if (status === 202) {
    const phone = typeof body.phone === 'string' ? body.phone : '';
    notice(t('agentphone.ringing', { phone, name }), 'info', { testid: 'agent-phone-ringing' });
    return true;
  }
  if (status === 409 && body.code === 'conflict' && message.includes('no phone')) {
    // The agent takes calls with the softphone: do not ask again on this page.
    withoutPhone.add(session.agent_id);
    return false;
  }
  failed(message || `HTTP ${status}`);
  return false;
}

/** @param {string} message */
function failed(message) {
  notice(t('agentphone.failed', { message }), 'warn', { testid: 'agent-phone-failed' });
}

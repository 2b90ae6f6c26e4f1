// agent/session.js — owns the agent's session: sign-in through ../shared/staff-login.js
// (the token kept in sessionStorage), starting a session (fresh state, the `/ws/agent`
// socket with frames.js's handlers, the messages a reload left in the outbox shown as
// pending), signing out (away with reason `logout`), and the expiry of the token
// (checked while reconnecting). A socket that is not open ends a browser call (calls.js);
// signing out (or in again) stops the phone softphone and hangs up its call (softphone.js).

import { wsUrl } from '../shared/ws.js';
import { staffLogin, sessionExpired } from '../shared/staff-login.js';
import { byId } from '../shared/dom.js';
import { state, serverNow, resetState } from './state.js';
import { renderConnection } from './header.js';
import { forgetOfferCards } from './offers.js';
import { forgetConversationItems } from './conv-list.js';
import { forgetTimeline } from './timeline.js';
import { renderAll } from './pane.js';
import { handlers } from './frames.js';
import { openSocket, closeSocket } from './wire.js';
import { callConnection } from './calls.js';
import { stopSoftphone } from './softphone.js';

/** @import { StaffSession } from '../shared/staff-login.js' */
/** @import { SocketState } from '../shared/ws.js' */

const OUTBOX_KEY_PREFIX = 'switchboard.agent.outbox.';

const login = staffLogin({
  storageKey: 'switchboard.agent.session',
  idField: 'login-agent-id',
  titleKey: 'login.title',
  onSignedIn: startSession,
});

function forgetEverything() {
  stopSoftphone();
  resetState();
  forgetTimeline();
  forgetOfferCards();
  forgetConversationItems();
}

/** @param {StaffSession} session */
function startSession(session) {
  state.session = session;
  forgetEverything();
  const socket = openSocket({
    url: () => wsUrl('../ws/agent', { token: session.token }),
    storage: sessionStorage,
    storageKey: OUTBOX_KEY_PREFIX + session.agent_id,
    onState: onConnState,
    handlers,
  });
  // Messages written before a page reload are still waiting for their ack.
  for (const msg of socket.pending()) {
    if (!msg.client_msg_id) continue;
    state.pending.set(msg.client_msg_id, {
      conversation_id: String(msg.conversation_id),
      kind: msg.type === 'note' ? 'note' : 'message',
      text: String(msg.text),
      channel: msg.channel ? String(msg.channel) : null,
      createdAt: Date.now(),
      failed: null,
    });
  }
  renderAll();
  socket.start();
}

/**
 * Signs out: away with reason `logout`, the outbox forgotten, the form shown.
 * @param {string} [messageKey] why, shown on the form (e.g. `login.expired`)
 */
export function logout(messageKey) {
  closeSocket();
  forgetEverything();
  for (const d of document.querySelectorAll('dialog')) if (d.open) d.close();
  login.signedOut(messageKey);
}

/** @param {SocketState} s */
function onConnState(s) {
  state.conn = s;
  callConnection(s);
  if (s.phase === 'reconnecting' && sessionExpired(state.session, serverNow())) {
    logout('login.expired');
    return;
  }
  renderConnection();
}

/** Every 250 ms: an expired token while reconnecting signs out. */
export function tickSession() {
  if (state.conn.phase === 'reconnecting' && state.session && sessionExpired(state.session, serverNow())) logout('login.expired');
}

/** Wires both sign-out buttons, then resumes a stored session or shows the form. */
export function initSession() {
  byId('logout').addEventListener('click', () => logout());
  byId('stuck-relogin').addEventListener('click', () => logout());
  login.resume();
}

/** The signed-in agent's token, or null. */
export function token() {
  return state.session ? state.session.token : null;
}

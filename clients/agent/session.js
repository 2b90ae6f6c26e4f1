// agent/session.js — owns the agent's session: the sign-in form (`POST
// /api/v1/login`, the token kept in sessionStorage), starting a session (fresh state,
// the `/ws/agent` socket with frames.js's handlers, the messages a reload left in the
// outbox shown as pending), signing out (away with reason `logout`), and the expiry
// of the token (checked while reconnecting).

import { t } from '../shared/i18n.js';
import { wsUrl } from '../shared/ws.js';
import { $, state, serverNow, resetState } from './state.js';
import { renderConnection } from './header.js';
import { forgetOfferCards } from './offers.js';
import { forgetConversationItems } from './conv-list.js';
import { forgetTimeline } from './timeline.js';
import { renderAll } from './pane.js';
import { handlers } from './frames.js';
import { openSocket, closeSocket } from './wire.js';

const SESSION_KEY = 'switchboard.agent.session';
const OUTBOX_KEY_PREFIX = 'switchboard.agent.outbox.';

function loadSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
    if (s && s.token && s.agent_id) return s;
  } catch {
    /* ignore */
  }
  return null;
}

function saveSession(s) {
  try {
    if (s) sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
    else sessionStorage.removeItem(SESSION_KEY);
  } catch {
    /* storage disabled: the session lasts for this page */
  }
}

function sessionExpired() {
  const exp = state.session && Number(state.session.expires_at);
  return !!exp && serverNow() >= exp;
}

async function onLoginSubmit(ev) {
  ev.preventDefault();
  const agentId = $('login-agent-id').value.trim();
  const password = $('login-password').value;
  const errorEl = $('login-error');
  if (!agentId || !password) {
    ($('login-agent-id').value.trim() ? $('login-password') : $('login-agent-id')).focus();
    return;
  }
  const submit = $('login-submit');
  submit.disabled = true;
  submit.textContent = t('login.signing_in');
  errorEl.hidden = true;
  try {
    const res = await fetch('../api/v1/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ agent_id: agentId, password }),
    });
    if (res.ok) {
      const body = await res.json();
      $('login-password').value = '';
      startSession({
        token: body.token,
        agent_id: body.agent_id || agentId,
        role: body.role,
        expires_at: body.expires_at,
      });
      return;
    }
    errorEl.textContent = res.status === 401 ? t('login.bad_credentials') : t('login.failed', { status: res.status });
    errorEl.hidden = false;
  } catch {
    errorEl.textContent = t('login.unreachable');
    errorEl.hidden = false;
  } finally {
    submit.disabled = false;
    submit.textContent = t('login.submit');
  }
}

function showLogin(messageKey) {
  $('app-view').hidden = true;
  $('login-view').hidden = false;
  document.title = `${t('login.title')} · Switchboard`;
  const errorEl = $('login-error');
  if (messageKey) {
    errorEl.textContent = t(messageKey);
    errorEl.hidden = false;
  } else {
    errorEl.hidden = true;
  }
  const saved = state.session && state.session.agent_id;
  if (saved) $('login-agent-id').value = saved;
  ($('login-agent-id').value ? $('login-password') : $('login-agent-id')).focus();
}

function forgetEverything() {
  resetState();
  forgetTimeline();
  forgetOfferCards();
  forgetConversationItems();
}

function startSession(session) {
  state.session = session;
  saveSession(session);
  forgetEverything();
  $('login-view').hidden = true;
  $('app-view').hidden = false;
  const socket = openSocket({
    url: () => wsUrl('../ws/agent', { token: state.session.token }),
    storage: sessionStorage,
    storageKey: OUTBOX_KEY_PREFIX + session.agent_id,
    onState: onConnState,
    handlers,
  });
  // Messages written before a page reload are still waiting for their ack.
  for (const msg of socket.pending()) {
    state.pending.set(msg.client_msg_id, {
      conversation_id: msg.conversation_id,
      kind: msg.type === 'note' ? 'note' : 'message',
      text: msg.text,
      channel: msg.channel || null,
      createdAt: Date.now(),
      failed: null,
    });
  }
  renderAll();
  socket.start();
}

export function logout(messageKey) {
  closeSocket();
  saveSession(null);
  forgetEverything();
  for (const d of document.querySelectorAll('dialog[open]')) d.close();
  showLogin(messageKey);
}

function onConnState(s) {
  state.conn = s;
  if (s.phase === 'reconnecting' && sessionExpired()) {
    logout('login.expired');
    return;
  }
  renderConnection();
}

/** Every 250 ms: an expired token while reconnecting signs out. */
export function tickSession() {
  if (state.conn.phase === 'reconnecting' && state.session && sessionExpired()) logout('login.expired');
}

/** Wires the sign-in form and both sign-out buttons, then resumes a stored session or shows the form. */
export function initSession() {
  $('login-form').addEventListener('submit', onLoginSubmit);
  $('logout').addEventListener('click', () => logout());
  $('stuck-relogin').addEventListener('click', () => logout());
  const session = loadSession();
  if (session && !(session.expires_at && Date.now() >= Number(session.expires_at))) startSession(session);
  else {
    if (session) saveSession(null);
    showLogin(session ? 'login.expired' : null);
  }
}

/** The signed-in agent's token, or null. */
export function token() {
  return state.session && state.session.token;
}

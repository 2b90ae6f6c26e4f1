// agent/app.js — owns the Switchboard agent desktop: login/logout (token in
// sessionStorage), the agent websocket session (protocol v1, docs/protocol.md), the
// client-side state rebuilt from every `welcome`, and all rendering: header (status,
// connection, language), offer cards with live countdowns, the list of held
// conversations, the customer timeline with history paging, the reply/note composer,
// transfer / wrap-up / resolve, the customer panel, notices and error toasts. The
// composer's reply-channel picker chooses the channel of each reply (the conversation's
// current channel by default); delivery receipts (`message_status`) are folded into the
// outbound message they are about.
//
// Safety rule: customer- and agent-provided text only ever reaches the page through
// text nodes (h() from ../shared/dom.js, or textContent). No innerHTML anywhere. URLs
// from events become links only through safeLink (http/https).

import {
  t,
  has,
  applyTranslations,
  bindLanguageToggle,
  onLanguageChange,
  formatDuration,
  formatTime,
  formatDateTime,
  formatDay,
  formatSize,
  channelName,
} from '../shared/i18n.js';
import { ReconnectingSocket, wsUrl, newClientMsgId } from '../shared/ws.js';
import { h, replaceChildren, reconcile, safeLink } from '../shared/dom.js';
import { initAssist, assistSelected } from './assist.js';
import { engageEventText } from './engage.js';
import { botText } from './bot.js';
import { renderCallbackTask, describeCallbackEvent } from './callback.js';

const SESSION_KEY = 'switchboard.agent.session';
const OUTBOX_KEY_PREFIX = 'switchboard.agent.outbox.';
const TYPING_THROTTLE_MS = 2000;
const CUSTOMER_TYPING_SHOW_MS = 5000;
const HISTORY_PAGE = 50;
const OFFER_LOCAL_GRACE_MS = 5000;
const NOTICE_MS = 7000;
const TOAST_MS = 12000;
const MAX_TEXT_BYTES = 16 * 1024;
const STUCK_AFTER_FAILURES = 4;
const AWAY_REASONS = ['break', 'lunch', 'meeting', 'training', 'other'];
// Delivery receipts are shown on the message they are about, not as lines of their own.
const HIDDEN_EVENT_KINDS = new Set(['offered', 'message_status']);
// Channels a reply cannot go out on (a call carries no text).
const NO_REPLY_CHANNELS = new Set(['voice']);
// A later receipt never downgrades an earlier one (providers report out of order).
const DELIVERY_RANK = { sent: 1, delivered: 2, read: 3, failed: 4, suppressed: 4 };
const DELIVERY_ICON = { sent: '✓', delivered: '✓✓', read: '✓✓', failed: '✕', suppressed: '⦸' };
const MESSAGE_KINDS = new Set(['message_in', 'message_out', 'note']);

const $ = (id) => document.getElementById(id);
const encoder = new TextEncoder();

// ---------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------

const state = {
  session: null, // { token, agent_id, role, expires_at }
  agent: null, // AgentInfo from welcome
  status: null,
  reason: null,
  skew: 0, // server clock minus local clock (ms), from welcome.server_time
  welcomed: false, // a welcome arrived on this page already (for resume notices)
  conn: { phase: 'connecting', failures: 0 },
  /** offer_id -> { offer, receivedAt, accepting, expiredAt } */
  offers: new Map(),
  /** conversation id -> { view, state, unread, typingUntil, lastActivity } (arrival order) */
  convs: new Map(),
  /** customer_id -> { events: Map<eventId, TimelineEvent>, more: boolean|null, loading } */
  timelines: new Map(),
  /** client_msg_id -> { conversation_id, kind: 'message'|'note', text, channel, createdAt, failed, detail } */
  pending: new Map(),
  selected: null,
  /** conversation id -> { text, note, channel } (channel: the agent's pick, null = default) */
  drafts: new Map(),
  /** request_id -> customer_id */
  historyRequests: new Map(),
  /** conversation ids whose offer was accepted from this tab (selected on assignment) */
  acceptedHere: new Set(),
  lastTypingSentAt: 0,
  infoOpen: false,
};

let socket = null;

const serverNow = () => Date.now() + state.skew;

// ---------------------------------------------------------------------------------
// Session (login / logout)
// ---------------------------------------------------------------------------------

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

function resetState() {
  state.agent = null;
  state.status = null;
  state.reason = null;
  state.welcomed = false;
  state.offers.clear();
  state.convs.clear();
  state.timelines.clear();
  state.pending.clear();
  state.selected = null;
  state.drafts.clear();
  state.historyRequests.clear();
  state.acceptedHere.clear();
  timelineCache.clear();
  offerCache.clear();
  convItemCache.clear();
}

function startSession(session) {
  state.session = session;
  saveSession(session);
  resetState();
  $('login-view').hidden = true;
  $('app-view').hidden = false;
  socket = new ReconnectingSocket({
    url: () => wsUrl('../ws/agent', { token: state.session.token }),
    storage: sessionStorage,
    storageKey: OUTBOX_KEY_PREFIX + session.agent_id,
    onState: onConnState,
    handlers: {
      welcome: onWelcome,
      status: onStatus,
      offer: onOffer,
      offer_revoked: onOfferRevoked,
      conversation_assigned: onConversationAssigned,
      event: onEvent,
      ack: onAck,
      conversation_updated: onConversationUpdated,
      customer_typing: onCustomerTyping,
      history: onHistory,
      error: onServerError,
      pong: () => {},
    },
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

function logout(messageKey) {
  if (socket) {
    socket.send({ type: 'set_status', status: 'away', reason: 'logout' });
    socket.clearOutbox();
    socket.stop();
    socket = null;
  }
  saveSession(null);
  resetState();
  for (const d of document.querySelectorAll('dialog[open]')) d.close();
  showLogin(messageKey);
}

// ---------------------------------------------------------------------------------
// Server -> agent
// ---------------------------------------------------------------------------------

function onConnState(s) {
  state.conn = s;
  if (s.phase === 'reconnecting' && sessionExpired()) {
    logout('login.expired');
    return;
  }
  renderConnection();
}

function onWelcome(msg) {
  const again = state.welcomed;
  state.welcomed = true;
  state.agent = msg.agent;
  state.status = msg.status;
  state.reason = msg.reason ?? null;
  if (Number.isFinite(msg.server_time)) state.skew = msg.server_time - Date.now();

  // Offers: exactly those in the message.
  state.offers.clear();
  offerCache.clear();
  for (const offer of msg.offers || []) state.offers.set(offer.offer_id, { offer, receivedAt: Date.now() });

  // Conversations and timelines: rebuilt from the message. Older pages already loaded
  // for a customer that is still held are kept (events never change).
  const oldConvs = state.convs;
  const oldTimelines = state.timelines;
  state.convs = new Map();
  state.timelines = new Map();
  for (const view of msg.conversations || []) {
    const prev = oldConvs.get(view.id);
    upsertConversation(view, prev ? prev.unread : 0);
    const old = oldTimelines.get(view.customer.id);
    const tl = timelineFor(view.customer.id);
    if (old) {
      for (const [id, e] of old.events) if (!tl.events.has(id)) tl.events.set(id, e);
      tl.more = old.more;
    }
  }
  // Pending messages of conversations no longer held will be refused (not_yours);
  // the outbox resends the others.
  for (const [id, p] of state.pending) {
    if (!state.convs.has(p.conversation_id) && !socket.hasPending(id)) state.pending.delete(id);
  }
  timelineCache.clear();
  lastRenderedConv = null;
  if (again) notice(msg.resumed ? t('notice.resumed') : t('notice.session_new'));
  if (!state.convs.has(state.selected)) {
    state.selected = null;
    const next = state.convs.size ? [...state.convs.keys()][0] : null;
    if (next) {
      select(next, { save: false });
      return;
    }
    $('composer-input').value = '';
  }
  renderAll();
}

function onStatus(msg) {
  const was = state.status;
  state.status = msg.status;
  state.reason = msg.reason ?? null;
  if (msg.reason === 'missed' && was !== msg.status) notice(t('notice.status_missed'), 'warn');
  renderStatus();
}

function onOffer(offer) {
  state.offers.set(offer.offer_id, { offer, receivedAt: Date.now() });
  offerCache.delete(offer.offer_id);
  renderOffers();
  renderTitle();
}

function onOfferRevoked(msg) {
  const entry = state.offers.get(msg.offer_id);
  if (!entry) return;
  removeOffer(msg.offer_id);
  const name = customerName(entry.offer.customer);
  // `rejected` reaches the other tabs of an agent who declined in one tab.
  const key = { timed_out: 'notice.offer_timed_out', rejected: 'notice.offer_rejected' }[msg.outcome] || 'notice.offer_rescinded';
  notice(t(key, { name }), msg.outcome === 'timed_out' ? 'warn' : 'info', { testid: `offer-outcome-${msg.outcome}` });
}

function onConversationAssigned(msg) {
  const view = msg.conversation;
  const prev = state.convs.get(view.id);
  upsertConversation(view, prev ? prev.unread : 0);
  for (const [id, entry] of state.offers) {
    if (entry.offer.conversation_id === view.id) removeOffer(id, false);
  }
  if (state.acceptedHere.delete(view.id) || !state.selected) select(view.id);
  else renderAll();
}

function onEvent(msg) {
  const { conversation_id: convId, event } = msg;
  const conv = state.convs.get(convId);
  const customerId = event.customer_id || (conv && conv.view.customer.id);
  if (!customerId) return;
  const tl = timelineFor(customerId);
  tl.events.set(event.id, event);
  if (conv) {
    conv.lastActivity = event.at;
    if (event.type === 'message_in') {
      conv.typingUntil = 0;
      if (state.selected !== convId || document.hidden) conv.unread += 1;
    }
    if (event.type === 'identity_linked') {
      const ids = conv.view.customer.identities || (conv.view.customer.identities = []);
      if (!ids.some((i) => i.channel === event.channel && i.address === event.address)) {
        ids.push({ channel: event.channel, address: event.address });
      }
    }
    if (event.type === 'customers_merged') {
      const ids = conv.view.customer.identities || (conv.view.customer.identities = []);
      for (const k of event.identities || []) {
        if (!ids.some((i) => i.channel === k.channel && i.address === k.address)) ids.push({ channel: k.channel, address: k.address });
      }
    }
    if (event.type === 'customers_unmerged' && conv.view.customer.identities) {
      const gone = event.identities || [];
      conv.view.customer.identities = conv.view.customer.identities.filter(
        (i) => !gone.some((k) => k.channel === i.channel && k.address === i.address),
      );
    }
    if (event.type === 'channel_switched') {
      conv.view.channel = event.to;
      // The picker follows the conversation to its new channel.
      const draft = state.drafts.get(convId);
      if (draft) draft.channel = null;
    }
  }
  renderConversationList();
  if (conv && state.selected === convId) renderConversation();
  else if (selectedCustomerId() === customerId) renderTimeline();
  renderTitle();
}

function onAck(msg) {
  const p = state.pending.get(msg.client_msg_id);
  if (!p) return;
  state.pending.delete(msg.client_msg_id);
  const conv = state.convs.get(msg.conversation_id || p.conversation_id);
  if (conv) {
    const tl = timelineFor(conv.view.customer.id);
    const already = tl.events.has(msg.event_id) || [...tl.events.values()].some((e) => e.client_msg_id === msg.client_msg_id);
    if (!already) {
      // The `event` broadcast may come later (or to other tabs only): show it as sent now.
      tl.events.set(msg.event_id, {
        id: msg.event_id,
        customer_id: conv.view.customer.id,
        conversation_id: conv.view.id,
        at: p.createdAt + state.skew,
        type: p.kind === 'note' ? 'note' : 'message_out',
        channel: p.kind === 'note' ? undefined : p.channel || conv.view.channel,
        agent_id: state.session.agent_id,
        text: p.text,
        client_msg_id: msg.client_msg_id,
      });
    }
  }
  if (state.selected === (msg.conversation_id || p.conversation_id)) renderTimeline();
}

function onConversationUpdated(msg) {
  const conv = state.convs.get(msg.conversation_id);
  if (!conv) return;
  conv.state = msg.state;
  conv.view.state = msg.state;
  if (msg.held === false) {
    const name = customerName(conv.view.customer);
    const key =
      msg.state === 'resolved'
        ? 'notice.conv_resolved'
        : msg.state === 'queued'
          ? 'notice.conv_transferred'
          : msg.state === 'abandoned'
            ? 'notice.conv_abandoned'
            : 'notice.conv_closed';
    notice(t(key, { name }), 'info', { testid: 'conversation-closed' });
    removeConversation(msg.conversation_id);
  }
  renderAll();
}

function onCustomerTyping(msg) {
  const conv = state.convs.get(msg.conversation_id);
  if (!conv) return;
  conv.typingUntil = Date.now() + CUSTOMER_TYPING_SHOW_MS;
  renderConversationList();
  if (state.selected === msg.conversation_id) renderTyping();
}

function onHistory(msg) {
  const customerId = msg.customer_id || state.historyRequests.get(msg.request_id);
  if (msg.request_id) state.historyRequests.delete(msg.request_id);
  if (!customerId) return;
  const tl = timelineFor(customerId);
  for (const e of msg.events || []) tl.events.set(e.id, e);
  tl.more = !!msg.more;
  tl.loading = false;
  if (selectedCustomerId() === customerId) renderTimeline({ keepScroll: true });
}

function onServerError(msg) {
  if (msg.failed && state.pending.has(msg.ref)) {
    const p = state.pending.get(msg.ref);
    p.failed = msg.code;
    p.detail = msg.message || null;
    renderTimeline();
  }
  if (msg.code === 'offer_not_found' && msg.ref && state.offers.has(msg.ref)) {
    const entry = state.offers.get(msg.ref);
    state.acceptedHere.delete(entry.offer.conversation_id);
    removeOffer(msg.ref);
    notice(t('notice.offer_gone'), 'warn');
    return;
  }
  // A refused history request must not leave the button spinning.
  const historyCustomer = msg.ref && (state.historyRequests.get(msg.ref) || (state.timelines.has(msg.ref) ? msg.ref : null));
  if (historyCustomer) {
    state.historyRequests.delete(msg.ref);
    timelineFor(historyCustomer).loading = false;
    renderTimelineHeader();
  }
  toast(msg.code, errorText(msg));
}

function errorText(msg) {
  // `invalid` covers many refusals (opted out, no address, connector off): say which.
  if (msg.code === 'invalid' && msg.message) return t('error.invalid_detail', { detail: msg.message });
  const key = `error.${msg.code}`;
  return has(key) ? t(key) : msg.message || msg.code;
}

// ---------------------------------------------------------------------------------
// State helpers
// ---------------------------------------------------------------------------------

function timelineFor(customerId) {
  let tl = state.timelines.get(customerId);
  if (!tl) {
    tl = { events: new Map(), more: null, loading: false };
    state.timelines.set(customerId, tl);
  }
  return tl;
}

function upsertConversation(view, unread = 0) {
  const prev = state.convs.get(view.id);
  const conv = {
    view,
    state: view.state,
    unread,
    typingUntil: prev ? prev.typingUntil : 0,
    lastActivity: view.recent && view.recent.length ? view.recent[view.recent.length - 1].at : view.enqueued_at,
  };
  state.convs.set(view.id, conv);
  const tl = timelineFor(view.customer.id);
  for (const e of view.recent || []) tl.events.set(e.id, e);
  return conv;
}

function removeConversation(id) {
  const conv = state.convs.get(id);
  state.convs.delete(id);
  for (const [cid, p] of state.pending) {
    if (p.conversation_id === id) {
      state.pending.delete(cid);
      if (socket) socket.drop(cid);
    }
  }
  if (conv) {
    const stillUsed = [...state.convs.values()].some((c) => c.view.customer.id === conv.view.customer.id);
    if (!stillUsed) state.timelines.delete(conv.view.customer.id);
  }
  state.drafts.delete(id);
  if (state.selected === id) {
    state.selected = null;
    const next = state.convs.size ? [...state.convs.keys()][0] : null;
    if (next) select(next, { save: false });
    else $('composer-input').value = '';
  }
}

function removeOffer(offerId, render = true) {
  state.offers.delete(offerId);
  const node = offerCache.get(offerId);
  if (node) node.remove();
  offerCache.delete(offerId);
  if (render) {
    renderOffers();
    renderTitle();
  }
}

function selectedConv() {
  return state.selected ? state.convs.get(state.selected) : null;
}

function selectedCustomerId() {
  const c = selectedConv();
  return c ? c.view.customer.id : null;
}

function customerName(customer) {
  if (customer && customer.display_name) return customer.display_name;
  const id = customer && customer.id ? String(customer.id) : '';
  return id ? `${t('customer.visitor')} ${id.slice(0, 4)}` : t('customer.visitor');
}

function agentLabel(agentId, { inSentence = false } = {}) {
  if (!agentId) return t('event.system_agent');
  if (state.session && agentId === state.session.agent_id) return inSentence ? t('msg.you_lower') : t('msg.you');
  return agentId;
}

function select(id, { save = true } = {}) {
  if (!state.convs.has(id)) return;
  if (save) saveDraft();
  state.selected = id;
  const conv = state.convs.get(id);
  conv.unread = 0;
  renderAll();
  loadDraft();
}

// ---------------------------------------------------------------------------------
// Agent -> server
// ---------------------------------------------------------------------------------

function sendNow(msg) {
  if (socket && socket.send(msg)) return true;
  toast('not_connected', t('error.not_connected'));
  return false;
}

function setStatus(status, reason) {
  const msg = { type: 'set_status', status };
  if (reason) msg.reason = reason;
  if (!sendNow(msg)) renderStatus();
}

function accept(offerId) {
  const entry = state.offers.get(offerId);
  if (!entry || entry.accepting) return;
  if (!sendNow({ type: 'accept', offer_id: offerId })) return;
  entry.accepting = true;
  entry.acceptingSince = Date.now();
  state.acceptedHere.add(entry.offer.conversation_id);
  paintOffer(offerId);
}

function reject(offerId) {
  const entry = state.offers.get(offerId);
  if (!entry) return;
  if (!sendNow({ type: 'reject', offer_id: offerId })) return;
  removeOffer(offerId);
  notice(t('notice.offer_rejected', { name: customerName(entry.offer.customer) }), 'info', { testid: 'offer-outcome-rejected' });
}

function sendComposer() {
  const conv = selectedConv();
  if (!conv) return;
  const input = $('composer-input');
  const text = input.value;
  if (!text.trim()) return;
  if (encoder.encode(text).length > MAX_TEXT_BYTES) {
    toast('too_large', t('error.too_large'));
    return;
  }
  const note = currentDraft().note;
  const channel = note ? null : pickedChannel(conv);
  const clientMsgId = newClientMsgId();
  state.pending.set(clientMsgId, {
    conversation_id: conv.view.id,
    kind: note ? 'note' : 'message',
    text,
    channel,
    createdAt: Date.now(),
    failed: null,
    detail: null,
  });
  const msg = { type: note ? 'note' : 'message', conversation_id: conv.view.id, client_msg_id: clientMsgId, text };
  // Sent only when it differs from the default, so the server keeps following the customer.
  if (channel) msg.channel = channel;
  socket.sendReliable(msg);
  input.value = '';
  currentDraft().text = '';
  state.lastTypingSentAt = 0;
  renderTimeline({ toBottom: true });
  input.focus();
}

function retryPending(clientMsgId) {
  const p = state.pending.get(clientMsgId);
  if (!p) return;
  p.failed = null;
  p.detail = null;
  const msg = { type: p.kind, conversation_id: p.conversation_id, client_msg_id: clientMsgId, text: p.text };
  if (p.channel) msg.channel = p.channel;
  socket.sendReliable(msg);
  renderTimeline();
}

function maybeSendTyping() {
  const conv = selectedConv();
  if (!conv || currentDraft().note) return;
  const now = Date.now();
  if (now - state.lastTypingSentAt < TYPING_THROTTLE_MS) return;
  if (socket && socket.send({ type: 'typing', conversation_id: conv.view.id })) state.lastTypingSentAt = now;
}

function requestOlder() {
  const conv = selectedConv();
  if (!conv) return;
  const tl = timelineFor(conv.view.customer.id);
  if (tl.loading) return;
  const oldest = sortedEvents(tl)[0];
  const requestId = newClientMsgId();
  const msg = { type: 'history', customer_id: conv.view.customer.id, limit: HISTORY_PAGE, request_id: requestId };
  if (oldest) msg.before = oldest.id;
  if (!sendNow(msg)) return;
  state.historyRequests.set(requestId, conv.view.customer.id);
  tl.loading = true;
  renderTimelineHeader();
  setTimeout(() => {
    // No answer (dropped connection, or an error without a ref): let the agent try again.
    if (state.historyRequests.delete(requestId)) {
      tl.loading = false;
      renderTimelineHeader();
    }
  }, 15000);
}

// ---------------------------------------------------------------------------------
// Drafts
// ---------------------------------------------------------------------------------

function currentDraft() {
  const id = state.selected || '';
  let d = state.drafts.get(id);
  if (!d) {
    d = { text: '', note: false, channel: null };
    state.drafts.set(id, d);
  }
  return d;
}

function saveDraft() {
  if (!state.selected) return;
  currentDraft().text = $('composer-input').value;
}

function loadDraft() {
  $('composer-input').value = state.selected ? currentDraft().text : '';
  renderComposer();
}

// ---------------------------------------------------------------------------------
// Reply channel
// ---------------------------------------------------------------------------------

/**
 * Channels a reply in conv can go out on: its current channel first, then every channel
 * the customer has an identity on (a chat identity is just `chat`); never `voice`.
 */
function replyChannels(conv) {
  const list = [];
  const add = (c) => {
    if (c && !NO_REPLY_CHANNELS.has(c) && !list.includes(c)) list.push(c);
  };
  add(conv.view.channel);
  for (const i of conv.view.customer.identities || []) add(i.channel);
  return list;
}

/**
 * Channels the customer opted out of: the view's `customer.opted_out`, corrected by the
 * `opt_out_changed` events of the timeline in order (the latest one per channel wins).
 */
function optedOutChannels(conv) {
  const out = new Set(conv.view.customer.opted_out || []);
  const tl = state.timelines.get(conv.view.customer.id);
  if (tl) {
    for (const e of sortedEvents(tl)) {
      if (e.type !== 'opt_out_changed') continue;
      if (e.opted_out) out.add(e.channel);
      else out.delete(e.channel);
    }
  }
  return out;
}

/** What the picker shows: the agent's pick while still possible, else the default. */
function shownReplyChannel(conv, channels, optedOut) {
  const usable = (c) => channels.includes(c) && !optedOut.has(c);
  const d = state.drafts.get(conv.view.id);
  if (d && d.channel && usable(d.channel)) return d.channel;
  if (usable(conv.view.channel)) return conv.view.channel;
  return channels.find(usable) || channels[0] || '';
}

/** The channel to name in a reply: the picker's, only when it is not the default. */
function pickedChannel(conv) {
  const v = $('reply-channel').value;
  return v && v !== conv.view.channel ? v : null;
}

function renderReplyChannel(conv, note) {
  const sel = $('reply-channel');
  const channels = replyChannels(conv);
  const optedOut = optedOutChannels(conv);
  const labels = channels.map((c) => (optedOut.has(c) ? `${channelName(c)} ${t('composer.opted_out')}` : channelName(c)));
  const sig = JSON.stringify([channels, labels]);
  if (sel.dataset.sig !== sig) {
    sel.dataset.sig = sig;
    replaceChildren(sel, ...channels.map((c, i) => h('option', { value: c, disabled: optedOut.has(c) }, labels[i])));
  }
  const shown = shownReplyChannel(conv, channels, optedOut);
  sel.value = shown;
  sel.dataset.default = conv.view.channel;
  sel.disabled = channels.length === 0;
  sel.classList.toggle('is-override', !!shown && shown !== conv.view.channel);
  sel.title = t('composer.reply_via_title', { channel: channelName(shown || conv.view.channel) });
  sel.closest('.composer__channel').hidden = note;
}

// ---------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------

const offerCache = new Map(); // offer_id -> card element
const convItemCache = new Map(); // conversation id -> <li>
const timelineCache = new Map(); // key -> <li>
let lastRenderedConv = null;

function renderAll() {
  renderHeader();
  renderOffers();
  renderConversationList();
  renderConversation();
  renderTitle();
}

function renderHeader() {
  const name = (state.agent && state.agent.display_name) || (state.session && state.session.agent_id) || '';
  $('agent-name').textContent = name;
  $('agent-avatar').textContent = initials(name);
  const queues = state.agent && state.agent.queues ? state.agent.queues.join(' · ') : '';
  $('agent-queues').textContent = queues;
  $('agent-queues').title = queues;
  renderStatus();
  renderConnection();
  const dl = $('queue-options');
  replaceChildren(dl, ...((state.agent && state.agent.queues) || []).map((q) => h('option', { value: q })));
}

function initials(name) {
  const parts = String(name).trim().split(/\s+/).filter(Boolean);
  if (!parts.length) return '?';
  const first = [...parts[0]][0] || '';
  const second = parts.length > 1 ? [...parts[parts.length - 1]][0] || '' : '';
  return (first + second).toUpperCase();
}

function statusLabel(status) {
  return has(`status.${status}`) ? t(`status.${status}`) : status || t('common.unknown');
}

function reasonLabel(reason) {
  return has(`reason.${reason}`) ? t(`reason.${reason}`) : reason;
}

function renderStatus() {
  const dot = $('agent-status');
  const status = state.status || '';
  dot.dataset.status = status;
  dot.setAttribute('aria-label', `${t('status.label')}: ${statusLabel(status)}${state.reason ? ` (${reasonLabel(state.reason)})` : ''}`);
  dot.title = dot.getAttribute('aria-label');

  const sel = $('status-select');
  for (const opt of sel.querySelectorAll('option[data-extra]')) opt.remove();
  if (status && status !== 'available' && status !== 'away') {
    sel.appendChild(h('option', { value: status, disabled: true, dataset: { extra: '1' } }, statusLabel(status)));
  }
  sel.value = status || 'away';

  const reasonSel = $('away-reason');
  const reasons = [...AWAY_REASONS];
  if (state.reason && !reasons.includes(state.reason)) reasons.unshift(state.reason);
  replaceChildren(reasonSel, ...reasons.map((r) => h('option', { value: r }, reasonLabel(r))));
  reasonSel.value = state.reason && reasons.includes(state.reason) ? state.reason : AWAY_REASONS[0];
  reasonSel.hidden = status !== 'away';
}

function renderConnection() {
  const el = $('connection-indicator');
  const { phase, retryInMs, failures } = state.conn;
  const shown = phase === 'open' ? 'connected' : phase === 'closed' ? 'offline' : phase;
  el.dataset.state = shown;
  let text;
  if (phase === 'open') text = t('conn.connected');
  else if (phase === 'reconnecting' && retryInMs > 1500) text = t('conn.reconnecting_in', { s: Math.ceil(retryInMs / 1000) });
  else if (phase === 'reconnecting') text = t('conn.reconnecting');
  else if (phase === 'closed') text = t('conn.offline');
  else text = t('conn.connecting');
  el.querySelector('.conn__text').textContent = text;
  el.title = `${t('header.connection')}: ${text}`;
  $('stuck-banner').hidden = !(phase !== 'open' && failures >= STUCK_AFTER_FAILURES);
  const offline = phase !== 'open';
  document.body.classList.toggle('is-offline', offline);
}

function renderTitle() {
  let n = state.offers.size;
  for (const c of state.convs.values()) n += c.unread;
  document.title = `${n ? `(${n}) ` : ''}${state.agent ? `${state.agent.display_name} · ` : ''}Switchboard`;
}

// ---- offers -------------------------------------------------------------------

function renderOffers() {
  const container = $('offers');
  const items = [...state.offers.values()]
    .sort((a, b) => a.offer.expires_at - b.offer.expires_at)
    .map((entry) => ({ key: entry.offer.offer_id, render: () => buildOffer(entry) }));
  reconcile(container, items, offerCache);
  for (const id of state.offers.keys()) paintOffer(id);
  const count = $('offers-count');
  count.textContent = String(state.offers.size);
  count.hidden = state.offers.size === 0;
  container.closest('.offers-panel').classList.toggle('is-empty', state.offers.size === 0);
}

function buildOffer(entry) {
  const o = entry.offer;
  const name = customerName(o.customer);
  const card = h(
    'article',
    {
      class: 'offer',
      dataset: { testid: 'offer-card', offerId: o.offer_id, conversationId: o.conversation_id, channel: o.channel },
      'aria-label': t('offer.aria', { name, channel: channelName(o.channel) }),
    },
    h(
      'div',
      { class: 'offer__top' },
      channelBadge(o.channel),
      h('span', { class: 'offer__queue', dataset: { testid: 'offer-queue' } }, t('offer.queue', { q: o.queue })),
      o.priority ? h('span', { class: 'badge badge--soft' }, t('offer.priority', { p: o.priority })) : null,
      h('span', { class: 'offer__countdown', dataset: { testid: 'offer-countdown' }, 'aria-hidden': 'true' }),
    ),
    h('div', { class: 'offer__who', dataset: { testid: 'offer-customer' } }, name),
    h(
      'p',
      { class: `offer__preview${o.preview ? '' : ' offer__preview--empty'}`, dataset: { testid: 'offer-preview' } },
      o.preview || t('offer.no_preview'),
    ),
    h('div', { class: 'offer__meta', dataset: { testid: 'offer-waited' } }),
    h('div', { class: 'offer__bar', 'aria-hidden': 'true' }, h('span', { class: 'offer__bar-fill' })),
    h(
      'div',
      { class: 'offer__actions' },
      h(
        'button',
        { type: 'button', class: 'btn btn--primary offer__accept', dataset: { testid: 'offer-accept' }, onclick: () => accept(o.offer_id) },
        t('offer.accept'),
      ),
      h(
        'button',
        { type: 'button', class: 'btn offer__reject', dataset: { testid: 'offer-reject' }, onclick: () => reject(o.offer_id) },
        t('offer.reject'),
      ),
    ),
  );
  return card;
}

/**
 * Local clock time at which the offer expires: expires_at corrected by the skew measured
 * at welcome, but never later than timeout_ms after the offer arrived (network latency
 * makes the skew estimate err towards showing too much time).
 */
function offerDeadline(entry) {
  const o = entry.offer;
  const bySkew = o.expires_at - state.skew;
  return o.timeout_ms ? Math.min(bySkew, entry.receivedAt + o.timeout_ms) : bySkew;
}

/** Updates the live parts of an offer card (countdown, waited time, button state). */
function paintOffer(offerId) {
  const entry = state.offers.get(offerId);
  const card = offerCache.get(offerId);
  if (!entry || !card) return;
  const o = entry.offer;
  const left = offerDeadline(entry) - Date.now();
  const total = o.timeout_ms || Math.max(1, offerDeadline(entry) - entry.receivedAt);
  const secs = Math.max(0, Math.ceil(left / 1000));
  const expired = left <= 0;
  const countdown = card.querySelector('.offer__countdown');
  const text = expired ? t('offer.expired') : t('offer.expires_in', { s: secs });
  if (countdown.textContent !== text) countdown.textContent = text;
  card.classList.toggle('offer--urgent', !expired && left < 5000);
  card.classList.toggle('offer--expired', expired);
  const fill = card.querySelector('.offer__bar-fill');
  fill.style.width = `${Math.max(0, Math.min(100, (left / total) * 100))}%`;
  const waited = formatDuration(o.waited_ms + (Date.now() - entry.receivedAt));
  const waitedText = t('offer.waited', { d: waited });
  const meta = card.querySelector('.offer__meta');
  if (meta.textContent !== waitedText) meta.textContent = waitedText;
  const acceptBtn = card.querySelector('.offer__accept');
  acceptBtn.disabled = !!entry.accepting || expired;
  const label = entry.accepting ? t('offer.accepting') : t('offer.accept');
  if (acceptBtn.textContent !== label) acceptBtn.textContent = label;
  card.querySelector('.offer__reject').disabled = !!entry.accepting || expired;
}

// ---- conversation list --------------------------------------------------------

function renderConversationList() {
  const list = $('conversation-list');
  const items = [...state.convs.values()].map((conv) => ({
    key: conv.view.id,
    render: () => h('li', { class: 'conv-item' }, h('button', { type: 'button', class: 'conv-item__btn', onclick: () => select(conv.view.id) })),
    update: null,
  }));
  reconcile(list, items, convItemCache);
  for (const conv of state.convs.values()) paintConversationItem(conv);
  $('convs-empty').hidden = state.convs.size > 0;
  const count = $('convs-count');
  count.textContent = String(state.convs.size);
  count.hidden = state.convs.size === 0;
}

function lastMessage(conv) {
  const tl = state.timelines.get(conv.view.customer.id);
  if (!tl) return null;
  let last = null;
  for (const e of tl.events.values()) {
    if ((e.type === 'message_in' || e.type === 'message_out') && (!last || e.id > last.id)) last = e;
  }
  return last;
}

function paintConversationItem(conv) {
  const li = convItemCache.get(conv.view.id);
  if (!li) return;
  const btn = li.firstChild;
  const selected = state.selected === conv.view.id;
  li.className = `conv-item${selected ? ' is-selected' : ''}${conv.unread ? ' has-unread' : ''}`;
  li.dataset.testid = 'conversation-item';
  li.dataset.conversationId = conv.view.id;
  li.dataset.state = conv.state;
  if (selected) btn.setAttribute('aria-current', 'true');
  else btn.removeAttribute('aria-current');
  const name = customerName(conv.view.customer);
  const last = lastMessage(conv);
  const typing = conv.typingUntil > Date.now();
  const previewText = typing ? t('conv.typing', { name }) : last ? last.text : '';
  btn.setAttribute(
    'aria-label',
    `${name}, ${channelName(conv.view.channel)}${conv.unread ? `, ${t('convs.unread', { n: conv.unread })}` : ''}`,
  );
  replaceChildren(
    btn,
    h('span', { class: 'avatar avatar--sm', 'aria-hidden': 'true' }, initials(name)),
    h(
      'span',
      { class: 'conv-item__main' },
      h(
        'span',
        { class: 'conv-item__row' },
        h('span', { class: 'conv-item__name' }, name),
        last ? h('time', { class: 'conv-item__time', datetime: new Date(last.at).toISOString() }, formatTime(last.at)) : null,
      ),
      h(
        'span',
        { class: 'conv-item__row' },
        h('span', { class: `conv-item__preview${typing ? ' is-typing' : ''}` }, previewText),
        conv.unread
          ? h('span', { class: 'unread', dataset: { testid: 'unread-count' }, 'aria-hidden': 'true' }, String(conv.unread))
          : null,
      ),
      h(
        'span',
        { class: 'conv-item__row conv-item__tags' },
        channelBadge(conv.view.channel),
        conv.state !== 'assigned' ? stateBadge(conv.state) : null,
        h('span', { class: 'conv-item__queue' }, conv.view.queue),
      ),
    ),
  );
}

// ---- conversation pane --------------------------------------------------------

function renderConversation() {
  const conv = selectedConv();
  $('conv-empty').hidden = !!conv;
  $('conv-view').hidden = !conv;
  assistSelected(conv);
  if (!conv) {
    lastRenderedConv = null;
    return;
  }
  const name = customerName(conv.view.customer);
  $('conv-title').textContent = name;
  replaceChildren(
    $('conv-subtitle'),
    channelBadge(conv.view.channel),
    stateBadge(conv.state),
    h('span', { class: 'conv-header__queue' }, t('offer.queue', { q: conv.view.queue })),
  );
  const closed = conv.state === 'resolved' || conv.state === 'abandoned';
  $('action-wrapup').disabled = conv.state !== 'assigned';
  $('action-transfer').disabled = closed;
  $('timeline-scroll').setAttribute('aria-label', t('conv.timeline', { name }));
  const banner = $('conv-banner');
  banner.hidden = conv.state !== 'abandoned';
  banner.textContent = conv.state === 'abandoned' ? t('conv.customer_left') : '';
  $('customer-panel').classList.toggle('is-open', state.infoOpen);
  $('toggle-info').setAttribute('aria-expanded', String(state.infoOpen));
  const switched = lastRenderedConv !== conv.view.id;
  if (switched) {
    timelineCache.clear();
    $('timeline').replaceChildren();
  }
  lastRenderedConv = conv.view.id;
  renderTimeline({ toBottom: switched });
  renderTyping();
  renderComposer();
  renderCustomerPanel(conv);
  renderCallbackTask(conv, sortedEvents(timelineFor(conv.view.customer.id)), state.session.token, (m) => toast('callback', m));
}

function sortedEvents(tl) {
  return [...tl.events.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function renderTimelineHeader() {
  const conv = selectedConv();
  if (!conv) return;
  const tl = timelineFor(conv.view.customer.id);
  const btn = $('load-older');
  btn.hidden = tl.more === false;
  btn.disabled = tl.loading;
  btn.textContent = tl.loading ? t('conv.loading') : t('conv.load_older');
  $('history-start').hidden = tl.more !== false;
}

function renderTimeline({ toBottom = false, keepScroll = false } = {}) {
  const conv = selectedConv();
  if (!conv) return;
  const scroller = $('timeline-scroll');
  const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 48;
  const prevHeight = scroller.scrollHeight;
  const prevTop = scroller.scrollTop;

  const tl = timelineFor(conv.view.customer.id);
  const events = sortedEvents(tl);
  const receipts = deliveryIndex(events);
  const items = [];
  let lastDay = null;
  const shownClientIds = new Set();
  for (const e of events) {
    if (HIDDEN_EVENT_KINDS.has(e.type)) continue;
    if (e.type === 'offer_closed' && e.outcome === 'accepted') continue;
    const day = formatDay(e.at, serverNow());
    if (day !== lastDay) {
      lastDay = day;
      items.push({ key: `day:${day}`, render: () => h('li', { class: 'day-sep', role: 'separator' }, h('span', null, day)) });
    }
    if (e.client_msg_id) shownClientIds.add(e.client_msg_id);
    const receipt = e.type === 'message_out' ? receipts.get(e.id) : undefined;
    // A new receipt makes a new key, so the message is built again with it.
    const key = receipt ? `${e.id}:${receipt.status}` : e.id;
    const cached = timelineCache.get(key);
    if (cached && cached.__event !== e) timelineCache.delete(key);
    items.push({ key, render: () => buildEvent(e, conv, receipt) });
  }
  for (const [clientMsgId, p] of state.pending) {
    if (p.conversation_id !== conv.view.id || shownClientIds.has(clientMsgId)) continue;
    const key = `pending:${clientMsgId}:${p.failed || ''}`;
    items.push({ key, render: () => buildPending(clientMsgId, p, conv) });
  }
  reconcile($('timeline'), items, timelineCache);
  renderTimelineHeader();

  if (keepScroll) scroller.scrollTop = prevTop + (scroller.scrollHeight - prevHeight);
  else if (toBottom || atBottom) scroller.scrollTop = scroller.scrollHeight;
}

/** message_out event id -> the most advanced `message_status` event about it. */
function deliveryIndex(events) {
  const map = new Map();
  for (const e of events) {
    if (e.type !== 'message_status') continue;
    const prev = map.get(e.message_event_id);
    if (!prev || (DELIVERY_RANK[e.status] || 0) >= (DELIVERY_RANK[prev.status] || 0)) map.set(e.message_event_id, e);
  }
  return map;
}

function channelBadge(channel) {
  return h('span', { class: `badge badge--${channel}`, dataset: { channel } }, channelName(channel));
}

function stateBadge(s) {
  return h('span', { class: `badge badge--soft badge--state-${s}`, dataset: { testid: 'conversation-state' } }, has(`conv.state.${s}`) ? t(`conv.state.${s}`) : s);
}

function timeEl(at) {
  return h('time', { class: 'msg__time', datetime: new Date(at).toISOString(), title: formatDateTime(at) }, formatTime(at));
}

function buildEvent(e, conv, receipt) {
  const node = MESSAGE_KINDS.has(e.type) ? buildMessage(e, conv, receipt) : buildSystemLine(e);
  node.__event = e;
  return node;
}

function buildMessage(e, conv, receipt) {
  let who;
  let cls;
  if (e.type === 'message_in') {
    who = customerName(conv.view.customer);
    cls = 'msg--in';
  } else if (e.type === 'message_out') {
    who = agentLabel(e.agent_id);
    cls = 'msg--out';
  } else {
    who = `${t('msg.note')} · ${agentLabel(e.agent_id)}`;
    cls = 'msg--note';
  }
  const other = e.conversation_id && e.conversation_id !== conv.view.id;
  return h(
    'li',
    {
      class: `msg ${cls}${other ? ' msg--other-conv' : ''}`,
      dataset: { testid: 'timeline-message', kind: e.type, eventId: e.id, channel: e.channel || '' },
    },
    h(
      'div',
      { class: 'msg__meta' },
      e.channel ? channelBadge(e.channel) : null,
      h('span', { class: 'msg__who' }, who),
      timeEl(e.at),
      receipt ? deliveryBadge(receipt) : null,
    ),
    h(
      'div',
      { class: 'msg__bubble' },
      e.subject ? h('div', { class: 'msg__subject', dataset: { testid: 'message-subject' } }, t('msg.subject', { subject: e.subject })) : null,
      h('div', { class: 'msg__text', dataset: { testid: 'message-text' } }, e.text ?? ''),
      e.attachments && e.attachments.length ? buildAttachments(e.attachments) : null,
    ),
  );
}

function deliveryBadge(r) {
  const label = has(`delivery.${r.status}`) ? t(`delivery.${r.status}`) : String(r.status);
  return h(
    'span',
    {
      class: `delivery delivery--${r.status}`,
      dataset: { testid: 'message-delivery', status: r.status },
      title: r.detail ? `${label}: ${r.detail}` : label,
    },
    h('span', { class: 'delivery__icon', 'aria-hidden': 'true' }, DELIVERY_ICON[r.status] || ''),
    ' ',
    label,
  );
}

/** Files, images, stickers of an inbound message: described (name, type, size), never embedded. */
function buildAttachments(list) {
  return h(
    'ul',
    { class: 'attachments', dataset: { testid: 'message-attachments' }, 'aria-label': t('msg.attachments') },
    ...list.map((a) => {
      const kind = has(`attachment.${a.kind}`) ? t(`attachment.${a.kind}`) : String(a.kind || t('attachment.file'));
      const size = Number.isFinite(a.size) ? formatSize(a.size) : null;
      const meta = [a.name ? kind : null, a.content_type, size].filter(Boolean).join(' · ');
      return h(
        'li',
        { class: 'attachment', dataset: { testid: 'attachment', kind: a.kind || '' } },
        h('span', { class: 'attachment__icon', 'aria-hidden': 'true' }, '📎'),
        ' ',
        safeLink(a.url, a.name || kind, { class: 'attachment__name' }),
        meta ? h('span', { class: 'attachment__meta' }, meta) : null,
      );
    }),
  );
}

function buildPending(clientMsgId, p, conv) {
  const note = p.kind === 'note';
  return h(
    'li',
    {
      class: `msg ${note ? 'msg--note' : 'msg--out'} msg--pending${p.failed ? ' msg--failed' : ''}`,
      dataset: { testid: 'timeline-message', kind: note ? 'note' : 'message_out', pending: 'true', clientMsgId },
    },
    h(
      'div',
      { class: 'msg__meta' },
      note ? null : channelBadge(p.channel || conv.view.channel),
      h('span', { class: 'msg__who' }, note ? `${t('msg.note')} · ${t('msg.you')}` : t('msg.you')),
      p.failed
        ? h(
            'span',
            { class: 'msg__status msg__status--failed', title: p.detail || null, dataset: { testid: 'message-failed' } },
            t('msg.failed', { code: p.failed }),
            p.detail ? h('span', { class: 'msg__failed-detail' }, ` — ${p.detail}`) : null,
            ' ',
            h('button', { type: 'button', class: 'btn btn--link', onclick: () => retryPending(clientMsgId) }, t('msg.retry')),
          )
        : h('span', { class: 'msg__status', dataset: { testid: 'message-pending' } }, t('msg.sending')),
    ),
    h('div', { class: 'msg__bubble' }, h('div', { class: 'msg__text', dataset: { testid: 'message-text' } }, p.text)),
  );
}

function systemText(e) {
  const ch = (c) => channelName(c);
  const lower = { inSentence: true };
  switch (e.type) {
    case 'conversation_opened':
      return t('event.conversation_opened', { channel: ch(e.channel), queue: e.queue });
    case 'queued':
      return t('event.queued', { queue: e.queue });
    case 'offered':
      return t('event.offered', { agent: agentLabel(e.agent_id, lower) });
    case 'offer_closed':
      return t('event.offer_closed', {
        agent: agentLabel(e.agent_id, lower),
        outcome: has(`outcome.${e.outcome}`) ? t(`outcome.${e.outcome}`) : e.outcome,
      });
    case 'assigned':
      return t('event.assigned', { agent: agentLabel(e.agent_id, lower) });
    case 'transferred': {
      const to = e.to_agent ? t('event.agent_in_queue', { agent: agentLabel(e.to_agent, lower), queue: e.to_queue }) : t('event.queue_label', { queue: e.to_queue });
      return t('event.transferred', { from: agentLabel(e.from_agent, lower), to });
    }
    case 'overflowed':
      return t('event.overflowed', { from: e.from, to: e.to });
    case 'wrap_up':
      return t('event.wrap_up', { agent: agentLabel(e.agent_id) });
    case 'resolved':
      return e.disposition
        ? t('event.resolved_disp', { agent: agentLabel(e.agent_id, lower), disposition: dispositionLabel(e.disposition) })
        : t('event.resolved', { agent: agentLabel(e.agent_id, lower) });
    case 'abandoned':
      return t('event.abandoned', { d: formatDuration(e.waited_ms) });
    case 'channel_switched':
      return t('event.channel_switched', { from: ch(e.from), to: ch(e.to) });
    case 'identity_linked':
      return t('event.identity_linked', { channel: ch(e.channel), address: e.address });
    case 'opt_out_changed':
      return t(e.opted_out ? 'event.opted_out' : 'event.opted_in', { channel: ch(e.channel) });
    case 'conversation_reopened':
      return t('event.conversation_reopened', { channel: ch(e.channel), queue: e.queue });
    case 'call': {
      const status = has(`call.${e.status}`) ? t(`call.${e.status}`) : t('call.other', { status: e.status });
      return e.detail ? t('event.call_detail', { status, detail: e.detail }) : status;
    }
    case 'video_invited':
      return [t('event.video_invited'), ' ', safeLink(e.join_url, e.join_url, { class: 'sys__link', dataset: { testid: 'video-link' } })];
    case 'customers_merged':
    case 'customers_unmerged': {
      const text = t(`event.${e.type}`, {
        id: String(e.type === 'customers_merged' ? e.merged : e.restored).slice(0, 8),
        identities: identityList(e.identities),
      });
      return e.by ? t('event.by_agent', { text, agent: agentLabel(e.by, lower) }) : text;
    }
    case 'callback_requested':
    case 'callback_attempt':
      return describeCallbackEvent(e);
    case 'message_status':
      return t('event.message_status', { channel: ch(e.channel), status: has(`delivery.${e.status}`) ? t(`delivery.${e.status}`) : e.status });
    default:
      return botText(e) || engageEventText(e) || t('event.unknown', { type: e.type });
  }
}

function identityList(list) {
  return (list || []).map((k) => `${channelName(k.channel)} ${k.address}`).join(', ') || t('common.none');
}

function dispositionLabel(d) {
  const s = String(d);
  const m = /^([a-z_]+)(?::\s*(.*))?$/s.exec(s);
  if (m && has(`disp.${m[1]}`)) return m[2] ? `${t(`disp.${m[1]}`)}: ${m[2]}` : t(`disp.${m[1]}`);
  return s;
}

function buildSystemLine(e) {
  return h(
    'li',
    { class: `sys sys--${e.type}`, dataset: { testid: 'timeline-system', kind: e.type, eventId: e.id } },
    h('span', { class: 'sys__text' }, systemText(e)),
    ' ',
    timeEl(e.at),
  );
}

function renderTyping() {
  const conv = selectedConv();
  const el = $('customer-typing');
  const typing = !!conv && conv.typingUntil > Date.now();
  if (typing) {
    if (el.hidden || el.dataset.for !== conv.view.id) {
      el.dataset.for = conv.view.id;
      replaceChildren(el, h('span', { class: 'dots', 'aria-hidden': 'true' }, h('span'), h('span'), h('span')), ' ', t('conv.typing', { name: customerName(conv.view.customer) }));
    }
  }
  el.hidden = !typing;
}

function renderComposer() {
  const conv = selectedConv();
  if (!conv) return;
  const draft = currentDraft();
  const form = $('composer');
  const input = $('composer-input');
  form.classList.toggle('composer--note', draft.note);
  $('note-toggle').setAttribute('aria-pressed', String(draft.note));
  input.placeholder = draft.note ? t('composer.note_placeholder') : t('composer.placeholder', { name: customerName(conv.view.customer) });
  $('composer-send').textContent = draft.note ? t('composer.add_note') : t('composer.send');
  $('composer-mode').textContent = draft.note ? t('composer.note_hint') : '';
  renderReplyChannel(conv, draft.note);
}

function renderCustomerPanel(conv) {
  const c = conv.view.customer;
  const optedOut = optedOutChannels(conv);
  const row = (label, ...value) => [h('dt', null, label), h('dd', null, ...value)];
  const identities = c.identities && c.identities.length
    ? h(
        'ul',
        { class: 'identities' },
        ...c.identities.map((i) =>
          h(
            'li',
            null,
            channelBadge(i.channel),
            ' ',
            h('span', { class: 'identities__addr' }, i.address),
            optedOut.has(i.channel) ? h('span', { class: 'badge badge--soft identities__opted-out' }, t('customer.opted_out')) : null,
          ),
        ),
      )
    : h('span', { class: 'muted' }, t('common.none'));
  const attrs = Object.entries(c.attributes || {});
  const attributes = attrs.length
    ? h('dl', { class: 'attrs' }, ...attrs.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, String(v))]))
    : h('span', { class: 'muted' }, t('common.none'));
  replaceChildren(
    $('customer-body'),
    h(
      'div',
      { class: 'customer-card' },
      h('span', { class: 'avatar avatar--lg', 'aria-hidden': 'true' }, initials(customerName(c))),
      h('div', { class: 'customer-card__name', dataset: { testid: 'customer-name' } }, customerName(c)),
      c.priority ? h('span', { class: 'badge badge--soft' }, t('offer.priority', { p: c.priority })) : null,
    ),
    h(
      'dl',
      { class: 'facts' },
      row(t('customer.id'), h('code', { class: 'mono' }, String(c.id))),
      row(t('customer.priority'), String(c.priority ?? 0)),
      row(t('customer.channel'), channelBadge(conv.view.channel)),
      row(t('customer.queue'), conv.view.queue),
      row(t('customer.since'), h('span', { title: formatDateTime(conv.view.enqueued_at) }, formatTime(conv.view.enqueued_at))),
    ),
    h('h4', { class: 'subhead' }, t('customer.identities')),
    identities,
    h('h4', { class: 'subhead' }, t('customer.attributes')),
    attributes,
  );
}

// ---- notices and toasts -------------------------------------------------------

function notice(text, tone = 'info', { testid = 'notice' } = {}) {
  const el = h('div', { class: `notice notice--${tone}`, dataset: { testid } }, h('span', null, text));
  const close = h('button', { type: 'button', class: 'notice__close', 'aria-label': t('common.dismiss'), onclick: () => el.remove() }, '×');
  el.appendChild(close);
  $('notices').appendChild(el);
  setTimeout(() => el.remove(), NOTICE_MS);
}

function toast(code, text) {
  const el = h(
    'div',
    { class: 'toast toast--error', role: 'alert', dataset: { testid: 'toast', code } },
    h('span', { class: 'toast__code' }, `${t('error.title')} · ${code}`),
    h('span', { class: 'toast__text' }, text),
  );
  el.appendChild(h('button', { type: 'button', class: 'toast__close', 'aria-label': t('common.dismiss'), dataset: { testid: 'toast-dismiss' }, onclick: () => el.remove() }, '×'));
  const box = $('toasts');
  box.appendChild(el);
  while (box.children.length > 4) box.firstChild.remove();
  setTimeout(() => el.remove(), TOAST_MS);
}

// ---------------------------------------------------------------------------------
// Dialogs
// ---------------------------------------------------------------------------------

function openTransfer() {
  const conv = selectedConv();
  if (!conv) return;
  const dlg = $('transfer-dialog');
  $('transfer-form').reset();
  $('transfer-queue').value = '';
  $('transfer-agent').value = '';
  syncTransferKind();
  dlg.dataset.conversationId = conv.view.id;
  dlg.showModal();
  $('transfer-queue').focus();
}

function syncTransferKind() {
  const kind = document.querySelector('input[name="transfer-kind"]:checked').value;
  $('transfer-agent-field').hidden = kind !== 'agent';
  $('transfer-queue-label').textContent = kind === 'agent' ? t('transfer.agent_queue') : t('transfer.queue');
  $('transfer-queue').required = kind === 'queue';
  $('transfer-agent').required = kind === 'agent';
}

function submitTransfer(ev) {
  ev.preventDefault();
  const dlg = $('transfer-dialog');
  const kind = document.querySelector('input[name="transfer-kind"]:checked').value;
  const queue = $('transfer-queue').value.trim();
  const agent = $('transfer-agent').value.trim();
  if (kind === 'queue' && !queue) return $('transfer-queue').focus();
  if (kind === 'agent' && !agent) return $('transfer-agent').focus();
  const msg = { type: 'transfer', conversation_id: dlg.dataset.conversationId };
  if (queue) msg.queue = queue;
  if (kind === 'agent') msg.agent = agent;
  if (sendNow(msg)) dlg.close();
}

function openResolve() {
  const conv = selectedConv();
  if (!conv) return;
  const dlg = $('resolve-dialog');
  $('resolve-form').reset();
  dlg.dataset.conversationId = conv.view.id;
  dlg.showModal();
  $('resolve-disposition').focus();
}

function submitResolve(ev) {
  ev.preventDefault();
  const dlg = $('resolve-dialog');
  const code = $('resolve-disposition').value;
  const details = $('resolve-notes').value.trim();
  const disposition = details ? `${code}: ${details}` : code;
  if (sendNow({ type: 'resolve', conversation_id: dlg.dataset.conversationId, disposition })) dlg.close();
}

function wrapUp() {
  const conv = selectedConv();
  if (conv) sendNow({ type: 'wrap_up', conversation_id: conv.view.id });
}

// ---------------------------------------------------------------------------------
// Wiring
// ---------------------------------------------------------------------------------

function tick() {
  const now = Date.now();
  for (const [id, entry] of state.offers) {
    paintOffer(id);
    // If the revocation never comes (e.g. lost while reconnecting) drop the card.
    const stuck = entry.accepting && now - entry.acceptingSince > 10_000;
    if (offerDeadline(entry) + OFFER_LOCAL_GRACE_MS < now && (!entry.accepting || stuck)) {
      removeOffer(id);
      notice(t('notice.offer_timed_out', { name: customerName(entry.offer.customer) }), 'warn', { testid: 'offer-outcome-timed_out' });
    }
  }
  let typingChanged = false;
  for (const conv of state.convs.values()) {
    if (conv.typingUntil && conv.typingUntil <= now) {
      conv.typingUntil = 0;
      typingChanged = true;
    }
  }
  if (typingChanged) {
    renderConversationList();
    renderTyping();
  }
  if (state.conn.phase === 'reconnecting' && state.session && sessionExpired()) logout('login.expired');
}

function init() {
  applyTranslations();
  for (const b of document.querySelectorAll('.js-lang-toggle')) bindLanguageToggle(b);
  onLanguageChange(() => {
    applyTranslations();
    offerCache.clear();
    timelineCache.clear();
    $('timeline').replaceChildren();
    $('offers').replaceChildren();
    if (state.session && !$('app-view').hidden) {
      renderAll();
      syncTransferKind();
    } else {
      document.title = `${t('login.title')} · Switchboard`;
    }
  });

  initAssist({ getToken: () => state.session && state.session.token });
  $('login-form').addEventListener('submit', onLoginSubmit);
  $('logout').addEventListener('click', () => logout());
  $('stuck-relogin').addEventListener('click', () => logout());

  $('status-select').addEventListener('change', (ev) => {
    const v = ev.target.value;
    if (v === 'available') setStatus('available');
    else setStatus('away', $('away-reason').value || AWAY_REASONS[0]);
  });
  $('away-reason').addEventListener('change', (ev) => setStatus('away', ev.target.value));

  const input = $('composer-input');
  input.addEventListener('keydown', (ev) => {
    // Enter sends; Shift+Enter is a newline; Enter that confirms an IME conversion does neither.
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
      ev.preventDefault();
      sendComposer();
    }
  });
  input.addEventListener('input', () => {
    saveDraft();
    if (input.value.trim()) maybeSendTyping();
  });
  $('composer').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sendComposer();
  });
  $('reply-channel').addEventListener('change', (ev) => {
    const conv = selectedConv();
    if (!conv) return;
    const v = ev.target.value;
    currentDraft().channel = v === conv.view.channel ? null : v;
    renderReplyChannel(conv, currentDraft().note);
  });
  $('note-toggle').addEventListener('click', () => {
    const d = currentDraft();
    d.note = !d.note;
    renderComposer();
    input.focus();
  });

  $('load-older').addEventListener('click', requestOlder);
  $('action-transfer').addEventListener('click', openTransfer);
  $('action-wrapup').addEventListener('click', wrapUp);
  $('action-resolve').addEventListener('click', openResolve);
  $('toggle-info').addEventListener('click', () => {
    state.infoOpen = !state.infoOpen;
    renderConversation();
  });
  $('transfer-form').addEventListener('submit', submitTransfer);
  $('resolve-form').addEventListener('submit', submitResolve);
  for (const r of document.querySelectorAll('input[name="transfer-kind"]')) r.addEventListener('change', syncTransferKind);
  for (const b of document.querySelectorAll('.js-dialog-cancel')) b.addEventListener('click', () => b.closest('dialog').close());

  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) {
      const conv = selectedConv();
      if (conv && conv.unread) {
        conv.unread = 0;
        renderConversationList();
        renderTitle();
      }
    }
  });

  setInterval(tick, 250);

  const session = loadSession();
  if (session && !(session.expires_at && Date.now() >= Number(session.expires_at))) startSession(session);
  else {
    if (session) saveSession(null);
    showLogin(session ? 'login.expired' : null);
  }
}

init();

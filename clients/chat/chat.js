// chat/chat.js — owns the customer web chat: the visitor socket (/ws/chat, protocol v1),
// the visitor token kept in localStorage and passed as ?token= to resume, the message
// list rebuilt from `welcome.history`, pending messages (outbox, persisted, resent with
// the same client_msg_id until acked), the status line (connecting / queue position /
// agent / ended), typing indicators both ways, identify, leave, the Video button
// (`escalate_video`) with the `video_invited` join link in the transcript, browser
// calls (the Voice call / Video call buttons while an agent holds the conversation and
// `welcome.calls` allows the medium — the Video call button then replaces the Video
// link button; the call itself, its frames and its panel are ../shared/call.js; the
// call_started / call_answered / call_ended events are system lines), files (the
// 📎 picker uploads with the visitor token and sends them; files in messages are shown
// through shared/files.js), and the language toggle. The help-center suggestions shown
// before the first message are ./help.js (stopped once the transcript has anything).
//
// Safety rule: message text only ever reaches the page through text nodes; the join
// URL becomes a link only if it is http(s) (safeLink).

import { t, has, applyTranslations, bindLanguageToggle, onLanguageChange, formatTime, formatDateTime, channelName } from '../shared/i18n.js';
import { ReconnectingSocket, wsUrl, newClientMsgId } from '../shared/ws.js';
import { h, replaceChildren, reconcile, safeLink, isHttpUrl, byId, sendOnEnter } from '../shared/dom.js';
import { mountSurvey } from './survey.js';
import { botName, botOwns, mountHandoff, onBotEvent } from './bot.js';
import { initIvr, ivrPath, ivrQueue, ivrRender, onCallbackRequested } from './ivr.js';
import { initHelp, stopHelp } from './help.js';
import { attachmentView, onlyDescribes, uploadFile } from '../shared/files.js';
import { createCallController, callEndedText, callMediaLabel, byFrom } from '../shared/call.js';

/** @import { SocketState } from '../shared/ws.js' */
/** @import { CallMedia } from '../shared/call.js' */

// ---- the frames (docs/protocol.md, "Customer web-chat socket"), as far as read here

/**
 * A timeline event the chat shows (message_in, message_out, video_invited, bot_reply,
 * call_started, call_answered, call_ended).
 * @typedef {object} ChatEvent
 * @property {string} id  orders events (compared as strings)
 * @property {string} type
 * @property {number} at  Unix ms
 * @property {string | null} [customer_id]
 * @property {string} [conversation_id]
 * @property {string} [channel]
 * @property {string} [text]
 * @property {string} [client_msg_id]
 * @property {string} [join_url]
 * @property {ChatFile[]} [attachments]
 * @property {string} [call_id]  call_*
 * @property {string} [media]  call_started: audio | video
 * @property {string} [by]  call_started, call_ended: customer | agent | system
 * @property {string} [reason]  call_ended
 * @property {number} [duration_ms]  call_ended: talk time since the answer
 */

/**
 * A file of a message (the event's `attachments`), or one being sent.
 * @typedef {object} ChatFile
 * @property {string} [kind]
 * @property {string} [name]
 * @property {string} [content_type]
 * @property {number} [size]
 * @property {string} [url]
 * @property {string} [file]  the stored copy's id
 */

/**
 * The visitor's conversation: the server's `conversation` view, or one guessed from an
 * ack (no `position` key then).
 * @typedef {object} ChatConversation
 * @property {string} id
 * @property {string} state  queued | assigned | wrap_up | resolved | abandoned
 * @property {string} [agent_name]
 * @property {number | null} [position]  place in the queue
 */

/**
 * A system line of this page's own (taken, ended), shown after event `afterId`.
 * @typedef {{ key: string, text: () => string, afterId: string | null, at: number }} Line
 */

/** @typedef {{ text: string, createdAt: number, failed: string | null, files?: ChatFile[], uploading?: boolean }} PendingMessage */

/** @typedef {typeof state} ChatState */

const TOKEN_KEY = 'switchboard.chat.token';
const OUTBOX_KEY = 'switchboard.chat.outbox';
const PROFILE_KEY = 'switchboard.chat.profile';
const TYPING_THROTTLE_MS = 2000;
const AGENT_TYPING_SHOW_MS = 5000;
const ERROR_MS = 8000;
const MAX_TEXT_BYTES = 16 * 1024;
const TOKEN_PROBLEM_AFTER = 4;
const OPEN_STATES = new Set(['queued', 'assigned', 'wrap_up']);
const ENDED_STATES = new Set(['resolved', 'abandoned']);
// Browser-call events: system lines in the transcript.
const CALL_EVENT_KINDS = new Set(['call_started', 'call_answered', 'call_ended']);
const SHOWN_EVENT_KINDS = new Set(['message_in', 'message_out', 'video_invited', 'bot_reply', ...CALL_EVENT_KINDS]);
/** @type {CallMedia[]} */
const CALL_MEDIA = ['audio', 'video'];
// No answer to `escalate_video` by then (dropped connection): the button works again.
const VIDEO_REQUEST_TIMEOUT_MS = 15_000;

const $ = byId;
const encoder = new TextEncoder();

const state = {
  token: readToken(),
  /** @type {string | null} */
  customerId: null,
  /** @type {ChatConversation | null} */
  conversation: null,
  /** @type {Map<string, ChatEvent>} event id -> the visible ones (SHOWN_EVENT_KINDS) */
  events: new Map(),
  /** @type {Map<string, PendingMessage>} client_msg_id -> message */
  pending: new Map(),
  /** @type {Line[]} local system lines */
  lines: [],
  agentTypingUntil: 0,
  lastTypingSentAt: 0,
  welcomed: false, // a welcome arrived on this page
  /** @type {SocketState} */
  conn: { phase: 'connecting', attempt: 0, failures: 0, retryInMs: 0 },
  leftLocally: false,
  videoRequestedAt: 0, // an `escalate_video` is waiting for its `video_invited`
  /** @type {string[]} the media browser calls may use (`welcome.calls`) */
  calls: [],
};

/** @type {Map<string, HTMLLIElement>} item key -> line */
const messageCache = new Map();
/** The event each line was built from: a line is built again when its event object changes. */
/** @type {WeakMap<HTMLLIElement, ChatEvent>} */
const builtFrom = new WeakMap();

/** @returns {string | null} */
function readToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) || null;
  } catch {
    return null;
  }
}

/** @param {string | null} token */
function writeToken(token) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* private mode: the chat lasts for this page */
  }
}

// The browser call (one at a time) with the agent holding the conversation.
const calls = createCallController({
  send: (frame) => socket.send(frame),
  role: 'customer',
  container: $('chat-call'),
  peerName: () => (state.conversation && state.conversation.agent_name) || t('chat.agent'),
  showError: (code, text) => showError(code, text),
  onChange: () => renderStatus(),
});

const socket = new ReconnectingSocket({
  url: () => wsUrl('../ws/chat', { token: state.token }),
  storage: localStorage,
  storageKey: OUTBOX_KEY,
  onState: (s) => {
    state.conn = s;
    // A socket that is not open ends the call (the engine ends it too).
    if (s.phase !== 'open') calls.socketLost();
    renderStatus();
    $('token-problem').hidden = !(state.token && !state.welcomed && s.phase !== 'open' && s.failures >= TOKEN_PROBLEM_AFTER);
  },
  handlers: {
    welcome: onWelcome,
    ack: onAck,
    event: onEvent,
    conversation: onConversation,
    agent_typing: onAgentTyping,
    error: onError,
    pong: () => {},
    callback_requested: onCallbackRequested,
    ...calls.handlers,
  },
});
mountSurvey(socket, $('chat-form'));

// ---------------------------------------------------------------------------------
// Server -> customer
// ---------------------------------------------------------------------------------

/** @param {{ token?: string, customer_id: string, conversation?: ChatConversation | null, history?: ChatEvent[], calls?: string[] }} msg */
function onWelcome(msg) {
  const first = !state.welcomed;
  state.welcomed = true;
  if (msg.token) {
    state.token = msg.token;
    writeToken(msg.token);
  }
  state.customerId = msg.customer_id;
  state.calls = Array.isArray(msg.calls) ? msg.calls : [];
  const prev = state.conversation;
  state.conversation = msg.conversation || null;
  state.leftLocally = false;
  state.events.clear();
  for (const e of msg.history || []) state.events.set(e.id, e);
  if (!first) noteTransition(prev, state.conversation);
  $('token-problem').hidden = true;
  render({ toBottom: true });
}

/** @param {{ client_msg_id: string, conversation_id: string, event_id: string }} msg */
function onAck(msg) {
  const p = state.pending.get(msg.client_msg_id);
  if (!p) return;
  state.pending.delete(msg.client_msg_id);
  if (!state.events.has(msg.event_id) && !hasClientMsgId(msg.client_msg_id)) {
    state.events.set(msg.event_id, {
      id: msg.event_id,
      customer_id: state.customerId,
      conversation_id: msg.conversation_id,
      at: p.createdAt,
      type: 'message_in',
      channel: 'chat',
      text: p.text,
      client_msg_id: msg.client_msg_id,
      attachments: p.files,
    });
  }
  if (!botOwns(state, msg.conversation_id) && (!state.conversation || state.conversation.id !== msg.conversation_id || ENDED_STATES.has(state.conversation.state))) {
    // The message opened a (new) conversation; its `conversation` update follows.
    if (!state.conversation || state.conversation.id !== msg.conversation_id) {
      state.conversation = { id: msg.conversation_id, state: 'queued' };
    }
  }
  state.leftLocally = false;
  render();
}

/** @param {string} id */
function hasClientMsgId(id) {
  for (const e of state.events.values()) if (e.client_msg_id === id) return true;
  return false;
}

/** @param {{ event?: ChatEvent }} msg */
function onEvent(msg) {
  const e = msg.event;
  if (!e || !SHOWN_EVENT_KINDS.has(e.type)) return;
  state.events.set(e.id, e);
  onBotEvent(state, e);
  if (e.type === 'message_out') state.agentTypingUntil = 0;
  if (e.type === 'video_invited') state.videoRequestedAt = 0;
  render();
}

/** @param {ChatConversation} view */
function onConversation(view) {
  const prev = state.conversation;
  /** @type {ChatConversation} */
  const next = { id: view.id, state: view.state, agent_name: view.agent_name, position: view.position };
  if (prev && prev.id === next.id && !next.agent_name && prev.agent_name && !ENDED_STATES.has(next.state)) {
    next.agent_name = prev.agent_name;
  }
  state.conversation = next;
  if (ENDED_STATES.has(next.state)) state.agentTypingUntil = 0;
  noteTransition(prev, next);
  render();
}

/**
 * Adds a local system line when the conversation is taken or ends while we watch.
 * @param {ChatConversation | null} prev
 * @param {ChatConversation | null} next
 */
function noteTransition(prev, next) {
  if (!next) return;
  const lastId = lastEventId();
  const same = prev && prev.id === next.id ? prev : null;
  if (next.state === 'assigned' && !(same && same.state === 'assigned' && same.agent_name === next.agent_name)) {
    addLine(`joined:${next.id}:${next.agent_name || ''}`, () => t('chat.joined', { agent: next.agent_name || t('chat.agent') }), lastId);
  }
  if (ENDED_STATES.has(next.state) && !(same && ENDED_STATES.has(same.state))) {
    addLine(`ended:${next.id}`, () => (state.leftLocally ? t('chat.left_line') : t('chat.ended_line')), lastId);
  }
}

/**
 * @param {string} key  the same line is added once
 * @param {() => string} text  worded when drawn (the language may change)
 * @param {string | null} afterId
 */
function addLine(key, text, afterId) {
  if (state.lines.some((l) => l.key === key)) return;
  state.lines.push({ key, text, afterId, at: Date.now() });
}

function onAgentTyping() {
  state.agentTypingUntil = Date.now() + AGENT_TYPING_SHOW_MS;
  renderTyping();
}

/** @param {{ code: string, message?: string, ref?: string, failed?: object }} msg */
function onError(msg) {
  // Refusals of `escalate_video` (no open conversation, video disabled) carry no ref.
  if (!msg.ref) state.videoRequestedAt = 0;
  const callText = calls.onError(msg);
  if (callText !== null) {
    if (callText) showError(msg.code, callText);
    renderStatus();
    return;
  }
  const p = msg.failed && msg.ref ? state.pending.get(msg.ref) : undefined;
  if (p) {
    p.failed = msg.code;
    renderMessages();
  }
  const key = `error.${msg.code}`;
  const text = msg.code === 'invalid' && msg.message ? t('error.invalid_detail', { detail: msg.message }) : has(key) ? t(key) : msg.message || msg.code;
  showError(msg.code, text);
  renderStatus();
}

/** @returns {string | null} */
function lastEventId() {
  /** @type {string | null} */
  let last = null;
  for (const id of state.events.keys()) if (!last || id > last) last = id;
  return last;
}

// ---------------------------------------------------------------------------------
// Customer -> server
// ---------------------------------------------------------------------------------

function sendMessage() {
  const input = $('chat-input', HTMLTextAreaElement);
  const text = input.value;
  if (!text.trim()) return;
  if (encoder.encode(text).length > MAX_TEXT_BYTES) {
    showError('too_large', t('error.too_large'));
    return;
  }
  const clientMsgId = newClientMsgId();
  state.pending.set(clientMsgId, { text, createdAt: Date.now(), failed: null });
  socket.sendReliable({ type: 'message', client_msg_id: clientMsgId, text, queue: ivrQueue(), ivr_path: ivrPath() });
  input.value = '';
  autosize();
  state.lastTypingSentAt = 0;
  render({ toBottom: true });
  input.focus();
}

/**
 * Uploads the chosen files with the visitor token and sends them as one message.
 * @param {FileList} chosen
 */
async function sendFiles(chosen) {
  const customer = state.customerId;
  const token = state.token;
  if (!customer || !token) return;
  const clientMsgId = newClientMsgId();
  /** @type {PendingMessage} */
  const p = { text: '', createdAt: Date.now(), failed: null, uploading: true, files: Array.from(chosen).map((f) => ({ name: f.name, kind: 'file', size: f.size })) };
  state.pending.set(clientMsgId, p);
  render({ toBottom: true });
  try {
    const stored = await Promise.all(Array.from(chosen).map((f) => uploadFile(customer, f, token)));
    p.files = stored.map((s) => ({ file: s.file, name: s.name, kind: s.kind, content_type: s.content_type, size: s.size }));
    p.uploading = false;
    socket.sendReliable({ type: 'message', client_msg_id: clientMsgId, text: '', files: stored.map((s) => s.file), queue: ivrQueue(), ivr_path: ivrPath() });
  } catch (e) {
    state.pending.delete(clientMsgId);
    showError('invalid', t('file.refused', { reason: e instanceof Error ? e.message : String(e) }));
  }
  render({ toBottom: true });
}

/** @param {string} clientMsgId */
function retry(clientMsgId) {
  const p = state.pending.get(clientMsgId);
  if (!p) return;
  p.failed = null;
  /** @type {{ type: 'message', client_msg_id: string, text: string, files?: string[] }} */
  const msg = { type: 'message', client_msg_id: clientMsgId, text: p.text };
  const files = (p.files || []).map((f) => f.file || '').filter(Boolean);
  if (files.length) msg.files = files;
  socket.sendReliable(msg);
  renderMessages();
}

function maybeSendTyping() {
  const c = state.conversation;
  if (!c || c.state !== 'assigned') return;
  const now = Date.now();
  if (now - state.lastTypingSentAt < TYPING_THROTTLE_MS) return;
  if (socket.send({ type: 'typing' })) state.lastTypingSentAt = now;
}

function leave() {
  if (!socket.send({ type: 'leave' })) {
    showError('not_connected', t('error.not_connected'));
    return;
  }
  state.leftLocally = true;
  const prev = state.conversation;
  if (prev && OPEN_STATES.has(prev.state)) {
    // The server confirms with a `conversation` update; show the end right away.
    const next = { ...prev, state: prev.state === 'queued' ? 'abandoned' : 'resolved' };
    state.conversation = next;
    noteTransition(prev, next);
  }
  state.agentTypingUntil = 0;
  render({ toBottom: true });
}

/**
 * Calls the agent holding the conversation.
 * @param {CallMedia} media
 */
function startCall(media) {
  const c = state.conversation;
  if (!c || c.state !== 'assigned' || calls.busy) return;
  calls.start(media, c.id);
}

function requestVideo() {
  if (!socket.send({ type: 'escalate_video' })) {
    showError('not_connected', t('error.not_connected'));
    return;
  }
  const at = Date.now();
  state.videoRequestedAt = at;
  setTimeout(() => {
    if (state.videoRequestedAt === at) {
      state.videoRequestedAt = 0;
      renderStatus();
    }
  }, VIDEO_REQUEST_TIMEOUT_MS);
  renderStatus();
}

/** @param {SubmitEvent} ev */
function identify(ev) {
  ev.preventDefault();
  const name = $('identify-name', HTMLInputElement).value.trim();
  const emailField = $('identify-email', HTMLInputElement);
  const email = emailField.value.trim();
  if (email && !emailField.checkValidity()) {
    emailField.focus();
    emailField.reportValidity();
    return;
  }
  if (!name && !email) return;
  /** @type {{ type: 'identify', name?: string, email?: string }} */
  const msg = { type: 'identify' };
  if (name) msg.name = name;
  if (email) msg.email = email;
  if (!socket.send(msg)) {
    showError('not_connected', t('error.not_connected'));
    return;
  }
  try {
    localStorage.setItem(PROFILE_KEY, JSON.stringify({ name, email }));
  } catch {
    /* ignore */
  }
  const done = $('identify-done');
  done.textContent = name ? t('chat.identify.saved', { name }) : t('chat.identify.saved_anon');
  done.hidden = false;
  $('identify-form').hidden = true;
}

function startOver() {
  socket.stop();
  socket.clearOutbox();
  state.pending.clear();
  state.events.clear();
  state.lines = [];
  state.conversation = null;
  state.token = null;
  state.welcomed = false;
  writeToken(null);
  $('token-problem').hidden = true;
  render();
  socket.start();
}

// ---------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------

function statusInfo() {
  const { phase } = state.conn;
  if (phase !== 'open') {
    return phase === 'reconnecting' && (state.welcomed || state.conn.failures > 1)
      ? { key: 'reconnecting', text: t('chat.status.reconnecting') }
      : { key: 'connecting', text: t('chat.status.connecting') };
  }
  const c = state.conversation;
  if (!c) return { key: 'ready', text: t('chat.status.ready') };
  if (c.state === 'queued') {
    return c.position
      ? { key: 'queued', text: t('chat.status.queued_position', { n: c.position }) }
      : { key: 'queued', text: t('chat.status.queued') };
  }
  if (c.state === 'assigned' || c.state === 'wrap_up') {
    return { key: 'assigned', text: t('chat.status.assigned', { agent: c.agent_name || t('chat.agent') }) };
  }
  if (ENDED_STATES.has(c.state)) return { key: 'ended', text: t('chat.status.ended') };
  return { key: 'ready', text: t('chat.status.ready') };
}

function renderStatus() {
  const info = statusInfo();
  const el = $('chat-status');
  el.dataset.state = info.key;
  const text = $('chat-status-text');
  if (text.textContent !== info.text) text.textContent = info.text;
  const open = state.conversation && OPEN_STATES.has(state.conversation.state);
  $('chat-end', HTMLButtonElement).disabled = !open;
  // Browser calls while an agent holds the conversation; with video calls on, the
  // Video call button stands in for the link button.
  const assigned = !!state.conversation && state.conversation.state === 'assigned';
  for (const media of CALL_MEDIA) {
    const btn = $(`call-${media}`, HTMLButtonElement);
    btn.hidden = !(assigned && state.calls.includes(media));
    btn.disabled = state.conn.phase !== 'open' || calls.busy;
  }
  const video = $('chat-video', HTMLButtonElement);
  video.hidden = !open || state.calls.includes('video');
  video.disabled = state.conn.phase !== 'open' || !!state.videoRequestedAt;
  video.setAttribute('aria-busy', String(!!state.videoRequestedAt));
  video.title = state.videoRequestedAt ? t('chat.video_requesting') : t('chat.video_label');
  document.title = `${t('chat.title')}${info.key === 'assigned' || info.key === 'queued' ? ` · ${info.text}` : ''}`;
}

/** @type {(state: ChatState) => void} */
let updateHandoff = () => {};

function render({ toBottom = false } = {}) {
  // A message sent from this page, or history shown: no more help suggestions.
  if (state.events.size || state.pending.size) stopHelp();
  updateHandoff(state);
  renderStatus();
  renderMessages({ toBottom });
  renderTyping();
  ivrRender(state.conversation);
}

/** @param {ChatEvent} e */
function agentNameFor(e) {
  if (botName(e)) return botName(e);
  const c = state.conversation;
  if (c && c.agent_name && e.conversation_id === c.id) return c.agent_name;
  return t('chat.agent');
}

function renderMessages({ toBottom = false } = {}) {
  const scroller = $('messages-scroll');
  const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 48;
  const events = [...state.events.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  /** @type {{ key: string, render: () => HTMLLIElement }[]} */
  const items = [];
  const shown = new Set();

  items.push({ key: 'greeting', render: () => buildGreeting() });
  /** @type {Map<string, Line[]>} */
  const linesAfter = new Map();
  for (const line of state.lines) {
    const k = line.afterId || '';
    const list = linesAfter.get(k);
    if (list) list.push(line);
    else linesAfter.set(k, [line]);
  }
  /** @param {string} afterId */
  const pushLines = (afterId) => {
    for (const line of linesAfter.get(afterId) || []) {
      items.push({ key: `line:${line.key}`, render: () => h('li', { class: 'sys', dataset: { testid: 'chat-system' } }, line.text()) });
    }
  };
  pushLines('');
  /** @type {'agent' | 'customer' | null} */
  let prevRole = null;
  for (const e of events) {
    if (CALL_EVENT_KINDS.has(e.type)) {
      const key = `${e.id}:call`;
      const cached = messageCache.get(key);
      if (cached && builtFrom.get(cached) !== e) messageCache.delete(key);
      items.push({ key, render: () => buildCallLine(e) });
      prevRole = null;
      pushLines(e.id);
      continue;
    }
    if (e.type === 'video_invited') {
      const key = `${e.id}:video`;
      const cached = messageCache.get(key);
      if (cached && builtFrom.get(cached) !== e) messageCache.delete(key);
      items.push({ key, render: () => buildVideoInvite(e) });
      prevRole = null;
      pushLines(e.id);
      continue;
    }
    if (e.client_msg_id) shown.add(e.client_msg_id);
    /** @type {'agent' | 'customer'} */
    const role = e.type === 'message_out' || e.type === 'bot_reply' ? 'agent' : 'customer';
    const cont = prevRole === role;
    prevRole = role;
    const key = `${e.id}:${cont ? 'c' : 'f'}`;
    const cached = messageCache.get(key);
    if (cached && builtFrom.get(cached) !== e) messageCache.delete(key);
    items.push({ key, render: () => buildMessage(e, role, cont) });
    pushLines(e.id);
  }
  for (const [clientMsgId, p] of state.pending) {
    if (shown.has(clientMsgId)) continue;
    const cont = prevRole === 'customer';
    prevRole = 'customer';
    items.push({ key: `pending:${clientMsgId}:${p.failed || ''}:${cont}`, render: () => buildPending(clientMsgId, p, cont) });
  }
  // Lines that point at events no longer present go last.
  const known = new Set(['', ...events.map((e) => e.id)]);
  for (const [afterId] of linesAfter) if (!known.has(afterId)) pushLines(afterId);

  reconcile($('messages'), items, messageCache);
  if (toBottom || atBottom) scroller.scrollTop = scroller.scrollHeight;
}

function buildGreeting() {
  return h(
    'li',
    { class: 'row row--agent' },
    h('div', { class: 'bubble bubble--greeting' }, h('div', { class: 'bubble__text' }, t('chat.empty'))),
  );
}

/**
 * @param {ChatEvent} e
 * @param {'agent' | 'customer'} role
 * @param {boolean} cont  continues the previous bubble of the same side
 */
function buildMessage(e, role, cont) {
  const name = role === 'agent' ? agentNameFor(e) : t('chat.you');
  const li = h(
    'li',
    {
      class: `row row--${role}${cont ? ' row--cont' : ''}`,
      dataset: { testid: 'chat-message', role, eventId: e.id },
    },
    role === 'agent' && !cont ? h('div', { class: 'row__name' }, name) : null,
    h(
      'div',
      { class: 'bubble' },
      e.channel && e.channel !== 'chat' ? h('span', { class: `badge badge--${e.channel} bubble__channel` }, channelName(e.channel)) : null,
      onlyDescribes(e.text, e.attachments) ? null : h('div', { class: 'bubble__text', dataset: { testid: 'chat-message-text' } }, e.text ?? ''),
      e.attachments && e.attachments.length ? buildFiles(e.attachments, e.customer_id || state.customerId || '') : null,
    ),
    h('time', { class: 'row__time', datetime: new Date(e.at).toISOString(), title: formatDateTime(e.at) }, formatTime(e.at)),
  );
  builtFrom.set(li, e);
  return li;
}

/**
 * The files of a message, shown with the visitor token.
 * @param {ChatFile[]} list
 * @param {string} customerId  the event's customer (the files' owner)
 */
function buildFiles(list, customerId) {
  return h('ul', { class: 'attachments', dataset: { testid: 'chat-files' }, 'aria-label': t('msg.attachments') }, ...list.map((a) => attachmentView(a, customerId, () => state.token)));
}

/** @param {ChatEvent} e */
function buildVideoInvite(e) {
  const url = e.join_url;
  const li = h(
    'li',
    { class: 'video-invite', dataset: { testid: 'chat-video-invite', eventId: e.id } },
    h('span', { class: 'video-invite__text' }, t('chat.video_ready')),
    // Not an http(s) URL: shown as text, never as a link.
    isHttpUrl(url)
      ? safeLink(url, t('chat.video_join'), { class: 'btn btn--primary btn--small video-invite__join', dataset: { testid: 'chat-video-link' } })
      : h('span', { class: 'video-invite__url', dataset: { testid: 'chat-video-url' } }, String(url ?? '')),
    h('time', { datetime: new Date(e.at).toISOString(), title: formatDateTime(e.at) }, formatTime(e.at)),
  );
  builtFrom.set(li, e);
  return li;
}

/**
 * A browser call's event as a system line: "Voice call started", "Call answered",
 * "Call ended · 3:12" (with why when it was not a plain hang-up).
 * @param {ChatEvent} e
 */
function buildCallLine(e) {
  /** @type {Record<string, string>} */
  const dataset = { testid: 'chat-system', kind: e.type, eventId: e.id };
  if (e.call_id) dataset.callId = e.call_id;
  const text =
    e.type === 'call_started'
      ? t('call.started', { media: callMediaLabel(e.media) })
      : e.type === 'call_answered'
        ? t('call.answered')
        : callEndedText(e, byFrom('customer'), { brief: true });
  const li = h('li', { class: `sys sys--${e.type}`, dataset }, text);
  builtFrom.set(li, e);
  return li;
}

/**
 * @param {string} clientMsgId
 * @param {PendingMessage} p
 * @param {boolean} cont
 */
function buildPending(clientMsgId, p, cont) {
  return h(
    'li',
    {
      class: `row row--customer row--pending${cont ? ' row--cont' : ''}${p.failed ? ' row--failed' : ''}`,
      dataset: { testid: 'chat-message', role: 'customer', pending: 'true', clientMsgId },
    },
    h(
      'div',
      { class: 'bubble' },
      p.text ? h('div', { class: 'bubble__text', dataset: { testid: 'chat-message-text' } }, p.text) : null,
      p.files && p.files.length ? h('ul', { class: 'attachments' }, ...p.files.map((f) => h('li', { class: 'attachment' }, '📎 ', String(f.name || '')))) : null,
    ),
    p.uploading
      ? h('div', { class: 'row__status', dataset: { testid: 'chat-file-uploading' } }, t('file.uploading'))
      : p.failed
      ? h(
          'div',
          { class: 'row__status row__status--failed' },
          t('msg.failed', { code: p.failed }),
          ' · ',
          h('button', { type: 'button', class: 'btn btn--link', onclick: () => retry(clientMsgId) }, t('msg.retry')),
        )
      : h('div', { class: 'row__status', dataset: { testid: 'chat-message-pending' } }, t('msg.sending')),
  );
}

function renderTyping() {
  const el = $('agent-typing');
  const typing = state.agentTypingUntil > Date.now();
  if (typing && el.hidden) {
    const c = state.conversation;
    replaceChildren(
      el,
      h('span', { class: 'dots', 'aria-hidden': 'true' }, h('span'), h('span'), h('span')),
      ' ',
      t('chat.agent_typing', { agent: (c && c.agent_name) || t('chat.agent') }),
    );
  }
  el.hidden = !typing;
}

/**
 * @param {string} code
 * @param {string} text
 */
function showError(code, text) {
  const el = h(
    'div',
    { class: 'chat__error', role: 'alert', dataset: { testid: 'chat-error', code } },
    h('span', { class: 'chat__error-code' }, code),
    h('span', { class: 'chat__error-text' }, text),
  );
  el.appendChild(h('button', { type: 'button', class: 'chat__error-close', 'aria-label': t('common.dismiss'), onclick: () => el.remove() }, '×'));
  const box = $('chat-errors');
  box.appendChild(el);
  while (box.firstElementChild && box.children.length > 3) box.firstElementChild.remove();
  setTimeout(() => el.remove(), ERROR_MS);
}

function autosize() {
  const input = $('chat-input', HTMLTextAreaElement);
  input.style.height = 'auto';
  input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
}

// ---------------------------------------------------------------------------------
// Wiring
// ---------------------------------------------------------------------------------

function init() {
  applyTranslations();
  bindLanguageToggle($('lang-toggle'));
  onLanguageChange(() => {
    applyTranslations();
    messageCache.clear();
    $('messages').replaceChildren();
    const done = $('identify-done');
    if (!done.hidden) {
      const name = $('identify-name', HTMLInputElement).value.trim();
      done.textContent = name ? t('chat.identify.saved', { name }) : t('chat.identify.saved_anon');
    }
    $('agent-typing').hidden = true;
    render();
  });

  try {
    const profile = JSON.parse(localStorage.getItem(PROFILE_KEY) || 'null');
    if (profile) {
      $('identify-name', HTMLInputElement).value = profile.name || '';
      $('identify-email', HTMLInputElement).value = profile.email || '';
    }
  } catch {
    /* ignore */
  }

  for (const msg of socket.pending()) {
    if (msg.type === 'message' && msg.client_msg_id) {
      const files = Array.isArray(msg.files) ? msg.files.map((/** @type {unknown} */ f) => ({ file: String(f), name: t('attachment.file') })) : undefined;
      state.pending.set(msg.client_msg_id, { text: String(msg.text), createdAt: Date.now(), failed: null, files });
    }
  }

  const input = $('chat-input', HTMLTextAreaElement);
  initHelp(input, $('chat-help'));
  sendOnEnter(input, sendMessage);
  input.addEventListener('input', () => {
    autosize();
    if (input.value.trim()) maybeSendTyping();
  });
  $('chat-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sendMessage();
  });
  const picker = $('chat-file', HTMLInputElement);
  picker.addEventListener('change', () => {
    if (picker.files && picker.files.length) sendFiles(picker.files);
    picker.value = '';
  });
  $('chat-end').addEventListener('click', leave);
  $('chat-video').addEventListener('click', requestVideo);
  for (const media of CALL_MEDIA) $(`call-${media}`).addEventListener('click', () => startCall(media));
  updateHandoff = mountHandoff($('chat-video'), (/** @type {string} */ text, /** @type {string} */ clientMsgId) => {
    state.pending.set(clientMsgId, { text, createdAt: Date.now(), failed: null });
    socket.sendReliable({ type: 'handoff', client_msg_id: clientMsgId, text });
    render({ toBottom: true });
  });
  $('identify-form').addEventListener('submit', identify);
  $('new-chat').addEventListener('click', startOver);

  setInterval(() => {
    if (!$('agent-typing').hidden && state.agentTypingUntil <= Date.now()) renderTyping();
  }, 500);

  render();
  socket.start();
  initIvr(socket);
}

init();

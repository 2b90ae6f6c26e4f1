// agent/timeline.js — owns the customer timeline of the selected conversation: every
// event of the customer in id order with day separators (messages and notes as
// bubbles, with their channel, delivery receipt folded in, subject and attachments, and
// a public post's moderation bar from moderate.js;
// everything else as a system line from system.js), the agent's messages still waiting
// for their ack (with Retry when refused), and history paging (`history` frames,
// "Load older messages"). Scroll stays at the bottom, or where it was when older
// pages arrive.

import { t, has, formatDay } from '../shared/i18n.js';
import { h, reconcile, byId } from '../shared/dom.js';
import { attachmentView, onlyDescribes } from '../shared/files.js';
import { newClientMsgId } from '../shared/ws.js';
import { state, serverNow, timelineFor, selectedConv, sortedEvents } from './state.js';
import { customerName, agentLabel, channelBadge, timeEl } from './labels.js';
import { buildSystemLine } from './system.js';
import { buildModeration, moderationIndex } from './moderate.js';
import { sendNow, sendReliable } from './wire.js';

/** @import { TimelineEvent, Attachment } from './frames.js' */
/** @import { Conv, Pending } from './state.js' */

const HISTORY_PAGE = 50;
// Delivery receipts are shown on the message they are about, not as lines of their own.
const HIDDEN_EVENT_KINDS = new Set(['offered', 'message_status']);
// A later receipt never downgrades an earlier one (providers report out of order).
/** @type {Record<string, number>} */
const DELIVERY_RANK = { sent: 1, delivered: 2, read: 3, failed: 4, suppressed: 4, unknown: 4 };
/** @type {Record<string, string>} */
const DELIVERY_ICON = { sent: '✓', delivered: '✓✓', read: '✓✓', failed: '✕', suppressed: '⦸', unknown: '?' };
const MESSAGE_KINDS = new Set(['message_in', 'message_out', 'note']);

/** @type {Map<string, HTMLLIElement>} item key -> line */
const timelineCache = new Map();
/** The event each line was built from: a line is built again when its event object changes. */
/** @type {WeakMap<HTMLLIElement, TimelineEvent>} */
const builtFrom = new WeakMap();
/** @type {string | null} the conversation whose timeline the lines are */
let lastRenderedConv = null;

/** Forgets the built lines and which conversation they were of (new session, new welcome). */
export function forgetTimeline() {
  timelineCache.clear();
  lastRenderedConv = null;
}

/** Empties the timeline so every line is built again (language change). */
export function clearTimelineLines() {
  timelineCache.clear();
  byId('timeline').replaceChildren();
}

/**
 * Shows conv's timeline: from scratch and scrolled to the bottom when conv changed.
 * @param {Conv | null} conv
 */
export function showTimeline(conv) {
  if (!conv) {
    lastRenderedConv = null;
    return;
  }
  const switched = lastRenderedConv !== conv.view.id;
  if (switched) {
    timelineCache.clear();
    byId('timeline').replaceChildren();
  }
  lastRenderedConv = conv.view.id;
  renderTimeline({ toBottom: switched });
}

export function renderTimelineHeader() {
  const conv = selectedConv();
  if (!conv) return;
  const tl = timelineFor(conv.view.customer.id);
  const btn = byId('load-older', HTMLButtonElement);
  btn.hidden = tl.more === false;
  btn.disabled = tl.loading;
  btn.textContent = tl.loading ? t('conv.loading') : t('conv.load_older');
  byId('history-start').hidden = tl.more !== false;
}

export function renderTimeline({ toBottom = false, keepScroll = false } = {}) {
  const conv = selectedConv();
  if (!conv) return;
  const scroller = byId('timeline-scroll');
  const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 48;
  const prevHeight = scroller.scrollHeight;
  const prevTop = scroller.scrollTop;

  const tl = timelineFor(conv.view.customer.id);
  const events = sortedEvents(tl);
  const receipts = deliveryIndex(events);
  const moderated = moderationIndex(events);
  /** @type {{ key: string, render: () => HTMLLIElement }[]} */
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
    const moderation = e.type === 'message_in' ? moderated.get(e.id) : undefined;
    // A new receipt or moderation makes a new key, so the message is built again with it.
    const key = receipt ? `${e.id}:${receipt.status}` : moderation ? `${e.id}:${moderation}` : e.id;
    const cached = timelineCache.get(key);
    if (cached && builtFrom.get(cached) !== e) timelineCache.delete(key);
    items.push({ key, render: () => buildEvent(e, conv, receipt, moderation) });
  }
  for (const [clientMsgId, p] of state.pending) {
    if (p.conversation_id !== conv.view.id || shownClientIds.has(clientMsgId)) continue;
    const key = `pending:${clientMsgId}:${p.failed || ''}`;
    items.push({ key, render: () => buildPending(clientMsgId, p, conv) });
  }
  reconcile(byId('timeline'), items, timelineCache);
  renderTimelineHeader();

  if (keepScroll) scroller.scrollTop = prevTop + (scroller.scrollHeight - prevHeight);
  else if (toBottom || atBottom) scroller.scrollTop = scroller.scrollHeight;
}

/**
 * message_out event id -> the most advanced `message_status` event about it.
 * @param {TimelineEvent[]} events
 */
function deliveryIndex(events) {
  /** @type {Map<string, TimelineEvent>} */
  const map = new Map();
  for (const e of events) {
    if (e.type !== 'message_status' || !e.message_event_id) continue;
    const prev = map.get(e.message_event_id);
    if (!prev || (DELIVERY_RANK[e.status || ''] || 0) >= (DELIVERY_RANK[prev.status || ''] || 0)) map.set(e.message_event_id, e);
  }
  return map;
}

/**
 * @param {TimelineEvent} e
 * @param {Conv} conv
 * @param {TimelineEvent} [receipt] the latest `message_status` of a message_out
 * @param {string} [moderation] the latest moderation of a public message_in
 */
function buildEvent(e, conv, receipt, moderation) {
  const node = MESSAGE_KINDS.has(e.type) ? buildMessage(e, conv, receipt, moderation) : buildSystemLine(e);
  builtFrom.set(node, e);
  return node;
}

/**
 * @param {TimelineEvent} e
 * @param {Conv} conv
 * @param {TimelineEvent} [receipt]
 * @param {string} [moderation]
 */
function buildMessage(e, conv, receipt, moderation) {
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
      onlyDescribes(e.text, e.attachments) ? null : h('div', { class: 'msg__text', dataset: { testid: 'message-text' } }, e.text ?? ''),
      e.attachments && e.attachments.length ? buildAttachments(e.attachments, e.customer_id || conv.view.customer.id) : null,
    ),
    other ? null : buildModeration(e, conv.view.id, moderation),
  );
}

/** @param {TimelineEvent} r a `message_status` event */
function deliveryBadge(r) {
  const label = has(`delivery.${r.status}`) ? t(`delivery.${r.status}`) : String(r.status);
  return h(
    'span',
    {
      class: `delivery delivery--${r.status}`,
      dataset: { testid: 'message-delivery', status: r.status },
      title: r.detail ? `${label}: ${r.detail}` : label,
    },
    h('span', { class: 'delivery__icon', 'aria-hidden': 'true' }, DELIVERY_ICON[r.status || ''] || ''),
    ' ',
    label,
  );
}

/**
 * Files, images, stickers of a message: stored files shown inline (image, PDF, player)
 * with a download link, fetched with the session's token; provider references described.
 * @param {Attachment[]} list
 * @param {string} customerId  the event's customer (the files' owner)
 */
function buildAttachments(list, customerId) {
  const getToken = () => (state.session ? state.session.token : null);
  return h(
    'ul',
    { class: 'attachments', dataset: { testid: 'message-attachments' }, 'aria-label': t('msg.attachments') },
    ...list.map((a) => attachmentView(a, customerId, getToken)),
  );
}

/**
 * @param {string} clientMsgId
 * @param {Pending} p
 * @param {Conv} conv
 */
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
    h(
      'div',
      { class: 'msg__bubble' },
      h('div', { class: 'msg__text', dataset: { testid: 'message-text' } }, p.text),
      p.files && p.files.length ? h('ul', { class: 'attachments' }, ...p.files.map((f) => h('li', { class: 'attachment' }, '📎 ', f.name))) : null,
    ),
  );
}

/** @param {string} clientMsgId */
function retryPending(clientMsgId) {
  const p = state.pending.get(clientMsgId);
  if (!p) return;
  p.failed = null;
  p.detail = null;
  /** @type {{ type: 'note' | 'message', conversation_id: string, client_msg_id: string, text: string, channel?: string, files?: string[] }} */
  const msg = { type: p.kind, conversation_id: p.conversation_id, client_msg_id: clientMsgId, text: p.text };
  if (p.channel) msg.channel = p.channel;
  if (p.files && p.files.length) msg.files = p.files.map((f) => f.file);
  sendReliable(msg);
  renderTimeline();
}

/** "Load older messages": asks for the page before the oldest event shown. */
export function requestOlder() {
  const conv = selectedConv();
  if (!conv) return;
  const tl = timelineFor(conv.view.customer.id);
  if (tl.loading) return;
  const oldest = sortedEvents(tl)[0];
  const requestId = newClientMsgId();
  /** @type {{ type: 'history', customer_id: string, limit: number, request_id: string, before?: string }} */
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

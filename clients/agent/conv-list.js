// agent/conv-list.js — owns the list of held conversations in arrival order: one item
// each with the customer, the last message (or "typing…"), its time, unread count,
// channel, state and queue; the selected one marked. Picking one calls the select
// function app.js hands to initConversationList (the pane's).

import { t, formatTime, channelName } from '../shared/i18n.js';
import { h, replaceChildren, reconcile, byId } from '../shared/dom.js';
import { state } from './state.js';
import { customerName, initials, channelBadge, stateBadge } from './labels.js';

/** @import { Conv } from './state.js' */

/** @type {Map<string, HTMLLIElement>} conversation id -> item */
const convItemCache = new Map();
/** @type {(id: string) => void} */
let onSelect = () => {};

/**
 * Sets what picking a conversation does.
 * @param {(id: string) => void} select
 */
export function initConversationList(select) {
  onSelect = select;
}

/** Drops the cached items (new session). */
export function forgetConversationItems() {
  convItemCache.clear();
}

export function renderConversationList() {
  const list = byId('conversation-list');
  const items = [...state.convs.values()].map((conv) => ({
    key: conv.view.id,
    render: () => h('li', { class: 'conv-item' }, h('button', { type: 'button', class: 'conv-item__btn', onclick: () => onSelect(conv.view.id) })),
    update: null,
  }));
  reconcile(list, items, convItemCache);
  for (const conv of state.convs.values()) paintConversationItem(conv);
  byId('convs-empty').hidden = state.convs.size > 0;
  const count = byId('convs-count');
  count.textContent = String(state.convs.size);
  count.hidden = state.convs.size === 0;
}

/** @param {Conv} conv */
function lastMessage(conv) {
  const tl = state.timelines.get(conv.view.customer.id);
  if (!tl) return null;
  let last = null;
  for (const e of tl.events.values()) {
    if ((e.type === 'message_in' || e.type === 'message_out') && (!last || e.id > last.id)) last = e;
  }
  return last;
}

/** @param {Conv} conv */
function paintConversationItem(conv) {
  const li = convItemCache.get(conv.view.id);
  if (!li) return;
  const btn = /** @type {HTMLButtonElement} */ (li.firstElementChild);
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

// agent/pane.js — owns the conversation pane and which conversation it shows: select
// (saving the draft of the one left), its header (customer, channel, state, queue,
// which actions are possible), the "customer left" banner, the customer-typing line,
// the customer-info toggle, and renderAll, which draws every panel. It also forgets a
// conversation the agent no longer holds and selects the next one.

import { t } from '../shared/i18n.js';
import { h, replaceChildren } from '../shared/dom.js';
import { $, state, selectedConv, sortedEvents, timelineFor } from './state.js';
import { customerName, channelBadge, stateBadge } from './labels.js';
import { toast } from './notices.js';
import { renderHeader, renderTitle } from './header.js';
import { renderOffers } from './offers.js';
import { renderConversationList } from './conv-list.js';
import { showTimeline, requestOlder } from './timeline.js';
import { renderComposer, saveDraft, loadDraft, clearComposer } from './composer.js';
import { renderCustomerPanel } from './customer.js';
import { dropFromOutbox } from './wire.js';
import { assistSelected } from './assist.js';
import { renderCallbackTask } from './callback.js';

export function renderAll() {
  renderHeader();
  renderOffers();
  renderConversationList();
  renderConversation();
  renderTitle();
}

export function select(id, { save = true } = {}) {
  if (!state.convs.has(id)) return;
  if (save) saveDraft();
  state.selected = id;
  const conv = state.convs.get(id);
  conv.unread = 0;
  renderAll();
  loadDraft();
}

/** Selects the first held conversation, if any, after the selected one went. */
export function selectNext() {
  state.selected = null;
  const next = state.convs.size ? [...state.convs.keys()][0] : null;
  if (next) {
    select(next, { save: false });
    return true;
  }
  clearComposer();
  return false;
}

/** Forgets a conversation the agent no longer holds: its pending messages, draft, timeline. */
export function removeConversation(id) {
  const conv = state.convs.get(id);
  state.convs.delete(id);
  for (const [cid, p] of state.pending) {
    if (p.conversation_id === id) {
      state.pending.delete(cid);
      dropFromOutbox(cid);
    }
  }
  if (conv) {
    const stillUsed = [...state.convs.values()].some((c) => c.view.customer.id === conv.view.customer.id);
    if (!stillUsed) state.timelines.delete(conv.view.customer.id);
  }
  state.drafts.delete(id);
  if (state.selected === id) selectNext();
}

export function renderConversation() {
  const conv = selectedConv();
  $('conv-empty').hidden = !!conv;
  $('conv-view').hidden = !conv;
  assistSelected(conv);
  if (!conv) {
    showTimeline(null);
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
  showTimeline(conv);
  renderTyping();
  renderComposer();
  renderCustomerPanel(conv);
  renderCallbackTask(conv, sortedEvents(timelineFor(conv.view.customer.id)), state.session.token, (m) => toast('callback', m));
}

export function renderTyping() {
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

/** Every 250 ms: "typing…" ends where the customer stopped. */
export function tickTyping(now) {
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
}

/** Wires "Load older messages", the customer-info toggle, and unread on returning to the tab. */
export function initPane() {
  $('load-older').addEventListener('click', requestOlder);
  $('toggle-info').addEventListener('click', () => {
    state.infoOpen = !state.infoOpen;
    renderConversation();
  });
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
}

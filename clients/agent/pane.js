// agent/pane.js — owns the conversation pane and which conversation it shows: select
// (saving the draft of the one left), its header (customer, channel, state, queue,
// which actions are possible, the call buttons through calls.js), the "customer left"
// banner, the customer-typing line, the customer-info toggle, and renderAll, which
// draws every panel (the live phone call's controls too, callcontrols.js). The customer
// panel and the callback card are drawn again when the phone softphone becomes ready or
// not, a phone call starts or ends, the engine says how the agent takes calls (their own
// phone, agentphone.js), or a call out through that phone starts or ends (their Call
// buttons). It also forgets a conversation the
// agent no longer holds and selects the next one.

import { t } from '../shared/i18n.js';
import { h, replaceChildren, byId } from '../shared/dom.js';
import { state, selectedConv, sortedEvents, timelineFor } from './state.js';
import { customerName, channelBadge, stateBadge } from './labels.js';
import { toast } from './notices.js';
import { renderHeader, renderTitle } from './header.js';
import { renderOffers } from './offers.js';
import { renderConversationList } from './conv-list.js';
import { renderParkedList } from './parked.js';
import { showTimeline, requestOlder } from './timeline.js';
import { renderComposer, saveDraft, loadDraft, clearComposer } from './composer.js';
import { renderCustomerPanel } from './customer.js';
import { dropFromOutbox } from './wire.js';
import { assistSelected } from './assist.js';
import { renderCallbackTask } from './callback.js';
import { renderCallButtons } from './calls.js';
import { onSoftphoneChange } from './softphone.js';
import { onAgentPhoneChange } from './agentphone.js';
import { renderCallControls } from './callcontrols.js';

/** @import { Conv } from './state.js' */

/** The channels whose conversations park (docs/api.md, "Parking"). */
const PARKING_CHANNELS = new Set(['sms', 'email', 'line', 'messenger', 'whatsapp', 'instagram', 'x', 'facebook_comments', 'x_mentions']);

export function renderAll() {
  renderHeader();
  renderOffers();
  renderConversationList();
  renderParkedList();
  renderConversation();
  renderCallControls();
  renderTitle();
}

/**
 * Shows conversation `id` in the pane.
 * @param {string} id
 * @param {{ save?: boolean }} [options] keep the reply box's text as the left conversation's draft
 */
export function select(id, { save = true } = {}) {
  const conv = state.convs.get(id);
  if (!conv) return;
  if (save) saveDraft();
  state.selected = id;
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

/**
 * Forgets a conversation the agent no longer holds: its pending messages, draft, timeline.
 * @param {string} id
 */
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
  byId('conv-empty').hidden = !!conv;
  byId('conv-view').hidden = !conv;
  assistSelected(conv);
  if (!conv) {
    showTimeline(null);
    return;
  }
  const name = customerName(conv.view.customer);
  byId('conv-title').textContent = name;
  replaceChildren(
    byId('conv-subtitle'),
    channelBadge(conv.view.channel),
    stateBadge(conv.state),
    h('span', { class: 'conv-header__queue' }, t('offer.queue', { q: conv.view.queue })),
  );
  const closed = conv.state === 'resolved' || conv.state === 'abandoned';
  byId('action-wrapup', HTMLButtonElement).disabled = conv.state !== 'assigned';
  byId('action-transfer', HTMLButtonElement).disabled = closed;
  // Only asynchronous channels park (the customer is not waiting on a page or a line).
  const park = byId('action-park', HTMLButtonElement);
  park.hidden = !PARKING_CHANNELS.has(conv.view.channel);
  park.disabled = conv.state !== 'assigned';
  renderCallButtons(conv);
  byId('timeline-scroll').setAttribute('aria-label', t('conv.timeline', { name }));
  const banner = byId('conv-banner');
  banner.hidden = conv.state !== 'abandoned';
  banner.textContent = conv.state === 'abandoned' ? t('conv.customer_left') : '';
  byId('customer-panel').classList.toggle('is-open', state.infoOpen);
  byId('toggle-info').setAttribute('aria-expanded', String(state.infoOpen));
  showTimeline(conv);
  renderTyping();
  renderComposer();
  renderCustomerSide(conv);
}

/**
 * The customer panel and the callback card of `conv` (the selected conversation).
 * @param {Conv} conv
 */
function renderCustomerSide(conv) {
  renderCustomerPanel(conv);
  const token = state.session ? state.session.token : '';
  renderCallbackTask(conv, sortedEvents(timelineFor(conv.view.customer.id)), token, (m) => toast('callback', m));
}

export function renderTyping() {
  const conv = selectedConv();
  const el = byId('customer-typing');
  const typing = !!conv && conv.typingUntil > Date.now();
  if (typing) {
    if (el.hidden || el.dataset.for !== conv.view.id) {
      el.dataset.for = conv.view.id;
      replaceChildren(el, h('span', { class: 'dots', 'aria-hidden': 'true' }, h('span'), h('span'), h('span')), ' ', t('conv.typing', { name: customerName(conv.view.customer) }));
    }
  }
  el.hidden = !typing;
}

/**
 * Every 250 ms: "typing…" ends where the customer stopped.
 * @param {number} now local clock, ms
 */
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

/**
 * Wires "Load older messages", the customer-info toggle, unread on returning to the tab,
 * and the Call buttons' redraw on the softphone's and the agent's own phone's changes.
 */
export function initPane() {
  byId('load-older').addEventListener('click', requestOlder);
  // The softphone got ready (or not), a phone call started or ended, the agent's own
  // phone became known, or a call out through it started or ended: the Call buttons.
  const redrawCallButtons = () => {
    const conv = selectedConv();
    if (conv && state.session) renderCustomerSide(conv);
  };
  onSoftphoneChange(redrawCallButtons);
  onAgentPhoneChange(redrawCallButtons);
  byId('toggle-info').addEventListener('click', () => {
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

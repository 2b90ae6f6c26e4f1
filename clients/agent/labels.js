// agent/labels.js — owns how the agent desktop names things: a customer (display name,
// else "Visitor" and the id's start), an agent ("You" for the signed-in one), a status
// or away reason, initials for avatars, and the small channel / state / time elements
// every panel shows. Text only (h() from ../shared/dom.js).

import { t, has, channelName, formatTime, formatDateTime } from '../shared/i18n.js';
import { h } from '../shared/dom.js';
import { state } from './state.js';

/** @import { Customer } from './frames.js' */

/**
 * The customer's display name, else "Visitor" and the start of the id.
 * @param {Customer | null | undefined} customer
 */
export function customerName(customer) {
  if (customer && customer.display_name) return customer.display_name;
  const id = customer && customer.id ? String(customer.id) : '';
  return id ? `${t('customer.visitor')} ${id.slice(0, 4)}` : t('customer.visitor');
}

/**
 * An agent's id, "You" for the signed-in agent, "the system" for none.
 * @param {string | null | undefined} agentId
 * @param {{ inSentence?: boolean }} [options] lower-case "you" inside a sentence
 */
export function agentLabel(agentId, { inSentence = false } = {}) {
  if (!agentId) return t('event.system_agent');
  if (state.session && agentId === state.session.agent_id) return inSentence ? t('msg.you_lower') : t('msg.you');
  return agentId;
}

/** @param {string} name */
export function initials(name) {
  const parts = String(name).trim().split(/\s+/).filter(Boolean);
  if (!parts.length) return '?';
  const first = [...parts[0]][0] || '';
  const second = parts.length > 1 ? [...parts[parts.length - 1]][0] || '' : '';
  return (first + second).toUpperCase();
}

/** @param {string | null} status */
export function statusLabel(status) {
  return has(`status.${status}`) ? t(`status.${status}`) : status || t('common.unknown');
}

/** @param {string} reason */
export function reasonLabel(reason) {
  return has(`reason.${reason}`) ? t(`reason.${reason}`) : reason;
}

/** @param {string} channel */
export function channelBadge(channel) {
  return h('span', { class: `badge badge--${channel}`, dataset: { channel } }, channelName(channel));
}

/** @param {string} s a conversation state */
export function stateBadge(s) {
  return h('span', { class: `badge badge--soft badge--state-${s}`, dataset: { testid: 'conversation-state' } }, has(`conv.state.${s}`) ? t(`conv.state.${s}`) : s);
}

/** @param {number} at Unix ms */
export function timeEl(at) {
  return h('time', { class: 'msg__time', datetime: new Date(at).toISOString(), title: formatDateTime(at) }, formatTime(at));
}

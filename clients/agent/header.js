// agent/header.js — owns the agent desktop's top bar and presence: the agent's name,
// avatar and queues, the status dot and status select (available / away with a
// reason, sent as `set_status`), the connection indicator and the "still cannot
// connect" banner, and the document title (offers + unread messages).

import { t } from '../shared/i18n.js';
import { h, replaceChildren, byId } from '../shared/dom.js';
import { state } from './state.js';
import { initials, statusLabel, reasonLabel } from './labels.js';
import { sendNow } from './wire.js';

const AWAY_REASONS = ['break', 'lunch', 'meeting', 'training', 'other'];
const STUCK_AFTER_FAILURES = 4;

export function renderHeader() {
  const name = (state.agent && state.agent.display_name) || (state.session && state.session.agent_id) || '';
  byId('agent-name').textContent = name;
  byId('agent-avatar').textContent = initials(name);
  const queues = state.agent && state.agent.queues ? state.agent.queues.join(' · ') : '';
  byId('agent-queues').textContent = queues;
  byId('agent-queues').title = queues;
  renderStatus();
  renderConnection();
  const dl = byId('queue-options');
  replaceChildren(dl, ...((state.agent && state.agent.queues) || []).map((q) => h('option', { value: q })));
}

export function renderStatus() {
  const dot = byId('agent-status');
  const status = state.status || '';
  dot.dataset.status = status;
  const label = `${t('status.label')}: ${statusLabel(status)}${state.reason ? ` (${reasonLabel(state.reason)})` : ''}`;
  dot.setAttribute('aria-label', label);
  dot.title = label;

  const sel = byId('status-select', HTMLSelectElement);
  for (const opt of sel.querySelectorAll('option[data-extra]')) opt.remove();
  if (status && status !== 'available' && status !== 'away') {
    sel.appendChild(h('option', { value: status, disabled: true, dataset: { extra: '1' } }, statusLabel(status)));
  }
  sel.value = status || 'away';

  const reasonSel = byId('away-reason', HTMLSelectElement);
  const reasons = [...AWAY_REASONS];
  if (state.reason && !reasons.includes(state.reason)) reasons.unshift(state.reason);
  replaceChildren(reasonSel, ...reasons.map((r) => h('option', { value: r }, reasonLabel(r))));
  reasonSel.value = state.reason && reasons.includes(state.reason) ? state.reason : AWAY_REASONS[0];
  reasonSel.hidden = status !== 'away';
}

export function renderConnection() {
  const el = byId('connection-indicator');
  const { phase, retryInMs, failures } = state.conn;
  const shown = phase === 'open' ? 'connected' : phase === 'closed' ? 'offline' : phase;
  el.dataset.state = shown;
  let text;
  if (phase === 'open') text = t('conn.connected');
  else if (phase === 'reconnecting' && retryInMs > 1500) text = t('conn.reconnecting_in', { s: Math.ceil(retryInMs / 1000) });
  else if (phase === 'reconnecting') text = t('conn.reconnecting');
  else if (phase === 'closed') text = t('conn.offline');
  else text = t('conn.connecting');
  /** @type {HTMLElement} */ (el.querySelector('.conn__text')).textContent = text;
  el.title = `${t('header.connection')}: ${text}`;
  byId('stuck-banner').hidden = !(phase !== 'open' && failures >= STUCK_AFTER_FAILURES);
  const offline = phase !== 'open';
  document.body.classList.toggle('is-offline', offline);
}

export function renderTitle() {
  let n = state.offers.size;
  for (const c of state.convs.values()) n += c.unread;
  document.title = `${n ? `(${n}) ` : ''}${state.agent ? `${state.agent.display_name} · ` : ''}Switchboard`;
}

/**
 * @param {'available' | 'away'} status
 * @param {string} [reason]
 */
function setStatus(status, reason) {
  /** @type {{ type: 'set_status', status: string, reason?: string }} */
  const msg = { type: 'set_status', status };
  if (reason) msg.reason = reason;
  if (!sendNow(msg)) renderStatus();
}

/** Wires the status select and the away-reason select. */
export function initPresence() {
  const statusSel = byId('status-select', HTMLSelectElement);
  const reasonSel = byId('away-reason', HTMLSelectElement);
  statusSel.addEventListener('change', () => {
    if (statusSel.value === 'available') setStatus('available');
    else setStatus('away', reasonSel.value || AWAY_REASONS[0]);
  });
  reasonSel.addEventListener('change', () => setStatus('away', reasonSel.value));
}

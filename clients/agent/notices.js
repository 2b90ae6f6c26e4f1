// agent/notices.js — owns the agent desktop's passing messages: notices (what happened:
// an offer timed out, a conversation closed, the session resumed) and error toasts
// (a refused frame, not connected). Both close by themselves; at most four toasts.

import { t } from '../shared/i18n.js';
import { h, byId } from '../shared/dom.js';

const NOTICE_MS = 7000;
const TOAST_MS = 12000;

/**
 * @param {string} text
 * @param {'info' | 'warn'} [tone]
 * @param {{ testid?: string }} [options]
 */
export function notice(text, tone = 'info', { testid = 'notice' } = {}) {
  const el = h('div', { class: `notice notice--${tone}`, dataset: { testid } }, h('span', null, text));
  const close = h('button', { type: 'button', class: 'notice__close', 'aria-label': t('common.dismiss'), onclick: () => el.remove() }, '×');
  el.appendChild(close);
  byId('notices').appendChild(el);
  setTimeout(() => el.remove(), NOTICE_MS);
}

/**
 * @param {string} code the error code, shown and kept in data-code
 * @param {string} text
 */
export function toast(code, text) {
  const el = h(
    'div',
    { class: 'toast toast--error', role: 'alert', dataset: { testid: 'toast', code } },
    h('span', { class: 'toast__code' }, `${t('error.title')} · ${code}`),
    h('span', { class: 'toast__text' }, text),
  );
  el.appendChild(h('button', { type: 'button', class: 'toast__close', 'aria-label': t('common.dismiss'), dataset: { testid: 'toast-dismiss' }, onclick: () => el.remove() }, '×'));
  const box = byId('toasts');
  box.appendChild(el);
  while (box.firstElementChild && box.children.length > 4) box.firstElementChild.remove();
  setTimeout(() => el.remove(), TOAST_MS);
}

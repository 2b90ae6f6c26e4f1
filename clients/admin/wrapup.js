// admin/wrapup.js — owns the console's wrap-up codes section: the managed list agents
// pick from when they resolve a conversation (`GET /api/v1/wrapup-codes`), created or
// edited with `PUT /api/v1/wrapup-codes/{code}` (labels in both languages, the queues
// it applies to — none: every queue — and whether it is still offered; an edit sends
// the version it replaces, 409 if someone changed it meanwhile) and deleted. Whether a
// queue requires one at resolve is the queue form's "Wrap-up code required" (./app.js).
// Bad fields are refused under their inputs (`fields` of a 400); nothing is saved.

import { t } from '../shared/i18n.js';
import { h, replaceChildren, byId } from '../shared/dom.js';
import { api, ApiFailure, showErrors, errorsOf, notify } from './app.js';

/**
 * A wrap-up code (`GET /api/v1/wrapup-codes`).
 * @typedef {{code: string, label: {ja: string, en: string}, queues: string[], active: boolean, version: number}} WrapupCode
 */

const state = {
  /** @type {WrapupCode[]} */
  codes: [],
  /** @type {WrapupCode | null} the code being edited (null: a new one) */
  editing: null,
  /** @type {string[]} the queues a code may be limited to */
  queues: [],
};

const input = (/** @type {string} */ id) => byId(id, HTMLInputElement);

/**
 * Loads the codes (and the queue names for the form) and draws the table.
 * @param {string[]} queues the configured queues' names
 */
export async function loadWrapup(queues) {
  state.queues = queues;
  try {
    state.codes = (await api('GET', '/wrapup-codes')).codes;
  } catch (e) {
    if (!(e instanceof ApiFailure && e.status === 401)) notify('adm.load_failed');
    return;
  }
  renderWrapup();
}

export function renderWrapup() {
  const rows = state.codes.map((c) =>
    h(
      'tr',
      { dataset: { code: c.code }, 'data-testid': 'wrapup-row' },
      h('td', { text: c.code }),
      h('td', { text: c.label.en }),
      h('td', { text: c.label.ja }),
      h('td', { text: c.queues.length ? c.queues.join(', ') : t('adm.wrapup.every_queue') }),
      h('td', { text: c.active ? t('adm.wrapup.offered') : t('adm.wrapup.retired') }),
      h(
        'td',
        null,
        h('button', { type: 'button', class: 'btn btn--small', 'data-testid': 'wrapup-edit', text: t('adm.edit'), onclick: () => openWrapup(c) }),
        ' ',
        h('button', { type: 'button', class: 'btn btn--small', 'data-testid': 'wrapup-delete', text: t('adm.delete'), onclick: () => void deleteWrapup(c) }),
      ),
    ),
  );
  replaceChildren(byId('wrapup-body'), ...rows);
}

/** @param {WrapupCode | null} c */
function openWrapup(c) {
  state.editing = c;
  const form = byId('wrapup-form', HTMLFormElement);
  byId('wrapup-form-title').textContent = c ? t('adm.wrapup.edit', { code: c.code }) : t('adm.wrapup.new');
  input('wrapup-code').value = c?.code || '';
  input('wrapup-code').readOnly = !!c;
  input('wrapup-label-ja').value = c?.label.ja || '';
  input('wrapup-label-en').value = c?.label.en || '';
  input('wrapup-active').checked = c ? c.active : true;
  const chosen = new Set(c?.queues || []);
  replaceChildren(
    byId('wrapup-queues'),
    ...state.queues.map((q) =>
      h('label', { class: 'adm-check' }, h('input', { type: 'checkbox', value: q, checked: chosen.has(q), 'data-testid': `wrapup-queue-${q}` }), ` ${q}`),
    ),
  );
  showErrors(form, {});
  form.hidden = false;
  (c ? input('wrapup-label-ja') : input('wrapup-code')).focus();
}

/** @param {SubmitEvent} ev */
async function saveWrapup(ev) {
  ev.preventDefault();
  const form = byId('wrapup-form', HTMLFormElement);
  const code = input('wrapup-code').value.trim();
  if (!code) return showErrors(form, { code: t('adm.required') });
  const body = {
    label: { ja: input('wrapup-label-ja').value, en: input('wrapup-label-en').value },
    queues: [...byId('wrapup-queues').querySelectorAll('input:checked')].map((el) => /** @type {HTMLInputElement} */ (el).value),
    active: input('wrapup-active').checked,
    version: state.editing?.version ?? 0,
  };
  try {
    await api('PUT', `/wrapup-codes/${encodeURIComponent(code)}`, body);
  } catch (e) {
    return showErrors(form, errorsOf(e));
  }
  form.hidden = true;
  notify('adm.saved', { what: code });
  await loadWrapup(state.queues);
}

/** @param {WrapupCode} c */
async function deleteWrapup(c) {
  if (!window.confirm(t('adm.confirm_delete', { what: c.code }))) return;
  try {
    await api('DELETE', `/wrapup-codes/${encodeURIComponent(c.code)}`);
  } catch (e) {
    notify('adm.failed', { status: e instanceof ApiFailure ? e.status : 0 });
    return;
  }
  notify('adm.deleted', { what: c.code });
  await loadWrapup(state.queues);
}

/** Wires the section's buttons and form (once, at load). */
export function initWrapup() {
  byId('wrapup-form').addEventListener('submit', (ev) => void saveWrapup(/** @type {SubmitEvent} */ (ev)));
  byId('wrapup-new').addEventListener('click', () => openWrapup(null));
  byId('wrapup-cancel').addEventListener('click', () => (byId('wrapup-form').hidden = true));
}

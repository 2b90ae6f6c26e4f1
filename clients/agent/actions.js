// agent/actions.js — owns the conversation actions of the pane's header: the transfer
// dialog (to a queue, or to an agent within a queue: `transfer`), wrap-up (`wrap_up`),
// park (`park`) and the resolve dialog (disposition code and notes: `resolve`). A dialog closes only
// once its frame went out. The resolve dialog offers the wrap-up codes of the conversation's
// queue (GET /api/v1/wrapup-codes?queue=, docs/admin.md "Wrap-up codes") when the admins
// manage any, else the built-in four; a queue that requires one has no default choice.

import { t, getLanguage } from '../shared/i18n.js';
import { byId, h } from '../shared/dom.js';
import { selectedConv } from './state.js';
import { sendNow } from './wire.js';
import { token } from './session.js';

const dialog = (/** @type {string} */ id) => byId(id, HTMLDialogElement);
const field = (/** @type {string} */ id) => byId(id, HTMLInputElement);

/** The chosen kind of transfer: `queue` or `agent` (one radio is always checked). */
function transferKind() {
  return /** @type {HTMLInputElement} */ (document.querySelector('input[name="transfer-kind"]:checked')).value;
}

function openTransfer() {
  const conv = selectedConv();
  if (!conv) return;
  const dlg = dialog('transfer-dialog');
  byId('transfer-form', HTMLFormElement).reset();
  field('transfer-queue').value = '';
  field('transfer-agent').value = '';
  syncTransferKind();
  dlg.dataset.conversationId = conv.view.id;
  dlg.showModal();
  field('transfer-queue').focus();
}

/** Shows the agent field and words the queue field for the chosen kind of transfer. */
export function syncTransferKind() {
  const kind = transferKind();
  byId('transfer-agent-field').hidden = kind !== 'agent';
  byId('transfer-queue-label').textContent = kind === 'agent' ? t('transfer.agent_queue') : t('transfer.queue');
  field('transfer-queue').required = kind === 'queue';
  field('transfer-agent').required = kind === 'agent';
}

/** @param {SubmitEvent} ev */
function submitTransfer(ev) {
  ev.preventDefault();
  const dlg = dialog('transfer-dialog');
  const kind = transferKind();
  const queue = field('transfer-queue').value.trim();
  const agent = field('transfer-agent').value.trim();
  if (kind === 'queue' && !queue) return field('transfer-queue').focus();
  if (kind === 'agent' && !agent) return field('transfer-agent').focus();
  const conversationId = dlg.dataset.conversationId;
  if (!conversationId) return;
  /** @type {{ type: 'transfer', conversation_id: string, queue?: string, agent?: string }} */
  const msg = { type: 'transfer', conversation_id: conversationId };
  if (queue) msg.queue = queue;
  if (kind === 'agent') msg.agent = agent;
  if (sendNow(msg)) dlg.close();
}

/** The built-in choices, offered when no wrap-up code applies to the queue. */
const BUILT_IN = ['resolved', 'follow_up', 'no_answer', 'spam'];

/**
 * @typedef {object} WrapupCode
 * @property {string} code
 * @property {{ ja: string, en: string }} label
 */

/**
 * The wrap-up codes an agent of `queue` picks from, and whether one is required; the
 * built-in choices when the list cannot be read (the engine still checks at resolve).
 * @param {string} queue
 * @returns {Promise<{ required: boolean, codes: WrapupCode[] }>}
 */
async function codesOf(queue) {
  try {
    const res = await fetch(`../api/v1/wrapup-codes?queue=${encodeURIComponent(queue)}`, {
      headers: { Accept: 'application/json', Authorization: `Bearer ${token()}` },
    });
    if (res.ok) return await res.json();
  } catch {
    // Offline: the built-in choices below.
  }
  return { required: false, codes: [] };
}

/**
 * Fills the disposition select: the queue's codes (with an empty first choice the form
 * refuses when one is required), else the built-in choices.
 * @param {{ required: boolean, codes: WrapupCode[] }} list
 */
function fillDispositions(list) {
  const sel = byId('resolve-disposition', HTMLSelectElement);
  const lang = getLanguage() === 'ja' ? 'ja' : 'en';
  /** @type {HTMLOptionElement[]} */
  const options = list.codes.length
    ? list.codes.map((c) => /** @type {HTMLOptionElement} */ (h('option', { value: c.code }, c.label[lang] || c.code)))
    : BUILT_IN.map((d) => /** @type {HTMLOptionElement} */ (h('option', { value: d }, t(`disp.${d}`))));
  if (list.required) options.unshift(/** @type {HTMLOptionElement} */ (h('option', { value: '' }, t('resolve.choose_code'))));
  sel.replaceChildren(...options);
  sel.required = list.required;
  byId('resolve-required').hidden = !list.required;
}

/**
 * Opens the resolve dialog for a conversation of `queue` (the selected one, or a parked one).
 * @param {string} conversationId
 * @param {string} queue
 */
export async function openResolveFor(conversationId, queue) {
  const dlg = dialog('resolve-dialog');
  byId('resolve-form', HTMLFormElement).reset();
  dlg.dataset.conversationId = conversationId;
  fillDispositions(await codesOf(queue));
  dlg.showModal();
  byId('resolve-disposition', HTMLSelectElement).focus();
}

function openResolve() {
  const conv = selectedConv();
  if (conv) void openResolveFor(conv.view.id, conv.view.queue);
}

/** @param {SubmitEvent} ev */
function submitResolve(ev) {
  ev.preventDefault();
  const dlg = dialog('resolve-dialog');
  const conversationId = dlg.dataset.conversationId;
  if (!conversationId) return;
  const select = byId('resolve-disposition', HTMLSelectElement);
  const code = select.value;
  if (!code) return select.focus();
  const details = byId('resolve-notes', HTMLTextAreaElement).value.trim();
  const disposition = details ? `${code}: ${details}` : code;
  if (sendNow({ type: 'resolve', conversation_id: conversationId, disposition })) dlg.close();
}

function park() {
  const conv = selectedConv();
  if (conv) sendNow({ type: 'park', conversation_id: conv.view.id });
}

function wrapUp() {
  const conv = selectedConv();
  if (conv) sendNow({ type: 'wrap_up', conversation_id: conv.view.id });
}

/** Wires the action buttons, both dialogs and their cancel buttons. */
export function initActions() {
  byId('action-transfer').addEventListener('click', openTransfer);
  byId('action-wrapup').addEventListener('click', wrapUp);
  byId('action-park').addEventListener('click', park);
  byId('action-resolve').addEventListener('click', openResolve);
  byId('transfer-form').addEventListener('submit', submitTransfer);
  byId('resolve-form').addEventListener('submit', submitResolve);
  for (const r of document.querySelectorAll('input[name="transfer-kind"]')) r.addEventListener('change', syncTransferKind);
  for (const b of document.querySelectorAll('.js-dialog-cancel')) {
    b.addEventListener('click', () => {
      const dlg = b.closest('dialog');
      if (dlg) dlg.close();
    });
  }
}

// agent/actions.js — owns the conversation actions of the pane's header: the transfer
// dialog (to a queue, or to an agent within a queue: `transfer`), wrap-up (`wrap_up`),
// park (`park`) and the resolve dialog (disposition code and notes: `resolve`). A dialog closes only
// once its frame went out.

import { t } from '../shared/i18n.js';
import { byId } from '../shared/dom.js';
import { selectedConv } from './state.js';
import { sendNow } from './wire.js';

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

function openResolve() {
  const conv = selectedConv();
  if (!conv) return;
  const dlg = dialog('resolve-dialog');
  byId('resolve-form', HTMLFormElement).reset();
  dlg.dataset.conversationId = conv.view.id;
  dlg.showModal();
  byId('resolve-disposition', HTMLSelectElement).focus();
}

/** @param {SubmitEvent} ev */
function submitResolve(ev) {
  ev.preventDefault();
  const dlg = dialog('resolve-dialog');
  const conversationId = dlg.dataset.conversationId;
  if (!conversationId) return;
  const code = byId('resolve-disposition', HTMLSelectElement).value;
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

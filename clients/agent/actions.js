// agent/actions.js — owns the conversation actions of the pane's header: the transfer
// dialog (to a queue, or to an agent within a queue: `transfer`), wrap-up (`wrap_up`)
// and the resolve dialog (disposition code and notes: `resolve`). A dialog closes only
// once its frame went out.

import { t } from '../shared/i18n.js';
import { $, selectedConv } from './state.js';
import { sendNow } from './wire.js';

function openTransfer() {
  const conv = selectedConv();
  if (!conv) return;
  const dlg = $('transfer-dialog');
  $('transfer-form').reset();
  $('transfer-queue').value = '';
  $('transfer-agent').value = '';
  syncTransferKind();
  dlg.dataset.conversationId = conv.view.id;
  dlg.showModal();
  $('transfer-queue').focus();
}

/** Shows the agent field and words the queue field for the chosen kind of transfer. */
export function syncTransferKind() {
  const kind = document.querySelector('input[name="transfer-kind"]:checked').value;
  $('transfer-agent-field').hidden = kind !== 'agent';
  $('transfer-queue-label').textContent = kind === 'agent' ? t('transfer.agent_queue') : t('transfer.queue');
  $('transfer-queue').required = kind === 'queue';
  $('transfer-agent').required = kind === 'agent';
}

function submitTransfer(ev) {
  ev.preventDefault();
  const dlg = $('transfer-dialog');
  const kind = document.querySelector('input[name="transfer-kind"]:checked').value;
  const queue = $('transfer-queue').value.trim();
  const agent = $('transfer-agent').value.trim();
  if (kind === 'queue' && !queue) return $('transfer-queue').focus();
  if (kind === 'agent' && !agent) return $('transfer-agent').focus();
  const msg = { type: 'transfer', conversation_id: dlg.dataset.conversationId };
  if (queue) msg.queue = queue;
  if (kind === 'agent') msg.agent = agent;
  if (sendNow(msg)) dlg.close();
}

function openResolve() {
  const conv = selectedConv();
  if (!conv) return;
  const dlg = $('resolve-dialog');
  $('resolve-form').reset();
  dlg.dataset.conversationId = conv.view.id;
  dlg.showModal();
  $('resolve-disposition').focus();
}

function submitResolve(ev) {
  ev.preventDefault();
  const dlg = $('resolve-dialog');
  const code = $('resolve-disposition').value;
  const details = $('resolve-notes').value.trim();
  const disposition = details ? `${code}: ${details}` : code;
  if (sendNow({ type: 'resolve', conversation_id: dlg.dataset.conversationId, disposition })) dlg.close();
}

function wrapUp() {
  const conv = selectedConv();
  if (conv) sendNow({ type: 'wrap_up', conversation_id: conv.view.id });
}

/** Wires the action buttons, both dialogs and their cancel buttons. */
export function initActions() {
  $('action-transfer').addEventListener('click', openTransfer);
  $('action-wrapup').addEventListener('click', wrapUp);
  $('action-resolve').addEventListener('click', openResolve);
  $('transfer-form').addEventListener('submit', submitTransfer);
  $('resolve-form').addEventListener('submit', submitResolve);
  for (const r of document.querySelectorAll('input[name="transfer-kind"]')) r.addEventListener('change', syncTransferKind);
  for (const b of document.querySelectorAll('.js-dialog-cancel')) b.addEventListener('click', () => b.closest('dialog').close());
}

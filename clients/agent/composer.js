// agent/composer.js — owns the reply/note composer of the selected conversation: one
// draft per conversation (text, note mode, channel pick), sending a `message` or
// `note` through the outbox (shown at once as pending, with the picked channel only
// when it differs), the size limit, Enter to send (not while an IME composes), and
// `typing` frames, throttled. The reply-window line under it is window.js; the files
// attached to a reply are attach.js.

import { t } from '../shared/i18n.js';
import { newClientMsgId } from '../shared/ws.js';
import { byId, sendOnEnter } from '../shared/dom.js';
import { state, selectedConv, currentDraft } from './state.js';
import { customerName } from './labels.js';
import { toast } from './notices.js';
import { renderTimeline } from './timeline.js';
import { pickedChannel, renderReplyChannel } from './reply-channel.js';
import { initWindow, renderWindow } from './window.js';
import { sendQuietly, sendReliable } from './wire.js';
import { readyFiles, clearFiles, renderFiles, initAttach } from './attach.js';

const TYPING_THROTTLE_MS = 2000;
const MAX_TEXT_BYTES = 16 * 1024;
const encoder = new TextEncoder();

/** Keeps the reply box's text in the selected conversation's draft. */
export function saveDraft() {
  if (!state.selected) return;
  currentDraft().text = byId('composer-input', HTMLTextAreaElement).value;
}

/** Puts the selected conversation's draft in the reply box. */
export function loadDraft() {
  byId('composer-input', HTMLTextAreaElement).value = state.selected ? currentDraft().text : '';
  renderComposer();
}

/** Empties the reply box (no conversation is selected any more). */
export function clearComposer() {
  byId('composer-input', HTMLTextAreaElement).value = '';
}

export function renderComposer() {
  const conv = selectedConv();
  if (!conv) return;
  const draft = currentDraft();
  const form = byId('composer');
  const input = byId('composer-input', HTMLTextAreaElement);
  form.classList.toggle('composer--note', draft.note);
  byId('note-toggle').setAttribute('aria-pressed', String(draft.note));
  input.placeholder = draft.note ? t('composer.note_placeholder') : t('composer.placeholder', { name: customerName(conv.view.customer) });
  byId('composer-send').textContent = draft.note ? t('composer.add_note') : t('composer.send');
  byId('composer-mode').textContent = draft.note ? t('composer.note_hint') : '';
  renderReplyChannel(conv, draft.note);
  renderFiles();
  renderWindow(conv, byId('reply-channel', HTMLSelectElement).value || conv.view.channel, draft.note);
}

function sendComposer() {
  const conv = selectedConv();
  if (!conv) return;
  const input = byId('composer-input', HTMLTextAreaElement);
  const text = input.value;
  const note = currentDraft().note;
  const files = note ? [] : readyFiles();
  if (files === null) {
    toast('invalid', t('file.not_ready'));
    return;
  }
  if (!text.trim() && !files.length) return;
  if (encoder.encode(text).length > MAX_TEXT_BYTES) {
    toast('too_large', t('error.too_large'));
    return;
  }
  const channel = note ? null : pickedChannel(conv);
  const clientMsgId = newClientMsgId();
  state.pending.set(clientMsgId, {
    conversation_id: conv.view.id,
    kind: note ? 'note' : 'message',
    text,
    channel,
    createdAt: Date.now(),
    failed: null,
    detail: null,
    files,
  });
  /** @type {{ type: 'note' | 'message', conversation_id: string, client_msg_id: string, text: string, channel?: string, files?: string[] }} */
  const msg = { type: note ? 'note' : 'message', conversation_id: conv.view.id, client_msg_id: clientMsgId, text };
  // Sent only when it differs from the default, so the server keeps following the customer.
  if (channel) msg.channel = channel;
  if (files.length) msg.files = files.map((f) => f.file);
  sendReliable(msg);
  if (files.length) clearFiles();
  input.value = '';
  currentDraft().text = '';
  state.lastTypingSentAt = 0;
  renderTimeline({ toBottom: true });
  input.focus();
}

function maybeSendTyping() {
  const conv = selectedConv();
  if (!conv || currentDraft().note) return;
  const now = Date.now();
  if (now - state.lastTypingSentAt < TYPING_THROTTLE_MS) return;
  if (sendQuietly({ type: 'typing', conversation_id: conv.view.id })) state.lastTypingSentAt = now;
}

/**
 * Wires the reply box, the send button, the channel picker, the note toggle and the
 * reply-window line (which reads the reply windows with the session's token).
 * @param {() => string | null} getToken
 */
export function initComposer(getToken) {
  initWindow({ getToken, render: renderComposer });
  initAttach(getToken);
  // The window's countdown moves.
  setInterval(() => {
    if (state.selected) renderComposer();
  }, 30_000);
  const input = byId('composer-input', HTMLTextAreaElement);
  const picker = byId('reply-channel', HTMLSelectElement);
  sendOnEnter(input, sendComposer);
  input.addEventListener('input', () => {
    saveDraft();
    if (input.value.trim()) maybeSendTyping();
  });
  byId('composer').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sendComposer();
  });
  picker.addEventListener('change', () => {
    const conv = selectedConv();
    if (!conv) return;
    const v = picker.value;
    currentDraft().channel = v === conv.view.channel ? null : v;
    renderComposer();
  });
  byId('note-toggle').addEventListener('click', () => {
    const d = currentDraft();
    d.note = !d.note;
    renderComposer();
    input.focus();
  });
}

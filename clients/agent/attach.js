// agent/attach.js — owns the files attached to the selected conversation's reply: the
// 📎 picker uploads each chosen file at once for the conversation's customer
// (shared/files.js, with the session's token), the chips under the reply box (name,
// size, uploading or why refused, remove), and the ids a `message` frame sends. Notes
// carry no files (the picker hides in note mode).

import { t, formatSize } from '../shared/i18n.js';
import { h, byId, replaceChildren } from '../shared/dom.js';
import { uploadFile } from '../shared/files.js';
import { state, selectedConv, currentDraft } from './state.js';

/** @import { FileRef } from './state.js' */

/** The ids of the selected draft's uploaded files (none while one is still uploading or failed). */
export function readyFiles() {
  const files = currentDraft().files;
  if (files.some((f) => !f.file || f.failed)) return null;
  return files;
}

/** Forgets the selected draft's files once sent. */
export function clearFiles() {
  currentDraft().files = [];
  renderFiles();
}

/** Shows the selected draft's files (and the picker unless in note mode). */
export function renderFiles() {
  const draft = state.selected ? currentDraft() : null;
  byId('composer-attach').hidden = !draft || draft.note;
  const list = byId('composer-files');
  const files = draft ? draft.files : [];
  list.hidden = files.length === 0;
  replaceChildren(list, ...files.map((f) => chip(f)));
}

/** @param {FileRef} f */
function chip(f) {
  const status = f.failed ? t('file.refused', { reason: f.failed }) : f.file ? formatSize(f.size) : t('file.uploading');
  return h(
    'li',
    { class: `file-chip${f.failed ? ' file-chip--failed' : ''}`, dataset: { testid: 'composer-file-chip', state: f.failed ? 'failed' : f.file ? 'ready' : 'uploading' } },
    h('span', { class: 'file-chip__name' }, f.name),
    ' ',
    h('span', { class: 'file-chip__status' }, status),
    h('button', { type: 'button', class: 'btn btn--link file-chip__remove', 'aria-label': t('file.remove', { name: f.name }), onclick: () => remove(f) }, '×'),
  );
}

/** @param {FileRef} f */
function remove(f) {
  const d = currentDraft();
  d.files = d.files.filter((x) => x !== f);
  renderFiles();
}

/**
 * Uploads `chosen` for the selected conversation's customer, each shown as it goes.
 * @param {FileList} chosen
 * @param {() => string | null} getToken
 */
async function attach(chosen, getToken) {
  const conv = selectedConv();
  const token = getToken();
  if (!conv || !token) return;
  const draft = currentDraft();
  const uploads = Array.from(chosen).map(async (file) => {
    /** @type {FileRef} */
    const ref = { file: '', name: file.name, kind: 'file', size: file.size, failed: null };
    draft.files.push(ref);
    renderFiles();
    try {
      const stored = await uploadFile(conv.view.customer.id, file, token);
      ref.file = stored.file;
      ref.kind = stored.kind;
      ref.size = stored.size;
    } catch (e) {
      ref.failed = e instanceof Error ? e.message : String(e);
    }
    renderFiles();
  });
  await Promise.all(uploads);
}

/**
 * Wires the 📎 picker.
 * @param {() => string | null} getToken
 */
export function initAttach(getToken) {
  const input = byId('composer-file', HTMLInputElement);
  input.addEventListener('change', () => {
    const chosen = input.files;
    if (chosen && chosen.length) attach(chosen, getToken);
    input.value = '';
  });
}

// shared/files.js — owns files in both web clients (docs/attachments.md): uploading a
// file for a customer (`POST /api/v1/customers/{id}/files` with the page's Bearer
// token: the staff token on the desktop, the visitor token in the chat), fetching a
// stored file with that token into a `blob:` URL (a token never goes in a URL, and a
// blob is typed by what the server checked at upload), and the view of an attachment
// in a message: an image, a PDF preview, an audio or video player, each with a download
// link; a file the engine did not store (a provider's reference) is described only.

import { t, has, formatSize } from './i18n.js';
import { h, safeLink } from './dom.js';

/** @import { Attachment } from '../agent/frames.js' */

/** Stored files fetched on this page: `${customer}/${file}` -> its blob URL (or the failure). */
/** @type {Map<string, Promise<string>>} */
const fetched = new Map();
// Blob URLs kept at most; the oldest is revoked beyond it (a long session sees many files).
const MAX_FETCHED = 200;

/**
 * Stores `file` for customer `customerId`. Resolves with the server's file view
 * (`{file, name, content_type, size, kind}`); rejects with an Error carrying `code`.
 * @param {string} customerId
 * @param {File} file
 * @param {string} token
 * @returns {Promise<{ file: string, name?: string, content_type: string, size: number, kind: string }>}
 */
export async function uploadFile(customerId, file, token) {
  const url = `../api/v1/customers/${encodeURIComponent(customerId)}/files?name=${encodeURIComponent(file.name)}`;
  const r = await fetch(url, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': file.type || 'application/octet-stream' },
    body: file,
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw Object.assign(new Error(String(body.message || `HTTP ${r.status}`)), { code: String(body.code || r.status) });
  return body;
}

/**
 * A blob URL of stored file `fileId` of `customerId`, fetched once per page.
 * @param {string} customerId
 * @param {string} fileId
 * @param {string} token
 */
export function fileUrl(customerId, fileId, token) {
  const key = `${customerId}/${fileId}`;
  let p = fetched.get(key);
  if (!p) {
    p = fetch(`../api/v1/customers/${encodeURIComponent(customerId)}/files/${encodeURIComponent(fileId)}`, {
      headers: { Authorization: `Bearer ${token}` },
    }).then(async (r) => {
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      return URL.createObjectURL(await r.blob());
    });
    // A failure is not kept: the next view asks again.
    p.catch(() => fetched.delete(key));
    fetched.set(key, p);
    while (fetched.size > MAX_FETCHED) {
      const [oldKey, oldUrl] = fetched.entries().next().value || [];
      if (oldKey === undefined) break;
      fetched.delete(oldKey);
      oldUrl?.then((u) => URL.revokeObjectURL(u), () => {});
    }
  }
  return p;
}

/**
 * Whether `text` is only the engine's description of `files` ("[image: a.png]", what a
 * message of files alone stores as its text): then the files are shown, not the text.
 * @param {string | undefined} text
 * @param {Attachment[] | undefined} files
 */
export function onlyDescribes(text, files) {
  if (!files || !files.length || !files.some((a) => a.file)) return false;
  const described = files.map((a) => (a.name ? `[${a.kind}: ${a.name}]` : `[${a.kind}]`)).join(' ');
  return !text || text === described;
}

/**
 * The kind label of an attachment ("Image", "File"...).
 * @param {Attachment} a
 */
function kindLabel(a) {
  return has(`attachment.${a.kind}`) ? t(`attachment.${a.kind}`) : String(a.kind || t('attachment.file'));
}

/**
 * The view of one attachment of a message of customer `customerId`: the stored file
 * inline (fetched with `getToken()`), or the description of one the engine did not store.
 * @param {Attachment} a
 * @param {string} customerId  the event's `customer_id` (the file's owner)
 * @param {() => string | null} getToken
 */
export function attachmentView(a, customerId, getToken) {
  const kind = kindLabel(a);
  const size = a.size !== undefined && Number.isFinite(a.size) ? formatSize(a.size) : null;
  const meta = [a.name ? kind : null, a.content_type, size].filter(Boolean).join(' · ');
  const name = a.name || kind;
  const token = getToken();
  if (!a.file || !token) {
    return h(
      'li',
      { class: 'attachment', dataset: { testid: 'attachment', kind: a.kind || '' } },
      h('span', { class: 'attachment__icon', 'aria-hidden': 'true' }, '📎'),
      ' ',
      safeLink(a.url, name, { class: 'attachment__name' }),
      meta ? h('span', { class: 'attachment__meta' }, meta) : null,
    );
  }
  const type = a.content_type || '';
  /** @type {HTMLElement | null} */
  let preview = null;
  if (a.kind === 'image') preview = h('img', { class: 'attachment__image', alt: name, dataset: { testid: 'file-image' } });
  else if (type === 'application/pdf') preview = h('iframe', { class: 'attachment__pdf', title: name, dataset: { testid: 'file-pdf' } });
  else if (a.kind === 'audio') preview = h('audio', { class: 'attachment__media', controls: true, preload: 'metadata', dataset: { testid: 'file-audio' } });
  else if (a.kind === 'video') preview = h('video', { class: 'attachment__media', controls: true, preload: 'metadata', dataset: { testid: 'file-video' } });
  const link = h(
    'a',
    { class: 'attachment__name', download: name, dataset: { testid: 'file-download' }, 'aria-disabled': 'true' },
    t('file.download', { name }),
  );
  const li = h(
    'li',
    { class: 'attachment attachment--stored', dataset: { testid: 'attachment', kind: a.kind || '', file: a.file } },
    preview,
    h('div', { class: 'attachment__row' }, h('span', { class: 'attachment__icon', 'aria-hidden': 'true' }, '📎'), ' ', link, meta ? h('span', { class: 'attachment__meta' }, meta) : null),
  );
  fileUrl(customerId, a.file, token).then(
    (url) => {
      if (preview) preview.setAttribute('src', url);
      link.setAttribute('href', url);
      link.removeAttribute('aria-disabled');
      li.dataset.loaded = 'true';
    },
    () => {
      li.dataset.loaded = 'failed';
      if (preview) preview.remove();
      link.after(h('span', { class: 'attachment__failed', dataset: { testid: 'file-failed' } }, t('file.unavailable')));
    },
  );
  return li;
}

// chat/ivr.js — owns the visual IVR of the web chat: before a conversation starts it
// shows the configured menu tree (GET ../api/v1/ivr; nothing when none is configured)
// as buttons with Back / Start over, in the page language. Its leaves: start the chat
// in a queue (the first message carries `queue`), ask for a callback (phone form →
// `request_callback` on the chat socket), or show a knowledge-base article the tree
// names (GET ../api/v1/ivr/articles/{id}). While the visitor waits in line it offers
// "Call me back instead of waiting" (the same form; the conversation keeps its place).
//
// Safety rule: labels, prompts and article text reach the page only as text nodes.

import { t, getLanguage, onLanguageChange } from '../shared/i18n.js';
import { h, replaceChildren } from '../shared/dom.js';

/** @import { ReconnectingSocket } from '../shared/ws.js' */
/** @import { ChatConversation } from './chat.js' */

// ---- GET /api/v1/ivr (docs/ivr.md), as far as the visual IVR reads it

/** @typedef {{ en?: string, ja?: string }} Text  a label or prompt in both languages */

/**
 * What choosing an option does: exactly one of these (or `back` / `repeat`).
 * @typedef {'back' | 'repeat' | { menu?: string, chat?: string, callback?: string | null, article?: string, queue?: string }} Action
 */

/** @typedef {{ label?: Text, action: Action }} Option */
/** @typedef {{ id: string, prompt?: Text, options: Option[] }} Menu */
/** @typedef {{ root: string, menus: Menu[] }} Tree */

/**
 * An article the tree names, as loaded (GET /api/v1/ivr/articles/{id}).
 * @typedef {{ id: string, loading?: boolean, missing?: boolean, title?: string, body?: string }} IvrArticle
 */

const st = {
  /** @type {ReconnectingSocket | null} */
  socket: null,
  /** @type {Tree | null} */
  tree: null,
  /** @type {string[]} menu ids, root first */
  path: [],
  /** @type {'menu' | 'article' | 'callback' | 'done' | 'hidden'} */
  view: 'menu',
  /** @type {IvrArticle | null} */
  article: null,
  /** @type {string | null} */
  callbackQueue: null,
  /** @type {string | null} */
  chatQueue: null,
  /** @type {string[]} the menus walked to the chat option, root first */
  chatPath: [],
  /** @type {ChatConversation | null} */
  conversation: null,
  doneText: '',
};

/** @param {Text | undefined} x */
const text = (x) => (x ? (getLanguage() === 'ja' ? x.ja : x.en) || x.ja || x.en || '' : '');

/** The queue the visitor chose for the chat (sent with its messages), or undefined. */
export function ivrQueue() {
  return st.chatQueue || undefined;
}

/** The menus walked to that chat option (sent with its messages for the reports), or undefined. */
export function ivrPath() {
  return st.chatQueue ? st.chatPath : undefined;
}

function panel() {
  let el = document.getElementById('ivr');
  if (!el) {
    el = h('section', { id: 'ivr', class: 'ivr', dataset: { testid: 'ivr' }, 'aria-live': 'polite' });
    const scroll = document.getElementById('messages-scroll');
    if (scroll) scroll.before(el);
  }
  return el;
}

/**
 * Loads the tree (if any) and starts showing it; `socket` sends `request_callback`.
 * @param {ReconnectingSocket} socket
 */
export async function initIvr(socket) {
  st.socket = socket;
  onLanguageChange(() => draw());
  try {
    const res = await fetch('../api/v1/ivr');
    if (!res.ok) return;
    /** @type {Tree} */
    const tree = await res.json();
    st.tree = tree;
    st.path = [tree.root];
  } catch {
    return;
  }
  draw();
}

/**
 * Called by chat.js after every render with the current conversation view.
 * @param {ChatConversation | null} conversation
 */
export function ivrRender(conversation) {
  st.conversation = conversation;
  draw();
}

/**
 * The server took a callback request (`callback_requested`).
 * @param {{ phone: string }} msg
 */
export function onCallbackRequested(msg) {
  st.view = 'done';
  st.doneText = t('ivr.callback_done', { phone: msg.phone });
  draw();
}

/** The visitor's open conversation, if any. */
const openConversation = () => (st.conversation && ['queued', 'assigned', 'wrap_up'].includes(st.conversation.state) ? st.conversation : null);

function menu() {
  const id = st.path[st.path.length - 1];
  return st.tree && st.tree.menus.find((m) => m.id === id);
}

/** @param {Option} o */
function choose(o) {
  const a = o.action;
  if (a === 'back') st.path = st.path.length > 1 ? st.path.slice(0, -1) : st.path;
  else if (a === 'repeat') {
    /* the same menu */
  } else if (a.menu) {
    const target = a.menu;
    const i = st.path.indexOf(target);
    st.path = i >= 0 ? st.path.slice(0, i + 1) : [...st.path, target];
  } else if (a.chat) {
    st.chatQueue = a.chat;
    st.chatPath = [...st.path];
    st.view = 'hidden';
    st.doneText = t('ivr.start_chat');
    document.getElementById('chat-input')?.focus();
  } else if ('callback' in a) {
    st.callbackQueue = a.callback || null;
    st.view = 'callback';
  } else if (a.article) {
    const id = a.article;
    st.view = 'article';
    st.article = { id, loading: true };
    fetch(`../api/v1/ivr/articles/${encodeURIComponent(id)}`)
      .then((r) => (r.ok ? r.json() : null))
      .catch(() => null)
      .then((doc) => {
        st.article = doc ? { id, ...doc } : { id, missing: true };
        draw();
      });
  }
  draw();
}

function nav() {
  return h(
    'div',
    { class: 'ivr__nav' },
    h('button', { type: 'button', class: 'btn btn--small btn--ghost', dataset: { testid: 'ivr-back' }, onclick: () => back() }, t('ivr.back')),
    h('button', { type: 'button', class: 'btn btn--small btn--ghost', dataset: { testid: 'ivr-home' }, onclick: () => home() }, t('ivr.home')),
  );
}

function back() {
  if (st.view !== 'menu') st.view = 'menu';
  else if (st.path.length > 1) st.path = st.path.slice(0, -1);
  draw();
}

function home() {
  st.view = 'menu';
  if (st.tree) st.path = [st.tree.root];
  draw();
}

function callbackForm() {
  const phone = h('input', { class: 'input', type: 'tel', autocomplete: 'tel', maxlength: '32', required: true, dataset: { testid: 'ivr-phone' } });
  const note = h('input', { class: 'input', maxlength: '500', dataset: { testid: 'ivr-note' } });
  /** @param {SubmitEvent} ev */
  const submit = (ev) => {
    ev.preventDefault();
    if (!phone.value.trim() || !st.socket) return;
    st.socket.send({
      type: 'request_callback',
      phone: phone.value,
      note: note.value || undefined,
      ivr_path: st.path,
      queue: st.callbackQueue || undefined,
    });
  };
  return h(
    'form',
    { class: 'ivr__form', onsubmit: submit, dataset: { testid: 'ivr-callback-form' } },
    h('h2', { class: 'ivr__title' }, t('ivr.callback_title')),
    h('label', { class: 'field' }, h('span', null, t('ivr.phone')), phone),
    h('label', { class: 'field' }, h('span', null, t('ivr.note')), note),
    h('button', { type: 'submit', class: 'btn btn--primary btn--small', dataset: { testid: 'ivr-callback-submit' } }, t('ivr.callback_submit')),
  );
}

function draw() {
  const el = panel();
  if (st.view === 'done') {
    el.hidden = false;
    replaceChildren(el, h('p', { class: 'ivr__done', dataset: { testid: 'ivr-done' } }, st.doneText));
    return;
  }
  // Waiting in line: the callback offer replaces the menu.
  const conv = openConversation();
  if (conv) {
    el.hidden = !(conv.state === 'queued');
    if (el.hidden) return;
    if (st.view === 'callback') {
      replaceChildren(el, callbackForm(), h('button', { type: 'button', class: 'btn btn--small btn--ghost', onclick: () => { st.view = 'hidden'; draw(); } }, t('ivr.back')));
    } else {
      replaceChildren(
        el,
        h('button', { type: 'button', class: 'btn btn--small', dataset: { testid: 'ivr-callback-button' }, onclick: () => { st.view = 'callback'; draw(); } }, t('ivr.callback_button')),
      );
    }
    return;
  }
  if (!st.tree || st.view === 'hidden') {
    el.hidden = !st.doneText;
    replaceChildren(el, st.doneText ? h('p', { class: 'ivr__hint' }, st.doneText) : null);
    return;
  }
  el.hidden = false;
  if (st.view === 'callback') {
    replaceChildren(el, callbackForm(), nav());
    return;
  }
  if (st.view === 'article') {
    /** @type {Partial<IvrArticle>} */
    const a = st.article || {};
    replaceChildren(
      el,
      a.loading ? h('p', { class: 'ivr__hint' }, '…') : null,
      a.missing ? h('p', { class: 'ivr__hint' }, t('ivr.article_missing')) : null,
      a.title ? h('h2', { class: 'ivr__title', dataset: { testid: 'ivr-article-title' } }, a.title) : null,
      a.body ? h('p', { class: 'ivr__article', dataset: { testid: 'ivr-article-body' } }, a.body) : null,
      nav(),
    );
    return;
  }
  const m = menu();
  if (!m) return;
  // Voice-only options (a queue to wait on the phone) are not shown.
  const options = m.options.filter((o) => !(o.action && typeof o.action === 'object' && o.action.queue));
  replaceChildren(
    el,
    h('h2', { class: 'ivr__title' }, text(m.prompt) || t('ivr.title')),
    h(
      'div',
      { class: 'ivr__options' },
      options.map((o) => h('button', { type: 'button', class: 'btn ivr__option', dataset: { testid: 'ivr-option' }, onclick: () => choose(o) }, text(o.label))),
    ),
    st.path.length > 1 ? nav() : null,
    h('button', { type: 'button', class: 'btn btn--small btn--ghost ivr__skip', dataset: { testid: 'ivr-skip' }, onclick: () => { st.view = 'hidden'; draw(); } }, t('ivr.skip')),
  );
}

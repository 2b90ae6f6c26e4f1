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

const st = {
  socket: null,
  tree: null,
  path: [], // menu ids, root first
  view: 'menu', // menu | article | callback | done | hidden
  article: null,
  callbackQueue: null,
  chatQueue: null,
  conversation: null,
  doneText: '',
};

const text = (x) => (x ? (getLanguage() === 'ja' ? x.ja : x.en) || x.ja || x.en || '' : '');

/** The queue the visitor chose for the chat (sent with its messages), or undefined. */
export function ivrQueue() {
  return st.chatQueue || undefined;
}

function panel() {
  let el = document.getElementById('ivr');
  if (!el) {
    el = h('section', { id: 'ivr', class: 'ivr', dataset: { testid: 'ivr' }, 'aria-live': 'polite' });
    document.getElementById('messages-scroll').before(el);
  }
  return el;
}

/** Loads the tree (if any) and starts showing it; `socket` sends `request_callback`. */
export async function initIvr(socket) {
  st.socket = socket;
  onLanguageChange(() => draw());
  try {
    const res = await fetch('../api/v1/ivr');
    if (!res.ok) return;
    st.tree = await res.json();
    st.path = [st.tree.root];
  } catch {
    return;
  }
  draw();
}

/** Called by chat.js after every render with the current conversation view. */
export function ivrRender(conversation) {
  st.conversation = conversation;
  draw();
}

/** The server took a callback request (`callback_requested`). */
export function onCallbackRequested(msg) {
  st.view = 'done';
  st.doneText = t('ivr.callback_done', { phone: msg.phone });
  draw();
}

const open = () => st.conversation && ['queued', 'assigned', 'wrap_up'].includes(st.conversation.state);

function menu() {
  const id = st.path[st.path.length - 1];
  return st.tree && st.tree.menus.find((m) => m.id === id);
}

function choose(o) {
  const a = o.action;
  if (a === 'back') st.path = st.path.length > 1 ? st.path.slice(0, -1) : st.path;
  else if (a === 'repeat') {
    /* the same menu */
  } else if (a.menu) {
    const i = st.path.indexOf(a.menu);
    st.path = i >= 0 ? st.path.slice(0, i + 1) : [...st.path, a.menu];
  } else if (a.chat) {
    st.chatQueue = a.chat;
    st.view = 'hidden';
    st.doneText = t('ivr.start_chat');
    document.getElementById('chat-input')?.focus();
  } else if ('callback' in a) {
    st.callbackQueue = a.callback || null;
    st.view = 'callback';
  } else if (a.article) {
    st.view = 'article';
    st.article = { id: a.article, loading: true };
    fetch(`../api/v1/ivr/articles/${encodeURIComponent(a.article)}`)
      .then((r) => (r.ok ? r.json() : null))
      .catch(() => null)
      .then((doc) => {
        st.article = doc ? { id: a.article, ...doc } : { id: a.article, missing: true };
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
  st.path = [st.tree.root];
  draw();
}

function callbackForm() {
  const phone = h('input', { class: 'input', type: 'tel', autocomplete: 'tel', maxlength: '32', required: true, dataset: { testid: 'ivr-phone' } });
  const note = h('input', { class: 'input', maxlength: '500', dataset: { testid: 'ivr-note' } });
  const submit = (ev) => {
    ev.preventDefault();
    if (!phone.value.trim()) return;
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
  if (open()) {
    el.hidden = !(st.conversation.state === 'queued');
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
  const options = m.options.filter((o) => !(o.action && o.action.queue));
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

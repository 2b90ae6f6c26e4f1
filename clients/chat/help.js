// chat/help.js — owns the web chat's help-center suggestions before the visitor writes:
// while nothing has been sent from this page and no transcript is shown, typing in the
// message box searches the help center (debounced; GET ../help/api/search in the page
// language, 3 hits, only the latest request's answer shown) and lists the hits above the
// composer; a hit opens the article inline (GET ../help/api/articles/{id}: title, one
// paragraph per blank-line-separated block, a link to its help-center page) with "Did
// this answer your question?" Yes / No (POST ../help/api/articles/{id}/feedback). No
// closes it and hides the list until the text changes. chat.js calls stopHelp() once a
// message is sent or history is shown: the searches stop for good and the list goes.
//
// Safety rule: titles, snippets and article text reach the page only as text nodes; the
// article's page becomes a link only if it resolves to an http(s) URL.

import { t, getLanguage, onLanguageChange, applyTranslations } from '../shared/i18n.js';
import { h, replaceChildren } from '../shared/dom.js';

/** @import { Props } from '../shared/dom.js' */

// ---- the help-center API (same origin as /chat/), as far as read here

/**
 * A search hit (GET /help/api/search → `{ hits, tokenizer }`).
 * @typedef {{ id: string, title: string, snippet: string, url: string }} HelpHit
 */

/**
 * An article (GET /help/api/articles/{id}); `body` is plain text, paragraphs separated
 * by blank lines.
 * @typedef {{ id: string, title: string, body: string, language: string, url: string }} HelpArticle
 */

/**
 * The inline panel: loading, not available, or the article and what the visitor said.
 * @typedef {{ id: string, doc: HelpArticle | null, loading: boolean, feedback: 'yes' | null }} OpenArticle
 */

const DEBOUNCE_MS = 300;
const MIN_QUERY_CHARS = 2;
// Longer text is a message being written, not a search (and the server refuses overlong q).
const MAX_QUERY_CHARS = 200;
const LIMIT = 3;

const st = {
  stopped: false,
  /** @type {HTMLTextAreaElement | null} */
  input: null,
  /** @type {HTMLElement | null} */
  root: null,
  /** @type {HTMLElement | null} the suggestion list (help-suggestions) */
  list: null,
  /** @type {HTMLElement | null} the article panel (help-article) */
  panel: null,
  timer: 0,
  /** number of the latest search: an answer to an older one is dropped */
  seq: 0,
  /** @type {AbortController | null} */
  searching: null,
  /** the query whose hits are shown or on their way ('' when none) */
  query: '',
  /** @type {HelpHit[]} */
  hits: [],
  /** @type {HelpHit[] | null} the hits the list was last built from */
  drawnHits: null,
  /** @type {string | null} the input's text when the visitor answered No: the list stays hidden until it changes */
  dismissedAt: null,
  /** @type {OpenArticle | null} */
  article: null,
  /** number of the latest article load */
  articleSeq: 0,
  /** @type {(() => void) | null} */
  unsubscribe: null,
};

/**
 * Starts the suggestions: `input` is the message box, `root` the (empty) place above
 * the composer they are drawn in. Nothing happens after stopHelp().
 * @param {HTMLTextAreaElement} input
 * @param {HTMLElement} root
 */
export function initHelp(input, root) {
  if (st.stopped || st.input) return;
  st.input = input;
  st.root = root;
  st.list = h(
    'section',
    { class: 'chat__help-list', dataset: { testid: 'help-suggestions' }, 'aria-labelledby': 'help-suggestions-heading', hidden: true },
    h('h2', { id: 'help-suggestions-heading', class: 'chat__help-heading', dataset: { i18n: 'help.suggested' } }, t('help.suggested')),
    h('ul', { class: 'chat__help-items' }),
  );
  st.panel = h('article', { class: 'chat__help-article', dataset: { testid: 'help-article' }, tabindex: '-1', hidden: true });
  replaceChildren(root, st.list, st.panel);
  root.hidden = true;
  input.addEventListener('input', onInput);
  // The strings drawn here carry data-i18n: a language change re-words them in place.
  st.unsubscribe = onLanguageChange(() => {
    if (st.root) applyTranslations(st.root);
  });
}

/**
 * The visitor sent a message (or the page shows a transcript): no more searches, and
 * the list and panel go. Idempotent; may come before initHelp().
 */
export function stopHelp() {
  if (st.stopped) return;
  st.stopped = true;
  clearTimeout(st.timer);
  cancelSearch();
  st.articleSeq += 1;
  if (st.input) st.input.removeEventListener('input', onInput);
  if (st.unsubscribe) st.unsubscribe();
  st.unsubscribe = null;
  if (st.root) {
    st.root.replaceChildren();
    st.root.hidden = true;
  }
  st.list = null;
  st.panel = null;
  st.article = null;
  st.hits = [];
}

/** The trimmed text to search for, or null when it is too short or too long. */
function currentQuery() {
  const q = st.input ? st.input.value.trim() : '';
  const n = [...q].length;
  return n >= MIN_QUERY_CHARS && n <= MAX_QUERY_CHARS ? q : null;
}

function onInput() {
  if (st.stopped || !st.input) return;
  if (st.dismissedAt !== null && st.input.value !== st.dismissedAt) st.dismissedAt = null;
  clearTimeout(st.timer);
  if (currentQuery() === null) {
    // Nothing worth searching: the list goes at once (and a late answer is dropped).
    cancelSearch();
    st.hits = [];
    drawList();
    return;
  }
  st.timer = window.setTimeout(search, DEBOUNCE_MS);
}

/** Drops the search on its way, if any: its answer will not be shown. */
function cancelSearch() {
  st.seq += 1;
  st.query = '';
  if (st.searching) st.searching.abort();
  st.searching = null;
}

async function search() {
  const q = currentQuery();
  if (st.stopped) return;
  if (q === null) {
    cancelSearch();
    st.hits = [];
    drawList();
    return;
  }
  // The same search is shown already or on its way (e.g. a trailing space was typed).
  if (q === st.query) {
    drawList();
    return;
  }
  cancelSearch();
  const seq = st.seq;
  const controller = new AbortController();
  st.searching = controller;
  st.query = q;
  const params = new URLSearchParams({ q, lang: getLanguage(), limit: String(LIMIT) });
  /** @type {HelpHit[] | null} */
  let hits = null;
  try {
    const res = await fetch(`../help/api/search?${params}`, { signal: controller.signal, headers: { Accept: 'application/json' } });
    if (res.ok) hits = readHits(await res.json());
  } catch {
    hits = null;
  }
  if (st.stopped || seq !== st.seq) return;
  st.searching = null;
  // An error (400, 429, no answer) or no hit: no list; the same text is asked again
  // at the next keystroke.
  if (!hits) st.query = '';
  st.hits = hits || [];
  drawList();
}

/**
 * The hits of a search answer, each field as a string.
 * @param {unknown} data
 * @returns {HelpHit[] | null}
 */
function readHits(data) {
  const raw = data && typeof data === 'object' ? /** @type {{ hits?: unknown }} */ (data).hits : null;
  if (!Array.isArray(raw)) return null;
  /** @type {HelpHit[]} */
  const hits = [];
  for (const x of raw) {
    if (!x || typeof x !== 'object' || x.id == null || x.title == null) continue;
    hits.push({ id: String(x.id), title: String(x.title), snippet: x.snippet == null ? '' : String(x.snippet), url: x.url == null ? '' : String(x.url) });
  }
  return hits.slice(0, LIMIT);
}

/** Shows the list when there are hits, no article is open and the visitor did not say No. */
function drawList() {
  const list = st.list;
  if (st.stopped || !list) return;
  if (st.drawnHits !== st.hits) {
    st.drawnHits = st.hits;
    const items = list.querySelector('ul');
    if (items) {
      replaceChildren(
        items,
        st.hits.map((hit) =>
          h(
            'li',
            null,
            h(
              'button',
              { type: 'button', class: 'chat__help-hit', dataset: { testid: 'help-suggestion', articleId: hit.id }, onclick: () => openArticle(hit) },
              h('span', { class: 'chat__help-hit-title' }, hit.title),
              hit.snippet ? h('span', { class: 'chat__help-hit-snippet' }, hit.snippet) : null,
            ),
          ),
        ),
      );
    }
  }
  list.hidden = !st.hits.length || st.dismissedAt !== null || !!st.article;
  showRoot();
}

function showRoot() {
  if (st.root) st.root.hidden = !st.list || !st.panel || (st.list.hidden && st.panel.hidden);
}

/**
 * Opens a hit in the panel (the list makes way for it).
 * @param {HelpHit} hit
 */
async function openArticle(hit) {
  if (st.stopped) return;
  st.articleSeq += 1;
  const seq = st.articleSeq;
  st.article = { id: hit.id, doc: null, loading: true, feedback: null };
  drawPanel();
  drawList();
  if (st.panel) st.panel.focus({ preventScroll: true });
  /** @type {HelpArticle | null} */
  let doc = null;
  try {
    const res = await fetch(`../help/api/articles/${encodeURIComponent(hit.id)}`, { headers: { Accept: 'application/json' } });
    if (res.ok) doc = readArticle(await res.json(), hit.id);
  } catch {
    doc = null;
  }
  if (st.stopped || seq !== st.articleSeq || !st.article) return;
  st.article = { id: hit.id, doc, loading: false, feedback: null };
  drawPanel();
}

/**
 * @param {unknown} data
 * @param {string} id
 * @returns {HelpArticle | null}
 */
function readArticle(data, id) {
  if (!data || typeof data !== 'object') return null;
  const d = /** @type {Record<string, unknown>} */ (data);
  if (d.title == null || d.body == null) return null;
  return {
    id: d.id == null ? id : String(d.id),
    title: String(d.title),
    body: String(d.body),
    language: typeof d.language === 'string' ? d.language : '',
    url: typeof d.url === 'string' ? d.url : '',
  };
}

/**
 * The article's help-center page as an absolute http(s) URL, or null.
 * @param {string} url  usually a path: /help/ja/articles/<id>-<slug>
 */
function pageUrl(url) {
  if (!url) return null;
  try {
    const u = new URL(url, location.href);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

/**
 * Plain-text body → paragraphs: blocks separated by blank lines.
 * @param {string} body
 */
function paragraphs(body) {
  return body
    .replace(/\r\n?/g, '\n')
    .split(/\n[ \t]*\n/)
    .map((p) => p.trim())
    .filter(Boolean);
}

/**
 * An element with a translated string: its data-i18n re-words it on a language change.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} key
 * @param {Props} [props]
 */
function worded(tag, key, props = {}) {
  return h(tag, { ...props, dataset: { ...(props.dataset || {}), i18n: key } }, t(key));
}

function drawPanel() {
  const panel = st.panel;
  if (!panel) return;
  const a = st.article;
  panel.hidden = !a;
  if (!a) {
    panel.replaceChildren();
    showRoot();
    return;
  }
  const close = h(
    'button',
    {
      type: 'button',
      class: 'chat__help-close',
      dataset: { testid: 'help-close', i18nAriaLabel: 'common.close', i18nTitle: 'common.close' },
      'aria-label': t('common.close'),
      title: t('common.close'),
      onclick: closeArticle,
    },
    '×',
  );
  if (!a.doc) {
    replaceChildren(
      panel,
      h('div', { class: 'chat__help-article-head' }, worded('p', a.loading ? 'help.loading' : 'help.missing', { class: 'chat__help-note', dataset: { testid: a.loading ? 'help-loading' : 'help-missing' } }), close),
    );
    showRoot();
    return;
  }
  const doc = a.doc;
  const lang = /^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$/.test(doc.language) ? doc.language : undefined;
  const href = pageUrl(doc.url);
  replaceChildren(
    panel,
    h('div', { class: 'chat__help-article-head' }, h('h2', { class: 'chat__help-title', lang, dataset: { testid: 'help-article-title' } }, doc.title), close),
    h('div', { class: 'chat__help-body', lang, dataset: { testid: 'help-article-body' } }, paragraphs(doc.body).map((p) => h('p', null, p))),
    href ? worded('a', 'help.open', { class: 'chat__help-link', href, target: '_blank', rel: 'noopener', dataset: { testid: 'help-article-link' } }) : null,
    feedbackView(a),
  );
  showRoot();
}

/**
 * "Did this answer your question?" with Yes / No, or the thanks after Yes.
 * @param {OpenArticle} a
 */
function feedbackView(a) {
  if (a.feedback === 'yes') {
    return h('div', { class: 'chat__help-feedback' }, worded('p', 'help.thanks', { class: 'chat__help-thanks', role: 'status', dataset: { testid: 'help-thanks' } }));
  }
  const box = h(
    'div',
    { class: 'chat__help-feedback' },
    worded('p', 'help.question', { class: 'chat__help-question' }),
    h(
      'div',
      { class: 'chat__help-answers' },
      worded('button', 'help.yes', { type: 'button', class: 'btn btn--small btn--primary', dataset: { testid: 'help-yes' }, onclick: () => answer(a, true, box) }),
      worded('button', 'help.no', { type: 'button', class: 'btn btn--small', dataset: { testid: 'help-no' }, onclick: () => answer(a, false, box) }),
    ),
  );
  return box;
}

/**
 * Sends the visitor's answer; Yes thanks them in place, No closes the article and hides
 * the list until the text changes.
 * @param {OpenArticle} a
 * @param {boolean} helpful
 * @param {HTMLElement} box  the Yes / No block
 */
function answer(a, helpful, box) {
  if (st.stopped || st.article !== a) return;
  for (const b of box.querySelectorAll('button')) b.disabled = true;
  sendFeedback(a.id, helpful);
  if (helpful) {
    a.feedback = 'yes';
    box.replaceWith(feedbackView(a));
    return;
  }
  st.dismissedAt = st.input ? st.input.value : '';
  closeArticle();
}

/**
 * POST …/feedback; the answer does not change the page (a failure is not worth a word).
 * @param {string} id
 * @param {boolean} helpful
 */
function sendFeedback(id, helpful) {
  fetch(`../help/api/articles/${encodeURIComponent(id)}/feedback`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ helpful }),
  }).catch(() => {});
}

function closeArticle() {
  if (st.stopped) return;
  st.articleSeq += 1;
  st.article = null;
  drawPanel();
  drawList();
  if (st.input) st.input.focus();
}

// agent/assist.js — owns the agent desktop's assist panel for the selected
// conversation: the customer's CRM attributes and recent orders (with their status:
// ok / stale / unavailable / disabled), canned responses (list, filter, insert
// rendered for this conversation; `/shortcut` in the reply box), and knowledge-base
// suggestions, search and article create/edit. It only ever fills the reply box —
// nothing is sent without the agent pressing Send. app.js calls initAssist() once and
// pane.js calls assistSelected(conv) whenever the selected conversation renders.
//
// REST: GET /api/v1/customers/{id}/crm, GET /api/v1/canned,
// POST /api/v1/canned/{id}/render?conversation=, GET /api/v1/kb/suggest?conversation=,
// GET /api/v1/kb/search?q=, POST/PUT /api/v1/kb/articles (docs/assist.md; an agent's
// write is a draft, 202, until a supervisor publishes it). A 404 from
// the KB routes shows "knowledge base unavailable".
//
// Safety rule as in app.js: server text reaches the page only as text nodes.

import { t, onLanguageChange, formatDateTime } from '../shared/i18n.js';
import { h, replaceChildren, byId } from '../shared/dom.js';

/** @import { Conv } from './state.js' */
/** @import { Child } from '../shared/dom.js' */

/**
 * `GET /customers/{id}/crm`.
 * @typedef {object} CrmView
 * @property {string} status  ok | stale | unavailable | disabled
 * @property {Record<string, unknown>} [attributes]
 * @property {{ id: string, date: string, status: string, total: string }[]} [orders]
 * @property {number} [fetched_at]
 * @property {string} [error]
 */

/**
 * A canned response (`GET /canned`).
 * @typedef {object} Canned
 * @property {string} id
 * @property {string} title
 * @property {string} text
 * @property {string} [shortcut]
 * @property {string[]} [tags]
 * @property {string} language
 */

/**
 * A knowledge-base hit (suggest / search) or article.
 * @typedef {object} Article
 * @property {string} id
 * @property {string} title
 * @property {string} [snippet]
 * @property {string} [body]
 * @property {boolean} [confident]
 * @property {string} [language]
 * @property {string[]} [tags]
 * @property {number} [version]
 * @property {string[]} [channels]
 */

/**
 * The article being edited: none of these for a new one.
 * @typedef {{ id?: string, version?: number, channels?: string[] }} Editing
 */

const CRM_POLL_MS = 1500;
const CRM_POLLS = 8;
const KB_QUERY_MAX = 200;
const SHORTCUT_RE = /^\/([a-z0-9_-]*)$/;
// A new article is visible on every channel; an edited one keeps its channels.
const ALL_CHANNELS = ['chat', 'sms', 'email', 'voice', 'line', 'messenger', 'video', 'whatsapp', 'instagram', 'x', 'facebook_comments', 'x_mentions'];

/** An element of the panel, or null while it is not built (a page without #assist-panel). */
const $ = (/** @type {string} */ id) => document.getElementById(id);

const st = {
  /** @type {() => string | null} */
  getToken: () => null,
  /** @type {string | null} */
  convId: null,
  /** @type {string | null} */
  customerId: null,
  /** @type {CrmView | null} last CRM view */
  crm: null,
  /** @type {string | null} */
  crmError: null,
  /** @type {number | undefined} */
  crmPollTimer: undefined,
  crmPolls: 0,
  /** @type {Canned[]} every canned response */
  canned: [],
  cannedLoaded: false,
  /** @type {string | null} */
  cannedError: null,
  kbAvailable: true,
  /** @type {Article[]} suggestions */
  kbHits: [],
  /** @type {Article[] | null} search results, or null */
  kbResults: null,
  /** @type {string | null} */
  kbMessage: null,
  /** @type {Editing | null} while the article form is open */
  editing: null,
  /** @type {Canned[]} */
  slashMatches: [],
};

/**
 * One REST call with the agent's token; the body is the server's JSON (null if none).
 * @param {string} method
 * @param {string} path below /api/v1/
 * @param {unknown} [body]
 * @returns {Promise<{ status: number, ok: boolean, body: any }>}
 */
async function api(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json', authorization: `Bearer ${st.getToken()}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`../api/v1/${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let json = null;
  try {
    json = await res.json();
  } catch {
    /* empty body */
  }
  return { status: res.status, ok: res.ok, body: json };
}

/**
 * Puts text into the reply box at the cursor (or replacing a `/shortcut`), never sends.
 * @param {string} text
 * @param {{ replaceAll?: boolean }} [options]
 */
function insertIntoReply(text, { replaceAll = false } = {}) {
  const input = $('composer-input');
  if (!(input instanceof HTMLTextAreaElement)) return;
  if (replaceAll) input.value = text;
  else {
    const start = input.selectionStart ?? input.value.length;
    const end = input.selectionEnd ?? input.value.length;
    input.value = input.value.slice(0, start) + text + input.value.slice(end);
    input.selectionStart = input.selectionEnd = start + text.length;
  }
  input.dispatchEvent(new Event('input', { bubbles: true }));
  input.focus();
}

// ---- CRM ------------------------------------------------------------------------

async function loadCrm() {
  const customer = st.customerId;
  if (!customer) return;
  clearTimeout(st.crmPollTimer);
  try {
    const r = await api('GET', `customers/${encodeURIComponent(customer)}/crm`);
    if (customer !== st.customerId) return;
    if (r.ok) {
      st.crm = r.body;
      st.crmError = null;
    } else {
      st.crm = null;
      st.crmError = (r.body && r.body.message) || `HTTP ${r.status}`;
    }
  } catch {
    st.crm = null;
    st.crmError = t('assist.network_error');
  }
  renderCrm();
  // A lookup still running (or never run) is polled a few times.
  if (st.crm && st.crm.status === 'unavailable' && st.crmPolls < CRM_POLLS) {
    st.crmPolls += 1;
    st.crmPollTimer = setTimeout(loadCrm, CRM_POLL_MS);
  }
}

function renderCrm() {
  const box = $('assist-crm');
  if (!box) return;
  const v = st.crm;
  const status = v ? v.status : 'unavailable';
  const badge = h('span', { class: `badge assist-status assist-status--${status}`, dataset: { testid: 'crm-status', status } }, t(`assist.crm.status.${status}`));
  if (!v) {
    replaceChildren(box, badge, st.crmError ? h('p', { class: 'muted' }, st.crmError) : null);
    return;
  }
  const fetchedAt = v.fetched_at;
  const attrs = Object.entries(v.attributes || {});
  const orders = v.orders || [];
  replaceChildren(
    box,
    h('div', { class: 'assist-crm__head' }, badge, fetchedAt ? h('span', { class: 'muted assist-crm__when' }, t('assist.crm.fetched', { at: formatDateTime(fetchedAt) })) : null),
    v.error && status !== 'disabled' ? h('p', { class: 'muted assist-crm__error', dataset: { testid: 'crm-error' } }, v.error) : null,
    status === 'disabled' ? h('p', { class: 'muted' }, t('assist.crm.disabled_hint')) : null,
    attrs.length
      ? h('dl', { class: 'attrs', dataset: { testid: 'crm-attributes' } }, ...attrs.flatMap(([k, val]) => [h('dt', null, k), h('dd', null, String(val))]))
      : null,
    orders.length
      ? [
          h('h5', { class: 'assist-sub' }, t('assist.crm.orders')),
          h(
            'ul',
            { class: 'assist-orders', dataset: { testid: 'crm-orders' } },
            ...orders.map((o) =>
              h(
                'li',
                { class: 'assist-order', dataset: { testid: 'crm-order' } },
                h('span', { class: 'mono' }, o.id),
                ' ',
                h('span', { class: 'muted' }, o.date),
                ' ',
                h('span', { class: 'badge badge--soft' }, o.status),
                ' ',
                h('span', { class: 'assist-order__total' }, o.total),
              ),
            ),
          ),
        ]
      : null,
  );
}

// ---- canned responses -----------------------------------------------------------

async function loadCanned() {
  try {
    const r = await api('GET', 'canned');
    if (r.ok) {
      st.canned = r.body.canned || [];
      st.cannedError = null;
      st.cannedLoaded = true;
    } else st.cannedError = (r.body && r.body.message) || `HTTP ${r.status}`;
  } catch {
    st.cannedError = t('assist.network_error');
  }
  renderCanned();
}

function cannedFilter() {
  const filter = /** @type {HTMLInputElement | null} */ ($('canned-filter'));
  const q = (filter?.value || '').trim().toLowerCase();
  if (!q) return st.canned;
  return st.canned.filter(
    (c) =>
      c.title.toLowerCase().includes(q) ||
      c.text.toLowerCase().includes(q) ||
      (c.shortcut || '').includes(q) ||
      (c.tags || []).some((x) => x.toLowerCase().includes(q)) ||
      c.language === q,
  );
}

/**
 * @param {Canned} c
 * @param {{ replaceAll?: boolean }} [opts]
 */
async function insertCanned(c, opts = {}) {
  if (!st.convId) return;
  const msg = byId('canned-message');
  try {
    const r = await api('POST', `canned/${encodeURIComponent(c.id)}/render?conversation=${encodeURIComponent(st.convId)}`);
    if (r.ok) {
      msg.textContent = '';
      insertIntoReply(r.body.text, opts);
    } else msg.textContent = t('assist.canned.render_failed', { why: (r.body && r.body.message) || r.status });
  } catch {
    msg.textContent = t('assist.network_error');
  }
}

function renderCanned() {
  const list = $('canned-list');
  if (!list) return;
  if (st.cannedError) {
    replaceChildren(list, h('li', { class: 'muted' }, st.cannedError));
    return;
  }
  const items = cannedFilter();
  if (!items.length) {
    replaceChildren(list, h('li', { class: 'muted' }, st.cannedLoaded ? t('assist.canned.none') : t('assist.loading')));
    return;
  }
  replaceChildren(
    list,
    ...items.map((c) =>
      h(
        'li',
        { class: 'assist-item', dataset: { testid: 'canned-item', id: c.id } },
        h(
          'div',
          { class: 'assist-item__head' },
          h('span', { class: 'assist-item__title' }, c.title),
          c.shortcut ? h('code', { class: 'assist-item__shortcut' }, `/${c.shortcut}`) : null,
          h('span', { class: 'badge badge--soft' }, c.language),
        ),
        h('p', { class: 'assist-item__text muted' }, c.text),
        h('button', { type: 'button', class: 'btn btn--small', dataset: { testid: 'canned-insert' }, onclick: () => insertCanned(c) }, t('assist.insert')),
      ),
    ),
  );
}

/** `/shortcut` typed alone in the reply box: show matches; Enter or Tab picks the first. */
function onComposerInput() {
  const input = byId('composer-input', HTMLTextAreaElement);
  const m = SHORTCUT_RE.exec(input.value);
  const pop = byId('canned-slash');
  const prefix = m ? m[1] : null;
  st.slashMatches = prefix !== null ? st.canned.filter((c) => c.shortcut && c.shortcut.startsWith(prefix)).slice(0, 8) : [];
  pop.hidden = !st.slashMatches.length;
  replaceChildren(
    pop,
    ...st.slashMatches.map((c, i) =>
      h(
        'li',
        { class: `assist-slash__item${i === 0 ? ' is-first' : ''}`, dataset: { testid: 'canned-slash-item' }, onmousedown: (/** @type {MouseEvent} */ ev) => { ev.preventDefault(); pickSlash(c); } },
        h('code', null, `/${c.shortcut}`),
        ' ',
        c.title,
      ),
    ),
  );
}

/** @param {Canned} c */
function pickSlash(c) {
  byId('canned-slash').hidden = true;
  st.slashMatches = [];
  insertCanned(c, { replaceAll: true });
}

/** @param {KeyboardEvent} ev */
function onComposerKeydown(ev) {
  if (!st.slashMatches.length) return;
  if ((ev.key === 'Enter' || ev.key === 'Tab') && !ev.isComposing) {
    ev.preventDefault();
    ev.stopImmediatePropagation();
    pickSlash(st.slashMatches[0]);
  } else if (ev.key === 'Escape') {
    st.slashMatches = [];
    byId('canned-slash').hidden = true;
  }
}

// ---- knowledge base -------------------------------------------------------------

function kbUnavailable() {
  st.kbAvailable = false;
  renderKb();
}

async function loadSuggestions() {
  const conv = st.convId;
  if (!conv) return;
  try {
    const r = await api('GET', `kb/suggest?conversation=${encodeURIComponent(conv)}`);
    if (conv !== st.convId) return;
    if (r.status === 404) return kbUnavailable();
    st.kbAvailable = true;
    st.kbHits = r.ok ? r.body.hits || [] : [];
    // A success keeps the message shown (e.g. "Article saved." right before this reload).
    if (!r.ok) st.kbMessage = (r.body && r.body.message) || `HTTP ${r.status}`;
  } catch {
    st.kbMessage = t('assist.network_error');
  }
  renderKb();
}

/** @param {SubmitEvent} ev */
async function searchKb(ev) {
  ev.preventDefault();
  const q = byId('kb-query', HTMLInputElement).value.trim().slice(0, KB_QUERY_MAX);
  if (!q) {
    st.kbResults = null;
    return renderKb();
  }
  try {
    const r = await api('GET', `kb/search?q=${encodeURIComponent(q)}`);
    if (r.status === 404 && !(r.body && r.body.hits)) return kbUnavailable();
    st.kbResults = r.ok ? r.body.hits || [] : [];
    st.kbMessage = r.ok ? null : (r.body && r.body.message) || `HTTP ${r.status}`;
  } catch {
    st.kbMessage = t('assist.network_error');
  }
  renderKb();
}

/** @param {Article} a */
function articleItem(a) {
  return h(
    'li',
    { class: 'assist-item', dataset: { testid: 'kb-hit', id: a.id } },
    h(
      'div',
      { class: 'assist-item__head' },
      h('span', { class: 'assist-item__title' }, a.title),
      a.confident ? h('span', { class: 'badge badge--ok' }, t('assist.kb.confident')) : null,
      a.language ? h('span', { class: 'badge badge--soft' }, a.language) : null,
    ),
    h('p', { class: 'assist-item__text muted' }, a.snippet || ''),
    h(
      'div',
      { class: 'assist-item__actions' },
      h('button', { type: 'button', class: 'btn btn--small', dataset: { testid: 'kb-insert' }, onclick: () => insertIntoReply(a.body || a.snippet || '') }, t('assist.insert')),
      h('button', { type: 'button', class: 'btn btn--small btn--ghost', dataset: { testid: 'kb-edit' }, onclick: () => openArticle(a) }, t('assist.kb.edit')),
    ),
  );
}

function renderKb() {
  const box = $('assist-kb');
  if (!box) return;
  byId('kb-unavailable').hidden = st.kbAvailable;
  byId('kb-tools').hidden = !st.kbAvailable;
  if (!st.kbAvailable) return;
  const sugg = byId('kb-suggestions');
  replaceChildren(sugg, ...(st.kbHits.length ? st.kbHits.map(articleItem) : [h('li', { class: 'muted' }, t('assist.kb.no_suggestions'))]));
  const res = byId('kb-results');
  res.hidden = st.kbResults === null;
  if (st.kbResults) replaceChildren(res, ...(st.kbResults.length ? st.kbResults.map(articleItem) : [h('li', { class: 'muted' }, t('assist.kb.no_results'))]));
  byId('kb-message').textContent = st.kbMessage || '';
}

/**
 * Opens the article form: empty for a new article, else filled from the server's copy.
 * @param {Article | null} a
 */
async function openArticle(a) {
  const form = byId('kb-form');
  /** @type {Editing} */
  const editing = a ? { id: a.id, version: a.version } : {};
  st.editing = editing;
  byId('kb-form-error').textContent = '';
  if (a && a.id) {
    try {
      const r = await api('GET', `kb/articles/${encodeURIComponent(a.id)}`);
      if (r.ok && r.body) {
        a = { ...a, ...r.body };
        editing.version = r.body.version;
        editing.channels = r.body.channels;
      }
    } catch {
      /* edit with what the hit carried */
    }
  }
  byId('kb-title', HTMLInputElement).value = a ? a.title || '' : '';
  byId('kb-body', HTMLTextAreaElement).value = a ? a.body || '' : '';
  byId('kb-tags', HTMLInputElement).value = a && a.tags ? a.tags.join(', ') : '';
  byId('kb-language', HTMLSelectElement).value = (a && a.language) || document.documentElement.lang || 'en';
  form.hidden = false;
  byId('kb-title', HTMLInputElement).focus();
}

/** @param {SubmitEvent} ev */
async function saveArticle(ev) {
  ev.preventDefault();
  /** @type {Editing} */
  const e = st.editing || {};
  const body = {
    title: byId('kb-title', HTMLInputElement).value.trim(),
    body: byId('kb-body', HTMLTextAreaElement).value,
    tags: byId('kb-tags', HTMLInputElement).value.split(',').map((s) => s.trim()).filter(Boolean),
    language: byId('kb-language', HTMLSelectElement).value,
    channels: e.channels || ALL_CHANNELS,
  };
  const err = byId('kb-form-error');
  try {
    let r;
    if (e.id) r = await api('PUT', `kb/articles/${encodeURIComponent(e.id)}`, { ...body, version: e.version });
    else r = await api('POST', 'kb/articles', body);
    if (r.status === 404 && !e.id) return kbUnavailable();
    if (r.status === 409) {
      err.textContent = t('assist.kb.conflict');
      return;
    }
    if (!r.ok) {
      err.textContent = (r.body && r.body.message) || `HTTP ${r.status}`;
      return;
    }
    byId('kb-form').hidden = true;
    st.editing = null;
    // 202: an agent's change is a draft until a supervisor publishes it.
    st.kbMessage = t(r.status === 202 ? 'assist.kb.proposed' : 'assist.kb.saved');
    loadSuggestions();
  } catch {
    err.textContent = t('assist.network_error');
  }
}

// ---- skeleton ---------------------------------------------------------------------

/**
 * @param {string} id
 * @param {string} titleKey
 * @param {...Child} body
 */
function section(id, titleKey, ...body) {
  return h('section', { class: 'assist-section', id, 'aria-labelledby': `${id}-title` }, h('h4', { class: 'subhead', id: `${id}-title`, dataset: { i18n: titleKey } }, t(titleKey)), ...body);
}

/** @param {HTMLElement} root */
function buildPanel(root) {
  replaceChildren(
    root,
    section('assist-crm-section', 'assist.crm.title', h('div', { id: 'assist-crm', dataset: { testid: 'crm-panel' } })),
    section(
      'assist-canned-section',
      'assist.canned.title',
      h('input', { id: 'canned-filter', class: 'input input--compact', type: 'search', autocomplete: 'off', dataset: { testid: 'canned-filter', i18nPlaceholder: 'assist.canned.filter' }, placeholder: t('assist.canned.filter'), oninput: renderCanned }),
      h('p', { id: 'canned-message', class: 'assist-error', role: 'status', dataset: { testid: 'canned-message' } }),
      h('ul', { id: 'canned-list', class: 'assist-list', dataset: { testid: 'canned-list' } }),
    ),
    section(
      'assist-kb',
      'assist.kb.title',
      h('p', { id: 'kb-unavailable', class: 'muted', dataset: { testid: 'kb-unavailable', i18n: 'assist.kb.unavailable' }, hidden: true }, t('assist.kb.unavailable')),
      h(
        'div',
        { id: 'kb-tools' },
        h('h5', { class: 'assist-sub', dataset: { i18n: 'assist.kb.suggestions' } }, t('assist.kb.suggestions')),
        h('ul', { id: 'kb-suggestions', class: 'assist-list', dataset: { testid: 'kb-suggestions' } }),
        h(
          'form',
          { id: 'kb-search', class: 'assist-search', onsubmit: searchKb },
          h('input', { id: 'kb-query', class: 'input input--compact', type: 'search', maxlength: KB_QUERY_MAX, autocomplete: 'off', dataset: { testid: 'kb-query', i18nPlaceholder: 'assist.kb.search' }, placeholder: t('assist.kb.search') }),
          h('button', { type: 'submit', class: 'btn btn--small', dataset: { testid: 'kb-search', i18n: 'assist.kb.search_button' } }, t('assist.kb.search_button')),
        ),
        h('ul', { id: 'kb-results', class: 'assist-list', dataset: { testid: 'kb-results' }, hidden: true }),
        h('p', { id: 'kb-message', class: 'muted', role: 'status', dataset: { testid: 'kb-message' } }),
        h('button', { type: 'button', class: 'btn btn--small btn--ghost', dataset: { testid: 'kb-new', i18n: 'assist.kb.new' }, onclick: () => openArticle(null) }, t('assist.kb.new')),
        h(
          'form',
          { id: 'kb-form', class: 'assist-form', hidden: true, dataset: { testid: 'kb-form' }, onsubmit: saveArticle },
          h('label', { for: 'kb-title', dataset: { i18n: 'assist.kb.field_title' } }, t('assist.kb.field_title')),
          h('input', { id: 'kb-title', class: 'input', required: true, maxlength: 300, dataset: { testid: 'kb-title' } }),
          h('label', { for: 'kb-body', dataset: { i18n: 'assist.kb.field_body' } }, t('assist.kb.field_body')),
          h('textarea', { id: 'kb-body', class: 'textarea', rows: 5, required: true, dataset: { testid: 'kb-body' } }),
          h('label', { for: 'kb-tags', dataset: { i18n: 'assist.kb.field_tags' } }, t('assist.kb.field_tags')),
          h('input', { id: 'kb-tags', class: 'input', dataset: { testid: 'kb-tags' } }),
          h('label', { for: 'kb-language', dataset: { i18n: 'assist.kb.field_language' } }, t('assist.kb.field_language')),
          h('select', { id: 'kb-language', class: 'select', dataset: { testid: 'kb-language' } }, h('option', { value: 'en' }, 'English'), h('option', { value: 'ja' }, '日本語')),
          h('p', { id: 'kb-form-error', class: 'assist-error', role: 'alert', dataset: { testid: 'kb-form-error' } }),
          h(
            'div',
            { class: 'assist-form__actions' },
            h('button', { type: 'button', class: 'btn btn--small', dataset: { i18n: 'common.cancel' }, onclick: () => { byId('kb-form').hidden = true; st.editing = null; } }, t('common.cancel')),
            h('button', { type: 'submit', class: 'btn btn--small btn--primary', dataset: { testid: 'kb-save', i18n: 'assist.kb.save' } }, t('assist.kb.save')),
          ),
        ),
      ),
    ),
  );
}

/**
 * Once, at start: builds the panel and hooks the reply box's `/shortcut`.
 * @param {{ getToken: () => string | null }} options
 */
export function initAssist({ getToken }) {
  st.getToken = getToken;
  const root = $('assist-panel');
  if (!root) return;
  buildPanel(root);
  const input = byId('composer-input', HTMLTextAreaElement);
  const pop = h('ul', { id: 'canned-slash', class: 'assist-slash', hidden: true, dataset: { testid: 'canned-slash' }, role: 'listbox' });
  const composer = input.closest('.composer');
  if (composer) composer.appendChild(pop);
  input.addEventListener('keydown', onComposerKeydown, { capture: true });
  input.addEventListener('input', onComposerInput);
  onLanguageChange(() => {
    renderCrm();
    renderCanned();
    renderKb();
  });
}

/**
 * The selected conversation rendered (cheap when it did not change).
 * @param {Conv | null} conv
 */
export function assistSelected(conv) {
  if (!conv) {
    st.convId = null;
    return;
  }
  if (conv.view.id === st.convId) return;
  st.convId = conv.view.id;
  st.customerId = conv.view.customer.id;
  st.crm = null;
  st.crmError = null;
  st.crmPolls = 0;
  st.kbHits = [];
  st.kbResults = null;
  st.kbMessage = null;
  renderCrm();
  loadCrm();
  if (!st.cannedLoaded) loadCanned();
  else renderCanned();
  loadSuggestions();
}

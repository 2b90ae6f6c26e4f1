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
// GET /api/v1/kb/search?q=, POST/PUT /api/v1/kb/articles (docs/assist.md). A 404 from
// the KB routes shows "knowledge base unavailable".
//
// Safety rule as in app.js: server text reaches the page only as text nodes.

import { t, onLanguageChange, formatDateTime } from '../shared/i18n.js';
import { h, replaceChildren } from '../shared/dom.js';

const CRM_POLL_MS = 1500;
const CRM_POLLS = 8;
const KB_QUERY_MAX = 200;
const SHORTCUT_RE = /^\/([a-z0-9_-]*)$/;
// A new article is visible on every channel; an edited one keeps its channels.
const ALL_CHANNELS = ['chat', 'sms', 'email', 'voice', 'line', 'messenger', 'video'];

const $ = (id) => document.getElementById(id);

const st = {
  getToken: () => null,
  convId: null,
  customerId: null,
  crm: null, // last CRM view
  crmError: null,
  crmPollTimer: null,
  crmPolls: 0,
  canned: [], // every canned response
  cannedLoaded: false,
  cannedError: null,
  kbAvailable: true,
  kbHits: [], // suggestions
  kbResults: null, // search results, or null
  kbMessage: null,
  editing: null, // { id?, version? } while the article form is open
  slashMatches: [],
};

async function api(method, path, body) {
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

/** Puts text into the reply box at the cursor (or replacing a `/shortcut`), never sends. */
function insertIntoReply(text, { replaceAll = false } = {}) {
  const input = $('composer-input');
  if (!input) return;
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
  const attrs = Object.entries(v.attributes || {});
  const orders = v.orders || [];
  replaceChildren(
    box,
    h('div', { class: 'assist-crm__head' }, badge, v.fetched_at ? h('span', { class: 'muted assist-crm__when' }, t('assist.crm.fetched', { at: formatDateTime(v.fetched_at) })) : null),
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
  const q = ($('canned-filter')?.value || '').trim().toLowerCase();
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

async function insertCanned(c, opts = {}) {
  if (!st.convId) return;
  const msg = $('canned-message');
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
  const input = $('composer-input');
  const m = SHORTCUT_RE.exec(input.value);
  const pop = $('canned-slash');
  st.slashMatches = m ? st.canned.filter((c) => c.shortcut && c.shortcut.startsWith(m[1])).slice(0, 8) : [];
  pop.hidden = !st.slashMatches.length;
  replaceChildren(
    pop,
    ...st.slashMatches.map((c, i) =>
      h(
        'li',
        { class: `assist-slash__item${i === 0 ? ' is-first' : ''}`, dataset: { testid: 'canned-slash-item' }, onmousedown: (ev) => { ev.preventDefault(); pickSlash(c); } },
        h('code', null, `/${c.shortcut}`),
        ' ',
        c.title,
      ),
    ),
  );
}

function pickSlash(c) {
  $('canned-slash').hidden = true;
  st.slashMatches = [];
  insertCanned(c, { replaceAll: true });
}

function onComposerKeydown(ev) {
  if (!st.slashMatches.length) return;
  if ((ev.key === 'Enter' || ev.key === 'Tab') && !ev.isComposing) {
    ev.preventDefault();
    ev.stopImmediatePropagation();
    pickSlash(st.slashMatches[0]);
  } else if (ev.key === 'Escape') {
    st.slashMatches = [];
    $('canned-slash').hidden = true;
  }
}

// ---- knowledge base -------------------------------------------------------------

function kbUnavailable() {
  st.kbAvailable = false;
  renderKb();
}

async function loadSuggestions() {
  const conv = st.convId;
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

async function searchKb(ev) {
  ev.preventDefault();
  const q = $('kb-query').value.trim().slice(0, KB_QUERY_MAX);
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
  $('kb-unavailable').hidden = st.kbAvailable;
  $('kb-tools').hidden = !st.kbAvailable;
  if (!st.kbAvailable) return;
  const sugg = $('kb-suggestions');
  replaceChildren(sugg, ...(st.kbHits.length ? st.kbHits.map(articleItem) : [h('li', { class: 'muted' }, t('assist.kb.no_suggestions'))]));
  const res = $('kb-results');
  res.hidden = st.kbResults === null;
  if (st.kbResults) replaceChildren(res, ...(st.kbResults.length ? st.kbResults.map(articleItem) : [h('li', { class: 'muted' }, t('assist.kb.no_results'))]));
  $('kb-message').textContent = st.kbMessage || '';
}

async function openArticle(a) {
  const form = $('kb-form');
  st.editing = a ? { id: a.id, version: a.version } : {};
  $('kb-form-error').textContent = '';
  if (a && a.id) {
    try {
      const r = await api('GET', `kb/articles/${encodeURIComponent(a.id)}`);
      if (r.ok && r.body) {
        a = { ...a, ...r.body };
        st.editing.version = r.body.version;
        st.editing.channels = r.body.channels;
      }
    } catch {
      /* edit with what the hit carried */
    }
  }
  $('kb-title').value = a ? a.title || '' : '';
  $('kb-body').value = a ? a.body || '' : '';
  $('kb-tags').value = a && a.tags ? a.tags.join(', ') : '';
  $('kb-language').value = (a && a.language) || document.documentElement.lang || 'en';
  form.hidden = false;
  $('kb-title').focus();
}

async function saveArticle(ev) {
  ev.preventDefault();
  const e = st.editing || {};
  const body = {
    title: $('kb-title').value.trim(),
    body: $('kb-body').value,
    tags: $('kb-tags').value.split(',').map((s) => s.trim()).filter(Boolean),
    language: $('kb-language').value,
    channels: e.channels || ALL_CHANNELS,
  };
  const err = $('kb-form-error');
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
    $('kb-form').hidden = true;
    st.editing = null;
    st.kbMessage = t('assist.kb.saved');
    loadSuggestions();
  } catch {
    err.textContent = t('assist.network_error');
  }
}

// ---- skeleton ---------------------------------------------------------------------

function section(id, titleKey, ...body) {
  return h('section', { class: 'assist-section', id, 'aria-labelledby': `${id}-title` }, h('h4', { class: 'subhead', id: `${id}-title`, dataset: { i18n: titleKey } }, t(titleKey)), ...body);
}

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
            h('button', { type: 'button', class: 'btn btn--small', dataset: { i18n: 'common.cancel' }, onclick: () => { $('kb-form').hidden = true; st.editing = null; } }, t('common.cancel')),
            h('button', { type: 'submit', class: 'btn btn--small btn--primary', dataset: { testid: 'kb-save', i18n: 'assist.kb.save' } }, t('assist.kb.save')),
          ),
        ),
      ),
    ),
  );
}

/** Once, at start: builds the panel and hooks the reply box's `/shortcut`. */
export function initAssist({ getToken }) {
  st.getToken = getToken;
  const root = $('assist-panel');
  if (!root) return;
  buildPanel(root);
  const input = $('composer-input');
  const pop = h('ul', { id: 'canned-slash', class: 'assist-slash', hidden: true, dataset: { testid: 'canned-slash' }, role: 'listbox' });
  input.closest('.composer').appendChild(pop);
  input.addEventListener('keydown', onComposerKeydown, { capture: true });
  input.addEventListener('input', onComposerInput);
  onLanguageChange(() => {
    renderCrm();
    renderCanned();
    renderKb();
  });
}

/** The selected conversation rendered (cheap when it did not change). */
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

// agent/search.js — owns the agent desktop's conversation search: the top bar's Search
// button (`#search-open`) and the panel it opens (`#search-panel`, a non-modal dialog over
// the workspace, so offers can still be taken): words, channel, a created-at date range
// and a disposition; the hits, "N conversations", "More" (the next page by offset), no
// hits or the engine's refusal; and one found conversation opened read-only, its events
// oldest first (messages as bubbles, everything else as the timeline's system lines,
// system.js).
//
// REST, the staff token as Bearer: `GET /api/v1/search/conversations?q&channel&from&to&
// disposition&limit&offset` (an agent only ever finds the conversations assigned to them:
// the engine's rule), and `GET /api/v1/customers/{id}/timeline?limit=200` (newest first,
// paged by `before` until the conversation's start) for the opened one. A date is the
// local midnight of its day; the "to" day is included, so `to` is the next midnight
// (the engine's `to` is exclusive). A newer search drops the answer of an older one.
// Signing out (or in as someone else) forgets the results and the form.
//
// Safety rule as in app.js: server text reaches the page only as text nodes.

import { t, has, channelName, formatDateTime, formatDay, applyTranslations, onLanguageChange } from '../shared/i18n.js';
import { h, replaceChildren, byId } from '../shared/dom.js';
import { attachmentView, onlyDescribes } from '../shared/files.js';
import { agentLabel, channelBadge, timeEl } from './labels.js';
import { buildSystemLine } from './system.js';
import { token } from './session.js';

/** @import { TimelineEvent } from './frames.js' */

/**
 * One found conversation (`hits[]` of `GET /search/conversations`).
 * @typedef {object} SearchHit
 * @property {string} conversation_id
 * @property {string} customer_id
 * @property {string | null} [customer_name]
 * @property {string} channel
 * @property {string} queue
 * @property {string} state
 * @property {string[]} [agents]
 * @property {string | null} [disposition]
 * @property {number | null} [csat]
 * @property {number} created_at  Unix ms
 * @property {string} snippet
 * @property {number | null} [score]
 */

/**
 * A page of hits.
 * @typedef {object} SearchPage
 * @property {SearchHit[]} hits
 * @property {number} total
 * @property {string} [tokenizer]
 * @property {number} [indexed_through]
 * @property {number} [pending]
 */

/**
 * The opened conversation: its hit, and its events once loaded (or why not).
 * @typedef {{ hit: SearchHit, events: TimelineEvent[] | null, error: string | null }} Opened
 */

// The channels a conversation can be on (the engine's names), in the picker's order.
const CHANNELS = ['chat', 'sms', 'email', 'line', 'whatsapp', 'messenger', 'instagram', 'x', 'voice', 'video'];
// Hits per page, and the furthest offset the engine pages to (`search.max_offset`).
const PAGE = 20;
const MAX_OFFSET = 1000;
// Timeline pages read at most for one conversation (200 events each).
const TIMELINE_PAGE = 200;
const MAX_TIMELINE_PAGES = 5;
const MESSAGE_KINDS = new Set(['message_in', 'message_out', 'note']);
// As in the timeline: receipts and offers are not lines of their own.
const HIDDEN_EVENT_KINDS = new Set(['offered', 'message_status']);

/**
 * What the panel shows.
 * @typedef {object} SearchState
 * @property {string | null} owner  the token of the session the panel was last opened in
 * @property {URLSearchParams | null} params  the filters of the hits shown
 * @property {SearchHit[]} hits
 * @property {number} total
 * @property {number} pending  conversations waiting to be indexed
 * @property {boolean} found  the last search was answered (hits, or none)
 * @property {string | null} error  the engine's refusal, or why there is no answer
 * @property {'idle' | 'loading' | 'more' | 'done'} phase  `more`: the next page on its way
 * @property {number} seq  bumped by every search and by a reset: an older answer is dropped
 * @property {number} answered  answers shown so far (the panel's `data-answered`, for tests)
 * @property {Opened | null} opened
 * @property {number} openSeq  the same for the opened conversation
 */

/** @type {SearchState} */
const st = {
  owner: null,
  params: null,
  hits: [],
  total: 0,
  pending: 0,
  found: false,
  error: null,
  phase: 'idle',
  seq: 0,
  answered: 0,
  opened: null,
  openSeq: 0,
};

/** @type {HTMLDialogElement} */
let panel;
/** @typedef {ReturnType<typeof build>} Parts */
/** @type {Parts} the parts of the panel drawn again (built once by initSearch) */
let el;

// ---- REST

/**
 * A GET below /api/v1/ with the agent's token: the status and the JSON body (or null).
 * @param {string} path
 * @returns {Promise<{ status: number, body: any }>}
 */
async function get(path) {
  const res = await fetch(`../api/v1/${path}`, {
    headers: { Accept: 'application/json', Authorization: `Bearer ${token()}` },
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

/**
 * What to show for a refused request: the engine's message, else a word of ours.
 * @param {number} status
 * @param {any} body
 */
function refusal(status, body) {
  if (body && typeof body.message === 'string' && body.message && status !== 404) return body.message;
  if (status === 404) return t('search.unavailable');
  return t('search.failed', { status });
}

/**
 * The local midnight starting the day `value` (`YYYY-MM-DD`, a date input's value) plus
 * `days` days, as Unix ms; null for an empty or malformed value.
 * @param {string} value
 * @param {number} days
 */
function localMidnight(value, days) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return null;
  const ms = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + days).getTime();
  return Number.isFinite(ms) ? ms : null;
}

/** The form's filters as query parameters (empty ones left out). */
function readForm() {
  const p = new URLSearchParams();
  const q = el.q.value.trim();
  if (q) p.set('q', q);
  if (el.channel.value) p.set('channel', el.channel.value);
  const from = localMidnight(el.from.value, 0);
  if (from !== null) p.set('from', String(from));
  // The "to" day is included: the engine's `to` is exclusive, so the next midnight.
  const to = localMidnight(el.to.value, 1);
  if (to !== null) p.set('to', String(to));
  const disposition = el.disposition.value.trim();
  if (disposition) p.set('disposition', disposition);
  return p;
}

/**
 * Asks one page of hits for `params` from `offset`.
 * @param {URLSearchParams} params
 * @param {number} offset
 * @returns {Promise<{ page: SearchPage } | { error: string }>}
 */
async function fetchHits(params, offset) {
  const q = new URLSearchParams(params);
  q.set('limit', String(PAGE));
  if (offset) q.set('offset', String(offset));
  try {
    const { status, body } = await get(`search/conversations?${q}`);
    if (status === 200 && body && Array.isArray(body.hits)) return { page: /** @type {SearchPage} */ (body) };
    return { error: refusal(status, body) };
  } catch {
    return { error: t('search.unreachable') };
  }
}

/**
 * The events of the hit's conversation, oldest first: the customer's timeline is read
 * newest first, a page at a time, until it goes back past the conversation's start.
 * @param {SearchHit} hit
 * @returns {Promise<TimelineEvent[]>}
 */
async function fetchConversation(hit) {
  /** @type {TimelineEvent[]} */
  const mine = [];
  /** @type {string | null} */
  let before = null;
  for (let i = 0; i < MAX_TIMELINE_PAGES; i++) {
    const q = new URLSearchParams({ limit: String(TIMELINE_PAGE) });
    if (before) q.set('before', before);
    const { status, body } = await get(`customers/${encodeURIComponent(hit.customer_id)}/timeline?${q}`);
    if (status !== 200 || !body || !Array.isArray(body.events)) throw new Error(refusal(status, body));
    /** @type {TimelineEvent[]} */
    const events = body.events;
    for (const e of events) if (e && e.conversation_id === hit.conversation_id) mine.push(e);
    const oldest = events[events.length - 1];
    before = typeof body.next_before === 'string' ? body.next_before : null;
    if (!before || !oldest || oldest.at < hit.created_at) break;
  }
  return mine.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

// ---- actions

async function search() {
  if (!token()) return;
  const params = readForm();
  const seq = ++st.seq;
  st.params = params;
  st.hits = [];
  st.total = 0;
  st.pending = 0;
  st.found = false;
  st.error = null;
  st.phase = 'loading';
  closeConversation(false);
  render();
  const answer = await fetchHits(params, 0);
  if (seq !== st.seq) return;
  if ('page' in answer) {
    st.hits = answer.page.hits;
    st.total = Number(answer.page.total) || 0;
    st.pending = Number(answer.page.pending) || 0;
    st.found = true;
  } else {
    st.error = answer.error;
  }
  st.phase = 'done';
  st.answered += 1;
  render();
}

async function more() {
  if (!st.params || !st.found || st.phase !== 'done') return;
  const seq = st.seq;
  st.phase = 'more';
  st.error = null;
  render();
  const answer = await fetchHits(st.params, st.hits.length);
  if (seq !== st.seq) return;
  if ('page' in answer) {
    // A conversation that moved up meanwhile (new hits came in) is listed once.
    const seen = new Set(st.hits.map((x) => x.conversation_id));
    st.hits = st.hits.concat(answer.page.hits.filter((x) => !seen.has(x.conversation_id)));
    st.total = Number(answer.page.total) || 0;
    st.pending = Number(answer.page.pending) || 0;
  } else {
    st.error = answer.error;
  }
  st.phase = 'done';
  st.answered += 1;
  render();
}

/** @param {SearchHit} hit */
async function openConversation(hit) {
  const seq = ++st.openSeq;
  /** @type {Opened} */
  const opened = { hit, events: null, error: null };
  st.opened = opened;
  renderConversation();
  el.close.focus();
  try {
    opened.events = await fetchConversation(hit);
  } catch (e) {
    opened.error = e instanceof TypeError ? t('search.unreachable') : e instanceof Error ? e.message : String(e);
  }
  if (seq !== st.openSeq) return;
  renderConversation();
}

/**
 * Back to the hits (a pending load of the conversation is dropped).
 * @param {boolean} refocus  put the focus back on the conversation's hit
 */
function closeConversation(refocus) {
  st.openSeq += 1;
  const had = st.opened;
  st.opened = null;
  renderConversation();
  if (had && refocus) {
    const back = el.results.querySelector(`[data-conversation-id="${CSS.escape(had.hit.conversation_id)}"]`);
    if (back instanceof HTMLElement) back.focus();
  }
}

/** Forgets the results, the opened conversation and the form (another session). */
function reset() {
  st.seq += 1;
  st.params = null;
  st.hits = [];
  st.total = 0;
  st.pending = 0;
  st.found = false;
  st.error = null;
  st.phase = 'idle';
  st.openSeq += 1;
  st.opened = null;
  for (const input of [el.q, el.from, el.to, el.disposition]) input.value = '';
  el.channel.value = '';
  render();
  renderConversation();
}

function openPanel() {
  const current = token();
  if (st.owner !== current) reset();
  st.owner = current;
  if (!panel.open) panel.show();
  byId('search-open').setAttribute('aria-expanded', 'true');
  el.q.focus();
}

function closePanel() {
  if (panel.open) panel.close();
}

// ---- drawing

/** @param {SearchHit} hit */
function hitName(hit) {
  return hit.customer_name || hit.customer_id;
}

/** @param {string} d a disposition (a wrap-up code, maybe `code: details`) */
function dispositionLabel(d) {
  const m = /^([a-z_]+)(?::\s*(.*))?$/s.exec(d);
  if (m && has(`disp.${m[1]}`)) return m[2] ? `${t(`disp.${m[1]}`)}: ${m[2]}` : t(`disp.${m[1]}`);
  return d;
}

/** @param {string} s a conversation state */
function stateLabel(s) {
  return h('span', { class: `badge badge--soft badge--state-${s}` }, has(`conv.state.${s}`) ? t(`conv.state.${s}`) : s);
}

/** @param {number} at Unix ms */
function dateEl(at) {
  return h('time', { class: 'search-hit__time', datetime: new Date(at).toISOString() }, formatDateTime(at));
}

/** @param {SearchHit} hit */
function hitMeta(hit) {
  /** @type {string[]} */
  const parts = [];
  if (hit.disposition) parts.push(t('search.disposition_value', { disposition: dispositionLabel(hit.disposition) }));
  if (hit.queue) parts.push(t('search.queue', { queue: hit.queue }));
  if (hit.agents && hit.agents.length) parts.push(t('search.agents', { agents: hit.agents.map((a) => agentLabel(a)).join(', ') }));
  if (hit.csat !== null && hit.csat !== undefined) parts.push(t('search.csat', { score: hit.csat }));
  return parts.join(' · ');
}

/** @param {SearchHit} hit */
function buildHit(hit) {
  const meta = hitMeta(hit);
  return h(
    'li',
    { class: 'search-results__item' },
    h(
      'button',
      {
        type: 'button',
        class: 'search-hit',
        dataset: { testid: 'search-hit', conversationId: hit.conversation_id, customerId: hit.customer_id },
        onclick: () => void openConversation(hit),
      },
      h(
        'span',
        { class: 'search-hit__head' },
        h('span', { class: 'search-hit__name', dataset: { testid: 'search-hit-name' } }, hitName(hit)),
        channelBadge(hit.channel),
        hit.state ? stateLabel(hit.state) : null,
        dateEl(hit.created_at),
      ),
      hit.snippet ? h('span', { class: 'search-hit__snippet', dataset: { testid: 'search-snippet' } }, hit.snippet) : null,
      meta ? h('span', { class: 'search-hit__meta', dataset: { testid: 'search-hit-meta' } }, meta) : null,
    ),
  );
}

/** Draws the results side: searching, total, notes, error, no hits, the hits, More. */
function render() {
  const shown = st.hits.length;
  const listed = st.found && st.phase !== 'loading';
  panel.dataset.state = st.error ? 'error' : st.phase;
  panel.dataset.answered = String(st.answered);
  el.results.setAttribute('aria-busy', String(st.phase === 'loading' || st.phase === 'more'));

  el.searching.hidden = st.phase !== 'loading';
  el.total.hidden = !listed;
  el.total.textContent = st.total === 1 ? t('search.total_one') : t('search.total', { n: st.total });
  el.pending.hidden = !(listed && st.pending > 0);
  el.pending.textContent = t('search.pending', { n: st.pending });
  el.error.hidden = !st.error;
  el.error.textContent = st.error || '';
  el.empty.hidden = !(listed && shown === 0);

  replaceChildren(el.results, st.hits.map(buildHit));
  el.results.hidden = shown === 0;

  const left = listed && shown < st.total;
  el.more.hidden = !(left && shown <= MAX_OFFSET);
  el.more.disabled = st.phase === 'more';
  el.more.textContent = st.phase === 'more' ? t('conv.loading') : t('search.more');
  el.narrow.hidden = !(left && shown > MAX_OFFSET);
}

/**
 * A message or note of the opened conversation, as the timeline's bubbles.
 * @param {TimelineEvent} e
 * @param {SearchHit} hit
 */
function buildMessage(e, hit) {
  let who;
  let cls;
  if (e.type === 'message_in') {
    who = hitName(hit);
    cls = 'msg--in';
  } else if (e.type === 'message_out') {
    who = agentLabel(e.agent_id);
    cls = 'msg--out';
  } else {
    who = `${t('msg.note')} · ${agentLabel(e.agent_id)}`;
    cls = 'msg--note';
  }
  const files = e.attachments && e.attachments.length ? e.attachments : null;
  const owner = e.customer_id || hit.customer_id;
  return h(
    'li',
    { class: `msg ${cls}`, dataset: { testid: 'search-event', type: e.type, eventId: e.id, channel: e.channel || '' } },
    h('div', { class: 'msg__meta' }, e.channel ? channelBadge(e.channel) : null, h('span', { class: 'msg__who' }, who), timeEl(e.at)),
    h(
      'div',
      { class: 'msg__bubble' },
      e.subject ? h('div', { class: 'msg__subject' }, t('msg.subject', { subject: e.subject })) : null,
      onlyDescribes(e.text, e.attachments) ? null : h('div', { class: 'msg__text', dataset: { testid: 'search-event-text' } }, e.text ?? ''),
      files ? h('ul', { class: 'attachments', 'aria-label': t('msg.attachments') }, files.map((a) => attachmentView(a, owner, token))) : null,
    ),
  );
}

/**
 * One line of the opened conversation: a bubble, or the timeline's system line.
 * @param {TimelineEvent} e
 * @param {SearchHit} hit
 */
function buildEvent(e, hit) {
  if (MESSAGE_KINDS.has(e.type)) return buildMessage(e, hit);
  const line = buildSystemLine(e);
  line.dataset.testid = 'search-event';
  line.dataset.type = e.type;
  return line;
}

/** Draws the opened conversation, or hides it (and shows the hits) when none. */
function renderConversation() {
  const o = st.opened;
  el.conv.hidden = !o;
  el.list.hidden = !!o;
  if (!o) {
    el.conv.removeAttribute('data-conversation-id');
    el.conv.removeAttribute('data-state');
    replaceChildren(el.convHead);
    replaceChildren(el.events);
    el.convStatus.hidden = true;
    return;
  }
  const hit = o.hit;
  el.conv.dataset.conversationId = hit.conversation_id;
  el.conv.dataset.state = o.error ? 'error' : o.events ? 'loaded' : 'loading';
  replaceChildren(
    el.convHead,
    h('h3', { id: 'search-conv-title', class: 'search-conv__title', dataset: { testid: 'search-conversation-title' } }, hitName(hit)),
    h(
      'div',
      { class: 'search-conv__meta' },
      channelBadge(hit.channel),
      hit.state ? stateLabel(hit.state) : null,
      dateEl(hit.created_at),
      hit.disposition ? h('span', null, t('search.disposition_value', { disposition: dispositionLabel(hit.disposition) })) : null,
      h('span', { class: 'search-conv__readonly' }, t('search.read_only')),
    ),
  );
  const shown = o.events ? o.events.filter((e) => !hiddenEvent(e)) : [];
  el.convStatus.hidden = !o.error && !!o.events && shown.length > 0;
  el.convStatus.className = o.error ? 'search__error' : 'search__note';
  el.convStatus.setAttribute('role', o.error ? 'alert' : 'status');
  el.convStatus.dataset.testid = o.error ? 'search-conversation-error' : 'search-conversation-status';
  el.convStatus.textContent = o.error ? o.error : !o.events ? t('conv.loading') : t('search.conversation_empty');

  /** @type {HTMLLIElement[]} */
  const lines = [];
  let lastDay = null;
  for (const e of shown) {
    const day = formatDay(e.at);
    if (day !== lastDay) {
      lastDay = day;
      lines.push(h('li', { class: 'day-sep', role: 'separator' }, h('span', null, day)));
    }
    lines.push(buildEvent(e, hit));
  }
  replaceChildren(el.events, lines);
}

/**
 * Whether the event is no line of its own (as in the timeline).
 * @param {TimelineEvent} e
 */
function hiddenEvent(e) {
  return HIDDEN_EVENT_KINDS.has(e.type) || (e.type === 'offer_closed' && e.outcome === 'accepted');
}

/** The channel picker: "Any channel" and every channel, in the page's language. */
function fillChannels() {
  const picked = el.channel.value;
  replaceChildren(
    el.channel,
    h('option', { value: '' }, t('search.channel_any')),
    CHANNELS.map((c) => h('option', { value: c }, channelName(c))),
  );
  el.channel.value = picked;
}

/**
 * A labelled field of the filter row.
 * @param {string} labelKey
 * @param {HTMLElement} control
 */
function field(labelKey, control) {
  return h('label', { class: 'search__field' }, h('span', { class: 'search__label', dataset: { i18n: labelKey } }), control);
}

/**
 * Builds the panel inside `#search-panel` (its static strings through data-i18n) and
 * hands back the parts drawn again.
 * @param {HTMLDialogElement} dialog
 */
function build(dialog) {
  const q = h('input', {
    id: 'search-q',
    class: 'input search__q',
    type: 'search',
    autocomplete: 'off',
    spellcheck: 'false',
    maxlength: '500',
    dataset: { testid: 'search-q', i18nPlaceholder: 'search.q_placeholder' },
  });
  const channel = h('select', { id: 'search-channel', class: 'select', dataset: { testid: 'search-channel' } });
  const from = h('input', { id: 'search-from', class: 'input', type: 'date', dataset: { testid: 'search-from' } });
  const to = h('input', { id: 'search-to', class: 'input', type: 'date', dataset: { testid: 'search-to' } });
  const disposition = h('input', {
    id: 'search-disposition',
    class: 'input',
    autocomplete: 'off',
    spellcheck: 'false',
    maxlength: '200',
    dataset: { testid: 'search-disposition', i18nPlaceholder: 'search.disposition_placeholder' },
  });
  const form = h(
    'form',
    { class: 'search__form', role: 'search', novalidate: true, dataset: { testid: 'search-form' } },
    h(
      'div',
      { class: 'search__row' },
      h('label', { for: 'search-q', class: 'visually-hidden', dataset: { i18n: 'search.q_label' } }),
      q,
      h('button', { type: 'submit', class: 'btn btn--primary', dataset: { testid: 'search-submit', i18n: 'search.submit' } }),
    ),
    h(
      'div',
      { class: 'search__filters' },
      field('search.channel', channel),
      field('search.from', from),
      field('search.to', to),
      field('search.disposition', disposition),
    ),
  );
  // Enter in any field submits the form (an Enter that confirms an IME conversion does not).
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void search();
  });

  const searching = h('p', { class: 'search__note', role: 'status', dataset: { testid: 'search-searching', i18n: 'search.searching' }, hidden: true });
  const total = h('p', { class: 'search__total', role: 'status', dataset: { testid: 'search-total' }, hidden: true });
  const pending = h('p', { class: 'search__note', dataset: { testid: 'search-pending' }, hidden: true });
  const error = h('p', { class: 'search__error', role: 'alert', dataset: { testid: 'search-error' }, hidden: true });
  const empty = h('p', { class: 'search__empty', dataset: { testid: 'search-empty', i18n: 'search.empty' }, hidden: true });
  const results = h('ul', { class: 'search-results', dataset: { testid: 'search-results' }, 'aria-labelledby': 'search-title', hidden: true });
  const moreBtn = h('button', { type: 'button', class: 'btn btn--small search__more', dataset: { testid: 'search-more' }, hidden: true, onclick: () => void more() });
  const narrow = h('p', { class: 'search__note', dataset: { testid: 'search-narrow', i18n: 'search.narrow' }, hidden: true });
  const list = h('div', { class: 'search__list' }, searching, total, pending, error, empty, results, moreBtn, narrow);

  const close = h(
    'button',
    { type: 'button', class: 'btn btn--small', dataset: { testid: 'search-close' }, onclick: () => closeConversation(true) },
    h('span', { 'aria-hidden': 'true' }, '← '),
    h('span', { dataset: { i18n: 'search.back' } }),
  );
  const convHead = h('div', { class: 'search-conv__who' });
  const convStatus = h('p', { class: 'search__note', hidden: true });
  const events = h('ol', { class: 'timeline search-conv__events', dataset: { testid: 'search-events' } });
  const conv = h(
    'section',
    { class: 'search-conv', dataset: { testid: 'search-conversation' }, 'aria-labelledby': 'search-conv-title', hidden: true },
    h('header', { class: 'search-conv__head' }, close, convHead),
    h('div', { class: 'search-conv__scroll' }, convStatus, events),
  );

  replaceChildren(
    dialog,
    h(
      'div',
      { class: 'search__head' },
      h('h2', { id: 'search-title', class: 'search__title', dataset: { i18n: 'search.title' } }),
      h(
        'button',
        {
          type: 'button',
          class: 'btn btn--ghost btn--small search__dismiss',
          dataset: { testid: 'search-panel-close', i18nAriaLabel: 'search.close', i18nTitle: 'search.close' },
          onclick: closePanel,
        },
        h('span', { 'aria-hidden': 'true' }, '×'),
      ),
    ),
    form,
    h('div', { class: 'search__body' }, list, conv),
  );
  applyTranslations(dialog);
  return { q, channel, from, to, disposition, list, searching, total, pending, error, empty, results, more: moreBtn, narrow, conv, convHead, convStatus, events, close };
}

/** Builds the panel and wires the top bar's Search button; once, from app.js. */
export function initSearch() {
  panel = byId('search-panel', HTMLDialogElement);
  el = build(panel);
  fillChannels();
  render();
  renderConversation();
  const open = byId('search-open');
  open.addEventListener('click', () => (panel.open ? closePanel() : openPanel()));
  panel.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Escape' || ev.isComposing) return;
    ev.preventDefault();
    if (st.opened) closeConversation(true);
    else {
      closePanel();
      open.focus();
    }
  });
  panel.addEventListener('close', () => {
    open.setAttribute('aria-expanded', 'false');
    // Closed by a sign-out (session.js closes every dialog): nothing found stays in the page.
    if (byId('app-view').hidden) reset();
  });
  onLanguageChange(() => {
    fillChannels();
    render();
    renderConversation();
  });
}

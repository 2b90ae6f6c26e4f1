// admin/app.js — owns the admin console (/admin/): its session (sign-in through
// ../shared/staff-login.js, password or single sign-on; any role but admin is turned
// away), the agents section (`GET /api/v1/agents`, create or edit with `PUT
// /api/v1/agents/{id}`: name, password reset, role, skills with proficiency, capacity
// per class, queues, phone, disabled) and the queues section (`GET
// /api/v1/queue-configs`, create or edit with `PUT /api/v1/queues/{name}`: display
// name, strategy, required skills, offer timeout, max waiting, priority, the channels
// it is the default for, overflow). An edit sends the whole record it loaded with the
// form's fields over it, so settings the form does not show are kept. Canned responses
// (`/api/v1/canned`: title, template text, language, tags, shortcut) are created,
// edited with the version they replace (409 if someone changed it meanwhile) and
// deleted. The audit log
// section searches `GET /api/v1/audit` (who, action prefix, customer, time range;
// older pages by `next_before`) and exports the same search as CSV or JSON (a
// download made from the answer, since it needs the page's token). The wrap-up codes
// section is ./wrapup.js's, the notification rules section ./notify.js's, the survey
// settings ./survey.js's, the channel connectors' settings (secrets write-only, on/off
// left to the settings file) ./connectors.js's; the queue form's "Wrap-up code
// required" makes a queue's agents pick one at resolve. The IVR section (menu tree
// editor, preview, versions) is ./ivr.js's, loaded when its tab is shown.
//
// Bad input is refused field by field: what the page can tell (an empty id, a skill
// list that does not parse) before sending, the rest from the server's `fields` (400
// `invalid`), each shown under its input; nothing is saved while any is. Every string
// is from shared/i18n.js (+ ./strings.js); server text is only ever inserted as text.

import './strings.js';
import { t, applyTranslations, bindLanguageToggle, onLanguageChange, formatDateTime } from '../shared/i18n.js';
import { h, replaceChildren, byId } from '../shared/dom.js';
import { staffLogin } from '../shared/staff-login.js';
import { loadIvr, resetIvr } from './ivr.js';
import { loadWrapup, renderWrapup, initWrapup } from './wrapup.js';
import { loadNotify, renderNotify, initNotify } from './notify.js';
import { loadSurvey, renderVersion as renderSurveyVersion, initSurvey } from './survey.js';
import { loadConnectors, renderConnectorsText, initConnectors, resetConnectors } from './connectors.js';

/** @import { StaffSession } from '../shared/staff-login.js' */

/**
 * An agent as `GET /api/v1/agents` lists it.
 * @typedef {object} Agent
 * @property {string} id
 * @property {string} display_name
 * @property {string} role
 * @property {Record<string, number>} skills
 * @property {{voice: number, chat: number, email: number, messaging: number}} capacity
 * @property {string[]} queues
 * @property {boolean} [disabled]
 * @property {string | null} [phone]
 */

/**
 * A queue's configuration as `GET /api/v1/queue-configs` lists it (the fields the
 * form edits; the others are carried through untouched).
 * @typedef {{name: string, display_name: string, strategy: string, required_skills: Record<string, number>,
 *   offer_timeout_ms: number, max_waiting: number, priority: number, default_for: string[],
 *   overflow: {to: string, after_ms: number} | null, [key: string]: unknown}} QueueConfig
 */

/** The channels a queue can be the default for (`Channel`, snake_case). */
const CHANNELS = ['chat', 'sms', 'email', 'voice', 'line', 'messenger', 'whatsapp', 'instagram', 'x', 'video', 'facebook_comments', 'x_mentions'];

const state = {
  /** @type {StaffSession | null} */
  session: null,
  /** @type {Agent[]} */
  agents: [],
  /** @type {QueueConfig[]} */
  queues: [],
  /** @type {Agent | null} the agent being edited (null: a new one) */
  editingAgent: null,
  /** @type {QueueConfig | null} the queue being edited (null: a new one) */
  editingQueue: null,
  /** @type {AuditEntry[]} the audit entries shown */
  audit: [],
  /** @type {Canned[]} */
  canned: [],
  /** @type {Canned | null} the response being edited (null: a new one) */
  editingCanned: null,
};

/**
 * A canned response (`GET /api/v1/canned`).
 * @typedef {{id: string, title: string, text: string, language: string, tags: string[], shortcut: string | null, version: number}} Canned
 */

/**
 * An audit log entry (`GET /api/v1/audit`).
 * @typedef {{id: string, at: number, actor: string, action: string, customer_id: string | null, detail: unknown}} AuditEntry
 */

const input = (/** @type {string} */ id) => byId(id, HTMLInputElement);
const select = (/** @type {string} */ id) => byId(id, HTMLSelectElement);

/** A failed request: its status and the server's error body. */
export class ApiFailure extends Error {
  /**
   * @param {number} status
   * @param {{code?: string, message?: string, fields?: Record<string, string>}} body
   */
  constructor(status, body) {
    super(body.message || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/**
 * A REST call with the session's token; a 401 signs out.
 * @param {string} method
 * @param {string} path under /api/v1
 * @param {unknown} [body]
 */
export async function api(method, path, body) {
  const res = await fetch(`../api/v1${path}`, {
    method,
    headers: {
      accept: 'application/json',
      authorization: `Bearer ${state.session?.token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = res.status === 204 ? {} : await res.json().catch(() => ({}));
  if (res.status === 401) {
    logout('login.expired');
    throw new ApiFailure(401, json);
  }
  if (!res.ok) throw new ApiFailure(res.status, json);
  return json;
}

/**
 * `skill:level, …` as a map, or the reason it does not parse.
 * @param {string} text
 * @returns {{ok: true, skills: Record<string, number>} | {ok: false, error: string}}
 */
export function parseSkills(text) {
  /** @type {Record<string, number>} */
  const skills = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([a-z0-9_-]{1,64})\s*:\s*([1-5])$/i.exec(part);
    if (!m) return { ok: false, error: t('adm.skills.bad', { part }) };
    skills[m[1].toLowerCase()] = Number(m[2]);
  }
  return { ok: true, skills };
}

/** @param {Record<string, number>} skills */
export const formatSkills = (skills) =>
  Object.entries(skills || {})
    .map(([k, v]) => `${k}:${v}`)
    .join(', ');

/**
 * Shows `errors` (field -> message) under the inputs of `form`; fields without an
 * input go to the form's own line. Clears the others.
 * @param {HTMLFormElement} form
 * @param {Record<string, string>} errors
 */
export function showErrors(form, errors) {
  const slots = /** @type {NodeListOf<HTMLElement>} */ (form.querySelectorAll('[data-error]'));
  const known = new Set([...slots].map((el) => el.dataset.error));
  // The form's own line says its own message and those of fields it has no slot for.
  const rest = Object.entries(errors).filter(([f]) => f === '_form' || !known.has(f));
  for (const el of slots) {
    const field = el.dataset.error || '';
    const message = field === '_form' ? rest.map(([f, m]) => (f === '_form' ? m : `${f}: ${m}`)).join(' ') : errors[field];
    el.textContent = message || '';
    el.hidden = !message;
  }
}

/**
 * The field errors of a failed save: the server's `fields`, or its message.
 * @param {unknown} e
 * @returns {Record<string, string>}
 */
export function errorsOf(e) {
  if (e instanceof ApiFailure) {
    if (e.body.fields) return e.body.fields;
    return { _form: e.body.message || t('adm.failed', { status: e.status }) };
  }
  return { _form: t('login.unreachable') };
}

/** @param {string} key @param {Record<string, unknown>} [vars] */
export function notify(key, vars) {
  const el = byId('notice');
  el.textContent = t(key, vars);
  el.hidden = false;
}

// ---- agents

function renderAgents() {
  const rows = state.agents.map((a) =>
    h(
      'tr',
      { dataset: { agent: a.id }, 'data-testid': 'agent-row' },
      h('td', { text: a.id }),
      h('td', { text: a.display_name }),
      h('td', { text: t(`adm.role.${a.role}`) }),
      h('td', { text: (a.queues || []).join(', ') }),
      h('td', { text: formatSkills(a.skills) }),
      h('td', { 'data-testid': 'agent-status', text: a.disabled ? t('adm.agent.is_disabled') : t('adm.agent.is_enabled') }),
      h('td', null, h('button', { type: 'button', class: 'btn btn--small', 'data-testid': 'agent-edit', text: t('adm.edit'), onclick: () => openAgent(a) })),
    ),
  );
  replaceChildren(byId('agents-body'), ...rows);
}

/** @param {Agent | null} agent */
function openAgent(agent) {
  state.editingAgent = agent;
  const form = byId('agent-form', HTMLFormElement);
  byId('agent-form-title').textContent = agent ? t('adm.agent.edit', { id: agent.id }) : t('adm.agent.new');
  input('agent-id').value = agent?.id || '';
  input('agent-id').readOnly = !!agent;
  input('agent-display-name').value = agent?.display_name || '';
  input('agent-password').value = '';
  byId('agent-password-hint').textContent = agent ? t('adm.agent.password_keep') : t('adm.agent.password_new');
  select('agent-role').value = agent?.role || 'agent';
  input('agent-skills').value = formatSkills(agent?.skills || {});
  const cap = agent?.capacity || { voice: 1, chat: 3, email: 5, messaging: 5 };
  for (const k of /** @type {const} */ (['voice', 'chat', 'email', 'messaging'])) input(`agent-cap-${k}`).value = String(cap[k]);
  const held = new Set(agent?.queues || []);
  replaceChildren(
    byId('agent-queues'),
    ...state.queues.map((q) =>
      h('label', { class: 'adm-check' }, h('input', { type: 'checkbox', value: q.name, checked: held.has(q.name), 'data-testid': `agent-queue-${q.name}` }), ` ${q.name}`),
    ),
  );
  input('agent-phone').value = agent?.phone || '';
  input('agent-disabled').checked = !!agent?.disabled;
  showErrors(form, {});
  form.hidden = false;
  (agent ? input('agent-display-name') : input('agent-id')).focus();
}

/** @param {SubmitEvent} ev */
async function saveAgent(ev) {
  ev.preventDefault();
  const form = byId('agent-form', HTMLFormElement);
  /** @type {Record<string, string>} */
  const errors = {};
  const id = input('agent-id').value.trim();
  if (!id) errors.id = t('adm.required');
  const skills = parseSkills(input('agent-skills').value);
  if (!skills.ok) errors.skills = skills.error;
  /** @type {Record<string, number>} */
  const capacity = {};
  for (const k of ['voice', 'chat', 'email', 'messaging']) {
    const n = Number(input(`agent-cap-${k}`).value);
    if (!Number.isInteger(n) || n < 0 || n > 100) errors.capacity = t('adm.capacity.bad');
    capacity[k] = n;
  }
  if (Object.keys(errors).length) return showErrors(form, errors);
  const password = input('agent-password').value;
  const body = {
    display_name: input('agent-display-name').value,
    role: select('agent-role').value,
    skills: skills.ok ? skills.skills : {},
    capacity,
    queues: [...byId('agent-queues').querySelectorAll('input:checked')].map((el) => /** @type {HTMLInputElement} */ (el).value),
    disabled: input('agent-disabled').checked,
    phone: input('agent-phone').value.trim() || null,
    ...(password ? { password } : {}),
  };
  try {
    await api('PUT', `/agents/${encodeURIComponent(id)}`, body);
  } catch (e) {
    return showErrors(form, errorsOf(e));
  }
  form.hidden = true;
  notify('adm.saved', { what: id });
  await reload();
}

// ---- queues

function renderQueues() {
  const rows = state.queues.map((q) =>
    h(
      'tr',
      { dataset: { queue: q.name }, 'data-testid': 'queue-row' },
      h('td', { text: q.name }),
      h('td', { text: q.display_name }),
      h('td', { text: t(`adm.strategy.${q.strategy}`) }),
      h('td', { text: (q.default_for || []).join(', ') }),
      h('td', { text: String(q.priority ?? 0) }),
      h('td', null, h('button', { type: 'button', class: 'btn btn--small', 'data-testid': 'queue-edit', text: t('adm.edit'), onclick: () => openQueue(q) })),
    ),
  );
  replaceChildren(byId('queues-body'), ...rows);
}

/** @param {QueueConfig | null} queue */
function openQueue(queue) {
  state.editingQueue = queue;
  const form = byId('queue-form', HTMLFormElement);
  byId('queue-form-title').textContent = queue ? t('adm.queue.edit', { name: queue.name }) : t('adm.queue.new');
  input('queue-name').value = queue?.name || '';
  input('queue-name').readOnly = !!queue;
  input('queue-display-name').value = queue?.display_name || '';
  select('queue-strategy').value = queue?.strategy || 'longest_idle';
  input('queue-priority').value = String(queue?.priority ?? 0);
  input('queue-required-skills').value = formatSkills(queue?.required_skills || {});
  input('queue-offer-timeout').value = String(queue?.offer_timeout_ms ?? 15000);
  input('queue-max-waiting').value = String(queue?.max_waiting ?? 1000);
  const defaults = new Set(queue?.default_for || []);
  replaceChildren(
    byId('queue-default-for'),
    ...CHANNELS.map((c) =>
      h('label', { class: 'adm-check' }, h('input', { type: 'checkbox', value: c, checked: defaults.has(c), 'data-testid': `queue-default-${c}` }), ` ${c}`),
    ),
  );
  const to = select('queue-overflow-to');
  replaceChildren(
    to,
    h('option', { value: '', text: t('adm.queue.no_overflow') }),
    ...state.queues.filter((q) => q.name !== queue?.name).map((q) => h('option', { value: q.name, text: q.name })),
  );
  to.value = queue?.overflow?.to || '';
  input('queue-overflow-after').value = queue?.overflow ? String(queue.overflow.after_ms) : '';
  input('queue-wrapup-required').checked = !!queue?.wrapup_required;
  showErrors(form, {});
  form.hidden = false;
  (queue ? input('queue-display-name') : input('queue-name')).focus();
}

/**
 * A number input's value: a number, or the text as typed when it is not one (the
 * server then names the field).
 * @param {string} id
 */
function numberOf(id) {
  const raw = input(id).value.trim();
  const n = Number(raw);
  return raw !== '' && Number.isFinite(n) ? n : raw;
}

/** @param {SubmitEvent} ev */
async function saveQueue(ev) {
  ev.preventDefault();
  const form = byId('queue-form', HTMLFormElement);
  /** @type {Record<string, string>} */
  const errors = {};
  const name = input('queue-name').value.trim();
  if (!name) errors.name = t('adm.required');
  const skills = parseSkills(input('queue-required-skills').value);
  if (!skills.ok) errors.required_skills = skills.error;
  const overflowTo = select('queue-overflow-to').value;
  if (overflowTo && input('queue-overflow-after').value.trim() === '') errors.overflow = t('adm.queue.overflow_after_needed');
  if (Object.keys(errors).length) return showErrors(form, errors);
  const { name: _name, ...kept } = state.editingQueue || {};
  const body = {
    ...kept,
    display_name: input('queue-display-name').value,
    strategy: select('queue-strategy').value,
    priority: numberOf('queue-priority'),
    required_skills: skills.ok ? skills.skills : {},
    offer_timeout_ms: numberOf('queue-offer-timeout'),
    max_waiting: numberOf('queue-max-waiting'),
    default_for: [...byId('queue-default-for').querySelectorAll('input:checked')].map((el) => /** @type {HTMLInputElement} */ (el).value),
    overflow: overflowTo ? { to: overflowTo, after_ms: numberOf('queue-overflow-after') } : null,
    wrapup_required: input('queue-wrapup-required').checked,
  };
  try {
    await api('PUT', `/queues/${encodeURIComponent(name)}`, body);
  } catch (e) {
    return showErrors(form, errorsOf(e));
  }
  form.hidden = true;
  notify('adm.saved', { what: name });
  await reload();
}

// ---- canned responses

async function loadCanned() {
  try {
    state.canned = (await api('GET', '/canned')).canned;
  } catch (e) {
    if (!(e instanceof ApiFailure && e.status === 401)) notify('adm.load_failed');
    return;
  }
  renderCanned();
}

function renderCanned() {
  const rows = state.canned.map((c) =>
    h(
      'tr',
      { dataset: { canned: c.id }, 'data-testid': 'canned-row' },
      h('td', { text: c.title }),
      h('td', { text: c.shortcut ? `/${c.shortcut}` : '' }),
      h('td', { text: c.language }),
      h('td', { text: (c.tags || []).join(', ') }),
      h(
        'td',
        null,
        h('button', { type: 'button', class: 'btn btn--small', 'data-testid': 'canned-edit', text: t('adm.edit'), onclick: () => openCanned(c) }),
        ' ',
        h('button', { type: 'button', class: 'btn btn--small', 'data-testid': 'canned-delete', text: t('adm.delete'), onclick: () => void deleteCanned(c) }),
      ),
    ),
  );
  replaceChildren(byId('canned-body'), ...rows);
}

/** @param {Canned | null} c */
function openCanned(c) {
  state.editingCanned = c;
  const form = byId('canned-form', HTMLFormElement);
  byId('canned-form-title').textContent = c ? t('adm.canned.edit', { title: c.title }) : t('adm.canned.new');
  input('canned-title').value = c?.title || '';
  input('canned-shortcut').value = c?.shortcut || '';
  input('canned-language').value = c?.language || '';
  input('canned-tags').value = (c?.tags || []).join(', ');
  byId('canned-text', HTMLTextAreaElement).value = c?.text || '';
  showErrors(form, {});
  form.hidden = false;
  input('canned-title').focus();
}

/** @param {SubmitEvent} ev */
async function saveCanned(ev) {
  ev.preventDefault();
  const form = byId('canned-form', HTMLFormElement);
  const c = state.editingCanned;
  const body = {
    title: input('canned-title').value,
    text: byId('canned-text', HTMLTextAreaElement).value,
    language: input('canned-language').value.trim(),
    tags: input('canned-tags')
      .value.split(',')
      .map((x) => x.trim())
      .filter(Boolean),
    shortcut: input('canned-shortcut').value.trim() || null,
    ...(c ? { version: c.version } : {}),
  };
  try {
    if (c) await api('PUT', `/canned/${encodeURIComponent(c.id)}`, body);
    else await api('POST', '/canned', body);
  } catch (e) {
    return showErrors(form, errorsOf(e));
  }
  form.hidden = true;
  notify('adm.saved', { what: body.title });
  await loadCanned();
}

/** @param {Canned} c */
async function deleteCanned(c) {
  if (!window.confirm(t('adm.confirm_delete', { what: c.title }))) return;
  try {
    await api('DELETE', `/canned/${encodeURIComponent(c.id)}`);
  } catch (e) {
    notify('adm.failed', { status: e instanceof ApiFailure ? e.status : 0 });
    return;
  }
  notify('adm.deleted', { what: c.title });
  await loadCanned();
}

// ---- the audit log

/** The search the filters say, as a query string (without `before`). */
function auditQuery() {
  const q = new URLSearchParams({ limit: '50' });
  const put = (/** @type {string} */ key, /** @type {string} */ id) => {
    const v = input(id).value.trim();
    if (v) q.set(key, v);
  };
  put('actor', 'audit-actor');
  put('action', 'audit-action');
  put('customer_id', 'audit-customer');
  for (const [key, id] of [
    ['since', 'audit-since'],
    ['until', 'audit-until'],
  ]) {
    const v = input(id).value;
    if (v) q.set(key, String(new Date(v).getTime()));
  }
  return q;
}

/** @param {string} [message] */
function auditError(message) {
  const el = byId('audit-error');
  el.textContent = message || '';
  el.hidden = !message;
}

function renderAudit() {
  const rows = state.audit.map((e) =>
    h(
      'tr',
      { 'data-testid': 'audit-row' },
      h('td', { text: formatDateTime(e.at) }),
      h('td', { 'data-testid': 'audit-row-actor', text: e.actor }),
      h('td', { 'data-testid': 'audit-row-action', text: e.action }),
      h('td', { text: e.customer_id || '' }),
      h('td', { class: 'adm-detail', text: JSON.stringify(e.detail) }),
    ),
  );
  replaceChildren(byId('audit-body'), ...rows);
  byId('audit-empty').hidden = state.audit.length > 0;
}

/**
 * Searches the audit log: a fresh page, or (`before`) the next older one appended.
 * @param {string | null} [before]
 */
async function searchAudit(before = null) {
  const q = auditQuery();
  if (before) q.set('before', before);
  auditError();
  try {
    const page = await api('GET', `/audit?${q}`);
    state.audit = before ? [...state.audit, ...page.entries] : page.entries;
    const older = byId('audit-older');
    older.hidden = !page.next_before;
    older.dataset.before = page.next_before || '';
  } catch (e) {
    auditError(e instanceof ApiFailure ? e.message : t('login.unreachable'));
    return;
  }
  renderAudit();
}

/**
 * Downloads the current search's newest 200 entries as `format` (`csv` or `json`).
 * @param {'csv' | 'json'} format
 */
async function exportAudit(format) {
  const q = auditQuery();
  q.set('format', format);
  q.set('limit', '200');
  auditError();
  try {
    const res = await fetch(`../api/v1/audit?${q}`, { headers: { authorization: `Bearer ${state.session?.token}` } });
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      throw new ApiFailure(res.status, body);
    }
    const url = URL.createObjectURL(await res.blob());
    const a = h('a', { href: url, download: `audit.${format}` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (e) {
    auditError(e instanceof ApiFailure ? e.message : t('login.unreachable'));
  }
}

// ---- the page

async function reload() {
  try {
    const [agents, queues] = await Promise.all([api('GET', '/agents'), api('GET', '/queue-configs')]);
    state.agents = agents;
    state.queues = queues;
  } catch (e) {
    if (e instanceof ApiFailure && e.status === 401) return;
    notify('adm.load_failed');
    return;
  }
  renderAgents();
  renderQueues();
}

/** @param {string} section `agents`, `queues`, `canned`, `wrapup`, `notify`, `survey`, `connectors`, `audit` or `ivr` */
function show(section) {
  byId('section-wrapup').hidden = section !== 'wrapup';
  if (section === 'wrapup') void loadWrapup(state.queues.map((q) => q.name));
  byId('section-notify').hidden = section !== 'notify';
  if (section === 'notify') void loadNotify();
  byId('section-survey').hidden = section !== 'survey';
  if (section === 'survey') void loadSurvey();
  byId('section-connectors').hidden = section !== 'connectors';
  if (section === 'connectors') void loadConnectors();
  byId('section-agents').hidden = section !== 'agents';
  byId('section-queues').hidden = section !== 'queues';
  byId('section-canned').hidden = section !== 'canned';
  byId('section-audit').hidden = section !== 'audit';
  byId('section-ivr').hidden = section !== 'ivr';
  if (section === 'canned') void loadCanned();
  if (section === 'audit') void searchAudit();
  if (section === 'ivr') void loadIvr();
  for (const tab of document.querySelectorAll('.adm-tab')) {
    tab.classList.toggle('btn--primary', /** @type {HTMLElement} */ (tab).dataset.section === section);
  }
}

const login = staffLogin({
  storageKey: 'switchboard.admin.session',
  idField: 'login-id',
  titleKey: 'adm.title',
  client: 'admin',
  refuse: (role) => (role === 'admin' ? null : 'adm.login.not_admin'),
  onSignedIn: (session) => {
    state.session = session;
    byId('me').textContent = session.agent_id;
    document.title = `${t('adm.title')} · Switchboard`;
    show('agents');
    void reload();
  },
});

/** @param {string} [messageKey] */
function logout(messageKey) {
  const token = state.session?.token;
  state.session = null;
  if (token && !messageKey) {
    void fetch('../api/v1/logout', { method: 'POST', headers: { authorization: `Bearer ${token}` } }).catch(() => {});
  }
  byId('agent-form').hidden = true;
  byId('queue-form').hidden = true;
  byId('canned-form').hidden = true;
  byId('wrapup-form').hidden = true;
  byId('notify-form').hidden = true;
  byId('notice').hidden = true;
  resetIvr();
  resetConnectors();
  login.signedOut(messageKey || null);
}

applyTranslations();
for (const b of document.querySelectorAll('.js-lang-toggle')) bindLanguageToggle(/** @type {HTMLElement} */ (b));
onLanguageChange(() => {
  applyTranslations();
  if (state.session) {
    renderAgents();
    renderQueues();
    renderAudit();
    renderCanned();
    renderWrapup();
    renderNotify();
    renderSurveyVersion();
    renderConnectorsText();
  }
});
initWrapup();
initNotify();
initSurvey();
initConnectors();
byId('canned-form').addEventListener('submit', (ev) => void saveCanned(/** @type {SubmitEvent} */ (ev)));
byId('canned-new').addEventListener('click', () => openCanned(null));
byId('canned-cancel').addEventListener('click', () => (byId('canned-form').hidden = true));
byId('audit-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  void searchAudit();
});
byId('audit-older').addEventListener('click', () => void searchAudit(byId('audit-older').dataset.before || null));
byId('audit-csv').addEventListener('click', () => void exportAudit('csv'));
byId('audit-json').addEventListener('click', () => void exportAudit('json'));
byId('agent-form').addEventListener('submit', (ev) => void saveAgent(/** @type {SubmitEvent} */ (ev)));
byId('queue-form').addEventListener('submit', (ev) => void saveQueue(/** @type {SubmitEvent} */ (ev)));
byId('agent-new').addEventListener('click', () => openAgent(null));
byId('queue-new').addEventListener('click', () => openQueue(null));
byId('agent-cancel').addEventListener('click', () => (byId('agent-form').hidden = true));
byId('queue-cancel').addEventListener('click', () => (byId('queue-form').hidden = true));
for (const tab of document.querySelectorAll('.adm-tab')) {
  tab.addEventListener('click', () => show(/** @type {HTMLElement} */ (tab).dataset.section || 'agents'));
}
byId('logout').addEventListener('click', () => logout());
login.resume();

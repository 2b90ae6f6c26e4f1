// admin/notify.js — owns the console's notifications section: the proactive
// notification rules (docs/engagement.md "Proactive notifications"), one per event
// type, listed with `GET /api/v1/notification-rules`, created or replaced with `PUT
// /api/v1/notification-rules/{type}` and deleted with `DELETE`. A rule holds the
// message template per language (ja, en; at least one — the customer's language picks
// it, else the other), the email subject per language, the variables its templates
// may use besides `customer.name`, `customer.id` and `unsubscribe_url`, the channels
// in order of preference, and — when WhatsApp is among them — the approved WhatsApp
// template sent outside the 24-hour window (name, language, parameters).
//
// The server parses every template at save time and saves nothing while one is broken;
// its refusal is one message (no `fields`), shown on the form's own line. The page
// names what it can tell under the field (an empty or malformed event type, no
// template, no channel). A save carries the version it loaded (409 when someone saved
// the rule meanwhile, shown on the form's line).
// Server text is only ever inserted as text.

import { t, getLanguage } from '../shared/i18n.js';
import { h, replaceChildren, byId } from '../shared/dom.js';
import { api, ApiFailure, showErrors, errorsOf, notify } from './app.js';

/**
 * A rule as the API sends and takes it (`Rule`, crates/notify).
 * @typedef {{name: string, language: string, parameters?: string[]}} WhatsappTemplate
 * @typedef {{templates: Record<string, string>, subjects?: Record<string, string>, variables?: string[],
 *   channels: string[], whatsapp_template?: WhatsappTemplate, version?: number}} Rule
 * @typedef {{type: string, rule: Rule}} RuleEntry
 */

/** The languages a template or subject may be in. */
const LANGS = /** @type {const} */ (['ja', 'en']);
/** The channels that can carry a notification (the capability table's column). */
const CHANNELS = ['sms', 'email', 'line', 'messenger', 'whatsapp'];
/** Variables every template may use besides the rule's own. */
const BUILTIN_VARS = ['customer.name', 'customer.id', 'unsubscribe_url'];
/** An event type: what the server's `check_type` takes. */
const TYPE = /^[a-z0-9._-]{1,64}$/;

const state = {
  /** @type {RuleEntry[]} */
  rules: [],
  /** @type {RuleEntry | null} the rule being edited (null: a new one) */
  editing: null,
  /** @type {string[]} the channels in the form's order (checked or not) */
  order: [],
};

const input = (/** @type {string} */ id) => byId(id, HTMLInputElement);
const area = (/** @type {string} */ id) => byId(id, HTMLTextAreaElement);

/** @param {string} text comma- or line-separated */
const splitList = (text) =>
  text
    .split(/[,\n、，]/)
    .map((x) => x.trim())
    .filter(Boolean);

/** Loads the rules and draws the table. */
export async function loadNotify() {
  try {
    state.rules = (await api('GET', '/notification-rules')).rules;
  } catch (e) {
    if (!(e instanceof ApiFailure && e.status === 401)) notify('adm.load_failed');
    return;
  }
  renderNotify();
}

/**
 * The template a reader of the console's language sees first, else the other one.
 * @param {Rule} r
 */
function templateShown(r) {
  const lang = getLanguage() === 'ja' ? 'ja' : 'en';
  return r.templates[lang] ?? r.templates[lang === 'ja' ? 'en' : 'ja'] ?? '';
}

/** Draws the table (and, when the form is open, its language-dependent words). */
export function renderNotify() {
  const rows = state.rules.map((entry) => {
    const r = entry.rule;
    return h(
      'tr',
      { dataset: { type: entry.type }, 'data-testid': 'notify-row' },
      h('td', { 'data-testid': 'notify-row-type', text: entry.type }),
      h('td', { 'data-testid': 'notify-row-channels', text: r.channels.map((c) => t(`channel.${c}`)).join(' → ') }),
      h('td', { 'data-testid': 'notify-row-languages', text: LANGS.filter((l) => l in r.templates).join(', ') }),
      h('td', { 'data-testid': 'notify-row-variables', text: (r.variables || []).join(', ') }),
      h('td', { class: 'adm-notify__text', 'data-testid': 'notify-row-template', text: templateShown(r) }),
      h(
        'td',
        { class: 'adm-notify__buttons' },
        h('button', { type: 'button', class: 'btn btn--small', 'data-testid': 'notify-edit', text: t('adm.edit'), onclick: () => openNotify(entry) }),
        ' ',
        h('button', { type: 'button', class: 'btn btn--small', 'data-testid': 'notify-delete', text: t('adm.delete'), onclick: () => void deleteNotify(entry) }),
      ),
    );
  });
  replaceChildren(byId('notify-body'), ...rows);
  byId('notify-empty').hidden = state.rules.length > 0;
  if (!byId('notify-form').hidden) {
    setTitle();
    renderChannels();
    renderVarsHint();
  }
}

function setTitle() {
  const e = state.editing;
  byId('notify-form-title').textContent = e ? t('adm.notify.edit', { type: e.type }) : t('adm.notify.new');
}

/** The channel list: a checkbox per channel, in preference order, with ↑ and ↓. */
function renderChannels() {
  const checked = new Set(checkedChannels());
  replaceChildren(
    byId('notify-channels'),
    ...state.order.map((c, i) =>
      h(
        'li',
        { class: 'adm-notify__channel', dataset: { channel: c } },
        h(
          'label',
          { class: 'adm-check' },
          h('input', { type: 'checkbox', value: c, checked: checked.has(c), 'data-testid': `notify-channel-${c}` }),
          ` ${t(`channel.${c}`)}`,
        ),
        h('button', {
          type: 'button',
          class: 'btn btn--ghost btn--small',
          'data-testid': `notify-channel-up-${c}`,
          'aria-label': t('adm.notify.move_up', { channel: t(`channel.${c}`) }),
          text: '↑',
          disabled: i === 0,
          onclick: () => moveChannel(i, -1),
        }),
        h('button', {
          type: 'button',
          class: 'btn btn--ghost btn--small',
          'data-testid': `notify-channel-down-${c}`,
          'aria-label': t('adm.notify.move_down', { channel: t(`channel.${c}`) }),
          text: '↓',
          disabled: i === state.order.length - 1,
          onclick: () => moveChannel(i, 1),
        }),
      ),
    ),
  );
}

/** The checked channels, in the list's order. */
function checkedChannels() {
  return [...byId('notify-channels').querySelectorAll('input:checked')].map((el) => /** @type {HTMLInputElement} */ (el).value);
}

/**
 * Moves the channel at `i` one place up (-1) or down (1); what is checked stays.
 * @param {number} i
 * @param {number} by
 */
function moveChannel(i, by) {
  const j = i + by;
  if (j < 0 || j >= state.order.length) return;
  [state.order[i], state.order[j]] = [state.order[j], state.order[i]];
  renderChannels();
  // Keep the keyboard on the channel that moved.
  const moved = state.order[j];
  const button = byId('notify-channels').querySelector(`[data-testid="notify-channel-${by < 0 ? 'up' : 'down'}-${moved}"]`);
  if (button instanceof HTMLButtonElement && !button.disabled) button.focus();
}

/** The placeholders the templates may use now: the built-in ones and the form's variables. */
function renderVarsHint() {
  const vars = [...BUILTIN_VARS, ...splitList(input('notify-variables').value)];
  byId('notify-template-hint').textContent = t('adm.notify.template_hint', { vars: vars.map((v) => `{{${v}}}`).join(', ') });
}

/** @param {RuleEntry | null} entry */
function openNotify(entry) {
  state.editing = entry;
  const form = byId('notify-form', HTMLFormElement);
  const r = entry?.rule;
  input('notify-type').value = entry?.type || '';
  input('notify-type').readOnly = !!entry;
  for (const l of LANGS) {
    area(`notify-template-${l}`).value = r?.templates[l] ?? '';
    input(`notify-subject-${l}`).value = r?.subjects?.[l] ?? '';
  }
  input('notify-variables').value = (r?.variables || []).join(', ');
  const chosen = r?.channels || [];
  state.order = [...chosen, ...CHANNELS.filter((c) => !chosen.includes(c))];
  // Check boxes by what the rule says: draw with none, then tick its channels.
  replaceChildren(byId('notify-channels'));
  renderChannels();
  for (const el of byId('notify-channels').querySelectorAll('input')) {
    const box = /** @type {HTMLInputElement} */ (el);
    box.checked = chosen.includes(box.value);
  }
  const wa = r?.whatsapp_template;
  input('notify-whatsapp-name').value = wa?.name || '';
  input('notify-whatsapp-language').value = wa?.language || '';
  area('notify-whatsapp-parameters').value = (wa?.parameters || []).join('\n');
  setTitle();
  renderVarsHint();
  showErrors(form, {});
  form.hidden = false;
  (entry ? area('notify-template-ja') : input('notify-type')).focus();
}

/** @param {SubmitEvent} ev */
async function saveNotify(ev) {
  ev.preventDefault();
  const form = byId('notify-form', HTMLFormElement);
  /** @type {Record<string, string>} */
  const errors = {};
  const type = input('notify-type').value.trim();
  if (!type) errors.type = t('adm.required');
  else if (!TYPE.test(type)) errors.type = t('adm.notify.type_bad');
  else if (!state.editing && state.rules.some((r) => r.type === type)) errors.type = t('adm.notify.type_taken');
  /** @type {Record<string, string>} */
  const templates = {};
  /** @type {Record<string, string>} */
  const subjects = {};
  for (const l of LANGS) {
    const text = area(`notify-template-${l}`).value;
    if (text.trim()) templates[l] = text;
    const subject = input(`notify-subject-${l}`).value;
    if (subject.trim()) subjects[l] = subject;
  }
  if (!Object.keys(templates).length) errors.templates = t('adm.notify.template_needed');
  const channels = checkedChannels();
  if (!channels.length) errors.channels = t('adm.notify.channel_needed');
  if (Object.keys(errors).length) return showErrors(form, errors);
  const waName = input('notify-whatsapp-name').value.trim();
  const waLanguage = input('notify-whatsapp-language').value.trim();
  const waParameters = area('notify-whatsapp-parameters')
    .value.split('\n')
    .map((p) => p.trim())
    .filter(Boolean);
  /** @type {Rule} */
  const body = {
    templates,
    subjects,
    variables: splitList(input('notify-variables').value),
    channels,
    // The version the form loaded (0: a new rule): someone's save in between is a 409.
    version: state.editing?.rule.version ?? (state.editing ? 1 : 0),
    // Sent when anything of it is filled in (the server says what is missing).
    ...(waName || waLanguage || waParameters.length ? { whatsapp_template: { name: waName, language: waLanguage, parameters: waParameters } } : {}),
  };
  try {
    await api('PUT', `/notification-rules/${encodeURIComponent(type)}`, body);
  } catch (e) {
    return showErrors(form, errorsOf(e));
  }
  form.hidden = true;
  notify('adm.saved', { what: type });
  await loadNotify();
}

/** @param {RuleEntry} entry */
async function deleteNotify(entry) {
  if (!window.confirm(t('adm.confirm_delete', { what: entry.type }))) return;
  try {
    await api('DELETE', `/notification-rules/${encodeURIComponent(entry.type)}`);
  } catch (e) {
    notify('adm.failed', { status: e instanceof ApiFailure ? e.status : 0 });
    return;
  }
  if (state.editing?.type === entry.type) byId('notify-form').hidden = true;
  notify('adm.deleted', { what: entry.type });
  await loadNotify();
}

/** Wires the section's buttons and form (once, at load). */
export function initNotify() {
  byId('notify-form').addEventListener('submit', (ev) => void saveNotify(/** @type {SubmitEvent} */ (ev)));
  byId('notify-new').addEventListener('click', () => openNotify(null));
  byId('notify-cancel').addEventListener('click', () => (byId('notify-form').hidden = true));
  byId('notify-variables').addEventListener('input', renderVarsHint);
}

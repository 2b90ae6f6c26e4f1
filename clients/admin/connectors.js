// admin/connectors.js — owns the console's connectors section: the channel connectors'
// settings in force (`[channels]`, docs/channels.md "Editing connector settings"), read
// with `GET /api/v1/connectors` and changed with `PUT` carrying the version it started
// from (409 when someone saved meanwhile: the form says so and asks for a reload). The
// form is drawn from the JSON as answered, whatever keys it has: the top-level values in
// a "General" card, then one card per connector in the order answered, each with its
// on/off state as a read-only badge (switching a connector on or off is a settings-file
// change, refused live); strings, numbers and booleans as inputs, nested objects as
// groups of their own, lists as JSON text. Secrets arrive masked (`{set, hint}`) and
// are write-only: an always-empty password input whose placeholder says whether one is
// set (and its last four characters), typed only to replace it; nothing of a secret's
// value is ever in the page. A save sends only what changed, as a partial document of
// nested objects; nothing changed, nothing is sent. Bad fields are named under their
// inputs — the page's own checks (JSON that does not parse, a number field left empty)
// before sending, nothing sent while any fails; the server's `fields` (400) after —
// and a refusal of the whole document (`settings`) on the form's own line.

import { t, has } from '../shared/i18n.js';
import { h, replaceChildren, byId } from '../shared/dom.js';
import { api, ApiFailure, showErrors, errorsOf, notify } from './app.js';

/**
 * A secret as the server answers it: whether it is set and, for a long one, its last
 * four characters (`"…abcd"`).
 * @typedef {{set: boolean, hint: string | null}} MaskedSecret
 */

/**
 * The settings in force (`GET /api/v1/connectors`, and `PUT`'s answer).
 * @typedef {{settings: Record<string, unknown>, version: number, saved_by: string, saved_at: number}} ConnectorsConfig
 */

/**
 * One editable setting as drawn: its dotted path, how it is edited, the value loaded
 * (for a secret, its masked form) and its input. `nullable`: an empty text means none
 * (`null`).
 * @typedef {{path: string, kind: 'text' | 'number' | 'bool' | 'json' | 'secret', original: unknown, nullable: boolean,
 *   el: HTMLInputElement | HTMLTextAreaElement}} Field
 */

/** @type {ConnectorsConfig | null} */
let loaded = null;
/** @type {Field[]} the inputs of the form drawn from `loaded` */
let fields = [];

/**
 * @param {unknown} v
 * @returns {v is Record<string, unknown>}
 */
const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Whether `v` is a masked secret (`{set, hint}` and nothing else).
 * @param {unknown} v
 * @returns {v is MaskedSecret}
 */
function isSecret(v) {
  if (!isObject(v)) return false;
  const keys = Object.keys(v);
  return keys.length === 2 && typeof v.set === 'boolean' && 'hint' in v && (v.hint === null || typeof v.hint === 'string');
}

/** A queue setting (`queue`, `email_queue`) is optional: empty means none. */
const QUEUE_KEY = /(^|_)queue$/;

/** @param {MaskedSecret} s */
const secretPlaceholder = (s) =>
  s.set ? (s.hint ? t('adm.conn.secret_set_hint', { hint: s.hint }) : t('adm.conn.secret_set')) : t('adm.conn.secret_unset');

/** Loads the settings in force and draws the form (unsaved edits are dropped). */
export async function loadConnectors() {
  try {
    loaded = /** @type {ConnectorsConfig} */ (await api('GET', '/connectors'));
  } catch (e) {
    if (!(e instanceof ApiFailure && e.status === 401)) notify('adm.load_failed');
    return;
  }
  render();
}

/** Forgets what was loaded (at sign-out): no settings stay in the page. */
export function resetConnectors() {
  loaded = null;
  fields = [];
  replaceChildren(byId('conn-cards'));
  byId('conn-version').textContent = '';
  showErrors(byId('conn-form', HTMLFormElement), {});
  status(null);
}

/** The texts that depend on values (the version line, the secrets' placeholders), in the current language. */
export function renderConnectorsText() {
  if (!loaded) return;
  byId('conn-version').textContent =
    loaded.version === 0 ? t('adm.conn.from_file') : t('adm.conn.version', { version: loaded.version, by: loaded.saved_by });
  for (const f of fields) {
    if (f.kind === 'secret') f.el.placeholder = secretPlaceholder(/** @type {MaskedSecret} */ (f.original));
  }
}

function render() {
  if (!loaded) return;
  fields = [];
  const entries = Object.entries(loaded.settings);
  // A top-level object is a connector (or a group such as `media`); everything else,
  // the top-level secrets too, is General.
  const general = entries.filter(([, v]) => !isObject(v) || isSecret(v));
  const connectors = entries.filter(([, v]) => isObject(v) && !isSecret(v));
  replaceChildren(
    byId('conn-cards'),
    general.length ? card('general', h('h3', { 'data-i18n': 'adm.conn.general', text: t('adm.conn.general') }), null, general, '') : null,
    connectors.map(([name, v]) => {
      const key = `adm.conn.name.${name}`;
      const title = has(key) ? h('h3', { 'data-i18n': key, text: t(key) }) : h('h3', { text: name });
      return card(name, title, name, Object.entries(/** @type {Record<string, unknown>} */ (v)), name);
    }),
  );
  renderConnectorsText();
  showErrors(byId('conn-form', HTMLFormElement), {});
  status(null);
}

/**
 * A card: its title, the `[channels.name]` table it is, its on/off badge, its fields.
 * @param {string} id
 * @param {HTMLElement} title
 * @param {string | null} table
 * @param {[string, unknown][]} entries
 * @param {string} prefix the dotted path of the card's values ('' for the top level)
 */
function card(id, title, table, entries, prefix) {
  return h(
    'section',
    { class: 'adm-conn-card', 'data-testid': `conn-card-${id}` },
    h('div', { class: 'adm-conn-card__head' }, title, table && h('code', { class: 'adm-conn-card__table', text: `[channels.${table}]` })),
    onOff(entries, prefix),
    h('div', { class: 'adm-grid' }, inputsOf(entries, prefix)),
  );
}

/**
 * The read-only on/off badge of a group with a boolean `enabled`, the hint that it is
 * the settings file's, and the line for the server's refusal to switch it.
 * @param {[string, unknown][]} entries
 * @param {string} prefix
 */
function onOff(entries, prefix) {
  const enabled = entries.find(([k, v]) => k === 'enabled' && typeof v === 'boolean');
  if (!enabled) return null;
  const on = enabled[1] === true;
  const path = join(prefix, 'enabled');
  const key = on ? 'adm.conn.on' : 'adm.conn.off';
  return h(
    'div',
    { class: 'adm-conn-card__state' },
    h('span', { class: `badge adm-conn-badge adm-conn-badge--${on ? 'on' : 'off'}`, 'data-testid': `conn-enabled-${prefix}`, 'data-i18n': key, text: t(key) }),
    ' ',
    h('span', { class: 'adm-hint', 'data-i18n': 'adm.conn.enabled_hint', text: t('adm.conn.enabled_hint') }),
    errorLine(path),
  );
}

/**
 * @param {string} prefix
 * @param {string} key
 */
const join = (prefix, key) => (prefix ? `${prefix}.${key}` : key);

/** @param {string} path */
const errorLine = (path) => h('p', { class: 'adm-error', 'data-error': path, 'data-testid': `conn-error-${path}`, hidden: true });

/**
 * The inputs of `entries` (the `enabled` switch is the badge's).
 * @param {[string, unknown][]} entries
 * @param {string} prefix
 * @returns {HTMLElement[]}
 */
function inputsOf(entries, prefix) {
  /** @type {HTMLElement[]} */
  const out = [];
  for (const [key, value] of entries) {
    const path = join(prefix, key);
    if (key === 'enabled' && typeof value === 'boolean') continue;
    if (isSecret(value)) out.push(secretInput(path, key, value));
    else if (isObject(value) && Object.keys(value).length) out.push(group(path, key, value));
    else if (Array.isArray(value) || isObject(value)) out.push(jsonInput(path, key, value));
    else if (typeof value === 'boolean') out.push(checkbox(path, key, value));
    else if (typeof value === 'number') out.push(numberInput(path, key, value));
    else out.push(textInput(path, key, value === null || value === undefined ? null : String(value), value === null || QUEUE_KEY.test(key)));
  }
  return out;
}

/**
 * A nested object (`voice.softphone`, `email.relay`): its values as inputs of their own,
 * so that a secret inside is write-only like any other.
 * @param {string} path
 * @param {string} key
 * @param {Record<string, unknown>} value
 */
function group(path, key, value) {
  const entries = Object.entries(value);
  return h(
    'fieldset',
    { class: 'field adm-wide adm-conn-group', 'data-testid': `conn-group-${path}` },
    h('legend', { class: 'adm-conn__key', text: key }),
    onOff(entries, path),
    h('div', { class: 'adm-grid' }, inputsOf(entries, path)),
  );
}

/**
 * @param {Field} field
 * @param {string} key
 * @param {...import('../shared/dom.js').Child} after hints and the like, under the input
 */
function labelled(field, key, ...after) {
  fields.push(field);
  return h(
    'div',
    { class: field.kind === 'json' ? 'field adm-wide' : 'field' },
    h('label', { class: 'adm-conn__key', for: field.el.id, text: key }),
    field.el,
    after,
    errorLine(field.path),
  );
}

/**
 * @param {string} path
 * @param {string} key
 * @param {string | null} value
 * @param {boolean} nullable
 */
function textInput(path, key, value, nullable) {
  const el = h('input', {
    id: `conn-f-${path}`,
    class: 'input',
    autocomplete: 'off',
    autocapitalize: 'off',
    spellcheck: 'false',
    value: value ?? '',
    'data-testid': `conn-field-${path}`,
    ...(nullable ? { 'data-i18n-placeholder': 'adm.conn.none', placeholder: t('adm.conn.none') } : {}),
  });
  return labelled({ path, kind: 'text', original: value, nullable, el }, key);
}

/**
 * @param {string} path
 * @param {string} key
 * @param {number} value
 */
function numberInput(path, key, value) {
  const el = h('input', { id: `conn-f-${path}`, class: 'input adm-conn__num', type: 'number', step: 'any', value: String(value), 'data-testid': `conn-field-${path}` });
  return labelled({ path, kind: 'number', original: value, nullable: false, el }, key);
}

/**
 * @param {string} path
 * @param {string} key
 * @param {boolean} value
 */
function checkbox(path, key, value) {
  const el = h('input', { id: `conn-f-${path}`, type: 'checkbox', checked: value, 'data-testid': `conn-field-${path}` });
  fields.push({ path, kind: 'bool', original: value, nullable: false, el });
  return h('div', { class: 'field adm-conn__bool' }, h('label', { class: 'adm-check' }, el, ' ', h('span', { class: 'adm-conn__key', text: key })), errorLine(path));
}

/**
 * A list (or an empty object) as JSON text.
 * @param {string} path
 * @param {string} key
 * @param {unknown} value
 */
function jsonInput(path, key, value) {
  const text = JSON.stringify(value, null, 2);
  const rows = Math.min(12, Math.max(2, text.split('\n').length));
  const el = h('textarea', { id: `conn-f-${path}`, class: 'input adm-textarea adm-conn__json', rows: String(rows), spellcheck: 'false', 'data-testid': `conn-field-${path}`, text });
  return labelled({ path, kind: 'json', original: value, nullable: false, el }, key, h('p', { class: 'adm-hint', 'data-i18n': 'adm.conn.json_hint', text: t('adm.conn.json_hint') }));
}

/**
 * A secret: write-only, so always empty; the placeholder says whether one is set.
 * @param {string} path
 * @param {string} key
 * @param {MaskedSecret} value
 */
function secretInput(path, key, value) {
  const el = h('input', {
    id: `conn-f-${path}`,
    class: 'input',
    type: 'password',
    autocomplete: 'new-password',
    spellcheck: 'false',
    placeholder: secretPlaceholder(value),
    'data-testid': `conn-secret-${path}`,
  });
  return labelled({ path, kind: 'secret', original: value, nullable: false, el }, key, h('p', { class: 'adm-hint', 'data-i18n': 'adm.conn.secret_hint', text: t('adm.conn.secret_hint') }));
}

/**
 * What a field now says: whether it differs from what was loaded, and its value — or
 * why it cannot be sent.
 * @param {Field} f
 * @returns {{changed: boolean, value?: unknown} | {error: string}}
 */
function read(f) {
  const el = f.el;
  switch (f.kind) {
    case 'secret':
      return { changed: el.value !== '', value: el.value };
    case 'bool':
      return { changed: /** @type {HTMLInputElement} */ (el).checked !== f.original, value: /** @type {HTMLInputElement} */ (el).checked };
    case 'number': {
      const raw = el.value.trim();
      const n = Number(raw);
      if (raw === '' || !Number.isFinite(n)) return { error: t('adm.conn.number_bad') };
      return { changed: n !== f.original, value: n };
    }
    case 'json': {
      let value;
      try {
        value = JSON.parse(el.value);
      } catch (e) {
        return { error: t('adm.conn.json_bad', { error: e instanceof Error ? e.message : String(e) }) };
      }
      return { changed: JSON.stringify(value) !== JSON.stringify(f.original), value };
    }
    default: {
      const text = el.value;
      if (text === (f.original ?? '')) return { changed: false };
      return { changed: true, value: f.nullable && text === '' ? null : text };
    }
  }
}

/**
 * Sets `value` at the dotted `path` of `doc`, making the objects on the way.
 * @param {Record<string, unknown>} doc
 * @param {string} path
 * @param {unknown} value
 */
function put(doc, path, value) {
  const keys = path.split('.');
  let at = doc;
  for (const k of keys.slice(0, -1)) {
    if (!isObject(at[k])) at[k] = {};
    at = /** @type {Record<string, unknown>} */ (at[k]);
  }
  at[keys[keys.length - 1]] = value;
}

/**
 * Shows `errors` (dotted path or `settings` -> message): each under its input (a path
 * inside a field's value, e.g. `voice.menu.0`, under that field); `settings`, `_form`
 * and paths the form has no input for on the form's line. Clears the others.
 * @param {Record<string, string>} errors
 */
function showFieldErrors(errors) {
  const form = byId('conn-form', HTMLFormElement);
  const slots = new Set([...form.querySelectorAll('[data-error]')].map((el) => /** @type {HTMLElement} */ (el).dataset.error));
  /** @type {Record<string, string>} */
  const placed = {};
  /** @type {string[]} */
  const rest = [];
  for (const [key, message] of Object.entries(errors)) {
    let at = key;
    while (at && (at === '_form' || !slots.has(at))) at = at.includes('.') ? at.slice(0, at.lastIndexOf('.')) : '';
    if (at) placed[at] = placed[at] ? `${placed[at]} ${message}` : message;
    else rest.push(key === '_form' || key === 'settings' ? message : `${key}: ${message}`);
  }
  if (rest.length) placed._form = rest.join(' ');
  showErrors(form, placed);
  const first = /** @type {HTMLElement | null} */ (form.querySelector('.adm-conn__cards .adm-error:not([hidden])'));
  first?.scrollIntoView({ block: 'center' });
}

/**
 * The note beside the buttons (a string key, kept translatable), or none.
 * @param {string | null} key
 */
function status(key) {
  const el = byId('conn-status');
  if (key) {
    el.dataset.i18n = key;
    el.textContent = t(key);
  } else {
    delete el.dataset.i18n;
    el.textContent = '';
  }
  el.hidden = !key;
}

/** @param {SubmitEvent} ev */
async function save(ev) {
  ev.preventDefault();
  if (!loaded) return;
  status(null);
  /** @type {Record<string, string>} */
  const errors = {};
  /** @type {Record<string, unknown>} */
  const changes = {};
  let changed = 0;
  for (const f of fields) {
    const r = read(f);
    if ('error' in r) errors[f.path] = r.error;
    else if (r.changed) {
      put(changes, f.path, r.value);
      changed += 1;
    }
  }
  if (Object.keys(errors).length) return showFieldErrors(errors);
  showFieldErrors({});
  if (!changed) return status('adm.conn.nothing');
  const button = byId('conn-save', HTMLButtonElement);
  button.disabled = true;
  try {
    loaded = /** @type {ConnectorsConfig} */ (await api('PUT', '/connectors', { version: loaded.version, settings: changes }));
  } catch (e) {
    if (e instanceof ApiFailure && e.status === 409) return showFieldErrors({ _form: t('adm.conn.conflict') });
    return showFieldErrors(errorsOf(e));
  } finally {
    button.disabled = false;
  }
  render();
  notify('adm.saved', { what: t('adm.conn') });
}

/** Wires the form (once, at load). */
export function initConnectors() {
  byId('conn-form').addEventListener('submit', (ev) => void save(/** @type {SubmitEvent} */ (ev)));
  byId('conn-reload').addEventListener('click', () => void loadConnectors());
}

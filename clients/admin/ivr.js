// admin/ivr.js — owns the admin console's IVR section (#section-ivr): the menu tree the
// phone IVR and the web chat's visual IVR share (docs/ivr.md), edited as a tree. It
// loads the current version (`GET /api/v1/ivr/versions`, then `…/versions/{n}`) and the
// queues for the pickers (`GET /api/v1/queue-configs`); shows each menu as a card (id,
// prompt in Japanese and English, options with key, labels, spoken phrases, action and
// its target, required skills for queue and chat options); checks the edited tree
// (`PUT /api/v1/ivr?dry_run=true`) and saves it as a new version (`PUT /api/v1/ivr`
// with the version it started from: 409 `conflict` when someone else saved meanwhile);
// previews the unsaved tree as the web chat shows it, in the console's language; lists
// the versions and restores any of them as a new one (`POST …/versions/{n}/restore`).
//
// Edits live in a working copy whose menus and options carry stable ids of their own
// (`uid`), so renaming a menu keeps every option that goes to it, and a field error
// the server names by index (`menus[0].options[1].key`) stays on its field however
// the tree is edited afterwards. What the page can tell (an empty label, a key used
// twice, a skill list that does not parse) is marked too, but only the server decides:
// a tree it accepts is valid. Every string is from ./strings.js (the preview's Back and
// Start over are the chat's own, shared/i18n.js); labels, prompts and server text are
// only ever inserted as text.

import { t, getLanguage, onLanguageChange, formatDateTime } from '../shared/i18n.js';
import { h, replaceChildren, byId } from '../shared/dom.js';
import { api, ApiFailure, parseSkills, formatSkills } from './app.js';

// ---- the tree as the API sends and takes it (docs/ivr.md)

/** @typedef {{ ja: string, en: string }} Text  a prompt or label in both languages */

/**
 * What choosing an option does (serde's externally tagged enum).
 * @typedef {'repeat' | 'back' | { menu: string } | { queue: string } | { chat: string } | { callback: string | null } | { article: string }} Action
 */

/** @typedef {{ key: string | null, phrases: string[], label: Text, action: Action, skills?: Record<string, number> }} TreeOption */
/** @typedef {{ id: string, prompt: Text, options: TreeOption[] }} TreeMenu */
/** @typedef {{ root: string, menus: TreeMenu[] }} Tree */

/**
 * A version as `GET /api/v1/ivr/versions` lists it.
 * @typedef {{ version: number, saved_at: number, saved_by: string, note: string | null, restored_from: number | null }} VersionInfo
 */
/** @typedef {VersionInfo & { tree: Tree }} VersionEntry  one version with its tree */

// ---- the working copy

const KINDS = /** @type {const} */ (['menu', 'queue', 'chat', 'callback', 'article', 'repeat', 'back']);
/** @typedef {typeof KINDS[number]} Kind */

/** The telephone keys an option may have, in the order a new option takes them. */
const KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '0', '*', '#'];
const MENU_ID = /^[a-z0-9_-]{1,32}$/;

/**
 * An option being edited: `target` is a menu's uid (`menu`), a queue name (`queue`,
 * `chat`; `callback`, where '' is the default queue) or an article id; `phrases` and
 * `skills` are the text of their inputs.
 * @typedef {{ uid: string, key: string, phrases: string, label: Text, kind: Kind, target: string, skills: string }} EditOption
 */
/** @typedef {{ uid: string, id: string, prompt: Text, options: EditOption[] }} EditMenu */

/** @typedef {() => string} Say  a message, worded again in the language of the moment */

let uids = 0;
const uid = (/** @type {string} */ prefix) => `#${prefix}${++uids}`;

const st = {
  /** bumped by every load, so a slow answer for an older one is dropped */
  seq: 0,
  loaded: false,
  busy: false,
  /** @type {number | null} the version the edits started from (sent back as `version`) */
  version: null,
  /** @type {number | null} the server's current version, as last listed */
  current: null,
  /** @type {VersionInfo[]} newest first */
  versions: [],
  /** @type {{ name: string, display_name?: string }[]} */
  queues: [],
  /** @type {EditMenu[]} */
  menus: [],
  /** the root menu's uid */
  root: '',
  /** the tree as loaded (JSON), to tell unsaved edits */
  saved: '',
  /** @type {Map<string, Say>} field errors by `uid|field` (`root`, `tree`) */
  errors: new Map(),
  /** @type {Say | null} the general error line */
  general: null,
  /** @type {Say | null} the status line */
  status: null,
  /** @type {string[]} the preview's walk: menu uids, root first */
  walk: [],
  /** @type {string | null} the uid of the exit option the preview last chose */
  exit: null,
};

/** @param {Partial<Text> | null | undefined} x */
const text = (x) => ({ ja: String(x?.ja ?? ''), en: String(x?.en ?? '') });

/** @param {string} s */
const splitPhrases = (s) =>
  s
    .split(/[,、，]/)
    .map((p) => p.trim())
    .filter(Boolean);

/**
 * @param {Action} a
 * @param {Map<string, string>} uidOfId
 * @returns {{ kind: Kind, target: string }}
 */
function editAction(a, uidOfId) {
  if (a === 'repeat' || a === 'back') return { kind: a, target: '' };
  if (a && typeof a === 'object') {
    if ('menu' in a) return { kind: 'menu', target: uidOfId.get(a.menu) || '' };
    if ('queue' in a) return { kind: 'queue', target: a.queue || '' };
    if ('chat' in a) return { kind: 'chat', target: a.chat || '' };
    if ('callback' in a) return { kind: 'callback', target: a.callback || '' };
    if ('article' in a) return { kind: 'article', target: a.article || '' };
  }
  return { kind: 'repeat', target: '' };
}

/**
 * Makes `tree` the working copy.
 * @param {Tree} tree
 */
function edit(tree) {
  const menus = Array.isArray(tree.menus) ? tree.menus : [];
  /** @type {Map<string, string>} */
  const uidOfId = new Map();
  const muids = menus.map((m) => {
    const u = uid('m');
    if (!uidOfId.has(m.id)) uidOfId.set(m.id, u);
    return u;
  });
  st.menus = menus.map((m, i) => ({
    uid: muids[i],
    id: String(m.id ?? ''),
    prompt: text(m.prompt),
    options: (Array.isArray(m.options) ? m.options : []).map((o) => ({
      uid: uid('o'),
      key: o.key == null ? '' : String(o.key),
      phrases: (o.phrases || []).join(', '),
      label: text(o.label),
      ...editAction(o.action, uidOfId),
      skills: formatSkills(o.skills || {}),
    })),
  }));
  st.root = uidOfId.get(tree.root) || st.menus[0]?.uid || '';
}

/** @param {string} u */
const menuByUid = (u) => st.menus.find((m) => m.uid === u);

/**
 * @param {EditOption} o
 * @returns {Action}
 */
function actionOf(o) {
  switch (o.kind) {
    case 'menu':
      return { menu: menuByUid(o.target)?.id.trim() ?? '' };
    case 'queue':
      return { queue: o.target };
    case 'chat':
      return { chat: o.target };
    case 'callback':
      return { callback: o.target || null };
    case 'article':
      return { article: o.target.trim() };
    case 'repeat':
    case 'back':
      return o.kind;
  }
}

/**
 * The working copy as the API takes it, with the uids at each index (to place the
 * server's field errors) and whether some skill list does not parse (then it is not
 * sent).
 */
function snapshot() {
  let unparsed = false;
  /** @type {Tree} */
  const tree = {
    root: menuByUid(st.root)?.id.trim() ?? '',
    menus: st.menus.map((m) => ({
      id: m.id.trim(),
      prompt: { ja: m.prompt.ja.trim(), en: m.prompt.en.trim() },
      options: m.options.map((o) => {
        /** @type {TreeOption} */
        const out = {
          key: o.key || null,
          phrases: splitPhrases(o.phrases),
          label: { ja: o.label.ja.trim(), en: o.label.en.trim() },
          action: actionOf(o),
        };
        const skills = parseSkills(o.skills);
        if (!skills.ok) unparsed = true;
        else if (Object.keys(skills.skills).length) out.skills = skills.skills;
        return out;
      }),
    })),
  };
  return { tree, menus: st.menus.map((m) => m.uid), options: st.menus.map((m) => m.options.map((o) => o.uid)), unparsed };
}
/** @typedef {ReturnType<typeof snapshot>} Snapshot */

const isDirty = () => st.loaded && JSON.stringify(snapshot().tree) !== st.saved;

/**
 * What the page can tell is wrong, by `uid|field` — the same rules the server applies
 * (docs/ivr.md "Validation"), so it never refuses what the server would take.
 * @returns {Map<string, Say>}
 */
function localErrors() {
  /** @type {Map<string, Say>} */
  const out = new Map();
  const ids = new Set();
  for (const m of st.menus) {
    const id = m.id.trim();
    if (!MENU_ID.test(id)) out.set(`${m.uid}|id`, () => t('adm.ivr.err.id'));
    else if (ids.has(id)) out.set(`${m.uid}|id`, () => t('adm.ivr.err.id_twice', { id }));
    ids.add(id);
    if (!m.options.length) out.set(`${m.uid}|`, () => t('adm.ivr.err.no_options'));
    const keys = new Set();
    for (const o of m.options) {
      const at = (/** @type {string} */ field) => `${o.uid}|${field}`;
      if (!o.label.ja.trim() || !o.label.en.trim()) out.set(at('label'), () => t('adm.ivr.err.label'));
      if (o.key) {
        const key = o.key;
        if (keys.has(key)) out.set(at('key'), () => t('adm.ivr.err.key', { key }));
        keys.add(key);
      }
      if (o.kind === 'menu' && !menuByUid(o.target)) out.set(at('action'), () => t('adm.ivr.err.menu'));
      if ((o.kind === 'queue' || o.kind === 'chat') && !o.target) out.set(at('action'), () => t('adm.ivr.err.queue'));
      if (o.kind === 'article' && !o.target.trim()) out.set(at('action'), () => t('adm.ivr.err.article'));
      const skills = parseSkills(o.skills);
      if (!skills.ok) {
        const error = skills.error;
        out.set(at('skills'), () => error);
      }
    }
  }
  if (!menuByUid(st.root)) out.set('root', () => t('adm.ivr.err.root'));
  return out;
}

/**
 * The `uid|field` key of a server error path (`menus[i].options[j].key`), by the
 * indexes of the tree that was sent; null for a path no field shows.
 * @param {string} path
 * @param {Snapshot | null} sent
 */
function keyOfPath(path, sent) {
  if (path === 'root' || path === 'tree') return path;
  const m = /^menus\[(\d+)\](?:\.(id|prompt)|\.options\[(\d+)\](?:\.(key|label|phrases|action|skills))?)?$/.exec(path);
  if (!m || !sent) return null;
  const menu = sent.menus[Number(m[1])];
  if (!menu) return null;
  if (m[3] === undefined) return `${menu}|${m[2] || ''}`;
  const option = sent.options[Number(m[1])]?.[Number(m[3])];
  return option ? `${option}|${m[4] || ''}` : null;
}

/**
 * The path of a `uid|field` key in the tree as it is now (what `data-path` says).
 * @param {string} key
 */
function pathOf(key) {
  const bar = key.indexOf('|');
  if (bar < 0) return key;
  const u = key.slice(0, bar);
  const field = key.slice(bar + 1);
  const tail = field ? `.${field}` : '';
  for (const [i, m] of st.menus.entries()) {
    if (m.uid === u) return `menus[${i}]${tail}`;
    const j = m.options.findIndex((o) => o.uid === u);
    if (j >= 0) return `menus[${i}].options[${j}]${tail}`;
  }
  return key;
}

// ---- requests

/**
 * The error body of a failure: `{code, message, fields}`, at the top or under `error`.
 * @param {ApiFailure} e
 * @returns {{ code?: string, message?: string, fields?: Record<string, string> }}
 */
function errorBody(e) {
  const inner = /** @type {Record<string, unknown>} */ (e.body || {}).error;
  return inner && typeof inner === 'object' ? /** @type {{ code?: string, message?: string, fields?: Record<string, string> }} */ (inner) : e.body || {};
}

/** @param {VersionEntry} entry */
const infoOf = (entry) => ({
  version: entry.version,
  saved_at: entry.saved_at,
  saved_by: entry.saved_by,
  note: entry.note,
  restored_from: entry.restored_from,
});

/**
 * Starts editing `tree` (from version `version`; null: there is none yet).
 * @param {Tree} tree
 * @param {number | null} version
 */
function loadTree(tree, version) {
  st.seq += 1;
  edit(tree);
  st.version = version;
  st.saved = JSON.stringify(snapshot().tree);
  st.walk = [st.root];
  st.exit = null;
  st.errors = new Map();
  st.general = null;
  st.loaded = true;
}

/**
 * A version the server just made (a save or a restore) is current.
 * @param {VersionEntry} entry
 */
function remember(entry) {
  st.current = entry.version;
  st.versions = [infoOf(entry), ...st.versions.filter((v) => v.version !== entry.version)];
}

/** @param {{ current?: number | null, versions?: VersionInfo[] }} list */
function applyList(list) {
  st.current = list.current ?? null;
  st.versions = Array.isArray(list.versions) ? list.versions : [];
}

async function refreshVersions() {
  try {
    applyList(await api('GET', '/ivr/versions'));
  } catch {
    return; // the list shown stays; the next load retries
  }
  renderVersions();
}

/** An empty tree to start from when none exists. */
const blankTree = () => ({ root: 'main', menus: [{ id: 'main', prompt: { ja: '', en: '' }, options: [] }] });

/**
 * Loads the versions, the queues and (unless there are unsaved edits, or `force`) the
 * current tree.
 * @param {boolean} force
 */
async function load(force) {
  const seq = ++st.seq;
  try {
    const [list, queues] = await Promise.all([api('GET', '/ivr/versions'), api('GET', '/queue-configs').catch(() => null)]);
    if (seq !== st.seq) return;
    applyList(list);
    if (Array.isArray(queues)) st.queues = queues;
    if (force || !isDirty()) {
      if (st.current === null) loadTree(blankTree(), null);
      else {
        /** @type {VersionEntry} */
        const entry = await api('GET', `/ivr/versions/${st.current}`);
        if (seq !== st.seq) return;
        loadTree(entry.tree, entry.version);
      }
      st.status = null;
    } else if (st.current !== st.version) {
      const n = st.current;
      st.general = () => t('adm.ivr.newer', { n });
    }
  } catch (e) {
    if (seq !== st.seq || (e instanceof ApiFailure && e.status === 401)) return;
    st.general = () => t('adm.ivr.load_failed');
  }
  renderAll();
}

/**
 * Loads the IVR section: the versions, the queues and, unless the admin has unsaved
 * edits, the current tree. Called each time the section is shown.
 */
export function loadIvr() {
  return load(false);
}

/** Forgets everything (sign-out): the next admin starts from the server's tree. */
export function resetIvr() {
  st.seq += 1;
  st.loaded = false;
  setBusy(false);
  st.version = null;
  st.current = null;
  st.versions = [];
  st.menus = [];
  st.root = '';
  st.saved = '';
  st.errors = new Map();
  st.general = null;
  st.status = null;
  byId('ivr-note', HTMLInputElement).value = '';
  replaceChildren(byId('ivr-menus'));
  replaceChildren(byId('ivr-preview'));
  replaceChildren(byId('ivr-versions-body'));
  renderVersionLabel();
  renderMessages();
  byId('ivr-dirty').hidden = true;
}

/** @param {boolean} busy */
function setBusy(busy) {
  st.busy = busy;
  for (const id of ['ivr-check', 'ivr-save', 'ivr-reload']) byId(id, HTMLButtonElement).disabled = busy;
  for (const b of document.querySelectorAll('#ivr-versions-body [data-testid="ivr-restore"]')) /** @type {HTMLButtonElement} */ (b).disabled = busy;
}

/**
 * Shows why a request failed: field errors (the server's over the page's own), a
 * conflict, or the server's message.
 * @param {unknown} e
 * @param {Snapshot | null} sent
 * @param {Map<string, Say>} local
 */
function failed(e, sent, local) {
  st.status = null;
  if (!(e instanceof ApiFailure)) {
    st.errors = new Map();
    st.general = () => t('login.unreachable');
    return;
  }
  if (e.status === 401) return;
  const body = errorBody(e);
  if (e.status !== 400) st.errors = new Map(); // what an earlier check said may be stale
  if (e.status === 409 || body.code === 'conflict') {
    st.general = () => t('adm.ivr.conflict');
    void refreshVersions();
    return;
  }
  if (e.status === 400) {
    const errors = new Map(local);
    /** @type {string[]} */
    const elsewhere = [];
    for (const [path, message] of Object.entries(body.fields || {})) {
      const key = keyOfPath(path, sent);
      if (key) errors.set(key, () => String(message));
      else elsewhere.push(`${path}: ${message}`);
    }
    st.errors = errors;
    // Field errors say it better than the server's summary of them.
    const lead = body.fields || errors.size ? null : body.message;
    st.general = () => [lead || t('adm.ivr.invalid'), ...elsewhere].join(' ');
    return;
  }
  const message = body.message;
  const status = e.status;
  st.general = () => message || t('adm.failed', { status });
}

/**
 * Check (`dryRun`) or save the working copy.
 * @param {boolean} dryRun
 */
async function submit(dryRun) {
  if (st.busy || !st.loaded) return;
  const sent = snapshot();
  const local = localErrors();
  if (sent.unparsed) {
    st.errors = local;
    st.general = () => t('adm.ivr.invalid');
    st.status = null;
    renderMessages();
    return;
  }
  const note = byId('ivr-note', HTMLInputElement);
  st.general = null;
  st.status = () => t(dryRun ? 'adm.ivr.checking' : 'adm.ivr.saving');
  renderMessages();
  setBusy(true);
  let saved = false;
  try {
    const res = await api('PUT', dryRun ? '/ivr?dry_run=true' : '/ivr', { version: st.version, tree: sent.tree, note: note.value.trim() });
    st.errors = new Map();
    if (dryRun) st.status = () => t('adm.ivr.valid');
    else {
      /** @type {VersionEntry} */
      const entry = res;
      note.value = '';
      loadTree(entry.tree, entry.version);
      remember(entry);
      st.status = () => t('adm.ivr.saved', { n: entry.version });
      saved = true;
      void refreshVersions();
    }
  } catch (e) {
    failed(e, sent, local);
  } finally {
    setBusy(false);
  }
  if (saved) renderAll();
  else renderMessages();
}

/**
 * Makes version `n` current again (as a new version) and edits it.
 * @param {number} n
 */
async function restore(n) {
  if (st.busy) return;
  if (isDirty() && !window.confirm(t('adm.ivr.discard'))) return;
  st.general = null;
  st.status = () => t('adm.ivr.restoring', { n });
  renderMessages();
  setBusy(true);
  try {
    /** @type {VersionEntry} */
    const entry = await api('POST', `/ivr/versions/${n}/restore`, { version: st.current });
    loadTree(entry.tree, entry.version);
    remember(entry);
    st.status = () => t('adm.ivr.restored', { n, m: entry.version });
    void refreshVersions();
  } catch (e) {
    failed(e, null, new Map());
    renderMessages();
    return;
  } finally {
    setBusy(false);
  }
  renderAll();
}

function reloadIvr() {
  if (st.busy) return;
  if (isDirty() && !window.confirm(t('adm.ivr.discard'))) return;
  void load(true);
}

// ---- the editor

/** Something was edited: the preview and the unsaved-changes mark follow. */
function changed() {
  renderPreview();
  byId('ivr-dirty').hidden = !isDirty();
}

/**
 * An error line for the field `key` (`uid|field`); paintErrors() fills it.
 * @param {string} key
 * @param {string} [extra] another class
 */
const errorSlot = (key, extra) =>
  h('p', { class: `adm-error${extra ? ` ${extra}` : ''}`, 'data-err-key': key, 'data-testid': 'ivr-field-error', hidden: true });

/**
 * A text input showing `value` that reports each edit to `set`.
 * @param {string} value
 * @param {(v: string) => void} set
 * @param {Record<string, string>} attrs
 */
function textInput(value, set, attrs) {
  const el = h('input', { class: 'input', ...attrs });
  el.value = value;
  el.addEventListener('input', () => set(el.value));
  return el;
}

/**
 * A <select> of `choices` ([value, label]) showing `value`.
 * @param {[string, string][]} choices
 * @param {string} value
 * @param {Record<string, string>} attrs
 */
function selectOf(choices, value, attrs) {
  const el = h('select', { class: 'select', ...attrs }, choices.map(([v, label]) => h('option', { value: v, text: label })));
  el.value = value;
  return el;
}

/**
 * A menu picker's choices: every menu by its id, and "choose" while `selected` is none.
 * @param {HTMLSelectElement} el
 * @param {string} selected a menu uid
 */
function fillMenuPicker(el, selected) {
  const known = !!menuByUid(selected);
  replaceChildren(
    el,
    known ? null : h('option', { value: '', text: t('adm.ivr.choose_menu') }),
    st.menus.map((m) => h('option', { value: m.uid, text: m.id.trim() || t('adm.ivr.unnamed') })),
  );
  el.value = known ? selected : '';
}

/** @param {{ name: string, display_name?: string }} q */
const queueLabel = (q) => (q.display_name && q.display_name !== q.name ? `${q.name} — ${q.display_name}` : q.name);

/**
 * The target control of an option: a menu, a queue or an article id.
 * @param {EditOption} o
 */
function targetControl(o) {
  const attrs = { 'data-testid': 'ivr-opt-target', 'aria-label': t('adm.ivr.opt.target') };
  switch (o.kind) {
    case 'menu': {
      const el = h('select', { class: 'select', ...attrs, 'data-menu-picker': '' });
      fillMenuPicker(el, o.target);
      el.addEventListener('change', () => {
        o.target = el.value;
        changed();
      });
      return el;
    }
    case 'queue':
    case 'chat':
    case 'callback': {
      /** @type {[string, string][]} */
      const choices = st.queues.map((q) => [q.name, queueLabel(q)]);
      if (o.target && !st.queues.some((q) => q.name === o.target)) choices.unshift([o.target, o.target]);
      if (o.kind === 'callback') choices.unshift(['', t('adm.ivr.default_queue')]);
      else if (!o.target) choices.unshift(['', t('adm.ivr.choose_queue')]);
      const el = selectOf(choices, o.target, attrs);
      el.addEventListener('change', () => {
        o.target = el.value;
        changed();
      });
      return el;
    }
    case 'article':
      return textInput(o.target, (v) => ((o.target = v), changed()), { ...attrs, autocapitalize: 'off', spellcheck: 'false', placeholder: t('adm.ivr.article_placeholder') });
    case 'repeat':
    case 'back':
      return selectOf([['', '—']], '', { ...attrs, disabled: '' });
  }
}

/**
 * The target an option gets when its action becomes `kind`.
 * @param {EditMenu} m the option's menu
 * @param {EditOption} o the option, still with its old kind and target
 * @param {Kind} kind
 */
function defaultTarget(m, o, kind) {
  const queued = (/** @type {Kind} */ k) => k === 'queue' || k === 'chat' || k === 'callback';
  if (kind === 'menu') return st.menus.find((x) => x.uid !== m.uid)?.uid || '';
  if (queued(kind)) {
    if (queued(o.kind) && o.target) return o.target;
    return kind === 'callback' ? '' : st.queues[0]?.name || '';
  }
  return '';
}

/**
 * One option's row.
 * @param {EditMenu} m
 * @param {EditOption} o
 */
function optionRow(m, o) {
  const row = h('div', { class: 'adm-ivr-opt', 'data-testid': 'ivr-option-row', 'data-uid': o.uid });
  const cell = (/** @type {HTMLElement} */ control) => h('div', { class: 'adm-ivr-opt__cell' }, control);
  // A field's error line goes under the row, from its column on (style.css).
  const slot = (/** @type {string} */ field) => errorSlot(`${o.uid}|${field}`, `adm-ivr-opt__error adm-ivr-opt__error--${field || 'option'}`);

  /** @type {[string, string][]} */
  const keys = [['', t('adm.ivr.no_key')], ...KEYS.map((k) => /** @type {[string, string]} */ ([k, k]))];
  if (o.key && !KEYS.includes(o.key)) keys.push([o.key, o.key]);
  const key = selectOf(keys, o.key, { 'data-testid': 'ivr-opt-key', 'aria-label': t('adm.ivr.opt.key') });
  key.addEventListener('change', () => {
    o.key = key.value;
    changed();
  });

  const kind = selectOf(
    KINDS.map((k) => /** @type {[string, string]} */ ([k, t(`adm.ivr.kind.${k}`)])),
    o.kind,
    { 'data-testid': 'ivr-opt-action', 'aria-label': t('adm.ivr.opt.action') },
  );
  kind.addEventListener('change', () => {
    const next = /** @type {Kind} */ (kind.value);
    o.target = defaultTarget(m, o, next);
    o.kind = next;
    const fresh = optionRow(m, o);
    row.replaceWith(fresh);
    /** @type {HTMLElement | null} */ (fresh.querySelector('[data-testid="ivr-opt-action"]'))?.focus();
    paintErrors();
    changed();
  });

  const showSkills = o.kind === 'queue' || o.kind === 'chat' || !!o.skills.trim();
  replaceChildren(
    row,
    cell(key),
    cell(textInput(o.label.ja, (v) => ((o.label.ja = v), changed()), { 'data-testid': 'ivr-opt-label-ja', 'aria-label': t('adm.ivr.opt.label_ja'), lang: 'ja' })),
    cell(textInput(o.label.en, (v) => ((o.label.en = v), changed()), { 'data-testid': 'ivr-opt-label-en', 'aria-label': t('adm.ivr.opt.label_en'), lang: 'en' })),
    cell(
      textInput(o.phrases, (v) => ((o.phrases = v), changed()), {
        'data-testid': 'ivr-opt-phrases',
        'aria-label': t('adm.ivr.opt.phrases'),
        placeholder: t('adm.ivr.opt.phrases_placeholder'),
      }),
    ),
    cell(kind),
    cell(targetControl(o)),
    cell(
      h('button', {
        type: 'button',
        class: 'btn btn--small btn--danger',
        'data-testid': 'ivr-opt-remove',
        'aria-label': t('adm.ivr.opt.remove_label'),
        text: t('adm.ivr.opt.remove'),
        onclick: () => {
          m.options = m.options.filter((x) => x !== o);
          row.remove();
          paintErrors();
          changed();
        },
      }),
    ),
    slot('key'),
    slot('label'),
    slot('phrases'),
    slot('action'),
    showSkills
      ? h(
          'label',
          { class: 'adm-ivr-opt__skills' },
          h('span', { text: t('adm.ivr.opt.skills') }),
          textInput(o.skills, (v) => ((o.skills = v), changed()), {
            'data-testid': 'ivr-opt-skills',
            spellcheck: 'false',
            placeholder: t('adm.skills.placeholder'),
          }),
        )
      : null,
    showSkills ? slot('skills') : null,
    slot(''),
  );
  return row;
}

/** The next telephone key no option of `m` has yet ('' when all are taken). */
const freeKey = (/** @type {EditMenu} */ m) => KEYS.find((k) => !m.options.some((o) => o.key === k)) || '';

/**
 * One menu's card.
 * @param {EditMenu} m
 */
function menuCard(m) {
  const card = h('div', { class: 'adm-ivr-menu', 'data-testid': `ivr-menu-${m.id.trim()}`, dataset: { uid: m.uid, menu: m.id.trim() } });
  const id = textInput(
    m.id,
    (v) => {
      m.id = v;
      card.dataset.testid = `ivr-menu-${v.trim()}`;
      card.dataset.menu = v.trim();
      refreshPickers();
      changed();
    },
    { 'data-testid': 'ivr-menu-id', autocapitalize: 'off', spellcheck: 'false' },
  );
  const rows = h('div', { class: 'adm-ivr-menu__options' }, m.options.map((o) => optionRow(m, o)));
  const prompt = (/** @type {'ja' | 'en'} */ lang) =>
    h(
      'label',
      { class: 'adm-ivr-field' },
      h('span', { text: t(`adm.ivr.prompt_${lang}`) }),
      textInput(m.prompt[lang], (v) => ((m.prompt[lang] = v), changed()), { 'data-testid': `ivr-prompt-${lang}`, lang }),
    );
  replaceChildren(
    card,
    h(
      'div',
      { class: 'adm-ivr-menu__head' },
      h('label', { class: 'adm-ivr-field adm-ivr-menu__id' }, h('span', { text: t('adm.ivr.menu.id') }), id),
      h('span', { class: 'badge badge--soft adm-ivr-menu__root', 'data-testid': 'ivr-menu-is-root', text: t('adm.ivr.menu.root'), hidden: m.uid !== st.root }),
      h('button', {
        type: 'button',
        class: 'btn btn--small btn--danger',
        'data-testid': 'ivr-menu-remove',
        text: t('adm.ivr.menu.remove'),
        onclick: () => removeMenu(m),
      }),
    ),
    errorSlot(`${m.uid}|id`),
    h('div', { class: 'adm-ivr-menu__prompt' }, prompt('ja'), prompt('en')),
    errorSlot(`${m.uid}|prompt`),
    h(
      'div',
      { class: 'adm-ivr-opt adm-ivr-opt--head', 'aria-hidden': 'true' },
      ['key', 'label_ja', 'label_en', 'phrases', 'action', 'target'].map((k) => h('span', { text: t(`adm.ivr.opt.${k}`) })),
      h('span'),
    ),
    rows,
    errorSlot(`${m.uid}|`),
    h('button', {
      type: 'button',
      class: 'btn btn--small',
      'data-testid': 'ivr-add-option',
      text: t('adm.ivr.add_option'),
      onclick: () => {
        const kind = st.queues.length ? 'chat' : 'repeat';
        /** @type {EditOption} */
        const o = { uid: uid('o'), key: freeKey(m), phrases: '', label: { ja: '', en: '' }, kind, target: kind === 'chat' ? st.queues[0].name : '', skills: '' };
        m.options.push(o);
        const row = optionRow(m, o);
        rows.append(row);
        /** @type {HTMLElement | null} */ (row.querySelector('[data-testid="ivr-opt-label-ja"]'))?.focus();
        paintErrors();
        changed();
      },
    }),
  );
  return card;
}

/** @param {EditMenu} m */
function removeMenu(m) {
  st.menus = st.menus.filter((x) => x !== m);
  if (st.root === m.uid) st.root = st.menus[0]?.uid || '';
  renderRoot();
  byId('ivr-menus').querySelector(`[data-uid="${CSS.escape(m.uid)}"]`)?.remove();
  refreshPickers();
  paintErrors();
  changed();
}

function addMenu() {
  let n = st.menus.length + 1;
  while (st.menus.some((m) => m.id.trim() === `menu${n}`)) n += 1;
  /** @type {EditMenu} */
  const m = { uid: uid('m'), id: `menu${n}`, prompt: { ja: '', en: '' }, options: [] };
  st.menus.push(m);
  if (!st.root) st.root = m.uid;
  const card = menuCard(m);
  byId('ivr-menus').append(card);
  renderRoot();
  refreshPickers();
  paintErrors();
  changed();
  /** @type {HTMLElement | null} */ (card.querySelector('[data-testid="ivr-menu-id"]'))?.focus();
}

/** The menu names changed: every menu picker and the root select follow. */
function refreshPickers() {
  for (const el of document.querySelectorAll('#ivr-menus select[data-menu-picker]')) {
    const sel = /** @type {HTMLSelectElement} */ (el);
    fillMenuPicker(sel, sel.value);
  }
  renderRoot();
}

function renderRoot() {
  const el = byId('ivr-root', HTMLSelectElement);
  fillMenuPicker(el, st.root);
  for (const card of document.querySelectorAll('#ivr-menus .adm-ivr-menu')) {
    const badge = /** @type {HTMLElement | null} */ (card.querySelector('.adm-ivr-menu__root'));
    if (badge) badge.hidden = /** @type {HTMLElement} */ (card).dataset.uid !== st.root;
  }
}

function renderMenus() {
  replaceChildren(byId('ivr-menus'), st.menus.map(menuCard));
}

/** Fills every field error line, and the general and status lines. */
function paintErrors() {
  for (const node of document.querySelectorAll('#section-ivr [data-err-key]')) {
    const el = /** @type {HTMLElement} */ (node);
    const key = el.dataset.errKey || '';
    const path = pathOf(key);
    el.dataset.path = path;
    el.dataset.error = path;
    const message = st.errors.get(key);
    el.textContent = message ? message() : '';
    el.hidden = !message;
  }
}

function renderMessages() {
  paintErrors();
  const error = byId('ivr-error');
  error.textContent = st.general ? st.general() : '';
  error.hidden = !st.general;
  const status = byId('ivr-status');
  status.textContent = st.status ? st.status() : '';
  status.hidden = !st.status;
}

function renderVersionLabel() {
  const el = byId('ivr-version');
  el.dataset.version = st.version === null ? '' : String(st.version);
  el.textContent = st.version === null ? t('adm.ivr.no_tree') : t('adm.ivr.version', { n: st.version });
}

// ---- the preview

/** @param {Text} x a label or prompt in the console's language, else the other */
const say = (x) => (getLanguage() === 'ja' ? x.ja.trim() || x.en.trim() : x.en.trim() || x.ja.trim());

/** @param {EditOption} o an exit option: where it leads */
function exitText(o) {
  switch (o.kind) {
    case 'chat':
      return t('adm.ivr.exit.chat', { queue: o.target || '?' });
    case 'queue':
      return t('adm.ivr.exit.queue', { queue: o.target || '?' });
    case 'callback':
      return o.target ? t('adm.ivr.exit.callback', { queue: o.target }) : t('adm.ivr.exit.callback_default');
    case 'article':
      return t('adm.ivr.exit.article', { id: o.target.trim() || '?' });
    case 'menu':
    case 'repeat':
    case 'back':
      return t('adm.ivr.exit.no_menu');
  }
}

/** @param {EditOption} o the option the preview's visitor chose */
function previewChoose(o) {
  st.exit = null;
  if (o.kind === 'menu') {
    if (!menuByUid(o.target)) st.exit = o.uid;
    else {
      const i = st.walk.indexOf(o.target);
      st.walk = i >= 0 ? st.walk.slice(0, i + 1) : [...st.walk, o.target];
    }
  } else if (o.kind === 'back') {
    if (st.walk.length > 1) st.walk = st.walk.slice(0, -1);
  } else if (o.kind !== 'repeat') st.exit = o.uid;
  renderPreview();
}

function renderPreview() {
  const el = byId('ivr-preview');
  if (st.walk[0] !== st.root) {
    st.walk = [st.root];
    st.exit = null;
  }
  const gone = st.walk.findIndex((u) => !menuByUid(u));
  if (gone > 0) {
    st.walk = st.walk.slice(0, gone);
    st.exit = null;
  }
  const m = menuByUid(st.walk[st.walk.length - 1]);
  if (!m) {
    replaceChildren(el, h('p', { class: 'adm-hint', text: t('adm.ivr.preview.empty') }));
    return;
  }
  const chosen = m.options.find((o) => o.uid === st.exit) || null;
  if (!chosen) st.exit = null;
  const deeper = st.walk.length > 1 || !!chosen;
  replaceChildren(
    el,
    h('p', { class: 'adm-ivr-preview__path', 'data-testid': 'ivr-preview-path', text: st.walk.map((u) => menuByUid(u)?.id.trim() || '?').join(' › ') }),
    h('p', { class: 'adm-ivr-preview__title', 'data-testid': 'ivr-preview-prompt', text: say(m.prompt) || t('ivr.title') }),
    h(
      'div',
      { class: 'adm-ivr-preview__options' },
      m.options.map((o) =>
        h(
          'button',
          {
            type: 'button',
            class: `btn adm-ivr-preview__option${o === chosen ? ' is-chosen' : ''}`,
            'data-testid': 'ivr-preview-option',
            onclick: () => previewChoose(o),
          },
          o.key ? h('span', { class: 'adm-ivr-preview__key', text: o.key }) : null,
          h('span', { class: 'adm-ivr-preview__label', text: say(o.label) || '—' }),
          o.kind === 'queue' ? h('span', { class: 'badge badge--soft', text: t('adm.ivr.preview.phone_only') }) : null,
        ),
      ),
    ),
    chosen ? h('p', { class: 'adm-ivr-preview__exit', 'data-testid': 'ivr-preview-exit', text: exitText(chosen) }) : null,
    deeper
      ? h(
          'div',
          { class: 'adm-ivr-preview__nav' },
          h('button', {
            type: 'button',
            class: 'btn btn--small btn--ghost',
            'data-testid': 'ivr-preview-back',
            text: t('ivr.back'),
            onclick: () => {
              if (st.exit) st.exit = null;
              else st.walk = st.walk.slice(0, -1);
              renderPreview();
            },
          }),
          h('button', {
            type: 'button',
            class: 'btn btn--small btn--ghost',
            'data-testid': 'ivr-preview-home',
            text: t('ivr.home'),
            onclick: () => {
              st.walk = [st.root];
              st.exit = null;
              renderPreview();
            },
          }),
        )
      : null,
  );
}

// ---- the versions

function renderVersions() {
  const rows = st.versions.map((v) =>
    h(
      'tr',
      { 'data-testid': 'ivr-version-row', dataset: { version: String(v.version) }, class: v.version === st.current ? 'adm-ivr-current' : undefined },
      h('td', { 'data-testid': 'ivr-version-number', text: String(v.version) }),
      h('td', { text: v.saved_at ? formatDateTime(v.saved_at) : '—' }),
      h('td', { text: v.saved_by || '' }),
      h('td', { 'data-testid': 'ivr-version-note', text: v.note || '' }),
      h('td', { 'data-testid': 'ivr-version-restored', text: v.restored_from == null ? '' : t('adm.ivr.restored_from', { n: v.restored_from }) }),
      h(
        'td',
        null,
        v.version === st.current
          ? h('span', { class: 'badge badge--soft', 'data-testid': 'ivr-version-current', text: t('adm.ivr.current') })
          : h('button', {
              type: 'button',
              class: 'btn btn--small',
              'data-testid': 'ivr-restore',
              disabled: st.busy,
              text: t('adm.ivr.restore'),
              onclick: () => void restore(v.version),
            }),
      ),
    ),
  );
  replaceChildren(byId('ivr-versions-body'), ...rows);
  byId('ivr-versions-empty').hidden = !st.loaded || st.versions.length > 0;
}

function renderAll() {
  if (!st.loaded) {
    renderMessages();
    return;
  }
  renderVersionLabel();
  renderMenus();
  renderRoot();
  renderPreview();
  renderVersions();
  renderMessages();
  byId('ivr-dirty').hidden = !isDirty();
}

byId('ivr-root', HTMLSelectElement).addEventListener('change', () => {
  st.root = byId('ivr-root', HTMLSelectElement).value;
  renderRoot();
  changed();
});
byId('ivr-add-menu').addEventListener('click', () => {
  if (st.loaded) addMenu();
});
byId('ivr-check').addEventListener('click', () => void submit(true));
byId('ivr-save').addEventListener('click', () => void submit(false));
byId('ivr-reload').addEventListener('click', reloadIvr);
onLanguageChange(() => renderAll());

// supervisor/app.js — owns the Switchboard supervisor dashboard: its session (sign-in
// through ../shared/staff-login.js; agents are turned away, the role must be supervisor
// or admin), the `/ws/supervisor` session (a `snapshot`, then `delta`s, each
// acknowledged with `ack` so the server's flow-control window keeps moving; a `resync`
// snapshot after falling behind), the queue filter (`subscribe`), the live queue
// tiles (with the calls agents are in on each queue, by phase), the live waiting chart,
// the agent table with the supervisor actions (REST) and, for an agent talking on a
// phone call, Listen / Whisper (`POST /api/v1/voice/listen`: the supervisor's own phone
// rings into the call, muted or heard by the agent only; one request at a time per
// agent, its outcome a notice), the overdue replies (`response_overdue` pushes, newest
// first, each with a Watch button), the history chart from `GET /api/v1/reports` ("no
// data" when the server has none or no reports API), the self-service funnel of the
// same period (`GET /api/v1/reports/funnel`: a row per entry point), the "what if"
// replay of that period (`POST /api/v1/simulations`: what happened, the queue as
// configured now and two proposals side by side), and the engine nodes from `GET
// /api/v1/cluster` (polled: each node's role, lease, reachability and the keys it
// holds; one active engine and standbys, or spread placement's members and their
// shards).
//
// Charts are drawn by uPlot (vendor/, window.uPlot); numbers by Intl; every string by
// shared/i18n.js (+ ./strings.js). Server text is only ever inserted as text.

import './strings.js';
import {
  t,
  applyTranslations,
  bindLanguageToggle,
  onLanguageChange,
  formatDuration,
  getLanguage,
} from '../shared/i18n.js';
import { ReconnectingSocket, wsUrl } from '../shared/ws.js';
import { h, replaceChildren, reconcile, byId } from '../shared/dom.js';
import { staffLogin, sessionExpired } from '../shared/staff-login.js';

/** @import { StaffSession } from '../shared/staff-login.js' */
/** @import { SocketState } from '../shared/ws.js' */
/** @import uPlot from 'uplot' */

// ---- the frames (docs/protocol.md, "Supervisor socket"), as far as the page reads them

/**
 * QueueLive.
 * @typedef {object} QueueLive
 * @property {string} queue
 * @property {string} [display_name]
 * @property {number} waiting
 * @property {number | null} [oldest_enqueued_at]
 * @property {Record<string, number>} agents  by state
 * @property {number | null} [occupancy]
 * @property {number} slots_in_use
 * @property {number} slots_available
 * @property {Record<string, number>} offers  offered, accepted, rejected, timed_out, rescinded
 * @property {Interval} [interval]
 * @property {number | null} [ewt_seconds]
 * @property {CallCounts} [calls]  the calls agents are in on this queue's conversations (absent: none)
 */

/**
 * Live calls of a queue, by phase.
 * @typedef {object} CallCounts
 * @property {number} [ringing]
 * @property {number} [talking]
 * @property {number} [on_hold]
 * @property {number} [wrap_up]
 */

/**
 * The current interval's figures of a queue.
 * @typedef {object} Interval
 * @property {number} offered
 * @property {number} answered
 * @property {number} sl_threshold_seconds
 * @property {number | null} [service_level]
 * @property {number | null} [asa_seconds]
 * @property {number | null} [wait_p90_seconds]
 * @property {number | null} [abandonment_rate]
 * @property {number} [responses_within_target]
 * @property {number} [responses_overdue]
 * @property {number | null} [response_sla]
 */

/**
 * `response_overdue`: a reply's response-time target passed (docs/api.md "Response times").
 * @typedef {object} ResponseAlert
 * @property {string} queue
 * @property {string} conversation_id
 * @property {string} customer_id
 * @property {string} [agent_id]  absent while it waits or is parked
 * @property {string} state
 * @property {boolean} first
 * @property {number} target_ms
 * @property {number} since  server clock, Unix ms
 * @property {number} at  server clock, Unix ms
 */

/**
 * AgentLive.
 * @typedef {object} AgentLive
 * @property {string} agent_id
 * @property {string} display_name
 * @property {string} state  available | busy | away | offline
 * @property {string} [reason]
 * @property {string[]} [queues]
 * @property {number} work
 * @property {number} slots_in_use
 * @property {number} slots_total
 * @property {number} since  server clock, Unix ms
 * @property {AgentCall} [call]  the call (browser or phone) the agent is in
 */

/**
 * An agent's call: a browser call, or a phone call (`phone`).
 * @typedef {object} AgentCall
 * @property {string} conversation_id
 * @property {string} media  audio | video
 * @property {string} phase  ringing | talking | on_hold | wrap_up (phone calls; on_hold: the caller is on hold)
 * @property {number} since  server clock, Unix ms: when it reached `phase`
 * @property {boolean} [phone]  a phone call (PSTN) the agent holds
 * @property {string} [queue]  the queue of the call's conversation
 */

/**
 * `snapshot` (replaces the model) and `delta` (changed records).
 * @typedef {object} Push
 * @property {number} seq
 * @property {number} server_time
 * @property {QueueLive[]} [queues]
 * @property {AgentLive[]} [agents]
 * @property {string[] | null} [queues_filter]  snapshot
 * @property {string} [reason]  snapshot: connect | subscribe | resync
 */

/**
 * An event of a watched conversation (a TimelineEvent, as far as shown here).
 * @typedef {{ type: string, text?: string, agent_id?: string, conversation_id?: string }} WatchEvent
 */

/**
 * The figures of one replay (or of what happened), `POST /api/v1/simulations`.
 * @typedef {object} SimFigures
 * @property {number} contacts
 * @property {number} answered
 * @property {number} abandoned
 * @property {number | null} service_level
 * @property {number | null} asa_ms
 * @property {number | null} wait_p90_ms
 * @property {number | null} abandon_rate
 * @property {number | null} occupancy
 * @property {string} [label]
 * @property {number} [agents]
 */

/**
 * @typedef {object} SimulationAnswer
 * @property {number} threshold_seconds
 * @property {SimFigures} actual
 * @property {{ presence: number, first_answer: number }} shifts_from  where the agents' shifts came from
 * @property {SimFigures[]} runs
 */

/**
 * An entry row of `GET /api/v1/reports/funnel`.
 * @typedef {object} FunnelEntry
 * @property {string} channel
 * @property {string} front  bot | voice_ivr | visual_ivr | none
 * @property {number} contacts
 * @property {number} contained
 * @property {number} handed_off
 * @property {number} switched_channel
 * @property {number} resolved
 * @property {number | null} fcr_rate
 * @property {number} abandoned
 * @property {number} open
 */

/**
 * A row of `GET /api/v1/reports`.
 * @typedef {object} ReportRow
 * @property {number} bucket_start  Unix ms
 * @property {number} [offered]
 * @property {number} [handled]
 * @property {number} [abandoned]
 * @property {number | null} [service_level]
 */

/**
 * A member of `GET /api/v1/cluster` (docs/api.md).
 * @typedef {object} ClusterMember
 * @property {string} name
 * @property {number} incarnation
 * @property {string} address
 * @property {boolean} live
 * @property {number} expires_in_ms
 * @property {boolean} this
 * @property {string[]} holds
 * @property {{ reachable: boolean, rtt_ms?: number, clock_offset_ms?: number, error?: string } | null} ping
 */

/**
 * A lease of `GET /api/v1/cluster`.
 * @typedef {{ key: string, holder: string, epoch: number, live: boolean }} ClusterLease
 */

/**
 * `GET /api/v1/cluster`: `placement` `spread` with `shards`, or `single` (one active
 * engine and standbys).
 * @typedef {{ placement?: string, shards?: number | null, members: ClusterMember[], leases: ClusterLease[] }} ClusterView
 */

/** The lease of the active engine (docs/cluster.md). */
const ACTIVE_KEY = 'singleton/active-engine';
/** How often the engine nodes are read again. */
const CLUSTER_POLL_MS = 3000;
/** Keys listed per node before "+n more". */
const KEYS_SHOWN = 8;

/** Live chart: one point a second, the last 10 minutes. */
const LIVE_POINTS = 600;
const SERIES_COLOURS = ['#2f5bd3', '#16876a', '#c8365a', '#7b4fd0', '#d2691e', '#0a7cff', '#06a24b', '#a86a00'];
const AGENT_STATES = ['available', 'busy', 'away', 'offline'];
/** A queue's live calls, by phase, in the order a tile lists them. */
const CALL_PHASES = /** @type {const} */ (['ringing', 'talking', 'on_hold', 'wrap_up']);
/** The phases of a phone call a supervisor can listen in on or whisper into. */
const LISTEN_PHASES = ['talking', 'on_hold'];
/** Overdue replies listed, newest first. */
const OVERDUE_SHOWN = 20;

const $ = byId;

const state = {
  /** @type {StaffSession | null} */
  session: null,
  /** server_time - Date.now() at the last push. */
  skew: 0,
  /** @type {Map<string, QueueLive>} queue name -> live record */
  queues: new Map(),
  /** @type {Map<string, AgentLive>} agent id -> live record */
  agents: new Map(),
  /** @type {Set<string>} every queue name seen with no filter, for the filter and "move to" lists */
  allQueues: new Set(),
  filter: '',
  /** @type {{ phase: SocketState['phase'] }} */
  conn: { phase: 'connecting' },
  /** Live chart samples: times (s) and per-queue waiting counts. */
  samples: newSamples(),
  lastSeq: 0,
  /** @type {string | null} the conversation followed live, if any */
  watching: null,
  /** @type {ReportRow[] | null} the history shown (null: none) */
  historyRows: null,
  /** @type {FunnelEntry[] | null} the funnel shown (null: none) */
  funnel: null,
  /** @type {SimulationAnswer | null} the last replay shown (null: none) */
  simulation: null,
  /** @type {ClusterView | null} the engine nodes last read */
  cluster: null,
  /** @type {string | null} why the last read of the nodes failed */
  clusterError: null,
  /** @type {ResponseAlert[]} overdue replies seen on this socket, newest first */
  overdue: [],
  /** @type {Set<string>} agents whose call a listen or whisper request is on its way for */
  listening: new Set(),
};

/** @type {ReconnectingSocket | null} */
let socket = null;
/** @type {uPlot | null} */
let liveChart = null;
let liveChartKey = '';
/** @type {uPlot | null} */
let historyChart = null;
/** @type {number | undefined} */
let tickTimer = undefined;
/** @type {number | undefined} */
let clusterTimer = undefined;

const login = staffLogin({
  storageKey: 'switchboard.supervisor.session',
  idField: 'login-id',
  client: 'supervisor',
  titleKey: 'sup.subtitle',
  // An agent account signs in fine but is told this page is not for it.
  refuse: (role) => (role === 'supervisor' || role === 'admin' ? null : 'sup.login.not_supervisor'),
  onSignedIn: startSession,
});

/** @returns {{ t: number[], byQueue: Map<string, (number | null)[]> }} */
function newSamples() {
  return { t: [], byQueue: new Map() };
}

const serverNow = () => Date.now() + state.skew;
const locale = () => (getLanguage() === 'ja' ? 'ja-JP' : 'en-US');
/** @param {number | null | undefined} v a ratio */
const pct = (v) =>
  v == null ? t('sup.none') : new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: 0 }).format(v);
/** @param {number | null | undefined} v seconds */
const secs = (v) => (v == null ? t('sup.none') : formatDuration(v * 1000));
/** @param {number | null | undefined} v */
const int = (v) => new Intl.NumberFormat(locale()).format(v || 0);

// ---------------------------------------------------------------------------------
// Session
// ---------------------------------------------------------------------------------

/** @param {StaffSession} session */
function startSession(session) {
  state.session = session;
  $('me').textContent = session.agent_id;
  document.title = `${t('sup.subtitle')} · Switchboard`;
  socket = new ReconnectingSocket({
    url: () => wsUrl('../ws/supervisor', { token: session.token, queues: state.filter }),
    readyType: 'snapshot',
    onState: (s) => {
      state.conn = s;
      renderConnection();
      if (s.phase === 'reconnecting' && sessionExpired(state.session, serverNow())) logout('login.expired');
    },
    handlers: {
      snapshot: onSnapshot,
      delta: onDelta,
      watching: onWatching,
      conversation_event: (m) => {
        if (m.conversation_id === state.watching) appendWatchEvent(m.event);
      },
      response_overdue: onOverdue,
      error: (m) => notice(t('sup.action.failed', { message: m.message || m.code }), true),
    },
  });
  socket.start();
  clearInterval(tickTimer);
  tickTimer = setInterval(onTick, 1000);
  initHistoryForm();
  loadHistory();
  clearTimeout(clusterTimer);
  loadCluster();
}

/** @param {string} [messageKey] why, shown on the form */
function logout(messageKey) {
  if (socket) socket.stop();
  socket = null;
  clearInterval(tickTimer);
  clearTimeout(clusterTimer);
  state.session = null;
  state.cluster = null;
  state.queues.clear();
  state.agents.clear();
  state.overdue = [];
  state.listening.clear();
  renderOverdue();
  login.signedOut(messageKey);
}

/** @param {ResponseAlert} alert */
function onOverdue(alert) {
  state.overdue = [alert, ...state.overdue.filter((a) => a.conversation_id !== alert.conversation_id || a.since !== alert.since)].slice(0, OVERDUE_SHOWN);
  renderOverdue();
}

function renderOverdue() {
  const rows = state.overdue.map((a) =>
    h(
      'li',
      { class: 'overdue__item', dataset: { testid: `overdue-${a.conversation_id}` } },
      h('strong', null, a.queue),
      ' ',
      t(a.first ? 'sup.overdue.first' : 'sup.overdue.next', { target: formatDuration(a.target_ms) }),
      ' · ',
      a.agent_id ? t('sup.overdue.held', { agent: a.agent_id }) : t(`sup.overdue.${a.state === 'parked' ? 'parked' : 'waiting'}`),
      ' · ',
      h('span', { class: 'tile__sub' }, t('sup.overdue.since', { d: formatDuration(Math.max(0, serverNow() - a.since)) })),
      ' ',
      h(
        'button',
        {
          type: 'button',
          class: 'btn btn--small',
          onclick: () => {
            $('watch-id', HTMLInputElement).value = a.conversation_id;
            $('watch-form', HTMLFormElement).requestSubmit();
          },
        },
        t('sup.overdue.watch'),
      ),
    ),
  );
  replaceChildren($('overdue-list'), rows);
  $('overdue-empty').hidden = rows.length > 0;
}

// ---------------------------------------------------------------------------------
// Live stream
// ---------------------------------------------------------------------------------

/** @param {Push} msg */
function ack(msg) {
  state.lastSeq = msg.seq;
  // Keeps the server's window open; without it the server stops after a few pushes.
  if (socket) socket.send({ type: 'ack', seq: msg.seq });
}

/** @param {Push} msg */
function onSnapshot(msg) {
  state.skew = Number(msg.server_time) - Date.now();
  state.queues.clear();
  state.agents.clear();
  for (const q of msg.queues || []) {
    state.queues.set(q.queue, q);
    if (!msg.queues_filter) state.allQueues.add(q.queue);
  }
  for (const a of msg.agents || []) state.agents.set(a.agent_id, a);
  if (msg.reason === 'resync') notice(t('sup.resync'));
  ack(msg);
  renderFilterOptions();
  renderAll();
  sample();
}

/** @param {Push} msg */
function onDelta(msg) {
  state.skew = Number(msg.server_time) - Date.now();
  for (const q of msg.queues || []) {
    state.queues.set(q.queue, q);
    if (!state.filter) state.allQueues.add(q.queue);
  }
  for (const a of msg.agents || []) state.agents.set(a.agent_id, a);
  ack(msg);
  renderTiles();
  renderAgents();
  sample();
}

function onFilterChange() {
  state.filter = $('queue-filter', HTMLSelectElement).value;
  state.samples = newSamples();
  if (socket) socket.send({ type: 'subscribe', queues: state.filter ? [state.filter] : null });
}

function onTick() {
  sample();
  // Longest waits and "for" durations move between pushes.
  for (const q of state.queues.values()) {
    const el = document.querySelector(`[data-testid="longest-${CSS.escape(q.queue)}"]`);
    if (el) el.textContent = longestWait(q);
  }
  for (const a of state.agents.values()) {
    const el = document.querySelector(`[data-testid="agent-since-${CSS.escape(a.agent_id)}"]`);
    if (el) el.textContent = formatDuration(serverNow() - a.since);
  }
}

/** @param {QueueLive} q */
function longestWait(q) {
  return q.oldest_enqueued_at ? formatDuration(serverNow() - q.oldest_enqueued_at) : t('sup.none');
}

// ---------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------

function renderAll() {
  renderTiles();
  renderAgents();
  renderConnection();
  renderCluster();
}

function renderConnection() {
  const el = $('connection-indicator');
  const phase = state.conn.phase;
  const shown = phase === 'open' ? 'connected' : phase === 'closed' ? 'offline' : phase;
  el.dataset.state = shown;
  /** @type {Record<string, string>} */
  const keys = { open: 'conn.connected', reconnecting: 'conn.reconnecting', closed: 'conn.offline' };
  const key = keys[phase] || 'conn.connecting';
  /** @type {HTMLElement} */ (el.querySelector('.conn__text')).textContent = t(key);
}

function renderFilterOptions() {
  const sel = $('queue-filter', HTMLSelectElement);
  const names = [...state.allQueues].sort();
  const current = state.filter;
  replaceChildren(
    sel,
    h('option', { value: '' }, t('sup.filter.all')),
    names.map((n) => h('option', { value: n }, n)),
  );
  sel.value = current;
  const simQueue = $('sim-queue', HTMLSelectElement);
  const chosen = simQueue.value;
  replaceChildren(simQueue, names.map((n) => h('option', { value: n }, n)));
  if (chosen && names.includes(chosen)) simQueue.value = chosen;
}

/**
 * @param {string} label
 * @param {string} value
 * @param {string} testid
 * @param {{ alert?: boolean, small?: boolean }} [opts]
 */
function metric(label, value, testid, opts = {}) {
  return h(
    'div',
    { class: 'metric', 'data-alert': opts.alert ? 'true' : 'false' },
    h('span', { class: 'metric__label' }, label),
    h('span', { class: `metric__value${opts.small ? ' metric__value--small' : ''}`, dataset: { testid } }, value),
  );
}

/** @param {QueueLive} q */
function tile(q) {
  /** @type {Partial<Interval>} */
  const i = q.interval || {};
  const name = q.queue;
  const slTarget = 0.8;
  return h(
    'article',
    { class: 'tile', dataset: { testid: `tile-${name}` } },
    h(
      'div',
      { class: 'tile__head' },
      h('span', { class: 'tile__name' }, q.display_name || name),
      h('span', { class: 'tile__sub', dataset: { testid: `answered-${name}` } }, t('sup.tile.answered', { answered: int(i.answered), offered: int(i.offered) })),
    ),
    h(
      'div',
      { class: 'tile__big' },
      metric(t('sup.tile.waiting'), int(q.waiting), `waiting-${name}`, { alert: q.waiting > 0 && q.slots_available === 0 }),
      metric(t('sup.tile.longest'), longestWait(q), `longest-${name}`),
    ),
    h(
      'div',
      { class: 'gauge' },
      h(
        'div',
        { class: 'tile__head' },
        h('span', { class: 'metric__label' }, t('sup.tile.sl')),
        h('span', { class: 'metric__value metric__value--small', dataset: { testid: `sl-${name}` } }, pct(i.service_level)),
      ),
      h('meter', {
        min: 0,
        max: 1,
        low: 0.6,
        high: slTarget,
        optimum: 1,
        value: i.service_level == null ? 0 : i.service_level,
        'aria-label': t('sup.tile.sl'),
      }),
      h('span', { class: 'gauge__caption' }, t('sup.tile.sl_caption', { s: i.sl_threshold_seconds })),
    ),
    h(
      'div',
      { class: 'tile__grid' },
      metric(t('sup.tile.asa'), secs(i.asa_seconds), `asa-${name}`, { small: true }),
      metric(t('sup.tile.p90'), secs(i.wait_p90_seconds), `p90-${name}`, { small: true }),
      metric(t('sup.tile.abandoned'), pct(i.abandonment_rate), `abandoned-${name}`, { small: true }),
      metric(t('sup.tile.ewt'), secs(q.ewt_seconds), `ewt-${name}`, { small: true }),
    ),
    h(
      'div',
      { class: 'chips' },
      AGENT_STATES.map((s) =>
        h('span', { class: `chip chip--${s}`, dataset: { testid: `agents-${name}-${s}` } }, `${t(`sup.agents.${s}`)} ${int(q.agents[s])}`),
      ),
    ),
    callsLine(q),
    h(
      'div',
      { class: 'tile__head' },
      h('span', { class: 'tile__sub', dataset: { testid: `occupancy-${name}` } }, `${t('sup.tile.occupancy')} ${pct(q.occupancy)} · ${t('sup.tile.slots', { used: q.slots_in_use, total: q.slots_in_use + q.slots_available })}`),
    ),
    h('div', { class: 'tile__sub', dataset: { testid: `offers-${name}` } }, `${t('sup.tile.offers')}: ${t('sup.tile.offers_detail', q.offers)}`),
    h(
      'div',
      { class: 'tile__sub', dataset: { testid: `responses-${name}` } },
      `${t('sup.tile.responses')}: ${pct(i.response_sla)} · ${t('sup.tile.responses_detail', { within: int(i.responses_within_target), overdue: int(i.responses_overdue) })}`,
    ),
  );
}

/**
 * A tile's live calls ("Calls: 2 talking · 1 on hold"), the phases with none left out;
 * hidden and empty when the queue has no call. Its data attributes carry every count
 * (`data-ringing`, `data-talking`, `data-on-hold`, `data-wrap-up`; 0 for what the
 * engine did not send).
 * @param {QueueLive} q
 */
function callsLine(q) {
  /** @type {CallCounts} */
  const calls = q.calls || {};
  const counts = CALL_PHASES.map((phase) => ({ phase, n: Math.max(0, Number(calls[phase]) || 0) }));
  const shown = counts.filter((c) => c.n > 0);
  const [ringing, talking, onHold, wrapUp] = counts.map((c) => String(c.n));
  return h(
    'div',
    {
      class: 'tile__sub tile__calls',
      hidden: shown.length === 0,
      dataset: { testid: `calls-${q.queue}`, ringing, talking, onHold, wrapUp },
    },
    shown.length
      ? `${t('sup.tile.calls')}: ${shown.map((c) => t(`sup.tile.calls.${c.phase}`, { n: int(c.n) })).join(t('sup.tile.calls_sep'))}`
      : '',
  );
}

function renderTiles() {
  const list = [...state.queues.values()].sort((a, b) => a.queue.localeCompare(b.queue));
  replaceChildren($('tiles'), list.map(tile));
  $('tiles-empty').hidden = list.length > 0;
}

/**
 * A supervisor action (REST); its outcome is a notice.
 * @param {string} path below /api/v1/supervisor/
 * @param {'POST' | 'PUT'} method
 * @param {unknown} body
 */
async function act(path, method, body) {
  if (!state.session) return;
  try {
    const res = await fetch(`../api/v1/supervisor/${path}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${state.session.token}` },
      body: JSON.stringify(body),
    });
    if (res.ok) return notice(t('sup.action.done'));
    const err = await res.json().catch(() => ({}));
    notice(t('sup.action.failed', { message: err.message || res.status }), true);
  } catch {
    notice(t('sup.action.failed', { message: t('login.unreachable') }), true);
  }
}

/**
 * Listen / Whisper on the phone call agent `id` is in now (`POST
 * ../api/v1/voice/listen {conversation_id, whisper}`): the engine rings the supervisor's
 * own phone, or their softphone, into that call, muted or heard by the agent only. The
 * agent's two buttons are disabled while the request is on its way; a 202 is an info
 * notice (`listen-ringing`), a refusal or no answer a warning with the engine's message
 * (`listen-failed`).
 * @param {string} id
 * @param {boolean} whisper
 */
async function listenIn(id, whisper) {
  const session = state.session;
  const call = state.agents.get(id)?.call;
  if (!session || !call || state.listening.has(id)) return;
  state.listening.add(id);
  renderAgents();
  try {
    const res = await fetch('../api/v1/voice/listen', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${session.token}` },
      body: JSON.stringify({ conversation_id: call.conversation_id, whisper }),
    });
    const body = await res.json().catch(() => ({}));
    if (state.session !== session) return;
    if (res.status === 202) {
      const agentId = typeof body.agent_id === 'string' && body.agent_id ? body.agent_id : id;
      const name = state.agents.get(agentId)?.display_name;
      const agent = name && name !== agentId ? `${name} (${agentId})` : agentId;
      notice(t(whisper ? 'sup.listen.whisper_ringing' : 'sup.listen.ringing', { agent }), false, { testid: 'listen-ringing' });
    } else {
      const message = typeof body.message === 'string' && body.message ? body.message : `HTTP ${res.status}`;
      notice(t('sup.listen.failed', { message }), true, { testid: 'listen-failed' });
    }
  } catch {
    if (state.session === session) notice(t('sup.listen.failed', { message: t('login.unreachable') }), true, { testid: 'listen-failed' });
  } finally {
    if (state.session === session) {
      state.listening.delete(id);
      renderAgents();
    }
  }
}

/**
 * An agent row's Listen (`listen-{id}`) or Whisper (`whisper-{id}`) button.
 * @param {string} id
 * @param {boolean} whisper
 * @param {boolean} disabled  while a request for this agent's call is on its way
 */
function listenButton(id, whisper, disabled) {
  const action = whisper ? 'whisper' : 'listen';
  return h(
    'button',
    {
      type: 'button',
      class: 'btn btn--small',
      disabled,
      title: t(`sup.listen.${action}_hint`),
      dataset: { testid: `${action}-${id}`, action },
      onclick: () => listenIn(id, whisper),
    },
    t(`sup.listen.${action}`),
  );
}

/** @param {AgentLive} a */
function agentRow(a) {
  const id = a.agent_id;
  const others = [...state.allQueues].sort();
  const move = h(
    'select',
    {
      class: 'select select--compact',
      'aria-label': t('sup.action.move'),
      dataset: { testid: `agent-move-${id}`, action: 'move' },
      onchange: (/** @type {Event} */ ev) => {
        const q = /** @type {HTMLSelectElement} */ (ev.target).value;
        if (q) act(`agents/${encodeURIComponent(id)}/queues`, 'PUT', { queues: [q] });
      },
    },
    h('option', { value: '' }, t('sup.action.move')),
    others.map((q) => h('option', { value: q }, q)),
  );
  const canSet = a.state !== 'offline';
  const call = a.call;
  // A phone call the agent talks on (or holds the caller of), not the supervisor's own.
  const canListen = !!call && call.phone === true && LISTEN_PHASES.includes(call.phase) && id !== state.session?.agent_id;
  const asking = state.listening.has(id);
  return h(
    'tr',
    { dataset: { testid: `agent-${id}` } },
    h('td', null, h('strong', null, a.display_name), ' ', h('span', { class: 'tile__sub' }, id)),
    h(
      'td',
      null,
      h('span', { class: `state state--${a.state}`, dataset: { testid: `agent-state-${id}` } }, t(`sup.agents.${a.state}`)),
      a.reason ? h('span', { class: 'state__reason' }, a.reason) : null,
      a.call
        ? h(
            'span',
            { class: 'state__reason', dataset: { testid: `agent-call-${id}`, phase: a.call.phase, ...(a.call.queue ? { queue: a.call.queue } : {}) } },
            `${t(a.call.phone ? 'sup.call.phone' : `sup.call.${a.call.media}`)} · ${t(`sup.call.${a.call.phase}`)} ${formatDuration(serverNow() - a.call.since)}`,
          )
        : null,
    ),
    h('td', null, (a.queues || []).join(', ')),
    h('td', { class: 'num' }, `${a.work} · ${t('sup.tile.slots', { used: a.slots_in_use, total: a.slots_total })}`),
    h('td', { class: 'num', dataset: { testid: `agent-since-${id}` } }, formatDuration(serverNow() - a.since)),
    h(
      'td',
      null,
      h(
        'div',
        { class: 'row-actions' },
        canListen ? [listenButton(id, false, asking), listenButton(id, true, asking)] : null,
        h('button', { type: 'button', class: 'btn btn--small', disabled: !canSet, dataset: { action: 'available' }, onclick: () => act(`agents/${encodeURIComponent(id)}/status`, 'POST', { status: 'available' }) }, t('sup.action.available')),
        h('button', { type: 'button', class: 'btn btn--small', disabled: !canSet, dataset: { action: 'away' }, onclick: () => act(`agents/${encodeURIComponent(id)}/status`, 'POST', { status: 'away', reason: 'supervisor' }) }, t('sup.action.away')),
        move,
      ),
    ),
  );
}

/** The agent table's rows by agent id, kept across renders (`reconcile`). */
/** @type {Map<string, HTMLTableRowElement>} */
const agentRows = new Map();

/**
 * Refreshes a kept agent row from a fresh one: every cell but the actions is replaced;
 * the action buttons and the "move to" select stay the same nodes (a click landing
 * while a push re-renders the table, or an open select, is never lost), only their
 * state, labels and tooltips change, and the select is rebuilt only while it is not in
 * use. The actions are keyed by `data-action`: Listen and Whisper come and go with the
 * agent's phone call without moving the others.
 * @param {HTMLTableRowElement} row
 * @param {HTMLTableRowElement} fresh
 */
function refreshAgentRow(row, fresh) {
  const cells = [...row.cells];
  const next = [...fresh.cells];
  const last = next.length - 1;
  for (let i = 0; i < last; i += 1) row.replaceChild(next[i], cells[i]);
  const box = /** @type {HTMLElement} */ (cells[last].querySelector('.row-actions'));
  const nextBox = /** @type {HTMLElement} */ (next[last].querySelector('.row-actions'));
  /** @type {Map<string, HTMLElement>} */
  const kept = new Map();
  for (const el of /** @type {HTMLElement[]} */ ([...box.children])) {
    // A select not in use is left out: the fresh one (its queues may have changed) replaces it.
    if (el instanceof HTMLSelectElement && document.activeElement === el) kept.set(el.dataset.action || '', el);
    else if (el instanceof HTMLButtonElement) kept.set(el.dataset.action || '', el);
  }
  reconcile(
    box,
    /** @type {HTMLElement[]} */ ([...nextBox.children]).map((el) => ({
      key: el.dataset.action || '',
      render: () => el,
      update: (/** @type {HTMLElement} */ node) => {
        if (!(node instanceof HTMLButtonElement) || !(el instanceof HTMLButtonElement)) return;
        node.disabled = el.disabled;
        node.textContent = el.textContent;
        if (node.title !== el.title) node.title = el.title;
      },
    })),
    kept,
  );
}

function renderAgents() {
  const filter = state.filter;
  const list = [...state.agents.values()]
    .filter((a) => !filter || (a.queues || []).includes(filter))
    .sort((a, b) => a.agent_id.localeCompare(b.agent_id));
  reconcile(
    $('agent-rows'),
    list.map((a) => ({
      key: a.agent_id,
      render: () => agentRow(a),
      update: (/** @type {HTMLTableRowElement} */ row) => refreshAgentRow(row, agentRow(a)),
    })),
    agentRows,
  );
  $('agents-empty').hidden = list.length > 0;
}

/**
 * A passing message at the top of the board (gone after 6 s): `warn` for what was not done.
 * @param {string} text
 * @param {boolean} [warn]
 * @param {{ testid?: string }} [options]  its `data-testid` (default `notice`)
 */
function notice(text, warn = false, { testid = 'notice' } = {}) {
  const el = h('div', { class: `notice${warn ? ' notice--warn' : ''}`, role: 'status', dataset: { testid } }, text);
  $('notices').append(el);
  setTimeout(() => el.remove(), 6000);
}

// ---------------------------------------------------------------------------------
// Watching one conversation
// ---------------------------------------------------------------------------------

/** @param {SubmitEvent} ev */
function onWatchSubmit(ev) {
  ev.preventDefault();
  const id = $('watch-id', HTMLInputElement).value.trim();
  if (!id || !socket) return;
  if (state.watching && state.watching !== id) socket.send({ type: 'unwatch', conversation_id: state.watching });
  state.watching = id;
  replaceChildren($('watch-events'));
  socket.send({ type: 'watch', conversation_id: id });
}

/** @param {{ conversation?: { id: string, recent?: WatchEvent[] } }} msg */
function onWatching(msg) {
  const conv = msg.conversation;
  if (!conv || conv.id !== state.watching) return;
  replaceChildren($('watch-events'));
  for (const e of conv.recent || []) if (e.conversation_id === conv.id) appendWatchEvent(e);
}

/** @param {WatchEvent} e */
function appendWatchEvent(e) {
  /** @type {Record<string, string>} */
  const kinds = { message_in: 'sup.watch.customer', message_out: 'sup.watch.agent', note: 'sup.watch.note' };
  const who = kinds[e.type] ? t(kinds[e.type]) : e.type;
  const text = e.text != null ? String(e.text) : e.agent_id ? String(e.agent_id) : '';
  const li = h(
    'li',
    { dataset: { kind: e.type, testid: 'watch-event' } },
    h('span', { class: 'who' }, who),
    text,
  );
  $('watch-events').append(li);
  li.scrollIntoView({ block: 'nearest' });
}

// ---------------------------------------------------------------------------------
// Live chart (uPlot)
// ---------------------------------------------------------------------------------

function sample() {
  const now = Math.floor(serverNow() / 1000);
  const s = state.samples;
  const names = [...state.queues.keys()].sort();
  /** @param {string} n */
  const waiting = (n) => {
    const q = state.queues.get(n);
    return q ? q.waiting : null;
  };
  if (s.t.length && s.t[s.t.length - 1] === now) {
    // Same second: the latest value wins.
    for (const n of names) {
      const arr = s.byQueue.get(n);
      if (arr) arr[arr.length - 1] = waiting(n);
    }
  } else {
    s.t.push(now);
    for (const n of names) {
      let arr = s.byQueue.get(n);
      if (!arr) {
        arr = new Array(s.t.length - 1).fill(null);
        s.byQueue.set(n, arr);
      }
      arr.push(waiting(n));
    }
    for (const [n, arr] of s.byQueue) if (!state.queues.has(n)) arr.push(null);
    if (s.t.length > LIVE_POINTS) {
      s.t.shift();
      for (const arr of s.byQueue.values()) arr.shift();
    }
  }
  drawLiveChart();
}

/** @param {HTMLElement} el */
function chartWidth(el) {
  return Math.max(320, el.clientWidth || 600);
}

function drawLiveChart() {
  if (!window.uPlot) return;
  const el = $('live-chart');
  const names = [...state.samples.byQueue.keys()].sort();
  const key = `${getLanguage()}|${names.join(',')}`;
  /** @type {uPlot.AlignedData} */
  const data = [state.samples.t, ...names.map((n) => state.samples.byQueue.get(n) || [])];
  if (!liveChart || key !== liveChartKey) {
    if (liveChart) liveChart.destroy();
    liveChartKey = key;
    liveChart = new window.uPlot(
      {
        width: chartWidth(el),
        height: 220,
        // The last LIVE_POINTS seconds, always: uPlot pads a lone point by years.
        scales: {
          x: { time: true, range: (_u, _min, max) => [max - LIVE_POINTS, max] },
          y: { range: (_u, _min, max) => [0, Math.max(4, max + 1)] },
        },
        axes: [{}, { label: t('sup.tile.waiting') }],
        series: [{}, ...names.map((n, i) => ({ label: n, stroke: SERIES_COLOURS[i % SERIES_COLOURS.length], width: 2, spanGaps: true }))],
      },
      data,
      el,
    );
  } else {
    liveChart.setData(data);
  }
}

// ---------------------------------------------------------------------------------
// History (GET /api/v1/reports)
// ---------------------------------------------------------------------------------

/** @param {number} ms */
function isoDay(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

function initHistoryForm() {
  const from = $('history-from', HTMLInputElement);
  const to = $('history-to', HTMLInputElement);
  if (!from.value) from.value = isoDay(Date.now() - 7 * 86400000);
  if (!to.value) to.value = isoDay(Date.now());
}

/** @param {SubmitEvent} [ev] */
async function loadHistory(ev) {
  if (ev) ev.preventDefault();
  if (!state.session) return;
  const from = Date.parse(`${$('history-from', HTMLInputElement).value}T00:00:00Z`);
  const to = Date.parse(`${$('history-to', HTMLInputElement).value}T00:00:00Z`) + 86400000;
  loadFunnel(from, to);
  const status = $('history-status');
  const params = new URLSearchParams({
    from: String(from),
    to: String(to),
    interval: $('history-interval', HTMLSelectElement).value,
    group: $('history-group', HTMLSelectElement).value,
  });
  /** @type {ReportRow[] | null} */
  let rows = null;
  /** @type {string | null} */
  let messageKey = null;
  try {
    const res = await fetch(`../api/v1/reports?${params}`, {
      headers: { accept: 'application/json', authorization: `Bearer ${state.session.token}` },
    });
    if (res.ok) rows = ((await res.json()) || {}).rows || [];
    else messageKey = res.status === 404 ? 'sup.history.unavailable' : 'sup.history.no_data';
  } catch {
    messageKey = 'sup.history.unavailable';
  }
  if (rows && rows.length === 0) messageKey = 'sup.history.no_data';
  status.hidden = !messageKey;
  status.dataset.state = messageKey ? (messageKey === 'sup.history.no_data' ? 'empty' : 'unavailable') : 'ok';
  if (messageKey) status.textContent = t(messageKey);
  $('history-card').hidden = !rows || rows.length === 0;
  state.historyRows = rows;
  drawHistory();
}

// ---------------------------------------------------------------------------------
// Self-service funnel (GET /api/v1/reports/funnel), over the history's period
// ---------------------------------------------------------------------------------

/**
 * @param {number} from
 * @param {number} to
 */
async function loadFunnel(from, to) {
  if (!state.session) return;
  const params = new URLSearchParams({ from: String(from), to: String(to) });
  /** @type {FunnelEntry[] | null} */
  let entries = null;
  /** @type {string | null} */
  let messageKey = null;
  try {
    const res = await fetch(`../api/v1/reports/funnel?${params}`, {
      headers: { accept: 'application/json', authorization: `Bearer ${state.session.token}` },
    });
    if (res.ok) entries = ((await res.json()) || {}).entries || [];
    else messageKey = 'sup.funnel.unavailable';
  } catch {
    messageKey = 'sup.funnel.unavailable';
  }
  if (entries && entries.length === 0) messageKey = 'sup.funnel.no_data';
  const status = $('funnel-status');
  status.hidden = !messageKey;
  status.dataset.state = messageKey === 'sup.funnel.no_data' ? 'empty' : messageKey ? 'unavailable' : 'ok';
  status.dataset.key = messageKey || '';
  state.funnel = entries;
  renderFunnel();
}

// ---------------------------------------------------------------------------------
// What if (POST /api/v1/simulations): the history's period replayed, side by side
// ---------------------------------------------------------------------------------

/** The history form's period, UTC ms `[from, to)`. */
function historyPeriod() {
  const from = Date.parse(`${$('history-from', HTMLInputElement).value}T00:00:00Z`);
  const to = Date.parse(`${$('history-to', HTMLInputElement).value}T00:00:00Z`) + 86400000;
  return { from, to };
}

/** @param {SubmitEvent} ev */
async function runSimulation(ev) {
  ev.preventDefault();
  if (!state.session) return;
  const { from, to } = historyPeriod();
  const proposals = [0, 1].flatMap((i) => {
    const box = document.querySelector(`[data-testid="sim-proposal-${i}"]`);
    if (!box) return [];
    /** @param {string} name */
    const field = (name) => /** @type {HTMLInputElement | HTMLSelectElement} */ (box.querySelector(`[name="${name}"]`)).value.trim();
    const label = field('label');
    const strategy = field('strategy');
    const add = Number(field('add') || 0);
    if (!label && !strategy && !add) return [];
    /** @type {Record<string, unknown>} */
    const p = { label: label || t(i === 0 ? 'sup.sim.proposal_a' : 'sup.sim.proposal_b') };
    if (strategy) p.strategy = strategy;
    if (add > 0) p.add_agents = [{ count: add }];
    return [p];
  });
  const status = $('sim-status');
  status.hidden = false;
  status.dataset.state = 'running';
  status.textContent = t('sup.sim.running');
  try {
    const res = await fetch('../api/v1/simulations', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${state.session.token}` },
      body: JSON.stringify({ queue: $('sim-queue', HTMLSelectElement).value, from, to, proposals }),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      state.simulation = null;
      status.dataset.state = 'failed';
      status.textContent = t('sup.sim.failed', { message: body.message || res.status });
    } else {
      state.simulation = body;
      status.hidden = true;
      status.dataset.state = 'ok';
    }
  } catch {
    state.simulation = null;
    status.dataset.state = 'failed';
    status.textContent = t('sup.sim.failed', { message: t('login.unreachable') });
  }
  renderSimulation();
}

function renderSimulation() {
  const sim = state.simulation;
  $('sim-table').hidden = !sim;
  $('sim-shifts').hidden = !sim;
  if (!sim) return;
  const cols = [{ ...sim.actual, label: t('sup.sim.col.actual') }, ...sim.runs.map((r) => (r.label === 'current' ? { ...r, label: t('sup.sim.col.current') } : r))];
  const n = new Intl.NumberFormat(locale());
  const pct = new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: 1 });
  /** @param {number | null | undefined} ms */
  const secs = (ms) => (ms == null ? '—' : formatDuration(ms));
  /** @param {number | null | undefined} r */
  const ratio = (r) => (r == null ? '—' : pct.format(r));
  /** @type {[string, string, (c: SimFigures) => string][]} */
  const rows = [
    ['agents', t('sup.sim.row.agents'), (c) => (c.agents == null ? '—' : n.format(c.agents))],
    ['contacts', t('sup.sim.row.contacts'), (c) => n.format(c.contacts)],
    ['answered', t('sup.sim.row.answered'), (c) => n.format(c.answered)],
    ['abandoned', t('sup.sim.row.abandoned'), (c) => n.format(c.abandoned)],
    ['sl', t('sup.sim.row.service_level', { s: sim.threshold_seconds }), (c) => ratio(c.service_level)],
    ['asa', t('sup.sim.row.asa'), (c) => secs(c.asa_ms)],
    ['p90', t('sup.sim.row.p90'), (c) => secs(c.wait_p90_ms)],
    ['abandon-rate', t('sup.sim.row.abandon_rate'), (c) => ratio(c.abandon_rate)],
    ['occupancy', t('sup.sim.row.occupancy'), (c) => ratio(c.occupancy)],
  ];
  replaceChildren(
    $('sim-head'),
    h('th', null, t('sup.sim.col.metric')),
    cols.map((c, i) => h('th', { class: 'num', dataset: { testid: `sim-col-${i}` } }, c.label || '')),
  );
  replaceChildren(
    $('sim-rows'),
    rows.map(([key, label, cell]) =>
      h('tr', null, h('th', { scope: 'row' }, label), cols.map((c, i) => h('td', { class: 'num', dataset: { testid: `sim-${key}-${i}` } }, cell(c)))),
    ),
  );
  $('sim-shifts').textContent = t('sup.sim.shifts', {
    presence: n.format(sim.shifts_from.presence),
    first: n.format(sim.shifts_from.first_answer),
  });
}

function renderFunnel() {
  const status = $('funnel-status');
  status.textContent = status.dataset.key ? t(status.dataset.key) : '';
  const entries = state.funnel;
  $('funnel-table').hidden = !entries || entries.length === 0;
  if (!entries) return;
  const n = new Intl.NumberFormat(locale());
  const pct = new Intl.NumberFormat(locale(), { maximumFractionDigits: 1 });
  /** @param {string} testid @param {number} v */
  const num = (testid, v) => h('td', { class: 'num', dataset: { testid } }, n.format(v));
  replaceChildren(
    $('funnel-rows'),
    ...entries.map((e) => {
      const id = `${e.channel}-${e.front}`;
      return h(
        'tr',
        { dataset: { testid: `funnel-${id}` } },
        h('td', { dataset: { testid: `funnel-entry-${id}` } }, `${t(`channel.${e.channel}`)} · ${t(`sup.funnel.front.${e.front}`)}`),
        num(`funnel-contacts-${id}`, e.contacts),
        num(`funnel-contained-${id}`, e.contained),
        num(`funnel-handed-${id}`, e.handed_off),
        num(`funnel-switched-${id}`, e.switched_channel),
        num(`funnel-resolved-${id}`, e.resolved),
        h('td', { class: 'num', dataset: { testid: `funnel-fcr-${id}` } }, e.fcr_rate == null ? '—' : pct.format(e.fcr_rate * 100)),
        num(`funnel-abandoned-${id}`, e.abandoned),
        num(`funnel-open-${id}`, e.open),
      );
    }),
  );
}

function drawHistory() {
  const rows = state.historyRows;
  if (historyChart) {
    historyChart.destroy();
    historyChart = null;
  }
  if (!rows || !rows.length || !window.uPlot) return;
  // Sum every group per bucket; service level weighted by what was offered.
  /** @type {Map<number, { offered: number, handled: number, abandoned: number, slw: number, sln: number }>} */
  const buckets = new Map();
  for (const r of rows) {
    const b = buckets.get(r.bucket_start) || { offered: 0, handled: 0, abandoned: 0, slw: 0, sln: 0 };
    b.offered += r.offered || 0;
    b.handled += r.handled || 0;
    b.abandoned += r.abandoned || 0;
    if (r.service_level != null) {
      b.slw += r.service_level * (r.offered || 0);
      b.sln += r.offered || 0;
    }
    buckets.set(r.bucket_start, b);
  }
  const keys = [...buckets.keys()].sort((a, b) => a - b);
  /**
   * @template T
   * @param {(b: { offered: number, handled: number, abandoned: number, slw: number, sln: number }) => T} f
   */
  const col = (f) => keys.map((k) => f(/** @type {{ offered: number, handled: number, abandoned: number, slw: number, sln: number }} */ (buckets.get(k))));
  /** @type {uPlot.AlignedData} */
  const data = [
    keys.map((k) => k / 1000),
    col((b) => b.offered),
    col((b) => b.handled),
    col((b) => b.abandoned),
    col((b) => (b.sln ? (100 * b.slw) / b.sln : null)),
  ];
  const el = $('history-chart');
  historyChart = new window.uPlot(
    {
      width: chartWidth(el),
      height: 240,
      scales: { pct: { range: [0, 100] } },
      axes: [{}, {}, { scale: 'pct', side: 1, grid: { show: false }, label: '%' }],
      series: [
        {},
        { label: t('sup.history.offered'), stroke: '#2f5bd3', width: 2, points: { show: true } },
        { label: t('sup.history.handled'), stroke: '#16876a', width: 2, points: { show: true } },
        { label: t('sup.history.abandoned'), stroke: '#c0392b', width: 2, points: { show: true } },
        { label: t('sup.history.sl'), stroke: '#a86a00', width: 2, dash: [6, 4], scale: 'pct', points: { show: true } },
      ],
    },
    data,
    el,
  );
}

// ---------------------------------------------------------------------------------
// Engine nodes
// ---------------------------------------------------------------------------------

/** Reads the engine nodes, renders them, and reads them again after CLUSTER_POLL_MS. */
async function loadCluster() {
  const session = state.session;
  if (!session) return;
  try {
    const res = await fetch('../api/v1/cluster', {
      headers: { accept: 'application/json', authorization: `Bearer ${session.token}` },
    });
    if (res.ok) {
      state.cluster = /** @type {ClusterView} */ (await res.json());
      state.clusterError = null;
    } else {
      const err = await res.json().catch(() => ({}));
      state.clusterError = err.message || String(res.status);
    }
  } catch {
    state.clusterError = t('login.unreachable');
  }
  if (state.session !== session) return;
  renderCluster();
  await loadFlood(session);
  if (state.session !== session) return;
  clusterTimer = setTimeout(loadCluster, CLUSTER_POLL_MS);
}

/**
 * Shows the flood badge while anonymous requests are being refused over their
 * address's budget (`GET /api/v1/supervisor/flood`, docs/security.md).
 * @param {{token: string}} session
 */
async function loadFlood(session) {
  const badge = $('flood-badge');
  try {
    const res = await fetch('../api/v1/supervisor/flood', {
      headers: { accept: 'application/json', authorization: `Bearer ${session.token}` },
    });
    if (!res.ok) return;
    const view = /** @type {{total: number, flood: boolean}} */ (await res.json());
    badge.hidden = !view.flood;
    badge.dataset.total = String(view.total);
    badge.textContent = view.flood ? t('sup.flood', { n: view.total }) : '';
  } catch {
    // The cluster row already says the engine is unreachable.
  }
}

/**
 * What a node holds, as shown: every key with one active engine (the first
 * KEYS_SHOWN); in spread placement the number of shards, then the queues and
 * singletons by name.
 * @param {string[]} holds
 * @param {boolean} spread
 */
function heldText(holds, spread) {
  const keys = [...holds].sort();
  if (spread) {
    const shards = keys.filter((k) => k.startsWith('shard/')).length;
    const named = keys.filter((k) => !k.startsWith('shard/'));
    return [shards ? t('sup.cluster.shards', { n: int(shards) }) : '', ...named].filter(Boolean).join(' · ');
  }
  const shown = keys.slice(0, KEYS_SHOWN).join(', ');
  const more = keys.length > KEYS_SHOWN ? ` ${t('sup.cluster.more', { n: keys.length - KEYS_SHOWN })}` : '';
  return `${shown}${more}`;
}

/**
 * @param {ClusterMember} m
 * @param {boolean} spread
 */
function nodeRow(m, spread) {
  const active = !spread && m.holds.includes(ACTIVE_KEY);
  const kind = !m.live ? 'gone' : spread ? 'member' : active ? 'active' : 'standby';
  const role = { gone: t('sup.none'), member: t('sup.cluster.member'), active: t('sup.cluster.active'), standby: t('sup.cluster.standby') }[kind];
  const status = m.live
    ? h('span', { class: 'state state--live', dataset: { testid: `node-status-${m.name}`, state: 'live' } }, t('sup.cluster.live', { s: formatDuration(m.expires_in_ms) }))
    : h('span', { class: 'state state--lapsed', dataset: { testid: `node-status-${m.name}`, state: 'lapsed' } }, t('sup.cluster.lapsed'));
  const ping = m.ping;
  const reach = !ping
    ? h('span', { dataset: { testid: `node-reach-${m.name}`, reach: 'none' } }, m.this ? t('sup.cluster.this') : t('sup.none'))
    : ping.reachable
      ? h(
          'span',
          { class: 'num', dataset: { testid: `node-reach-${m.name}`, reach: 'yes' } },
          t('sup.cluster.rtt', {
            ms: new Intl.NumberFormat(locale(), { maximumFractionDigits: 1 }).format(ping.rtt_ms || 0),
            offset: new Intl.NumberFormat(locale(), { signDisplay: 'exceptZero' }).format(ping.clock_offset_ms || 0),
          }),
        )
      : h('span', { class: 'state state--unreachable', title: ping.error || '', dataset: { testid: `node-reach-${m.name}`, reach: 'no' } }, t('sup.cluster.unreachable'));
  return h(
    'tr',
    { dataset: { testid: `node-${m.name}`, role: kind } },
    h(
      'td',
      null,
      h('strong', null, m.name),
      m.this ? h('span', { class: 'node__this' }, t('sup.cluster.this')) : null,
      h('span', { class: 'node__addr' }, m.address),
    ),
    h('td', { dataset: { testid: `node-role-${m.name}` } }, role),
    h('td', null, status),
    h('td', null, reach),
    h('td', { class: 'node__keys', title: [...m.holds].sort().join(', '), dataset: { testid: `node-holds-${m.name}` } }, heldText(m.holds, spread) || t('sup.none')),
  );
}

function renderCluster() {
  const summary = $('cluster-summary');
  const view = state.cluster;
  summary.dataset.state = state.clusterError ? 'unavailable' : 'ok';
  if (state.clusterError) summary.textContent = t('sup.cluster.unavailable', { message: state.clusterError });
  if (!view) return;
  const members = [...view.members].sort((a, b) => Number(b.live) - Number(a.live) || a.name.localeCompare(b.name));
  const spread = view.placement === 'spread';
  replaceChildren($('cluster-rows'), members.map((m) => nodeRow(m, spread)));
  if (state.clusterError) return;
  const live = members.filter((m) => m.live).length;
  if (spread) {
    const held = view.leases.filter((l) => l.key.startsWith('shard/') && l.live).length;
    summary.textContent = t('sup.cluster.summary_spread', { live: int(live), members: int(members.length), held: int(held), shards: int(view.shards || 0) });
    return;
  }
  const lease = view.leases.find((l) => l.key === ACTIVE_KEY && l.live);
  summary.textContent = lease
    ? t('sup.cluster.summary', { live: int(live), members: int(members.length), active: lease.holder, epoch: int(lease.epoch) })
    : t('sup.cluster.summary_none', { live: int(live), members: int(members.length) });
}

// ---------------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------------

/** The "what if" form's two proposal boxes, from their template, before Replay. */
function buildProposalBoxes() {
  const template = $('sim-proposal-template', HTMLTemplateElement);
  const run = $('sim-form').querySelector('[data-testid="sim-run"]');
  ['sup.sim.proposal_a', 'sup.sim.proposal_b'].forEach((key, i) => {
    const box = /** @type {HTMLFieldSetElement} */ (template.content.firstElementChild?.cloneNode(true));
    box.dataset.testid = `sim-proposal-${i}`;
    const legend = /** @type {HTMLLegendElement} */ (box.querySelector('legend'));
    legend.dataset.i18n = key;
    for (const el of /** @type {NodeListOf<HTMLInputElement | HTMLSelectElement>} */ (box.querySelectorAll('[name]'))) {
      el.dataset.testid = `sim-${el.name}-${i}`;
    }
    $('sim-form').insertBefore(box, run);
  });
}

function start() {
  buildProposalBoxes();
  applyTranslations();
  for (const b of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('.js-lang-toggle'))) bindLanguageToggle(b);
  onLanguageChange(() => {
    applyTranslations();
    if (state.session) {
      renderFilterOptions();
      renderAll();
      liveChartKey = '';
      drawLiveChart();
      drawHistory();
      renderFunnel();
      renderSimulation();
    }
  });
  $('logout').addEventListener('click', () => logout());
  $('queue-filter').addEventListener('change', onFilterChange);
  $('history-form').addEventListener('submit', loadHistory);
  $('sim-form').addEventListener('submit', runSimulation);
  $('watch-form').addEventListener('submit', onWatchSubmit);
  addEventListener('resize', () => {
    if (liveChart) liveChart.setSize({ width: chartWidth($('live-chart')), height: 220 });
    if (historyChart) historyChart.setSize({ width: chartWidth($('history-chart')), height: 240 });
  });
  login.resume();
}

start();

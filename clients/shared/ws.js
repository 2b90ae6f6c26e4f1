// shared/ws.js — owns the websocket connection of both Switchboard clients: connecting
// and reconnecting (exponential backoff with jitter, capped at 10 s), JSON framing,
// dispatch of server messages by `type`, a keepalive ping, and the outbox of
// state-changing messages keyed by `client_msg_id` that are sent again after every
// reconnect until the server's `ack` for that id arrives (the server dedups retries).
//
// It knows nothing about the UI: the apps pass handlers and read connection state
// through onState.

const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 10_000;
const PING_EVERY_MS = 25_000;
const DEAD_AFTER_MS = 60_000;
/** Error codes after which an outbox entry is tried again later instead of dropped. */
const RETRYABLE = new Set(['busy', 'unavailable', 'rate_limited']);

/**
 * A frame the server sent: JSON with a `type`; each handler knows the rest of its shape.
 * @typedef {{ type: string, [field: string]: any }} InFrame
 */

/**
 * A frame to send; outbox frames carry a `client_msg_id`.
 * @typedef {{ type: string, client_msg_id?: string, [field: string]: unknown }} OutFrame
 */

/**
 * A frame in the outbox: when it was last sent, and how often a retryable error came back.
 * @typedef {{ msg: OutFrame, sentAt: number, tries: number }} OutboxEntry
 */

/**
 * What onState is told.
 * @typedef {object} SocketState
 * @property {'connecting' | 'open' | 'reconnecting' | 'closed'} phase
 * @property {number} attempt   consecutive failures since the last ready frame
 * @property {number} failures
 * @property {number} retryInMs the wait before the next attempt (reconnecting)
 */

/**
 * @typedef {object} SocketOptions
 * @property {() => string} url  called before every attempt (so a token can change)
 * @property {Record<string, (msg: any) => void>} [handlers]  by frame type; '*' sees every frame
 * @property {(state: SocketState) => void} [onState]
 * @property {string} [readyType]  the frame after which the outbox is flushed (default 'welcome')
 * @property {Storage} [storage]   where the outbox outlives the page
 * @property {string} [storageKey]
 * @property {(entry: OutFrame, error: InFrame) => void} [onOutboxFailed]
 */

/**
 * ws:// or wss:// URL for a path on this page's host (a relative path works too).
 * @param {string} path
 * @param {Record<string, string | null | undefined>} [params]
 */
export function wsUrl(path, params = {}) {
  const url = new URL(path, location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, v);
  }
  return url.toString();
}

/** A fresh client message id. */
export function newClientMsgId() {
  if (globalThis.crypto && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  // crypto.randomUUID needs a secure context; plain http on a LAN address is not one.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Backoff delay for the n-th consecutive failed attempt (0-based): "equal jitter".
 * @param {number} attempt
 */
export function backoffDelay(attempt, base = BACKOFF_BASE_MS, cap = BACKOFF_CAP_MS) {
  const exp = Math.min(cap, base * 2 ** Math.min(attempt, 16));
  return Math.round(exp / 2 + Math.random() * (exp / 2));
}

/**
 * A websocket that keeps itself connected.
 *
 * options:
 *   url()            -> string; called before every attempt (so a token can change)
 *   handlers         { [type]: fn(msg) , '*': fn(msg) } — dispatched on every frame
 *   onState(state)   { phase: 'connecting'|'open'|'reconnecting'|'closed', attempt, retryInMs, failures }
 *   readyType        message type after which the outbox is flushed (default 'welcome')
 *   storage, storageKey  optional Storage to persist the outbox across page loads
 *   onOutboxFailed(entry, error)  an outbox entry was refused by the server for good
 */
export class ReconnectingSocket {
  /** @param {SocketOptions} options */
  constructor(options) {
    this.opts = { readyType: 'welcome', ...options };
    /** @type {Record<string, (msg: any) => void>} */
    this.handlers = { ...(options.handlers || {}) };
    /** @type {WebSocket | null} */
    this.ws = null;
    this.ready = false; // true once readyType arrived on the current socket
    this.everReady = false;
    this.stopped = true;
    this.attempt = 0; // consecutive failures since the last successful welcome
    this.failures = 0;
    /** @type {number | undefined} */
    this.retryTimer = undefined;
    /** @type {number | undefined} */
    this.pingTimer = undefined;
    this.lastFrameAt = 0;
    /** @type {SocketState['phase']} */
    this.phase = 'closed';
    /** @type {Map<string, number>} */
    this.retryTimers = new Map();
    /** @type {Map<string, OutboxEntry>} client_msg_id -> entry, in insertion order */
    this.outbox = new Map();
    this.loadOutbox();
    this.onOnline = () => {
      if (!this.stopped && (!this.ws || this.ws.readyState > 1)) this.connectNow();
    };
  }

  /**
   * Registers a handler for a message type ('*' sees every message).
   * @param {string} type
   * @param {(msg: any) => void} fn
   */
  on(type, fn) {
    this.handlers[type] = fn;
    return this;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    addEventListener('online', this.onOnline);
    this.connect();
  }

  /** Closes for good (logout / leaving the page). The outbox is kept in storage. */
  stop() {
    this.stopped = true;
    removeEventListener('online', this.onOnline);
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    for (const timer of this.retryTimers.values()) clearTimeout(timer);
    this.retryTimers.clear();
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
      try {
        ws.close(1000, 'bye');
      } catch {
        /* already closed */
      }
    }
    this.ready = false;
    this.emitState('closed');
  }

  /** Forgets every pending outbox entry (e.g. on logout or when starting over). */
  clearOutbox() {
    this.outbox.clear();
    this.saveOutbox();
  }

  get isOpen() {
    return !!this.ws && this.ws.readyState === WebSocket.OPEN && this.ready;
  }

  /**
   * Sends a message now if connected. Returns false (and sends nothing) otherwise: use
   * it for messages that must not be replayed later (accept, typing, status...).
   * @param {OutFrame} msg
   */
  send(msg) {
    if (!this.ws || !this.isOpen) return false;
    try {
      this.ws.send(JSON.stringify(msg));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Queues a message carrying `client_msg_id` in the outbox: sent now if connected and
   * again after every reconnect until its `ack` arrives. Returns the id.
   * @param {OutFrame} msg
   */
  sendReliable(msg) {
    const id = msg.client_msg_id || newClientMsgId();
    if (!msg.client_msg_id) msg = { ...msg, client_msg_id: id };
    this.outbox.set(id, { msg, sentAt: 0, tries: 0 });
    this.saveOutbox();
    this.flushOne(id);
    return id;
  }

  /** Entries waiting for their ack, oldest first. */
  pending() {
    return [...this.outbox.values()].map((e) => e.msg);
  }

  /** @param {string} clientMsgId */
  hasPending(clientMsgId) {
    return this.outbox.has(clientMsgId);
  }

  /**
   * Removes an entry without an ack (the user gave up on it).
   * @param {string} clientMsgId
   */
  drop(clientMsgId) {
    if (this.outbox.delete(clientMsgId)) this.saveOutbox();
  }

  // ---- internals -------------------------------------------------------------

  connect() {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.ready = false;
    this.emitState(this.failures > 0 || this.everReady ? 'reconnecting' : 'connecting');
    let ws;
    try {
      ws = new WebSocket(this.opts.url());
    } catch (e) {
      console.warn('[ws] cannot open socket', e);
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.lastFrameAt = Date.now();
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.keepalive(), PING_EVERY_MS);
    };
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onerror = () => {
      /* onclose follows and does the work */
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.ready = false;
      clearInterval(this.pingTimer);
      if (this.stopped) return;
      if (ev.code !== 1000) console.info('[ws] closed', ev.code, ev.reason || '');
      this.scheduleReconnect();
    };
  }

  connectNow() {
    clearTimeout(this.retryTimer);
    this.attempt = 0;
    this.connect();
  }

  scheduleReconnect() {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.failures += 1;
    this.emitState('reconnecting', delay);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  keepalive() {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - this.lastFrameAt > DEAD_AFTER_MS) {
      // Nothing heard for too long: the connection is dead even if TCP has not noticed.
      try {
        this.ws.close(4000, 'keepalive timeout');
      } catch {
        /* ignore */
      }
      const ws = this.ws;
      this.ws = null;
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
      this.ready = false;
      clearInterval(this.pingTimer);
      this.scheduleReconnect();
      return;
    }
    this.send({ type: 'ping' });
  }

  /** @param {string} data */
  receive(data) {
    this.lastFrameAt = Date.now();
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      console.warn('[ws] ignoring a frame that is not JSON');
      return;
    }
    if (!msg || typeof msg !== 'object' || typeof msg.type !== 'string') {
      console.warn('[ws] ignoring a frame without a type');
      return;
    }

    if (msg.type === this.opts.readyType) {
      this.ready = true;
      this.everReady = true;
      this.attempt = 0;
      this.failures = 0;
      this.emitState('open');
    } else if (msg.type === 'ack' && msg.client_msg_id) {
      const entry = this.outbox.get(msg.client_msg_id);
      if (entry) {
        msg.acked = entry.msg; // the message this ack confirms, for the app
        this.outbox.delete(msg.client_msg_id);
        clearTimeout(this.retryTimers.get(msg.client_msg_id));
        this.retryTimers.delete(msg.client_msg_id);
        this.saveOutbox();
      }
    } else if (msg.type === 'error' && msg.ref && this.outbox.has(msg.ref)) {
      const entry = /** @type {OutboxEntry} */ (this.outbox.get(msg.ref));
      if (RETRYABLE.has(msg.code)) {
        // Nothing was applied; try the same id again a little later.
        entry.tries += 1;
        clearTimeout(this.retryTimers.get(msg.ref));
        this.retryTimers.set(msg.ref, setTimeout(() => {
          this.retryTimers.delete(msg.ref);
          this.flushOne(msg.ref);
        }, backoffDelay(entry.tries, 1000)));
        msg.retrying = true;
      } else {
        this.outbox.delete(msg.ref);
        this.saveOutbox();
        msg.failed = entry.msg;
        if (this.opts.onOutboxFailed) this.opts.onOutboxFailed(entry.msg, msg);
      }
    }

    this.dispatch(msg);

    // The whole state has been (re)built from welcome: replay what was never acked.
    if (msg.type === this.opts.readyType) this.flushAll();
  }

  /** @param {InFrame} msg */
  dispatch(msg) {
    const fn = this.handlers[msg.type];
    try {
      if (fn) fn(msg);
      if (this.handlers['*']) this.handlers['*'](msg);
    } catch (e) {
      console.error(`[ws] handler for ${msg.type} failed`, e);
    }
  }

  flushAll() {
    for (const id of [...this.outbox.keys()]) this.flushOne(id);
  }

  /** @param {string} id */
  flushOne(id) {
    const entry = this.outbox.get(id);
    if (!entry || !this.isOpen) return;
    entry.sentAt = Date.now();
    this.send(entry.msg);
  }

  /**
   * @param {SocketState['phase']} phase
   * @param {number} [retryInMs]
   */
  emitState(phase, retryInMs = 0) {
    this.phase = phase;
    if (this.opts.onState) {
      this.opts.onState({ phase, attempt: this.attempt, failures: this.failures, retryInMs });
    }
  }

  loadOutbox() {
    const { storage, storageKey } = this.opts;
    if (!storage || !storageKey) return;
    try {
      const list = JSON.parse(storage.getItem(storageKey) || '[]');
      for (const msg of list) {
        if (msg && msg.client_msg_id) this.outbox.set(msg.client_msg_id, { msg, sentAt: 0, tries: 0 });
      }
    } catch {
      /* corrupt or unavailable storage: start empty */
    }
  }

  saveOutbox() {
    const { storage, storageKey } = this.opts;
    if (!storage || !storageKey) return;
    try {
      if (this.outbox.size === 0) storage.removeItem(storageKey);
      else storage.setItem(storageKey, JSON.stringify(this.pending()));
    } catch {
      /* quota or private mode: the outbox still lives in memory */
    }
  }
}

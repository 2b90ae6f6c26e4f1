// agent/state.js — owns the agent desktop's client state: one object, rebuilt from
// every `welcome` and updated by the frames after it (offers, held and parked
// conversations, timelines per customer, messages waiting for their ack, drafts, the
// media browser calls may use), and the small pure
// lookups on it (the selected conversation, a customer's timeline in event order).
// It renders nothing and sends nothing.

/** @import { Offer, ConversationView, TimelineEvent, AgentInfo, ParkedView } from './frames.js' */
/** @import { StaffSession } from '../shared/staff-login.js' */
/** @import { SocketState } from '../shared/ws.js' */

/**
 * An offer on screen.
 * @typedef {object} OfferEntry
 * @property {Offer} offer
 * @property {number} receivedAt  local clock, ms
 * @property {boolean} [accepting]  `accept` sent, `conversation_assigned` not yet here
 * @property {number} [acceptingSince]
 */

/**
 * A conversation the agent holds.
 * @typedef {object} Conv
 * @property {ConversationView} view
 * @property {string} state
 * @property {number} unread
 * @property {number} typingUntil  local clock, ms; 0 = not typing
 * @property {number} lastActivity
 */

/**
 * A conversation the agent parked (it holds no slot until the customer writes again).
 * @typedef {object} ParkedEntry
 * @property {ParkedView} view
 * @property {string | null} name  the customer's name, when this page knew it
 */

/**
 * A customer's timeline as far as loaded.
 * @typedef {object} Timeline
 * @property {Map<string, TimelineEvent>} events  by event id
 * @property {boolean | null} more  older events exist (null: not asked yet)
 * @property {boolean} loading  a `history` request is out
 */

/**
 * A message or note sent and not yet acknowledged.
 * @typedef {object} Pending
 * @property {string} conversation_id
 * @property {'message' | 'note'} kind
 * @property {string} text
 * @property {string | null} channel  named in the frame (null: the conversation's)
 * @property {number} createdAt  local clock, ms
 * @property {string | null} failed  the error code that refused it
 * @property {string | null} [detail]  the server's reason
 * @property {FileRef[]} [files]  files sent with it
 */

/**
 * A file uploaded for a conversation's customer, attached to a draft.
 * @typedef {object} FileRef
 * @property {string} file  its id (SHA-256); '' while uploading
 * @property {string} name
 * @property {string} kind
 * @property {number} size
 * @property {string | null} [failed]  why the upload was refused
 */

/**
 * The composer's draft of one conversation.
 * @typedef {object} Draft
 * @property {string} text
 * @property {boolean} note
 * @property {string | null} channel  the agent's pick; null = the conversation's channel
 * @property {FileRef[]} files  attached, uploaded or uploading
 */

export const state = {
  /** @type {StaffSession | null} */
  session: null,
  /** @type {AgentInfo | null} from welcome */
  agent: null,
  /** @type {string | null} */
  status: null,
  /** @type {string | null} */
  reason: null,
  skew: 0, // server clock minus local clock (ms), from welcome.server_time
  /** @type {string[]} the media browser calls may use (`welcome.calls`: [], ['audio'] or ['audio', 'video']) */
  calls: [],
  welcomed: false, // a welcome arrived on this page already (for resume notices)
  /** @type {SocketState} */
  conn: { phase: 'connecting', attempt: 0, failures: 0, retryInMs: 0 },
  /** @type {Map<string, OfferEntry>} offer_id -> entry */
  offers: new Map(),
  /** @type {Map<string, Conv>} conversation id -> conversation (arrival order) */
  convs: new Map(),
  /** @type {Map<string, Timeline>} customer_id -> timeline */
  timelines: new Map(),
  /** @type {Map<string, ParkedEntry>} conversation id -> parked conversation (oldest first) */
  parked: new Map(),
  /** @type {Map<string, Pending>} client_msg_id -> message */
  pending: new Map(),
  /** @type {string | null} the conversation the pane shows */
  selected: null,
  /** @type {Map<string, Draft>} conversation id -> draft */
  drafts: new Map(),
  /** @type {Map<string, string>} request_id -> customer_id */
  historyRequests: new Map(),
  /** @type {Set<string>} conversation ids whose offer was accepted from this tab (selected on assignment) */
  acceptedHere: new Set(),
  lastTypingSentAt: 0,
  infoOpen: false,
};

export const serverNow = () => Date.now() + state.skew;

/** Forgets everything the last session knew (the session itself is set by the caller). */
export function resetState() {
  state.agent = null;
  state.status = null;
  state.reason = null;
  state.calls = [];
  state.welcomed = false;
  state.offers.clear();
  state.convs.clear();
  state.parked.clear();
  state.timelines.clear();
  state.pending.clear();
  state.selected = null;
  state.drafts.clear();
  state.historyRequests.clear();
  state.acceptedHere.clear();
}

/**
 * The customer's timeline, created empty on first use.
 * @param {string} customerId
 * @returns {Timeline}
 */
export function timelineFor(customerId) {
  let tl = state.timelines.get(customerId);
  if (!tl) {
    tl = { events: new Map(), more: null, loading: false };
    state.timelines.set(customerId, tl);
  }
  return tl;
}

/**
 * Adds or replaces a held conversation from its view; its recent events join the timeline.
 * @param {ConversationView} view
 * @returns {Conv}
 */
export function upsertConversation(view, unread = 0) {
  const prev = state.convs.get(view.id);
  const conv = {
    view,
    state: view.state,
    unread,
    typingUntil: prev ? prev.typingUntil : 0,
    lastActivity: view.recent && view.recent.length ? view.recent[view.recent.length - 1].at : view.enqueued_at,
  };
  state.convs.set(view.id, conv);
  const tl = timelineFor(view.customer.id);
  for (const e of view.recent || []) tl.events.set(e.id, e);
  return conv;
}

/** @returns {Conv | null} */
export function selectedConv() {
  return (state.selected && state.convs.get(state.selected)) || null;
}

export function selectedCustomerId() {
  const c = selectedConv();
  return c ? c.view.customer.id : null;
}

/**
 * @param {Timeline} tl
 * @returns {TimelineEvent[]} in id order
 */
export function sortedEvents(tl) {
  return [...tl.events.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * The draft of the selected conversation (created empty on first use).
 * @returns {Draft}
 */
export function currentDraft() {
  const id = state.selected || '';
  let d = state.drafts.get(id);
  if (!d) {
    d = { text: '', note: false, channel: null, files: [] };
    state.drafts.set(id, d);
  }
  return d;
}

// agent/state.js — owns the agent desktop's client state: one object, rebuilt from
// every `welcome` and updated by the frames after it (offers, held conversations,
// timelines per customer, messages waiting for their ack, drafts), and the small pure
// lookups on it (the selected conversation, a customer's timeline in event order).
// It renders nothing and sends nothing.

export const $ = (id) => document.getElementById(id);

export const state = {
  session: null, // { token, agent_id, role, expires_at }
  agent: null, // AgentInfo from welcome
  status: null,
  reason: null,
  skew: 0, // server clock minus local clock (ms), from welcome.server_time
  welcomed: false, // a welcome arrived on this page already (for resume notices)
  conn: { phase: 'connecting', failures: 0 },
  /** offer_id -> { offer, receivedAt, accepting, expiredAt } */
  offers: new Map(),
  /** conversation id -> { view, state, unread, typingUntil, lastActivity } (arrival order) */
  convs: new Map(),
  /** customer_id -> { events: Map<eventId, TimelineEvent>, more: boolean|null, loading } */
  timelines: new Map(),
  /** client_msg_id -> { conversation_id, kind: 'message'|'note', text, channel, createdAt, failed, detail } */
  pending: new Map(),
  selected: null,
  /** conversation id -> { text, note, channel } (channel: the agent's pick, null = default) */
  drafts: new Map(),
  /** request_id -> customer_id */
  historyRequests: new Map(),
  /** conversation ids whose offer was accepted from this tab (selected on assignment) */
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
  state.welcomed = false;
  state.offers.clear();
  state.convs.clear();
  state.timelines.clear();
  state.pending.clear();
  state.selected = null;
  state.drafts.clear();
  state.historyRequests.clear();
  state.acceptedHere.clear();
}

export function timelineFor(customerId) {
  let tl = state.timelines.get(customerId);
  if (!tl) {
    tl = { events: new Map(), more: null, loading: false };
    state.timelines.set(customerId, tl);
  }
  return tl;
}

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

export function selectedConv() {
  return state.selected ? state.convs.get(state.selected) : null;
}

export function selectedCustomerId() {
  const c = selectedConv();
  return c ? c.view.customer.id : null;
}

export function sortedEvents(tl) {
  return [...tl.events.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The draft of the selected conversation (created empty on first use). */
export function currentDraft() {
  const id = state.selected || '';
  let d = state.drafts.get(id);
  if (!d) {
    d = { text: '', note: false, channel: null };
    state.drafts.set(id, d);
  }
  return d;
}

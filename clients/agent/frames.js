// agent/frames.js — owns what the agent desktop does with each frame the server sends
// on `/ws/agent` (protocol v1, docs/protocol.md): `welcome` rebuilds the state (offers,
// held and parked conversations exactly as sent, older timeline pages kept), then `status`,
// `offer`, `offer_revoked`, `conversation_assigned`, `event`, `ack`,
// `conversation_updated`, `customer_typing`, `history` and `error` update it and
// redraw what changed; the browser-call frames (`call_ringing`, `call_incoming`,
// `call_answered`, `call_signal`, `call_ended`) and errors about calls go to calls.js;
// a `voice` conversation this tab accepted goes first to agentphone.js, which asks the
// engine to ring the agent's own phone; when it does not, softphone.js dials it as
// before. softphone.js hears of the first `welcome` (it starts the phone softphone), of
// `voice` conversations assigned (whether each is a queued callback, which has no caller
// waiting), and of conversations leaving the agent (their phone call ends); a `voice`
// conversation assigned while the softphone is on a colleague's consult call with no
// conversation yet is that call's caller, handed over: softphone.js attaches it to the
// call and nothing is dialled or sent to the agent's own phone. agentphone.js hears of
// the first `welcome` too (it asks how the agent takes calls, `GET /voice/me`);
// callcontrols.js (hold, consult) of `call` events (a caller who hung up).
// session.js hands `handlers` to the socket.

import { t, has } from '../shared/i18n.js';
import { state, timelineFor, sortedEvents, upsertConversation, selectedCustomerId } from './state.js';
import { customerName } from './labels.js';
import { notice, toast } from './notices.js';
import { renderStatus, renderTitle } from './header.js';
import { addOffer, removeOffer, forgetOfferCards } from './offers.js';
import { renderConversationList } from './conv-list.js';
import { renderTimeline, renderTimelineHeader, forgetTimeline } from './timeline.js';
import { renderAll, renderConversation, renderTyping, select, selectNext, removeConversation } from './pane.js';
import { inOutbox } from './wire.js';
import { callHandlers, callError } from './calls.js';
import { softphoneWelcome, softphoneAssigned, softphoneAttach, softphoneLeft } from './softphone.js';
import { agentPhoneAssigned, agentPhoneWelcome } from './agentphone.js';
import { renderCallControls } from './callcontrols.js';
import { pendingCallback } from './callback.js';

const CUSTOMER_TYPING_SHOW_MS = 5000;

// ---- the frames (docs/protocol.md, "Agent socket"), as far as the desktop reads them

/**
 * @typedef {object} Identity
 * @property {string} channel
 * @property {string} address
 */

/**
 * CustomerView.
 * @typedef {object} Customer
 * @property {string} id
 * @property {string} [display_name]
 * @property {number} [priority]
 * @property {Record<string, unknown>} [attributes]
 * @property {Identity[]} [identities]
 * @property {string[]} [opted_out]  channels
 */

/**
 * TimelineEvent: flat, `type` names the kind; which fields a kind carries is in
 * docs/protocol.md. Every field the desktop reads is here.
 * @typedef {object} TimelineEvent
 * @property {string} id  orders events (compared as strings)
 * @property {string} type
 * @property {number} at  Unix ms
 * @property {string} [customer_id]
 * @property {string} [conversation_id]
 * @property {string} [channel]
 * @property {string} [address]
 * @property {string} [text]
 * @property {string} [client_msg_id]
 * @property {string} [agent_id]
 * @property {string} [subject]  email
 * @property {Attachment[]} [attachments]
 * @property {string} [queue]
 * @property {string} [outcome]
 * @property {string} [from_agent]
 * @property {string} [to_agent]
 * @property {string} [to_queue]
 * @property {string} [from]  overflowed: queue; channel_switched: channel
 * @property {string} [to]
 * @property {string} [disposition]
 * @property {number} [waited_ms]
 * @property {boolean} [opted_out]
 * @property {string} [status]  call status; message_status: sent|delivered|read|failed|suppressed|unknown; call_recorded: completed|absent|failed
 * @property {string} [detail]
 * @property {string} [message_event_id]  message_status: the reply; post_moderated: the post
 * @property {string} [action]  post_moderated: hide|unhide|delete
 * @property {string} [join_url]
 * @property {Identity[]} [identities]
 * @property {string} [merged]
 * @property {string} [restored]
 * @property {string} [by]
 * @property {string} [evidence]  identity_linked: what proved it (same_phone_number, login_token, ...)
 * @property {string} [kind]  bot_reply: answer|not_sure|handoff|after_hours|ivr
 * @property {string} [article_title]
 * @property {string} [reason]
 * @property {{ question: string, article_title?: string }[]} [transcript]
 * @property {number} [score]
 * @property {number} [scale_max]
 * @property {string} [comment]
 * @property {string} [event_type]
 * @property {string} [phone]
 * @property {string} [note]
 * @property {string} [source]
 * @property {string[]} [ivr_path]
 * @property {number} [attempt]
 * @property {string} [next]
 * @property {string} [call_id]  call, call_started, call_answered, call_ended, call_recorded
 * @property {string} [media]  call_started: audio | video
 * @property {number} [duration_ms]  call_ended: talk time since the answer
 * @property {string} [recording_id]  call_recorded: the platform's recording (`RE…`), played through the engine
 * @property {number} [duration_s]  call_recorded: the recording's length, seconds
 */

/**
 * @typedef {object} Attachment
 * @property {string} [kind]
 * @property {string} [name]
 * @property {string} [content_type]
 * @property {number} [size]
 * @property {string} [url]
 * @property {string} [file]  the stored copy's id (SHA-256), read with `shared/files.js`
 */

/**
 * ConversationView.
 * @typedef {object} ConversationView
 * @property {string} id
 * @property {Customer} customer
 * @property {string} channel
 * @property {string} queue
 * @property {string} state
 * @property {number} enqueued_at
 * @property {TimelineEvent[]} [recent]  oldest first
 */

/**
 * OfferView (the `offer` frame, and `welcome.offers`).
 * @typedef {object} Offer
 * @property {string} offer_id
 * @property {string} conversation_id
 * @property {Customer} customer
 * @property {string} channel
 * @property {string} queue
 * @property {number} [priority]
 * @property {number} waited_ms
 * @property {number} expires_at  server clock, Unix ms
 * @property {number} [timeout_ms]
 * @property {string} [preview]
 */

/**
 * ParkedView (`welcome.parked`).
 * @typedef {object} ParkedView
 * @property {string} conversation_id
 * @property {string} customer_id
 * @property {string} channel
 * @property {string} queue
 * @property {number} parked_at  server clock, Unix ms
 * @property {boolean} [auto]  parked by the engine after the customer's silence
 */

/**
 * @typedef {object} AgentInfo
 * @property {string} id
 * @property {string} display_name
 * @property {string[]} queues
 */

/**
 * @typedef {object} Welcome
 * @property {AgentInfo} agent
 * @property {string} status
 * @property {string} [reason]
 * @property {ConversationView[]} [conversations]
 * @property {Offer[]} [offers]
 * @property {ParkedView[]} [parked]  oldest first
 * @property {number} [server_time]
 * @property {boolean} [resumed]
 * @property {string[]} [calls]  the media browser calls may use; absent = none
 */

/** @typedef {{ status: string, reason?: string }} StatusFrame */
/** @typedef {{ offer_id: string, conversation_id: string, outcome: string }} OfferRevoked */
/** @typedef {{ conversation: ConversationView }} ConversationAssigned */
/** @typedef {{ conversation_id: string, event: TimelineEvent }} EventFrame */
/** @typedef {{ client_msg_id: string, conversation_id?: string, event_id: string }} Ack */
/** @typedef {{ conversation_id: string, state: string, held?: boolean }} ConversationUpdated */
/** @typedef {{ conversation_id: string }} CustomerTyping */
/** @typedef {{ request_id?: string, customer_id?: string, events?: TimelineEvent[], more?: boolean }} History */
/**
 * `error`: `ref` names the refused frame (client_msg_id, offer_id, request_id…);
 * `failed` is set by ../shared/ws.js when an outbox frame was refused for good.
 * @typedef {{ code: string, message?: string, ref?: string, failed?: object }} ErrorFrame
 */

/** @param {Welcome} msg */
function onWelcome(msg) {
  const again = state.welcomed;
  state.welcomed = true;
  state.agent = msg.agent;
  state.status = msg.status;
  state.reason = msg.reason ?? null;
  state.calls = Array.isArray(msg.calls) ? msg.calls : [];
  if (msg.server_time !== undefined && Number.isFinite(msg.server_time)) state.skew = msg.server_time - Date.now();

  // Offers: exactly those in the message.
  state.offers.clear();
  forgetOfferCards();
  for (const offer of msg.offers || []) state.offers.set(offer.offer_id, { offer, receivedAt: Date.now() });

  // Parked conversations: exactly those in the message (names this page knew kept).
  const oldParked = state.parked;
  state.parked = new Map();
  for (const view of msg.parked || []) {
    const prev = oldParked.get(view.conversation_id);
    state.parked.set(view.conversation_id, { view, name: prev ? prev.name : null });
  }

  // Conversations and timelines: rebuilt from the message. Older pages already loaded
  // for a customer that is still held are kept (events never change).
  const oldConvs = state.convs;
  const oldTimelines = state.timelines;
  state.convs = new Map();
  state.timelines = new Map();
  for (const view of msg.conversations || []) {
    const prev = oldConvs.get(view.id);
    upsertConversation(view, prev ? prev.unread : 0);
    const old = oldTimelines.get(view.customer.id);
    const tl = timelineFor(view.customer.id);
    if (old) {
      for (const [id, e] of old.events) if (!tl.events.has(id)) tl.events.set(id, e);
      tl.more = old.more;
    }
  }
  // Pending messages of conversations no longer held will be refused (not_yours);
  // the outbox resends the others.
  for (const [id, p] of state.pending) {
    if (!state.convs.has(p.conversation_id) && !inOutbox(id)) state.pending.delete(id);
  }
  forgetTimeline();
  softphoneWelcome();
  agentPhoneWelcome();
  if (again) notice(msg.resumed ? t('notice.resumed') : t('notice.session_new'));
  if (!(state.selected && state.convs.has(state.selected)) && selectNext()) return;
  renderAll();
}

/** @param {StatusFrame} msg */
function onStatus(msg) {
  const was = state.status;
  state.status = msg.status;
  state.reason = msg.reason ?? null;
  if (msg.reason === 'missed' && was !== msg.status) notice(t('notice.status_missed'), 'warn');
  renderStatus();
}

/** @param {OfferRevoked} msg */
function onOfferRevoked(msg) {
  const entry = state.offers.get(msg.offer_id);
  if (!entry) return;
  removeOffer(msg.offer_id);
  const name = customerName(entry.offer.customer);
  // `rejected` reaches the other tabs of an agent who declined in one tab.
  /** @type {Record<string, string>} */
  const keys = { timed_out: 'notice.offer_timed_out', rejected: 'notice.offer_rejected' };
  const key = keys[msg.outcome] || 'notice.offer_rescinded';
  notice(t(key, { name }), msg.outcome === 'timed_out' ? 'warn' : 'info', { testid: `offer-outcome-${msg.outcome}` });
}

/** @param {ConversationAssigned} msg */
function onConversationAssigned(msg) {
  const view = msg.conversation;
  const prev = state.convs.get(view.id);
  upsertConversation(view, prev ? prev.unread : 0);
  for (const [id, entry] of state.offers) {
    if (entry.offer.conversation_id === view.id) removeOffer(id, false);
  }
  const here = state.acceptedHere.delete(view.id);
  if (here || !state.selected) select(view.id);
  else renderAll();
  // A queued callback has no caller waiting: the agent calls out from its task card.
  const callback = view.channel === 'voice' && !!pendingCallback(sortedEvents(timelineFor(view.customer.id)), view.id);
  // A caller handed over by a colleague who consulted this agent is on the softphone's
  // call already: it becomes this conversation's call.
  if (softphoneAttach(view, here, callback)) return;
  // A phone call rings the agent's own phone when their profile has one; otherwise (or
  // if that fails) the softphone dials it, if the conversation is still held here.
  agentPhoneAssigned(view, here, callback)
    .catch((e) => {
      console.warn('[agentphone] failed', e);
      return false;
    })
    .then((took) => {
      if (!took && state.convs.has(view.id)) softphoneAssigned(view, here, callback);
    })
    .catch((e) => console.warn('[softphone] assigned failed', e));
}

/** @param {EventFrame} msg */
function onEvent(msg) {
  const { conversation_id: convId, event } = msg;
  const conv = state.convs.get(convId);
  const customerId = event.customer_id || (conv && conv.view.customer.id);
  if (!customerId) return;
  const tl = timelineFor(customerId);
  tl.events.set(event.id, event);
  if (conv) {
    conv.lastActivity = event.at;
    if (event.type === 'message_in') {
      conv.typingUntil = 0;
      if (state.selected !== convId || document.hidden) conv.unread += 1;
    }
    if (event.type === 'identity_linked') {
      const ids = conv.view.customer.identities || (conv.view.customer.identities = []);
      const { channel, address } = event;
      if (channel && address && !ids.some((i) => i.channel === channel && i.address === address)) {
        ids.push({ channel, address });
      }
    }
    if (event.type === 'customers_merged') {
      const ids = conv.view.customer.identities || (conv.view.customer.identities = []);
      for (const k of event.identities || []) {
        if (!ids.some((i) => i.channel === k.channel && i.address === k.address)) ids.push({ channel: k.channel, address: k.address });
      }
    }
    if (event.type === 'customers_unmerged' && conv.view.customer.identities) {
      const gone = event.identities || [];
      conv.view.customer.identities = conv.view.customer.identities.filter(
        (i) => !gone.some((k) => k.channel === i.channel && k.address === i.address),
      );
    }
    if (event.type === 'channel_switched' && event.to) {
      conv.view.channel = event.to;
      // The picker follows the conversation to its new channel.
      const draft = state.drafts.get(convId);
      if (draft) draft.channel = null;
    }
  }
  renderConversationList();
  if (conv && state.selected === convId) renderConversation();
  else if (selectedCustomerId() === customerId) renderTimeline();
  renderTitle();
  // A caller who hung up ends their call's controls.
  if (event.type === 'call') renderCallControls();
}

/** @param {Ack} msg */
function onAck(msg) {
  const p = state.pending.get(msg.client_msg_id);
  if (!p) return;
  state.pending.delete(msg.client_msg_id);
  const conv = state.convs.get(msg.conversation_id || p.conversation_id);
  if (conv) {
    const tl = timelineFor(conv.view.customer.id);
    const already = tl.events.has(msg.event_id) || [...tl.events.values()].some((e) => e.client_msg_id === msg.client_msg_id);
    if (!already) {
      // The `event` broadcast may come later (or to other tabs only): show it as sent now.
      tl.events.set(msg.event_id, {
        id: msg.event_id,
        customer_id: conv.view.customer.id,
        conversation_id: conv.view.id,
        at: p.createdAt + state.skew,
        type: p.kind === 'note' ? 'note' : 'message_out',
        channel: p.kind === 'note' ? undefined : p.channel || conv.view.channel,
        agent_id: state.session ? state.session.agent_id : undefined,
        text: p.text,
        client_msg_id: msg.client_msg_id,
      });
    }
  }
  if (state.selected === (msg.conversation_id || p.conversation_id)) renderTimeline();
}

/** @param {ConversationUpdated} msg */
function onConversationUpdated(msg) {
  const parked = state.parked.get(msg.conversation_id);
  if (parked && msg.state !== 'parked') {
    // Off the parked list: the customer wrote again (or it was taken back), or resolved.
    state.parked.delete(msg.conversation_id);
    const name = parked.name || t('parked.customer');
    notice(t(msg.state === 'queued' ? 'notice.parked_returned' : 'notice.conv_resolved', { name }), 'info', {
      testid: 'parked-left',
    });
    renderAll();
    return;
  }
  const conv = state.convs.get(msg.conversation_id);
  if (!conv) return;
  if (msg.state === 'parked') {
    state.parked.set(msg.conversation_id, {
      view: {
        conversation_id: conv.view.id,
        customer_id: conv.view.customer.id,
        channel: conv.view.channel,
        queue: conv.view.queue,
        parked_at: Date.now() + state.skew,
      },
      name: customerName(conv.view.customer),
    });
  }
  conv.state = msg.state;
  conv.view.state = msg.state;
  if (msg.held === false) {
    const name = customerName(conv.view.customer);
    const key =
      msg.state === 'resolved'
        ? 'notice.conv_resolved'
        : msg.state === 'queued'
          ? 'notice.conv_transferred'
          : msg.state === 'abandoned'
            ? 'notice.conv_abandoned'
            : msg.state === 'parked'
              ? 'notice.conv_parked'
              : 'notice.conv_closed';
    notice(t(key, { name }), 'info', { testid: 'conversation-closed' });
    softphoneLeft(msg.conversation_id);
    removeConversation(msg.conversation_id);
  }
  renderAll();
}

/** @param {CustomerTyping} msg */
function onCustomerTyping(msg) {
  const conv = state.convs.get(msg.conversation_id);
  if (!conv) return;
  conv.typingUntil = Date.now() + CUSTOMER_TYPING_SHOW_MS;
  renderConversationList();
  if (state.selected === msg.conversation_id) renderTyping();
}

/** @param {History} msg */
function onHistory(msg) {
  const customerId = msg.customer_id || (msg.request_id && state.historyRequests.get(msg.request_id));
  if (msg.request_id) state.historyRequests.delete(msg.request_id);
  if (!customerId) return;
  const tl = timelineFor(customerId);
  for (const e of msg.events || []) tl.events.set(e.id, e);
  tl.more = !!msg.more;
  tl.loading = false;
  if (selectedCustomerId() === customerId) renderTimeline({ keepScroll: true });
}

/** @param {ErrorFrame} msg */
function onServerError(msg) {
  const callText = callError(msg);
  if (callText !== null) {
    if (callText) toast(msg.code, callText);
    return;
  }
  const p = msg.failed && msg.ref ? state.pending.get(msg.ref) : undefined;
  if (p) {
    p.failed = msg.code;
    p.detail = msg.message || null;
    renderTimeline();
  }
  const entry = msg.code === 'offer_not_found' && msg.ref ? state.offers.get(msg.ref) : undefined;
  if (entry && msg.ref) {
    state.acceptedHere.delete(entry.offer.conversation_id);
    removeOffer(msg.ref);
    notice(t('notice.offer_gone'), 'warn');
    return;
  }
  // A refused history request must not leave the button spinning.
  const historyCustomer = msg.ref && (state.historyRequests.get(msg.ref) || (state.timelines.has(msg.ref) ? msg.ref : null));
  if (historyCustomer && msg.ref) {
    state.historyRequests.delete(msg.ref);
    timelineFor(historyCustomer).loading = false;
    renderTimelineHeader();
  }
  toast(msg.code, errorText(msg));
}

/** @param {ErrorFrame} msg */
function errorText(msg) {
  // `invalid` covers many refusals (opted out, no address, connector off): say which.
  if (msg.code === 'invalid' && msg.message) return t('error.invalid_detail', { detail: msg.message });
  const key = `error.${msg.code}`;
  return has(key) ? t(key) : msg.message || msg.code;
}

/** The socket's handler per frame type. */
export const handlers = {
  welcome: onWelcome,
  status: onStatus,
  offer: addOffer,
  offer_revoked: onOfferRevoked,
  conversation_assigned: onConversationAssigned,
  event: onEvent,
  ack: onAck,
  conversation_updated: onConversationUpdated,
  customer_typing: onCustomerTyping,
  history: onHistory,
  error: onServerError,
  pong: () => {},
  ...callHandlers,
};

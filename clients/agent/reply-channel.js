// agent/reply-channel.js — owns the composer's "Reply via" picker: which channels a
// reply can go out on (the conversation's current channel, then every channel the
// customer has an identity on, and for a public one — a Page comment, an X mention —
// the private channel it moves to; never voice), which ones the customer opted out of
// (shown disabled), what the picker shows (the agent's pick while still usable, else
// the current channel), and the channel a reply names (only a pick that differs).

import { t, channelName } from '../shared/i18n.js';
import { h, replaceChildren, byId } from '../shared/dom.js';
import { state, sortedEvents } from './state.js';

/** @import { Conv } from './state.js' */

// Channels a reply cannot go out on (a call carries no text).
const NO_REPLY_CHANNELS = new Set(['voice']);
// A public channel's private channel: one reply there moves the customer to private
// (Meta's private reply to the comment; an X direct message). Mirrors
// `Channel::private_channel`.
/** @type {Record<string, string>} */
const PRIVATE_OF = { facebook_comments: 'messenger', x_mentions: 'x' };

/**
 * Channels a reply in conv can go out on: its current channel first, then every channel
 * the customer has an identity on (a chat identity is just `chat`); never `voice`.
 * @param {Conv} conv
 */
function replyChannels(conv) {
  /** @type {string[]} */
  const list = [];
  /** @param {string} c */
  const add = (c) => {
    if (c && !NO_REPLY_CHANNELS.has(c) && !list.includes(c)) list.push(c);
  };
  add(conv.view.channel);
  for (const i of conv.view.customer.identities || []) add(i.channel);
  const priv = PRIVATE_OF[conv.view.channel];
  if (priv) add(priv);
  return list;
}

/**
 * Channels the customer opted out of: the view's `customer.opted_out`, corrected by the
 * `opt_out_changed` events of the timeline in order (the latest one per channel wins).
 * @param {Conv} conv
 */
export function optedOutChannels(conv) {
  /** @type {Set<string | undefined>} */
  const out = new Set(conv.view.customer.opted_out || []);
  const tl = state.timelines.get(conv.view.customer.id);
  if (tl) {
    for (const e of sortedEvents(tl)) {
      if (e.type !== 'opt_out_changed') continue;
      if (e.opted_out) out.add(e.channel);
      else out.delete(e.channel);
    }
  }
  return out;
}

/**
 * What the picker shows: the agent's pick while still possible, else the default.
 * @param {Conv} conv
 * @param {string[]} channels
 * @param {Set<string | undefined>} optedOut
 */
function shownReplyChannel(conv, channels, optedOut) {
  /** @param {string} c */
  const usable = (c) => channels.includes(c) && !optedOut.has(c);
  const d = state.drafts.get(conv.view.id);
  if (d && d.channel && usable(d.channel)) return d.channel;
  if (usable(conv.view.channel)) return conv.view.channel;
  return channels.find(usable) || channels[0] || '';
}

/**
 * The channel to name in a reply: the picker's, only when it is not the default.
 * @param {Conv} conv
 */
export function pickedChannel(conv) {
  const v = byId('reply-channel', HTMLSelectElement).value;
  return v && v !== conv.view.channel ? v : null;
}

/**
 * @param {Conv} conv
 * @param {boolean} note the composer is in note mode (no channel to pick)
 */
export function renderReplyChannel(conv, note) {
  const sel = byId('reply-channel', HTMLSelectElement);
  const channels = replyChannels(conv);
  const optedOut = optedOutChannels(conv);
  const priv = PRIVATE_OF[conv.view.channel];
  /** @param {string} c */
  const name = (c) => (c === priv ? t('composer.private', { channel: channelName(c) }) : channelName(c));
  const labels = channels.map((c) => (optedOut.has(c) ? `${name(c)} ${t('composer.opted_out')}` : name(c)));
  const sig = JSON.stringify([channels, labels]);
  if (sel.dataset.sig !== sig) {
    sel.dataset.sig = sig;
    replaceChildren(sel, ...channels.map((c, i) => h('option', { value: c, disabled: optedOut.has(c) }, labels[i])));
  }
  const shown = shownReplyChannel(conv, channels, optedOut);
  sel.value = shown;
  sel.dataset.default = conv.view.channel;
  sel.disabled = channels.length === 0;
  sel.classList.toggle('is-override', !!shown && shown !== conv.view.channel);
  sel.title = t('composer.reply_via_title', { channel: channelName(shown || conv.view.channel) });
  const field = sel.closest('.composer__channel');
  if (field instanceof HTMLElement) field.hidden = note;
}

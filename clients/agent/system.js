// agent/system.js — owns the wording of the timeline's system lines: every event that
// is not a message or a note (opened, queued, offered, transferred, resolved with its
// disposition, channel switched, phone calls, phone call recordings (worded, with their
// Play button, by recording.js), browser calls (started by whom, answered, ended with
// why and how long, worded by ../shared/call.js), video links, merges, callbacks,
// delivery, and through bot.js / engage.js the bot and engagement events) becomes one
// line of text. Links only through safeLink (http/https).

import { t, has, formatDuration, channelName } from '../shared/i18n.js';
import { h, safeLink } from '../shared/dom.js';
import { agentLabel, timeEl } from './labels.js';
import { engageEventText } from './engage.js';
import { botText } from './bot.js';
import { describeCallbackEvent } from './callback.js';
import { recordingView } from './recording.js';
import { callMediaLabel, callEndedText } from '../shared/call.js';

/** @import { TimelineEvent, Identity } from './frames.js' */
/** @import { Child } from '../shared/dom.js' */

/**
 * @param {TimelineEvent} e
 * @returns {Child}
 */
function systemText(e) {
  /** @param {string | undefined} c */
  const ch = (c) => channelName(c);
  const lower = { inSentence: true };
  switch (e.type) {
    case 'conversation_opened':
      return t('event.conversation_opened', { channel: ch(e.channel), queue: e.queue });
    case 'queued':
      return t('event.queued', { queue: e.queue });
    case 'offered':
      return t('event.offered', { agent: agentLabel(e.agent_id, lower) });
    case 'offer_closed':
      return t('event.offer_closed', {
        agent: agentLabel(e.agent_id, lower),
        outcome: has(`outcome.${e.outcome}`) ? t(`outcome.${e.outcome}`) : e.outcome,
      });
    case 'assigned':
      return t('event.assigned', { agent: agentLabel(e.agent_id, lower) });
    case 'transferred': {
      const to = e.to_agent ? t('event.agent_in_queue', { agent: agentLabel(e.to_agent, lower), queue: e.to_queue }) : t('event.queue_label', { queue: e.to_queue });
      return t('event.transferred', { from: agentLabel(e.from_agent, lower), to });
    }
    case 'overflowed':
      return t('event.overflowed', { from: e.from, to: e.to });
    case 'wrap_up':
      return t('event.wrap_up', { agent: agentLabel(e.agent_id) });
    case 'resolved':
      return e.disposition
        ? t('event.resolved_disp', { agent: agentLabel(e.agent_id, lower), disposition: dispositionLabel(e.disposition) })
        : t('event.resolved', { agent: agentLabel(e.agent_id, lower) });
    case 'abandoned':
      return t('event.abandoned', { d: formatDuration(e.waited_ms) });
    case 'channel_switched':
      return t('event.channel_switched', { from: ch(e.from), to: ch(e.to) });
    case 'identity_linked': {
      const vars = { channel: ch(e.channel), address: e.address };
      // Why this identity is the same customer, when the engine linked it itself.
      const why = e.evidence && has(`evidence.${e.evidence}`) ? t(`evidence.${e.evidence}`) : null;
      return why ? t('event.identity_linked_because', { ...vars, reason: why }) : t('event.identity_linked', vars);
    }
    case 'opt_out_changed':
      return t(e.opted_out ? 'event.opted_out' : 'event.opted_in', { channel: ch(e.channel) });
    case 'conversation_reopened':
      return t('event.conversation_reopened', { channel: ch(e.channel), queue: e.queue });
    case 'call': {
      const status = has(`call.${e.status}`) ? t(`call.${e.status}`) : t('call.other', { status: e.status });
      return e.detail ? t('event.call_detail', { status, detail: e.detail }) : status;
    }
    case 'call_started': {
      const who = e.by === 'customer' ? t('call.by.customer') : e.agent_id ? agentLabel(e.agent_id, lower) : t('call.by.agent');
      return t('call.started_by', { media: callMediaLabel(e.media), who });
    }
    case 'call_answered':
      return t('call.answered');
    case 'call_ended':
      return callEndedText(e, byLabel);
    case 'call_recorded':
      return recordingView(e);
    case 'video_invited':
      return [t('event.video_invited'), ' ', safeLink(e.join_url, e.join_url, { class: 'sys__link', dataset: { testid: 'video-link' } })];
    case 'customers_merged':
    case 'customers_unmerged': {
      const text = t(`event.${e.type}`, {
        id: String(e.type === 'customers_merged' ? e.merged : e.restored).slice(0, 8),
        identities: identityList(e.identities),
      });
      return e.by ? t('event.by_agent', { text, agent: agentLabel(e.by, lower) }) : text;
    }
    case 'callback_requested':
    case 'callback_attempt':
      return describeCallbackEvent(e);
    case 'post_moderated':
      return t(`event.post_moderated.${e.action}`, { agent: agentLabel(e.agent_id), channel: ch(e.channel) });
    case 'message_status':
      return t('event.message_status', { channel: ch(e.channel), status: has(`delivery.${e.status}`) ? t(`delivery.${e.status}`) : e.status });
    default:
      return botText(e) || engageEventText(e) || t('event.unknown', { type: e.type });
  }
}

/**
 * Who ended a browser call, as the desktop says it: "the customer", "the agent".
 * @param {string | undefined} by
 */
function byLabel(by) {
  return has(`call.by.${by}`) ? t(`call.by.${by}`) : String(by || '');
}

/** @param {Identity[] | undefined} list */
function identityList(list) {
  return (list || []).map((k) => `${channelName(k.channel)} ${k.address}`).join(', ') || t('common.none');
}

/** @param {string} d */
function dispositionLabel(d) {
  const s = String(d);
  const m = /^([a-z_]+)(?::\s*(.*))?$/s.exec(s);
  if (m && has(`disp.${m[1]}`)) return m[2] ? `${t(`disp.${m[1]}`)}: ${m[2]}` : t(`disp.${m[1]}`);
  return s;
}

/**
 * The timeline line of a system event.
 * @param {TimelineEvent} e
 */
export function buildSystemLine(e) {
  /** @type {Record<string, string>} */
  const dataset = { testid: 'timeline-system', kind: e.type, eventId: e.id };
  if (e.call_id) dataset.callId = e.call_id;
  return h(
    'li',
    { class: `sys sys--${e.type}`, dataset },
    h('span', { class: 'sys__text' }, systemText(e)),
    ' ',
    timeEl(e.at),
  );
}

// agent/engage.js — owns how the agent desktop words the engagement events of a
// customer's timeline (docs/engagement.md): the CSAT survey sent and its answer, and
// proactive notifications (what the customer was told, on which channel). Returns
// plain text (the caller puts it in a text node), or null for any other event type.

import { t, channelName } from '../shared/i18n.js';

/** @import { TimelineEvent } from './frames.js' */

/**
 * The system-line text of an engagement event, or null.
 * @param {TimelineEvent} e
 */
export function engageEventText(e) {
  switch (e.type) {
    case 'survey_sent':
      return t('event.survey_sent', { channel: channelName(e.channel) });
    case 'survey_answered': {
      const text = t('event.survey_answered', { score: e.score, max: e.scale_max, channel: channelName(e.channel) });
      return e.comment ? `${text} — “${e.comment}”` : text;
    }
    case 'notification_sent':
      return t('event.notification_sent', { type: e.event_type, channel: channelName(e.channel), text: e.text });
    default:
      return null;
  }
}

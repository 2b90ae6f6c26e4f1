// agent/bot.js — owns how the FAQ bot's timeline events read in the agent desktop:
// `bot_reply` (what the bot, the menus in writing or the closed queue told the
// customer, and which knowledge-base article) and
// `bot_handoff` (why it handed off, and the whole exchange: every question the bot got
// and what it offered), so the agent never has to ask again. Text only (no HTML).

import { t } from '../shared/i18n.js';
import { h } from '../shared/dom.js';

/** @import { TimelineEvent } from './frames.js' */

/**
 * The system line for a bot event, or null for any other event.
 * @param {TimelineEvent} e
 */
export function botText(e) {
  if (e.type === 'bot_reply') {
    const fixed = { handoff: 'bot.reply_handoff', ivr: 'bot.reply_ivr', after_hours: 'bot.reply_after_hours' }[e.kind || ''];
    const what = e.article_title
      ? t('bot.reply_article', { title: e.article_title })
      : fixed
        ? t(fixed)
        : t('bot.reply_unsure');
    return [what, h('div', { class: 'sys__quote', dataset: { testid: 'bot-reply-text' } }, e.text)];
  }
  if (e.type === 'bot_handoff') {
    const reason = t(`bot.reason.${e.reason}`);
    const turns = (e.transcript || []).map((turn, i) =>
      h(
        'div',
        { dataset: { testid: 'bot-transcript-turn' } },
        `${i + 1}. ${turn.question}`,
        turn.article_title ? ` → ${t('bot.offered', { title: turn.article_title })}` : '',
      ),
    );
    return [t('bot.handoff', { reason, n: String(turns.length) }), h('div', { dataset: { testid: 'bot-transcript' } }, ...turns)];
  }
  return null;
}

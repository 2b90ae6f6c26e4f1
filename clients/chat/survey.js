// chat/survey.js — owns the post-chat CSAT survey card of the web chat: shows the
// server's `survey` (the question, one button per score 1..scale_max, an optional
// comment box), sends `survey_answer` on a button press, and replaces the card with a
// thank-you line on `survey_thanks`. A refusal (`error` whose ref is the conversation
// id: out of range, already answered) is shown by chat.js's error line; the card stays
// so the visitor can choose again.
//
// Safety rule: the question reaches the page only as a text node.

import { t, onLanguageChange } from '../shared/i18n.js';
import { h, replaceChildren } from '../shared/dom.js';

/** @import { ReconnectingSocket } from '../shared/ws.js' */

const MAX_COMMENT = 1000;

/**
 * Registers the survey handlers on the chat socket and mounts the card before `before`.
 * @param {ReconnectingSocket} socket
 * @param {HTMLElement} before
 */
export function mountSurvey(socket, before) {
  const card = h('section', { class: 'survey', 'data-testid': 'survey', hidden: true, 'aria-live': 'polite' });
  before.before(card);
  /** @type {{ conversation_id: string, question: string, scale_max: number, thanked: boolean } | null} */
  let current = null;

  function render() {
    if (!current) {
      card.hidden = true;
      return;
    }
    card.hidden = false;
    if (current.thanked) {
      replaceChildren(card, h('p', { class: 'survey__thanks', 'data-testid': 'survey-thanks', text: t('survey.thanks') }));
      return;
    }
    const comment = h('textarea', {
      class: 'input survey__comment', rows: 2, maxLength: MAX_COMMENT,
      placeholder: t('survey.comment'), 'data-testid': 'survey-comment', 'aria-label': t('survey.comment'),
    });
    const survey = current;
    const buttons = [];
    for (let n = 1; n <= survey.scale_max; n++) {
      buttons.push(h('button', {
        type: 'button', class: 'btn btn--small survey__score', 'data-testid': `survey-score-${n}`,
        'aria-label': t('survey.score_label', { n }), text: String(n),
        onclick: () => {
          const text = comment.value.trim();
          socket.send({
            type: 'survey_answer',
            conversation_id: survey.conversation_id,
            score: n,
            ...(text ? { comment: text } : {}),
          });
        },
      }));
    }
    replaceChildren(card,
      h('p', { class: 'survey__question', 'data-testid': 'survey-question', text: survey.question }),
      h('div', { class: 'survey__scores', role: 'group', 'aria-label': t('survey.scores_label') }, ...buttons),
      comment,
    );
  }

  socket.handlers.survey = (msg) => {
    current = { conversation_id: msg.conversation_id, question: msg.question, scale_max: msg.scale_max || 5, thanked: false };
    render();
  };
  socket.handlers.survey_thanks = (msg) => {
    if (current && current.conversation_id === msg.conversation_id) current.thanked = true;
    render();
  };
  onLanguageChange(render);
}

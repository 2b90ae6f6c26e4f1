// chat/bot.js — owns the web chat's FAQ-bot affordances: the "talk to a person"
// button, shown while the bot is answering (its last reply is the newest event and no
// conversation is open), which sends the `handoff` protocol message; and the name the
// bot's replies are shown under.

import { t } from '../shared/i18n.js';
import { newClientMsgId } from '../shared/ws.js';

/** @import { ChatState, ChatEvent } from './chat.js' */

/**
 * Whether conversation `id` is still the bot's: a bot reply in it and no state for it
 * from the server yet (a conversation opens only when the bot hands off). An ack then
 * must not be taken as "queued".
 * @param {ChatState} state
 * @param {string} id
 */
export function botOwns(state, id) {
  const c = state.conversation;
  if (c && c.id === id && 'position' in c) return false;
  for (const e of state.events.values()) if (e.type === 'bot_reply' && e.conversation_id === id) return true;
  return false;
}

/**
 * On a `bot_reply`: drops a "queued" guessed from an ack for the bot's conversation.
 * @param {ChatState} state
 * @param {ChatEvent} e
 */
export function onBotEvent(state, e) {
  const c = state.conversation;
  if (e.type === 'bot_reply' && c && c.id === e.conversation_id && !('position' in c)) state.conversation = null;
}

/**
 * The speaker name of a `bot_reply`, else null.
 * @param {ChatEvent} e
 */
export function botName(e) {
  return e && e.type === 'bot_reply' ? t('chat.bot_name') : null;
}

/**
 * Adds the hand-off button before `anchor` (a toolbar button) and returns an
 * `update(state)` function that shows it when the bot has the chat.
 * `send(text, clientMsgId)` records the pending message and sends it reliably.
 * @param {HTMLElement} anchor
 * @param {(text: string, clientMsgId: string) => void} send
 * @returns {(state: ChatState) => void}
 */
export function mountHandoff(anchor, send) {
  const btn = document.createElement('button');
  btn.type = 'button';
  btn.className = 'btn btn--small chat__tool';
  btn.dataset.testid = 'chat-handoff';
  btn.hidden = true;
  btn.addEventListener('click', () => {
    btn.disabled = true;
    send(t('chat.handoff_text'), `handoff:${newClientMsgId()}`);
  });
  anchor.before(btn);
  return (state) => {
    btn.textContent = t('chat.handoff');
    const open = state.conversation && ['queued', 'assigned', 'wrap_up'].includes(state.conversation.state);
    /** @type {ChatEvent | null} */
    let last = null;
    for (const e of state.events.values()) if (!last || e.id > last.id) last = e;
    btn.hidden = !!open || !last || last.type !== 'bot_reply';
    if (btn.hidden) btn.disabled = false;
  };
}

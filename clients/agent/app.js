// agent/app.js — owns the start of the Switchboard agent desktop: it applies the
// language, wires every panel's controls (each module's init…), runs the 250 ms
// clock that moves countdowns and "typing…" and notices an expired token, and then
// resumes the stored session or shows the sign-in form. The panels are their own
// modules in this folder:
//
//   session.js  sign-in/out and the session's socket    frames.js   server frames -> state
//   state.js    the client state and lookups on it      wire.js     the socket, sending
//   header.js   top bar, presence, connection, title    offers.js   offer cards
//   conv-list.js held conversations                     pane.js     the selected conversation
//   timeline.js the customer timeline, history paging   system.js   system-line wording
//   composer.js reply/note composer, drafts, typing     reply-channel.js "Reply via"
//   window.js   the reply window and WhatsApp templates
//   calls.js    browser calls: the call buttons, banner and panel (../shared/call.js)
//   softphone.js phone calls (Twilio Voice JS SDK, vendor/): status chip, call panel
//   agentphone.js the agent's own phone: incoming calls rung on it, calls out through it
//   callcontrols.js the live phone call's controls: hold, consult, hand over
//   recording.js a call recording's line and its Play button
//   customer.js the customer panel                      actions.js  transfer / wrap-up / resolve
//   labels.js   names, badges, times                    notices.js  notices and error toasts
//   assist.js, callback.js, bot.js, engage.js: the assist panel, the callback task, and
//   how bot and engagement events read; newconv.js "Write first…"; moderate.js the
//   moderation of public posts; search.js the conversation search (top bar's Search).
//
// Safety rule: customer- and agent-provided text only ever reaches the page through
// text nodes (h() from ../shared/dom.js, or textContent). No innerHTML anywhere. URLs
// from events become links only through safeLink (http/https).

import { t, applyTranslations, bindLanguageToggle, onLanguageChange } from '../shared/i18n.js';
import { byId } from '../shared/dom.js';
import { state } from './state.js';
import { initPresence } from './header.js';
import { forgetOfferCards, tickOffers } from './offers.js';
import { initConversationList } from './conv-list.js';
import { clearTimelineLines } from './timeline.js';
import { initComposer } from './composer.js';
import { initActions, syncTransferKind } from './actions.js';
import { renderAll, select, initPane, tickTyping } from './pane.js';
import { initSession, tickSession, token } from './session.js';
import { initAssist } from './assist.js';
import { initNewConversation } from './newconv.js';
import { initCalls } from './calls.js';
import { initSoftphone } from './softphone.js';
import { initCallControls } from './callcontrols.js';
import { initSearch } from './search.js';

function tick() {
  const now = Date.now();
  tickOffers(now);
  tickTyping(now);
  tickSession();
}

function init() {
  applyTranslations();
  for (const b of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('.js-lang-toggle'))) bindLanguageToggle(b);
  onLanguageChange(() => {
    applyTranslations();
    forgetOfferCards(true);
    clearTimelineLines();
    if (state.session && !byId('app-view').hidden) {
      renderAll();
      syncTransferKind();
    } else {
      document.title = `${t('login.title')} · Switchboard`;
    }
  });

  initAssist({ getToken: token });
  const refillChannels = initNewConversation();
  onLanguageChange(refillChannels);
  initPresence();
  initConversationList(select);
  initComposer(token);
  initPane();
  initCalls(select);
  initSoftphone();
  initCallControls();
  initActions();
  initSearch();
  setInterval(tick, 250);
  initSession();
}

init();

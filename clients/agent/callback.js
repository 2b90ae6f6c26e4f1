// agent/callback.js — owns the outbound-call task of a queued callback in the agent
// desktop: when the selected conversation carries a pending `callback_requested`
// event, a card above the timeline shows the number to dial (tel: link, and a Call
// button: "Call from your phone", agentphone.js's call out through the agent's own
// phone, when the engine can place one; else, when the phone softphone is ready, "Call
// with softphone", softphone.js's click-to-call), the note and the IVR path, and
// outcome buttons (reached / no answer / busy) that POST
// /api/v1/callbacks/{conversation}/outcome with the agent's token. Attempts arrive as
// `callback_attempt` events in the timeline like any other event.

import { t, formatDateTime } from '../shared/i18n.js';
import { h, replaceChildren } from '../shared/dom.js';
import { dialOut, softphoneReady, phoneCallLive, isDialable } from './softphone.js';
import { agentPhoneCanCallOut, agentPhoneCallingOut, callOutViaPhone } from './agentphone.js';

/** @import { TimelineEvent } from './frames.js' */
/** @import { Conv } from './state.js' */

const OUTCOMES = ['reached', 'no_answer', 'busy'];

/**
 * The pending callback request of conversation `convId` in `events` (sorted), or null.
 * @param {TimelineEvent[]} events
 * @param {string} convId
 * @returns {{ request: TimelineEvent, attempts: number } | null}
 */
export function pendingCallback(events, convId) {
  /** @type {TimelineEvent | null} */
  let pending = null;
  let attempts = 0;
  for (const e of events) {
    if (e.conversation_id !== convId) continue;
    if (e.type === 'callback_requested') {
      pending = e;
      attempts = 0;
    } else if (e.type === 'callback_attempt') {
      attempts = e.attempt || 0;
      if (e.next !== 'retry') pending = null;
    } else if (e.type === 'conversation_opened' || e.type === 'conversation_reopened') {
      pending = null;
    }
  }
  return pending ? { request: pending, attempts } : null;
}

function container() {
  let el = document.getElementById('callback-task');
  if (!el) {
    const header = document.querySelector('#conv-view .conv-header');
    if (!header) return null;
    el = h('section', { id: 'callback-task', class: 'callback-task', dataset: { testid: 'callback-task' }, 'aria-live': 'polite' });
    header.after(el);
  }
  return el;
}

/**
 * Shows (or hides) the callback card for `conv` (the desktop's conversation record:
 * `view.id`, `state`), given its customer's sorted timeline `events` and the staff
 * `token`. `onError(text)` reports a failed outcome.
 * @param {Conv | null} conv
 * @param {TimelineEvent[]} events
 * @param {string} token
 * @param {(text: string) => void} onError
 */
export function renderCallbackTask(conv, events, token, onError) {
  const el = container();
  if (!el) return;
  const p = conv && conv.state === 'assigned' ? pendingCallback(events, conv.view.id) : null;
  el.hidden = !p;
  if (!conv || !p) {
    el.replaceChildren();
    return;
  }
  const convId = conv.view.id;
  const r = p.request;
  const phone = r.phone;
  // The agent's own phone wins over the softphone, as for incoming calls.
  const viaPhone = agentPhoneCanCallOut();
  /**
   * The outcome buttons (not the Call button, which follows the phone call).
   * @param {boolean} disabled
   */
  const outcomesDisabled = (disabled) => {
    for (const b of el.querySelectorAll('.callback-task__actions button')) {
      if (b instanceof HTMLButtonElement) b.disabled = disabled;
    }
  };
  /**
   * @param {string} outcome
   * @param {HTMLButtonElement} btn
   */
  const send = async (outcome, btn) => {
    outcomesDisabled(true);
    try {
      const res = await fetch(`../api/v1/callbacks/${encodeURIComponent(convId)}/outcome`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
        body: JSON.stringify({ outcome }),
      });
      if (!res.ok) {
        const body = await res.json().catch(() => ({}));
        onError(body.message || res.statusText);
      }
    } catch (e) {
      onError(String(e));
    } finally {
      outcomesDisabled(false);
      btn.blur();
    }
  };
  replaceChildren(
    el,
    h('h3', { class: 'callback-task__title' }, t('callback.task_title')),
    h(
      'p',
      { class: 'callback-task__number' },
      t('callback.call'),
      ' ',
      h('a', { href: `tel:${r.phone}`, dataset: { testid: 'callback-number' } }, r.phone),
      (viaPhone || softphoneReady()) && isDialable(phone)
        ? [
            ' ',
            h(
              'button',
              {
                type: 'button',
                class: 'btn btn--small callback-task__dial',
                dataset: { testid: 'callback-dial', address: phone },
                disabled: phoneCallLive() || agentPhoneCallingOut(),
                onclick: () => {
                  if (agentPhoneCanCallOut()) void callOutViaPhone(convId, phone);
                  else dialOut(convId, phone);
                },
              },
              viaPhone ? t('callback.dial_phone') : t('callback.dial'),
            ),
          ]
        : null,
    ),
    r.note ? h('p', { class: 'callback-task__note', dataset: { testid: 'callback-note' } }, t('callback.note', { note: r.note })) : null,
    r.ivr_path && r.ivr_path.length
      ? h('p', { class: 'callback-task__path' }, t('callback.ivr_path', { path: r.ivr_path.join(' › ') }))
      : null,
    h('p', { class: 'callback-task__meta' }, t('callback.requested', { at: formatDateTime(r.at), n: p.attempts })),
    h(
      'div',
      { class: 'callback-task__actions' },
      OUTCOMES.map((o) =>
        h(
          'button',
          {
            type: 'button',
            class: o === 'reached' ? 'btn btn--small btn--ok' : 'btn btn--small',
            dataset: { testid: `callback-${o}` },
            onclick: (/** @type {MouseEvent} */ ev) => send(o, /** @type {HTMLButtonElement} */ (ev.currentTarget)),
          },
          t(`callback.outcome.${o}`),
        ),
      ),
    ),
  );
}

/**
 * Timeline text of a `callback_requested` / `callback_attempt` event.
 * @param {TimelineEvent} e
 */
export function describeCallbackEvent(e) {
  if (e.type === 'callback_requested') {
    return t('callback.event_requested', { phone: e.phone, source: t(`callback.source.${e.source}`) });
  }
  return t('callback.event_attempt', {
    n: e.attempt,
    outcome: t(`callback.outcome.${e.outcome}`),
    next: t(`callback.next.${e.next}`),
  });
}

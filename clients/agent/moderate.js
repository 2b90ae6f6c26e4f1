// agent/moderate.js — owns the moderation of a customer's public post in the timeline
// (a Page comment, an X reply: docs/channels.md "Public comments and mentions"): which
// posts can be moderated and how (hide or show again on both; delete on Facebook only,
// X lets no one delete another's post), the state each post is in (the latest
// `post_moderated` event about it), the buttons under the post, and the REST call
// (`POST /api/v1/conversations/{id}/moderation`); a refusal is shown as a toast. The
// engine records the `post_moderated` event, which re-renders the post.

import { t } from '../shared/i18n.js';
import { h } from '../shared/dom.js';
import { token } from './session.js';
import { toast } from './notices.js';

/** @import { TimelineEvent } from './frames.js' */

// The actions each public channel's API allows the business.
/** @type {Record<string, string[]>} */
const ACTIONS = { facebook_comments: ['hide', 'delete'], x_mentions: ['hide'] };

/**
 * `message_in` event id -> the latest `post_moderated` action about it.
 * @param {TimelineEvent[]} events in id order
 */
export function moderationIndex(events) {
  /** @type {Map<string, string>} */
  const map = new Map();
  for (const e of events) {
    if (e.type === 'post_moderated' && e.message_event_id && e.action) map.set(e.message_event_id, e.action);
  }
  return map;
}

/**
 * The moderation bar under public post `e` of conversation `convId`, in state `latest`
 * (`hide`, `unhide`, `delete` or undefined); null for a post that cannot be moderated.
 * @param {TimelineEvent} e
 * @param {string} convId
 * @param {string | undefined} latest
 */
export function buildModeration(e, convId, latest) {
  const allowed = e.type === 'message_in' ? ACTIONS[e.channel || ''] : undefined;
  if (!allowed) return null;
  if (latest === 'delete') {
    return h('div', { class: 'moderation', dataset: { testid: 'post-moderation', state: 'deleted' } }, t('moderation.deleted'));
  }
  const hidden = latest === 'hide';
  /** @param {string} action */
  const button = (action) =>
    h(
      'button',
      {
        type: 'button',
        class: 'moderation__btn',
        dataset: { testid: `post-${action}` },
        onclick: (/** @type {MouseEvent} */ ev) => moderate(convId, e.id, action, /** @type {HTMLButtonElement} */ (ev.currentTarget)),
      },
      t(`moderation.${action}`),
    );
  return h(
    'div',
    { class: 'moderation', dataset: { testid: 'post-moderation', state: hidden ? 'hidden' : 'shown' } },
    hidden ? h('span', { class: 'moderation__state' }, t('moderation.hidden')) : null,
    button(hidden ? 'unhide' : 'hide'),
    allowed.includes('delete') ? button('delete') : null,
  );
}

/**
 * @param {string} convId
 * @param {string} eventId the post's `message_in` event
 * @param {string} action
 * @param {HTMLButtonElement} btn
 */
async function moderate(convId, eventId, action, btn) {
  if (action === 'delete' && !window.confirm(t('moderation.confirm_delete'))) return;
  btn.disabled = true;
  try {
    const res = await fetch(`../api/v1/conversations/${encodeURIComponent(convId)}/moderation`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token()}` },
      body: JSON.stringify({ event_id: eventId, action }),
    });
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      toast(body.code || String(res.status), body.message || res.statusText);
    }
  } catch (e) {
    toast('network', String(e));
  } finally {
    btn.disabled = false;
  }
}

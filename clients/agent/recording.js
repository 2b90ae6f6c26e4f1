// agent/recording.js — owns a phone call's recording on the agent desktop (docs/voice.md
// "Recording"): the wording of a `call_recorded` system line ("Call recorded (1:02)",
// nothing recorded, the recording failed) and, for a completed one, its Play recording
// button. Every play is audited by the engine, so nothing is fetched when the line is
// drawn: only a click fetches `GET ../api/v1/conversations/{id}/recordings/{recording}`
// with the staff token as Bearer (a token never goes in a URL) into a `blob:` URL, set
// as the `src` of an `<audio controls>` player; a refusal shows "cannot be played" and
// the button comes back. The event's `url` (the provider's) is never used. A few blob
// URLs are kept, per agent, so a line drawn again (a language change) shows its player
// without a second fetch; older ones are revoked.

import { t } from '../shared/i18n.js';
import { h } from '../shared/dom.js';
import { formatCallClock } from '../shared/call.js';
import { state } from './state.js';
import { token } from './session.js';

/** @import { TimelineEvent } from './frames.js' */
/** @import { Child } from '../shared/dom.js' */

/** `${agent}/${conversation}/${recording}` -> the blob URL of a recording played on this page. */
/** @type {Map<string, string>} */
const played = new Map();
// Blob URLs kept at most (each is a whole recording in memory); the oldest is revoked.
const MAX_PLAYED = 4;

/**
 * The content of a `call_recorded` system line: its text, and for a completed
 * recording the Play button (or the player, when this agent played it already).
 * @param {TimelineEvent} e
 * @returns {Child}
 */
export function recordingView(e) {
  if (e.status === 'absent') return t('recording.absent');
  if (e.status === 'failed') return t('recording.failed');
  if (e.status !== 'completed') return t('recording.other', { status: String(e.status || '') });
  const seconds = Number(e.duration_s);
  const text =
    e.duration_s !== undefined && e.duration_s !== null && Number.isFinite(seconds)
      ? t('recording.completed', { d: formatCallClock(seconds * 1000) })
      : t('recording.completed_plain');
  const conversation = e.conversation_id;
  const recording = e.recording_id;
  if (!conversation || !recording) return text;

  const box = h('span', { class: 'recording', dataset: { testid: 'recording', recordingId: recording } });
  const cached = played.get(cacheKey(conversation, recording));
  if (cached) {
    box.append(player(cached, false));
    return [text, ' ', box];
  }
  const button = h(
    'button',
    { type: 'button', class: 'btn btn--small recording__play', dataset: { testid: 'recording-play' } },
    t('recording.play'),
  );
  button.addEventListener('click', () => play(conversation, recording, button));
  box.append(button);
  return [text, ' ', box];
}

/**
 * Fetches the recording (audited by the engine) and puts its player in the button's place.
 * @param {string} conversation
 * @param {string} recording
 * @param {HTMLButtonElement} button
 */
async function play(conversation, recording, button) {
  const box = button.parentElement;
  button.disabled = true;
  box?.querySelector('.recording__failed')?.remove();
  try {
    const staffToken = token();
    if (!staffToken) throw new Error('signed out');
    const res = await fetch(
      `../api/v1/conversations/${encodeURIComponent(conversation)}/recordings/${encodeURIComponent(recording)}`,
      { headers: { Authorization: `Bearer ${staffToken}` } },
    );
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      throw new Error(String(body.message || `HTTP ${res.status}`));
    }
    const url = URL.createObjectURL(await res.blob());
    remember(cacheKey(conversation, recording), url);
    button.after(player(url, true));
    button.remove();
  } catch (err) {
    button.disabled = false;
    button.after(
      h(
        'span',
        { class: 'recording__failed', role: 'alert', title: err instanceof Error ? err.message : String(err), dataset: { testid: 'recording-failed' } },
        t('recording.unavailable'),
      ),
    );
  }
}

/**
 * The player of blob URL `url`.
 * @param {string} url
 * @param {boolean} autoplay  true right after the click (the agent asked to hear it)
 */
function player(url, autoplay) {
  return h('audio', {
    class: 'recording__audio',
    controls: true,
    autoplay,
    preload: 'metadata',
    src: url,
    dataset: { testid: 'recording-audio' },
  });
}

/**
 * The cache key of a recording for the signed-in agent: another sign-in on this page
 * does not hear what this agent fetched without asking the engine (and being audited).
 * @param {string} conversation
 * @param {string} recording
 */
function cacheKey(conversation, recording) {
  return `${state.session ? state.session.agent_id : ''}/${conversation}/${recording}`;
}

/**
 * Keeps blob URL `url` under `key`, revoking the one it replaces and the oldest beyond
 * MAX_PLAYED.
 * @param {string} key
 * @param {string} url
 */
function remember(key, url) {
  const old = played.get(key);
  if (old !== undefined && old !== url) URL.revokeObjectURL(old);
  played.delete(key);
  played.set(key, url);
  while (played.size > MAX_PLAYED) {
    const oldest = played.keys().next();
    if (oldest.done) break;
    const oldUrl = played.get(oldest.value);
    played.delete(oldest.value);
    if (oldUrl !== undefined) URL.revokeObjectURL(oldUrl);
  }
}

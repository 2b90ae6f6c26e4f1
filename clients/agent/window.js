// agent/window.js — owns the composer's reply-window line and template box: for a
// reply channel with a provider window (Messenger, WhatsApp; GET /api/v1/reply-windows,
// loaded once), how long free replies still go out (from the customer's last message on
// that channel in the timeline, on the server's clock), whether late replies go out
// tagged, and once the window has closed on a channel that takes templates, the
// approved templates with one input per parameter, a preview of the text the customer
// will read, and sending one as a `message` with `template`. The engine applies the
// rule itself (docs/channels.md "Reply windows"); this only shows it.

import { t, channelName, formatDuration } from '../shared/i18n.js';
import { h, replaceChildren, byId } from '../shared/dom.js';
import { newClientMsgId } from '../shared/ws.js';
import { state, serverNow, sortedEvents } from './state.js';
import { sendReliable } from './wire.js';
import { renderTimeline } from './timeline.js';

/** @import { Conv } from './state.js' */

/**
 * @typedef {{ name: string, language: string, body: string, parameters: number }} TemplateView
 * @typedef {{ channel: string, free_ms: number, tagged_ms: number | null, takes_templates: boolean, templates: TemplateView[] }} WindowView
 */

/** @type {Map<string, WindowView> | null} channel -> window, once loaded */
let windows = null;
let loading = false;
/** @type {() => string | null} */
let getToken = () => null;
/** @type {() => void} */
let rerender = () => {};

async function load() {
  if (windows || loading || !getToken()) return;
  loading = true;
  try {
    const res = await fetch('../api/v1/reply-windows', { headers: { accept: 'application/json', authorization: `Bearer ${getToken()}` } });
    if (!res.ok) return;
    const body = /** @type {{ windows: WindowView[] }} */ (await res.json());
    windows = new Map(body.windows.map((w) => [w.channel, w]));
    rerender();
  } catch {
    /* offline: no window line; the engine still refuses a late reply with its reason */
  } finally {
    loading = false;
  }
}

/**
 * When the customer last wrote on `channel`, on the server's clock; null if the loaded
 * timeline has no such message.
 * @param {Conv} conv
 * @param {string} channel
 */
function lastInbound(conv, channel) {
  const tl = state.timelines.get(conv.view.customer.id);
  let at = null;
  if (tl) for (const e of sortedEvents(tl)) if (e.type === 'message_in' && e.channel === channel) at = e.at;
  return at;
}

/**
 * Shows the window of the reply channel `channel` in `conv` (hidden for a note, or a
 * channel without one).
 * @param {Conv} conv
 * @param {string} channel
 * @param {boolean} note
 */
export function renderWindow(conv, channel, note) {
  const box = byId('reply-window');
  const w = windows && windows.get(channel);
  if (!windows) void load();
  if (!w || note) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  const at = lastInbound(conv, channel);
  const age = at === null ? Infinity : serverNow() - at;
  const name = channelName(channel);
  /** @type {'open' | 'tagged' | 'closed'} */
  let phase = 'closed';
  let text;
  if (age <= w.free_ms) {
    phase = 'open';
    text = t('window.open', { channel: name, left: formatDuration(w.free_ms - age) });
  } else if (w.tagged_ms !== null && age <= w.tagged_ms) {
    phase = 'tagged';
    text = t('window.tagged', { left: formatDuration(w.tagged_ms - age) });
  } else {
    text = t(w.takes_templates ? 'window.closed_templates' : 'window.closed', { channel: name });
  }
  box.dataset.phase = phase;
  byId('reply-window-text').textContent = text;
  renderTemplates(conv, w, phase === 'closed' && w.takes_templates);
}

/**
 * @param {Conv} conv
 * @param {WindowView} w
 * @param {boolean} shown
 */
function renderTemplates(conv, w, shown) {
  const box = byId('template-box');
  box.hidden = !shown || w.templates.length === 0;
  if (box.hidden) return;
  const sel = byId('template-select', HTMLSelectElement);
  const sig = JSON.stringify(w.templates.map((x) => [x.name, x.language]));
  if (sel.dataset.sig !== sig) {
    sel.dataset.sig = sig;
    replaceChildren(sel, ...w.templates.map((x, i) => h('option', { value: String(i) }, `${x.name} (${x.language})`)));
    renderParams(w);
  }
  box.dataset.conversation = conv.view.id;
}

/** @param {WindowView} w */
function chosen(w) {
  const i = Number(byId('template-select', HTMLSelectElement).value || 0);
  return w.templates[i] || w.templates[0];
}

/** One input per parameter of the chosen template. @param {WindowView} w */
function renderParams(w) {
  const tpl = chosen(w);
  const inputs = [];
  for (let n = 1; n <= tpl.parameters; n++) {
    const label = t('template.param', { n: String(n) });
    inputs.push(h('input', { class: 'input input--compact', 'aria-label': label, placeholder: label, dataset: { testid: 'template-param' } }));
  }
  replaceChildren(byId('template-params'), ...inputs);
  renderPreview(w);
}

/** The text the customer will read. @param {WindowView} w */
function renderPreview(w) {
  const tpl = chosen(w);
  const params = paramValues();
  byId('template-preview').textContent = tpl.body.replace(/\{\{\s*(\d+)\s*\}\}/g, (m, n) => params[Number(n) - 1] || m);
  byId('template-send', HTMLButtonElement).disabled = params.length !== tpl.parameters || params.some((p) => !p.trim());
}

function paramValues() {
  return [...byId('template-params').querySelectorAll('input')].map((i) => i.value);
}

function currentWindow() {
  const channel = byId('reply-channel', HTMLSelectElement).value;
  return (windows && windows.get(channel)) || null;
}

function sendTemplate() {
  const w = currentWindow();
  const conv = state.selected ? state.convs.get(state.selected) : null;
  if (!w || !conv) return;
  const tpl = chosen(w);
  const parameters = paramValues();
  const clientMsgId = newClientMsgId();
  const preview = byId('template-preview').textContent || '';
  const channel = w.channel !== conv.view.channel ? w.channel : null;
  state.pending.set(clientMsgId, { conversation_id: conv.view.id, kind: 'message', text: preview, channel, createdAt: Date.now(), failed: null, detail: null });
  /** @type {{ type: 'message', conversation_id: string, client_msg_id: string, text: string, channel?: string, template: { name: string, language: string, parameters: string[] } }} */
  const msg = { type: 'message', conversation_id: conv.view.id, client_msg_id: clientMsgId, text: '', template: { name: tpl.name, language: tpl.language, parameters } };
  if (channel) msg.channel = channel;
  sendReliable(msg);
  for (const i of byId('template-params').querySelectorAll('input')) i.value = '';
  renderPreview(w);
  renderTimeline({ toBottom: true });
}

/**
 * Wires the template box; `render` redraws the composer (when the windows arrive).
 * @param {{ getToken: () => string | null, render: () => void }} deps
 */
export function initWindow(deps) {
  getToken = deps.getToken;
  rerender = deps.render;
  byId('template-select').addEventListener('change', () => {
    const w = currentWindow();
    if (w) renderParams(w);
  });
  byId('template-params').addEventListener('input', () => {
    const w = currentWindow();
    if (w) renderPreview(w);
  });
  byId('template-send').addEventListener('click', (ev) => {
    ev.preventDefault();
    sendTemplate();
  });
}

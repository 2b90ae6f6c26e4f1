// agent/newconv.js — owns "Write first…": the sidebar form with which an agent starts a
// conversation with a customer they serve or served (docs/api.md "Outbound
// conversations"). The agent names the channel and the customer's address there; the
// customer is looked up by that identity (`GET /api/v1/customers?channel&address`),
// then `POST /api/v1/customers/{id}/conversations` sends the first message through the
// channel's connector; the conversation is then offered to this agent like any other.
// Every refusal (unknown or unseen customer, an open conversation, a closed reply
// window, a connector that is off) is shown in the form with the server's reason.

import { t, channelName } from '../shared/i18n.js';
import { h, replaceChildren, byId } from '../shared/dom.js';
import { newClientMsgId } from '../shared/ws.js';
import { token } from './session.js';
import { notice } from './notices.js';

// The channels a conversation can be started on (text through a connector, private).
const CHANNELS = ['sms', 'email', 'whatsapp', 'line', 'messenger', 'instagram', 'x'];

/**
 * One REST call with the agent's token: the status and the JSON body (or {}).
 * @param {string} method
 * @param {string} path below /api/v1/
 * @param {unknown} [body]
 */
async function call(method, path, body) {
  const res = await fetch(`../api/v1/${path}`, {
    method,
    headers: { Accept: 'application/json', Authorization: `Bearer ${token()}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json().catch(() => ({})) };
}

/** @param {boolean} open */
function show(open) {
  byId('new-conv-form').hidden = !open;
  byId('new-conv-toggle').setAttribute('aria-expanded', String(open));
  byId('new-conv-error').hidden = true;
  if (open) byId('new-conv-address', HTMLInputElement).focus();
}

/** @param {string} text */
function fail(text) {
  const el = byId('new-conv-error');
  el.textContent = text;
  el.hidden = false;
}

async function submit() {
  const channel = byId('new-conv-channel', HTMLSelectElement).value;
  const address = byId('new-conv-address', HTMLInputElement).value.trim();
  const text = byId('new-conv-text', HTMLTextAreaElement).value;
  if (!address || !text.trim()) return fail(t('newconv.missing'));
  const send = /** @type {HTMLButtonElement} */ (byId('new-conv-form').querySelector('[type="submit"]'));
  send.disabled = true;
  try {
    const q = new URLSearchParams({ channel, address });
    const found = await call('GET', `customers?${q}`);
    if (found.status === 403 || found.status === 404) return fail(t('newconv.no_customer', { channel: channelName(channel) }));
    if (found.status !== 200) return fail(found.body.message || String(found.status));
    const started = await call('POST', `customers/${encodeURIComponent(found.body.id)}/conversations`, {
      channel,
      text,
      client_msg_id: newClientMsgId(),
    });
    if (started.status !== 201) return fail(started.body.message || String(started.status));
    byId('new-conv-text', HTMLTextAreaElement).value = '';
    byId('new-conv-address', HTMLInputElement).value = '';
    show(false);
    notice(t('newconv.started', { channel: channelName(channel) }));
  } catch (e) {
    fail(String(e));
  } finally {
    send.disabled = false;
  }
}

/** Wires the toggle and the form; fills the channel list in the page's language. */
export function initNewConversation() {
  const select = byId('new-conv-channel', HTMLSelectElement);
  const fill = () => replaceChildren(select, ...CHANNELS.map((c) => h('option', { value: c }, channelName(c))));
  fill();
  byId('new-conv-toggle').addEventListener('click', () => show(byId('new-conv-form').hidden !== false));
  byId('new-conv-cancel').addEventListener('click', () => show(false));
  byId('new-conv-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void submit();
  });
  return fill;
}

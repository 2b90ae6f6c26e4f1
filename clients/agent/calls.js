// agent/calls.js — owns the agent desktop's browser calls (WebRTC): the one call
// controller of ../shared/call.js on the agent socket, drawing its incoming banner, call
// panel and "Call ended" notice in #call-area above the pane (so a call outlives a change
// of the selected conversation); the pane's Voice call / Video call buttons (shown for
// the selected conversation when the agent holds it `assigned`, it is a web-chat one,
// and `welcome.calls` allows the medium; disabled while a call is live or the socket is
// down); the `call_*` frames frames.js hands over, the errors about calls, and the end of
// the call when the socket drops. Answering a call selects its conversation.

import { byId } from '../shared/dom.js';
import { createCallController } from '../shared/call.js';
import { state, selectedConv } from './state.js';
import { customerName } from './labels.js';
import { sendQuietly } from './wire.js';
import { toast } from './notices.js';

/** @import { CallController, CallMedia } from '../shared/call.js' */
/** @import { Conv } from './state.js' */
/** @import { SocketState } from '../shared/ws.js' */

/** The channels whose customer is on the web chat, where a browser call rings. */
const CALL_CHANNELS = new Set(['chat', 'video']);
/** @type {CallMedia[]} */
const MEDIA = ['audio', 'video'];

/** @type {CallController | null} */
let controller = null;

/**
 * Creates the call controller and wires the pane's call buttons.
 * @param {(conversationId: string) => void} select  shows a conversation in the pane
 */
export function initCalls(select) {
  controller = createCallController({
    send: sendQuietly,
    role: 'agent',
    container: byId('call-area'),
    peerName: (id) => {
      const conv = state.convs.get(id);
      return customerName(conv ? conv.view.customer : null);
    },
    showError: (code, text) => toast(code, text),
    onChange: () => renderCallButtons(selectedConv()),
    onEngaged: (id) => {
      if (state.selected !== id && state.convs.has(id)) select(id);
    },
  });
  for (const media of MEDIA) {
    byId(`call-${media}`).addEventListener('click', () => {
      const conv = selectedConv();
      if (conv && controller && !controller.busy) controller.start(media, conv.view.id);
    });
  }
}

/**
 * The pane's call buttons for `conv` (the selected conversation).
 * @param {Conv | null} conv
 */
export function renderCallButtons(conv) {
  const callable = !!conv && conv.state === 'assigned' && CALL_CHANNELS.has(conv.view.channel);
  const idle = state.conn.phase === 'open' && !(controller && controller.busy);
  for (const media of MEDIA) {
    const btn = byId(`call-${media}`, HTMLButtonElement);
    btn.hidden = !(callable && state.calls.includes(media));
    btn.disabled = !idle;
  }
}

/**
 * @param {keyof CallController['handlers']} type
 * @returns {(msg: any) => void}
 */
const route = (type) => (msg) => {
  if (controller) controller.handlers[type](msg);
};

/** The socket's handlers of the call frames. */
export const callHandlers = {
  call_ringing: route('call_ringing'),
  call_incoming: route('call_incoming'),
  call_answered: route('call_answered'),
  call_signal: route('call_signal'),
  call_ended: route('call_ended'),
};

/**
 * An `error` frame about a call: the text to toast ('' for nothing), else null.
 * @param {{ code: string, message?: string, ref?: string }} msg
 */
export function callError(msg) {
  return controller ? controller.onError(msg) : null;
}

/**
 * The socket's state: once it is not open, the engine has ended the call.
 * @param {SocketState} s
 */
export function callConnection(s) {
  if (!controller) return;
  if (s.phase !== 'open') controller.socketLost();
  renderCallButtons(selectedConv());
}

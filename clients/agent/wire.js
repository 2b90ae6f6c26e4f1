// agent/wire.js — owns the agent desktop's one websocket (`/ws/agent`, a
// ReconnectingSocket from ../shared/ws.js) and every way the panels send on it: at
// once or not at all (`sendNow`, which says "not connected" in a toast), quietly
// (typing), or through the outbox until the server's ack (messages and notes). It
// opens the socket for session.js and closes it on logout; it knows no frame but
// `set_status` on the way out.

import { t } from '../shared/i18n.js';
import { ReconnectingSocket } from '../shared/ws.js';
import { toast } from './notices.js';

/** @import { OutFrame, SocketOptions } from '../shared/ws.js' */

/** @type {ReconnectingSocket | null} */
let socket = null;

/**
 * Opens the session's socket and returns it, not started.
 * @param {SocketOptions} options
 */
export function openSocket(options) {
  socket = new ReconnectingSocket(options);
  return socket;
}

/** Logging out: tells the server the agent is away, forgets the outbox, closes. */
export function closeSocket() {
  if (!socket) return;
  socket.send({ type: 'set_status', status: 'away', reason: 'logout' });
  socket.clearOutbox();
  socket.stop();
  socket = null;
}

/**
 * Sends msg now, or toasts "not connected" and returns false.
 * @param {OutFrame} msg
 */
export function sendNow(msg) {
  if (socket && socket.send(msg)) return true;
  toast('not_connected', t('error.not_connected'));
  return false;
}

/**
 * Sends msg now if connected (nothing said otherwise); whether it went.
 * @param {OutFrame} msg
 */
export function sendQuietly(msg) {
  return !!socket && socket.send(msg);
}

/**
 * Sends msg through the outbox: again after every reconnect until its ack.
 * @param {OutFrame & { client_msg_id: string }} msg
 */
export function sendReliable(msg) {
  if (socket) socket.sendReliable(msg);
}

/**
 * Whether the outbox still holds this client_msg_id.
 * @param {string} clientMsgId
 */
export function inOutbox(clientMsgId) {
  return !!socket && socket.hasPending(clientMsgId);
}

/**
 * Takes a message out of the outbox (its conversation is gone).
 * @param {string} clientMsgId
 */
export function dropFromOutbox(clientMsgId) {
  if (socket) socket.drop(clientMsgId);
}

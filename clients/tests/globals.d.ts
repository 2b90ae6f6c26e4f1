// tests/globals.d.ts — owns the types of what the browser tests read from a page's
// `window`: `window.__xss`, which the markup the tests send would set if it ever ran as
// script (agent_chat.mjs checks that it stays undefined), and `window.__switchboardCall`,
// the live call's RTCPeerConnection (shared/call.js; webrtc_call.mjs reads its stats).

interface Window {
  __xss?: unknown;
  __switchboardCall?: RTCPeerConnection | null;
}

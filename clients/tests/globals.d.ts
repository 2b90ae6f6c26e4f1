// tests/globals.d.ts — owns the types of what the browser tests read from a page's
// `window`: `window.__xss`, which the markup the tests send would set if it ever ran as
// script (agent_chat.mjs checks that it stays undefined), `window.__switchboardCall`,
// the live call's RTCPeerConnection (shared/call.js; webrtc_call.mjs reads its stats),
// and `window.Twilio` / `window.__fakeTwilio`, the fake Twilio Voice SDK softphone.mjs
// puts in the page and the record it keeps.

/** A fake SDK object with on/emit (FakeDevice, FakeCall of softphone.mjs). */
interface FakeTwilioEmitter {
  on(event: string, fn: (...args: unknown[]) => void): this;
  emit(event: string, ...args: unknown[]): void;
}

interface FakeTwilioCall extends FakeTwilioEmitter {
  params: Record<string, string>;
  muteCalls: boolean[];
  disconnects: number;
}

/** What the fake Twilio SDK recorded (softphone.mjs). */
interface FakeTwilio {
  Device: unknown;
  tokens: string[];
  options: unknown[];
  registers: number;
  updates: string[];
  connects: { params?: Record<string, string> }[];
  destroyed: number;
  devices: FakeTwilioEmitter[];
  calls: FakeTwilioCall[];
}

interface Window {
  __xss?: unknown;
  __switchboardCall?: RTCPeerConnection | null;
  Twilio?: { Device?: unknown; Call?: unknown };
  __fakeTwilio?: FakeTwilio;
}

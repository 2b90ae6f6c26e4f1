// tests/globals.d.ts — owns the types of what the browser tests read from a page's
// `window`: `window.__xss`, which the markup the tests send would set if it ever ran as
// script (agent_chat.mjs checks that it stays undefined), `window.__switchboardCall`,
// the live call's RTCPeerConnection (shared/call.js; webrtc_call.mjs reads its stats),
// `window.Twilio` / `window.__fakeTwilio`, the fake Twilio Voice SDK softphone.mjs and
// voice_room.mjs put in the page and the record it keeps (voice_room.mjs's also rings
// incoming calls), and `window.__warnings`, the warning notices and error toasts
// voice_room.mjs saw the page show.

/** A fake SDK object with on/emit (FakeDevice, FakeCall of softphone.mjs). */
interface FakeTwilioEmitter {
  on(event: string, fn: (...args: unknown[]) => void): this;
  emit(event: string, ...args: unknown[]): void;
}

interface FakeTwilioCall extends FakeTwilioEmitter {
  params: Record<string, string>;
  muteCalls: boolean[];
  disconnects: number;
  /** voice_room.mjs: the SDK's `call.parameters` (an incoming call's `From`, `To`, `CallSid`) */
  parameters?: Record<string, string>;
  /** voice_room.mjs: how many times `accept()` / `reject()` were called */
  accepts?: number;
  rejects?: number;
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
  /** voice_room.mjs: the incoming calls rung, and how to ring one (`From` = `from`) */
  incoming?: FakeTwilioCall[];
  ring?: (from: string) => FakeTwilioCall;
}

interface Window {
  __xss?: unknown;
  __switchboardCall?: RTCPeerConnection | null;
  Twilio?: { Device?: unknown; Call?: unknown };
  __fakeTwilio?: FakeTwilio;
  __warnings?: string[];
}

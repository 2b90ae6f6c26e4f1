// types/globals.d.ts — owns the types of what the pages put on `window` rather than
// export: `window.uPlot`, set by supervisor/vendor/uPlot.iife.min.js (its types are
// uPlot's own: node_modules/uplot, the same pinned version as the vendored file);
// `window.Twilio`, set by agent/vendor/twilio-voice.min.js (the Twilio Voice JS SDK
// 2.18.5; declared here by hand, only the parts agent/softphone.js uses: `Device` and
// `Call`, outgoing and incoming); and `window.__switchboardCall`, the live call's peer connection that
// shared/call.js exposes for the browser test. Only the type checker reads this folder;
// the engine does not serve it.

import type uPlot from 'uplot';

declare global {
  /** The parts of the Twilio Voice JS SDK (2.x) the agent desktop's softphone uses. */
  namespace TwilioVoice {
    /** `TwilioError`: what `error` events carry. */
    interface TwilioError {
      code?: number;
      message?: string;
      description?: string;
      explanation?: string;
    }

    /**
     * A call of the Device: the outgoing call to the engine's TwiML App, or an incoming
     * one (`incoming` on the Device: a colleague's consult), answered with `accept()`.
     */
    interface Call {
      /** What the platform said of the call: for an incoming call `From` (`client:<id>` for another softphone), `To`, `CallSid`. */
      readonly parameters: Record<string, string>;
      /** The `<Parameter>`s of the TwiML that rang this Device (incoming calls). */
      readonly customParameters?: Map<string, string>;
      on(event: 'accept' | 'disconnect', listener: (call: Call) => void): this;
      on(event: 'cancel' | 'reject', listener: () => void): this;
      on(event: 'error', listener: (error: TwilioError) => void): this;
      on(event: 'mute', listener: (isMuted: boolean, call: Call) => void): this;
      /** Answers an incoming call. */
      accept(): void;
      /** Declines an incoming call (the caller hears it was rejected). */
      reject(): void;
      mute(shouldMute?: boolean): void;
      isMuted(): boolean;
      disconnect(): void;
    }

    interface DeviceOptions {
      codecPreferences?: ('opus' | 'pcmu')[];
      /** true, or the text of the browser's "leave this page?" prompt during a call */
      closeProtection?: boolean | string;
    }

    interface ConnectOptions {
      /** sent to the TwiML App's voice URL as request parameters */
      params?: Record<string, string>;
    }

    interface Device {
      on(event: 'registering' | 'registered' | 'unregistered' | 'destroyed', listener: () => void): this;
      on(event: 'error', listener: (error: TwilioError, call?: Call) => void): this;
      on(event: 'tokenWillExpire', listener: (device: Device) => void): this;
      on(event: 'incoming', listener: (call: Call) => void): this;
      register(): Promise<void>;
      updateToken(token: string): void;
      connect(options?: ConnectOptions): Promise<Call>;
      destroy(): void;
    }

    interface DeviceConstructor {
      new (token: string, options?: DeviceOptions): Device;
    }
  }

  interface Window {
    /** Absent if the vendored SDK failed to load: the softphone is then off. */
    Twilio?: { Device?: TwilioVoice.DeviceConstructor };
    /** Absent if the vendored script failed to load: the charts are then skipped. */
    uPlot?: typeof uPlot;
    /** The browser call's RTCPeerConnection (shared/call.js); null or absent when none. */
    __switchboardCall?: RTCPeerConnection | null;
  }
}

export {};

// tests/fake_twilio.mjs — owns the stand-in for the Twilio Voice JS SDK that the
// softphone's browser tests (softphone.mjs, voice_room.mjs) install in the page before
// its scripts (`page.addInitScript(installFakeTwilio)`): `window.Twilio = { Device }` as
// a non-writable, non-configurable property, so the vendored SDK keeps it. The fake
// `Device` records its tokens, options, `register()`, `updateToken()` and `connect()`
// calls and hands out fake calls (`on`/`emit`, `mute`, `isMuted`, `disconnect`, and for
// incoming calls `parameters`, `accept()` and `reject()`, counted);
// `window.__fakeTwilio.ring(from)` makes the newest Device emit `incoming` with a new
// fake call whose `parameters.From` is `from`. The function runs in the page: it uses
// nothing from this module's scope.

/** Runs in the page before its scripts: the fake SDK and its handle. */
export function installFakeTwilio() {
  /** @type {Window['__fakeTwilio']} */
  const fake = {
    Device: null,
    tokens: [],
    options: [],
    registers: 0,
    updates: [],
    connects: [],
    destroyed: 0,
    devices: [],
    calls: [],
    incoming: [],
    ring: null,
  };

  /** on/emit, as the SDK's EventEmitter-based classes have. */
  class Emitter {
    constructor() {
      /** @type {Record<string, ((...args: unknown[]) => void)[]>} */
      this.listeners = {};
    }
    /**
     * @param {string} event
     * @param {(...args: unknown[]) => void} fn
     */
    on(event, fn) {
      (this.listeners[event] = this.listeners[event] || []).push(fn);
      return this;
    }
    /**
     * @param {string} event
     * @param {...unknown} args
     */
    emit(event, ...args) {
      for (const fn of this.listeners[event] || []) fn(...args);
    }
  }

  class FakeCall extends Emitter {
    /**
     * @param {Record<string, string>} params  what `connect()` was given (outgoing)
     * @param {Record<string, string>} parameters  the SDK's `call.parameters` (incoming: From, To, CallSid)
     */
    constructor(params, parameters) {
      super();
      this.params = params;
      this.parameters = parameters;
      this.customParameters = new Map();
      this.muted = false;
      /** @type {boolean[]} */
      this.muteCalls = [];
      this.disconnects = 0;
      this.accepts = 0;
      this.rejects = 0;
    }
    mute(shouldMute = true) {
      this.muteCalls.push(shouldMute);
      const changed = this.muted !== shouldMute;
      this.muted = shouldMute;
      if (changed) this.emit('mute', shouldMute, this);
    }
    isMuted() {
      return this.muted;
    }
    disconnect() {
      this.disconnects += 1;
      this.emit('disconnect', this);
    }
    /** Answers an incoming call; the test emits `accept` once "connected". */
    accept() {
      this.accepts += 1;
    }
    reject() {
      this.rejects += 1;
      this.emit('reject');
    }
  }

  class FakeDevice extends Emitter {
    /**
     * @param {string} token
     * @param {unknown} options
     */
    constructor(token, options) {
      super();
      fake.tokens.push(token);
      fake.options.push(options);
      fake.devices.push(this);
    }
    register() {
      fake.registers += 1;
      this.emit('registering');
      return new Promise((resolve) =>
        setTimeout(() => {
          this.emit('registered');
          resolve(undefined);
        }, 50),
      );
    }
    /** @param {string} token */
    updateToken(token) {
      fake.updates.push(token);
    }
    /** @param {{ params?: Record<string, string> }} [options] */
    connect(options = {}) {
      fake.connects.push(JSON.parse(JSON.stringify(options)));
      const call = new FakeCall(options.params || {}, {});
      fake.calls.push(call);
      return Promise.resolve(call);
    }
    destroy() {
      fake.destroyed += 1;
    }
  }

  fake.Device = FakeDevice;
  fake.ring = (from) => {
    const n = fake.incoming.length + 1;
    const call = new FakeCall({}, { From: from, To: 'client:me', CallSid: `CA${String(n).padStart(32, '0')}` });
    fake.incoming.push(call);
    fake.devices[fake.devices.length - 1].emit('incoming', call);
    return call;
  };
  const twilio = {};
  Object.defineProperty(twilio, 'Device', { value: FakeDevice, writable: false, configurable: false, enumerable: true });
  Object.defineProperty(window, 'Twilio', { value: twilio, writable: false, configurable: false, enumerable: true });
  window.__fakeTwilio = fake;
}

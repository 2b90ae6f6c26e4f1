// shared/call.js — owns browser calls (WebRTC) for both clients: one call at a time per
// page, signalled over the page's socket (the engine only relays: docs/protocol.md, "Browser
// calls"). It reads `call_ringing`, `call_incoming`, `call_answered`,
// `call_signal` and `call_ended`, sends `call_start`, `call_answer`, `call_signal` and
// `call_hangup` (an agent's name their conversation), runs the RTCPeerConnection with
// the frame's ICE servers and the page's microphone (and camera), and draws the call UI
// in the container it is given: the incoming banner (Answer / Decline), the call panel
// (remote media, local preview, mm:ss timer, Mute, Camera off, Hang up) and the short
// "Call ended" notice. Only the socket that started or answered a call takes part in it;
// the page's other sockets just drop their ringing banner. The wording of call events
// (timeline lines) is here too, so both clients say the same. The live peer connection
// is `window.__switchboardCall` (null when none) for the browser test's getStats().
//
// Text only through text nodes (h() from dom.js).

import { t, has, onLanguageChange } from './i18n.js';
import { h, replaceChildren } from './dom.js';

/** @import { OutFrame } from './ws.js' */

// No `call_ringing` (nor an error) this long after `call_start`: the start is dropped.
const START_TIMEOUT_MS = 15_000;
const NOTICE_MS = 6000;
const TIMER_EVERY_MS = 250;
/** Error codes the engine answers call frames with. */
const CALL_ERRORS = new Set(['invalid', 'not_found', 'conflict', 'unavailable']);

/**
 * @typedef {'audio' | 'video'} CallMedia
 */

/**
 * SIGNAL: what `call_signal` carries, both ways.
 * @typedef {object} Signal
 * @property {'offer' | 'answer' | 'candidate'} kind
 * @property {string} [sdp]  offer, answer
 * @property {string} [candidate]  candidate: the a=candidate line
 * @property {string} [sdp_mid]
 * @property {number} [sdp_mline_index]
 */

/**
 * `call_ringing` / `call_incoming`.
 * @typedef {object} CallRinging
 * @property {string} conversation_id
 * @property {string} call_id
 * @property {CallMedia} media
 * @property {RTCIceServer[]} [ice_servers]
 */

/** @typedef {{ conversation_id: string, call_id: string }} CallAnswered */
/** @typedef {{ conversation_id: string, call_id: string, signal: Signal }} CallSignal */

/**
 * `call_ended`; also the fields of the `call_ended` timeline event.
 * @typedef {object} CallEnded
 * @property {string} [conversation_id]
 * @property {string} [call_id]
 * @property {string} [reason]  hangup | declined | busy | no_answer | disconnected | closed | failed
 * @property {string} [by]  customer | agent | system
 * @property {number} [duration_ms]  talk time since the answer (0 if never answered)
 */

/**
 * The call of this page.
 * - starting: `call_start` sent, `call_ringing` not here yet
 * - ringing: the other side is being rung (this page called)
 * - incoming: this side is being rung (banner)
 * - answering: `call_answer` sent, `call_answered` not here yet
 * - connecting: answered, the peer connection is not up yet
 * - connected: media flows
 * @typedef {object} Call
 * @property {string} id  '' until `call_ringing`
 * @property {string} conversationId
 * @property {CallMedia} media
 * @property {RTCIceServer[]} iceServers
 * @property {'starting' | 'ringing' | 'incoming' | 'answering' | 'connecting' | 'connected'} phase
 * @property {boolean} caller  this page started it
 * @property {boolean} startSent  `call_start` went out (a call dropped before its `call_ringing` is hung up then)
 * @property {RTCPeerConnection | null} pc
 * @property {MediaStream | null} local
 * @property {MediaStream | null} remote
 * @property {RTCIceCandidateInit[]} remoteCandidates  queued until the remote description is set
 * @property {Signal[]} localCandidates  held until our offer or answer went out
 * @property {boolean} described  our offer or answer went out
 * @property {number} answeredAt  local clock, ms; 0 = not answered
 * @property {boolean} muted
 * @property {boolean} cameraOff
 * @property {Promise<void>} chain  signalling steps, one after the other
 * @property {number | undefined} startTimer
 */

/**
 * A call in its first phase, nothing negotiated yet.
 * @param {Pick<Call, 'id' | 'conversationId' | 'media' | 'iceServers' | 'phase' | 'caller'>} first
 * @returns {Call}
 */
function newCall(first) {
  return {
    ...first,
    startSent: false,
    pc: null,
    local: null,
    remote: null,
    remoteCandidates: [],
    localCandidates: [],
    described: false,
    answeredAt: 0,
    muted: false,
    cameraOff: false,
    chain: Promise.resolve(),
    startTimer: undefined,
  };
}

/**
 * @typedef {object} CallOptions
 * @property {(frame: OutFrame) => boolean} send  sends now; false when not connected
 * @property {'customer' | 'agent'} role  this page's side; an agent's frames name the conversation
 * @property {HTMLElement} container  where the banner, the panel and the notice go
 * @property {(conversationId: string) => string} peerName  the other side's name
 * @property {(code: string, text: string) => void} showError
 * @property {() => void} [onChange]  a call began, changed phase or ended (redraw the start buttons)
 * @property {(conversationId: string) => void} [onEngaged]  this page started or answered a call
 */

/**
 * "3:12" (or "1:02:03"); with `pad`, minutes in two digits: "03:12".
 * @param {number | null | undefined} ms
 * @param {boolean} [pad]
 */
export function formatCallClock(ms, pad = false) {
  const total = Math.max(0, Math.floor((Number(ms) || 0) / 1000));
  const hours = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  if (hours > 0) return `${hours}:${String(m).padStart(2, '0')}:${s}`;
  return `${pad ? String(m).padStart(2, '0') : m}:${s}`;
}

/**
 * "Voice call" / "Video call".
 * @param {string | undefined} media
 */
export function callMediaLabel(media) {
  return t(media === 'video' ? 'call.video' : 'call.audio');
}

/**
 * Why a call ended, with who did it: "hung up by the customer", "no answer".
 * @param {string | undefined} reason
 * @param {string} who  `by` worded by the caller ("the agent", "you")
 */
export function callReasonText(reason, who) {
  const key = `call.reason.${reason}`;
  return has(key) ? t(key, { by: who }) : String(reason || '');
}

/**
 * The line of an ended call: "Call ended — hung up by the agent · 3:12"; `brief` leaves a
 * plain hang-up's reason out ("Call ended · 3:12").
 * @param {CallEnded} e
 * @param {(by: string | undefined) => string} who  `by` worded from the reader's side
 * @param {{ brief?: boolean }} [options]
 */
export function callEndedText(e, who, { brief = false } = {}) {
  const d = e.duration_ms && e.duration_ms > 0 ? formatCallClock(e.duration_ms) : '';
  const reason = brief && e.reason === 'hangup' ? '' : callReasonText(e.reason, who(e.by));
  if (reason) return d ? t('call.ended_reason_d', { reason, d }) : t('call.ended_reason', { reason });
  return d ? t('call.ended_d', { d }) : t('call.ended');
}

/**
 * `by` as the other side of `role` words it: its own side is "you".
 * @param {'customer' | 'agent'} role
 * @returns {(by: string | undefined) => string}
 */
export function byFrom(role) {
  return (by) => (by === role ? t('call.by.you') : has(`call.by.${by}`) ? t(`call.by.${by}`) : String(by || ''));
}

/**
 * The call controller of a page.
 * @param {CallOptions} options
 */
export function createCallController(options) {
  const { send, role, container, peerName, showError } = options;
  const onChange = options.onChange || (() => {});
  const onEngaged = options.onEngaged || (() => {});

  /** @type {Call | null} */
  let call = null;
  /** A call dropped after `call_start` and before its `call_ringing`: hung up when that comes. */
  /** @type {Call | null} */
  let abandoned = null;
  /** Calls this page ended or left: their late frames and errors are ignored. */
  /** @type {Set<string>} */
  const gone = new Set();
  /** @type {number | undefined} */
  let timer;
  /** @type {(() => string) | null} */
  let noticeText = null;
  /** @type {number | undefined} */
  let noticeTimer;
  /** @type {HTMLVideoElement | HTMLAudioElement | null} */
  let remoteEl = null;
  /** @type {HTMLVideoElement | null} */
  let localEl = null;

  // ---- the UI, built once ------------------------------------------------------

  const bannerText = h('span', { class: 'call-incoming__text' });
  const answerBtn = h('button', { type: 'button', class: 'btn btn--ok btn--small', dataset: { testid: 'call-answer' }, onclick: () => answer() });
  const declineBtn = h('button', { type: 'button', class: 'btn btn--danger btn--small', dataset: { testid: 'call-decline' }, onclick: () => hangup() });
  const banner = h(
    'div',
    { class: 'call-incoming', role: 'alertdialog', 'aria-live': 'assertive', dataset: { testid: 'call-incoming' }, hidden: true },
    h('span', { class: 'call-incoming__icon', 'aria-hidden': 'true' }),
    bannerText,
    h('span', { class: 'call-incoming__actions' }, answerBtn, declineBtn),
  );

  const title = h('span', { class: 'call-panel__title' });
  const status = h('span', { class: 'call-panel__status', role: 'status' });
  const clock = h('span', { class: 'call-panel__timer', dataset: { testid: 'call-timer' }, 'aria-live': 'off' }, '00:00');
  const media = h('div', { class: 'call-panel__media' });
  const muteBtn = h('button', { type: 'button', class: 'btn btn--small call-panel__toggle', 'aria-pressed': 'false', dataset: { testid: 'call-mute' }, onclick: () => toggleMute() });
  const cameraBtn = h('button', { type: 'button', class: 'btn btn--small call-panel__toggle', 'aria-pressed': 'false', dataset: { testid: 'call-camera' }, onclick: () => toggleCamera() });
  const hangupBtn = h('button', { type: 'button', class: 'btn btn--small call-panel__hangup', dataset: { testid: 'call-hangup' }, onclick: () => hangup() });
  const panel = h(
    'section',
    { class: 'call-panel', dataset: { testid: 'call-panel', state: 'ended' }, hidden: true },
    h('div', { class: 'call-panel__head' }, h('span', { class: 'call-panel__dot', 'aria-hidden': 'true' }), title, status, clock),
    media,
    h('div', { class: 'call-panel__controls' }, muteBtn, cameraBtn, hangupBtn),
  );
  const notice = h('p', { class: 'call-notice', role: 'status', dataset: { testid: 'call-notice' }, hidden: true });
  container.append(banner, panel, notice);
  container.hidden = true;
  window.__switchboardCall = null;
  onLanguageChange(() => render());

  // ---- sending -------------------------------------------------------------------

  /**
   * Sends a call frame; an agent's names the conversation.
   * @param {Call} c
   * @param {string} type
   * @param {Record<string, unknown>} fields
   */
  function out(c, type, fields) {
    /** @type {OutFrame} */
    const frame = { type };
    if (role === 'agent') frame.conversation_id = c.conversationId;
    Object.assign(frame, fields);
    return send(frame);
  }

  /**
   * @param {Call} c
   * @param {Signal} signal
   */
  function signalOut(c, signal) {
    return out(c, 'call_signal', { call_id: c.id, signal });
  }

  // ---- media ---------------------------------------------------------------------

  /**
   * The microphone (and camera), or null after saying why not.
   * @param {CallMedia} m
   * @returns {Promise<MediaStream | null>}
   */
  async function getMedia(m) {
    try {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw new DOMException('no media devices (not a secure context?)', 'NotSupportedError');
      return await navigator.mediaDevices.getUserMedia({ audio: true, video: m === 'video' });
    } catch (e) {
      const name = e instanceof DOMException ? e.name : '';
      if (name === 'NotAllowedError' || name === 'SecurityError') showError('media', t(m === 'video' ? 'call.error.media_denied_video' : 'call.error.media_denied'));
      else showError('media', t('call.error.media', { detail: e instanceof Error ? e.message || e.name : String(e) }));
      return null;
    }
  }

  /** @param {MediaStream | null} stream */
  function stopTracks(stream) {
    if (stream) for (const track of stream.getTracks()) track.stop();
  }

  /**
   * The remote media element (a <video> for video calls, an <audio> for voice calls) and,
   * for video, the muted local preview.
   * @param {Call} c
   */
  function buildMedia(c) {
    if (c.media === 'video') {
      remoteEl = h('video', { class: 'call-panel__remote', autoplay: true, playsInline: true, dataset: { testid: 'call-remote' } });
      localEl = h('video', { class: 'call-panel__local', autoplay: true, playsInline: true, muted: '', dataset: { testid: 'call-local' } });
      localEl.muted = true;
      replaceChildren(media, remoteEl, localEl);
    } else {
      remoteEl = h('audio', { class: 'call-panel__remote', autoplay: true, dataset: { testid: 'call-remote' } });
      localEl = null;
      replaceChildren(media, remoteEl);
    }
    media.dataset.media = c.media;
  }

  /** @param {HTMLMediaElement} el */
  function play(el) {
    const p = el.play();
    if (p) p.catch(() => {});
  }

  /** @param {Call} c */
  function showLocal(c) {
    if (localEl && c.local && localEl.srcObject !== c.local) {
      localEl.srcObject = c.local;
      play(localEl);
    }
  }

  // ---- the peer connection -------------------------------------------------------

  /**
   * The call's peer connection, made with the call's ICE servers and local tracks.
   * @param {Call} c
   */
  function peer(c) {
    if (c.pc) return c.pc;
    const pc = new RTCPeerConnection({ iceServers: c.iceServers });
    c.pc = pc;
    window.__switchboardCall = pc;
    if (c.local) for (const track of c.local.getTracks()) pc.addTrack(track, c.local);
    pc.onicecandidate = (ev) => {
      // The end-of-candidates null (or empty) candidate is never sent.
      if (call !== c || !ev.candidate || !ev.candidate.candidate) return;
      /** @type {Signal} */
      const signal = { kind: 'candidate', candidate: ev.candidate.candidate };
      if (ev.candidate.sdpMid !== null && ev.candidate.sdpMid !== undefined) signal.sdp_mid = ev.candidate.sdpMid;
      if (ev.candidate.sdpMLineIndex !== null && ev.candidate.sdpMLineIndex !== undefined) signal.sdp_mline_index = ev.candidate.sdpMLineIndex;
      if (c.described) signalOut(c, signal);
      else c.localCandidates.push(signal);
    };
    pc.ontrack = (ev) => {
      if (call !== c) return;
      let stream = ev.streams[0];
      if (!stream) {
        if (!c.remote) c.remote = new MediaStream();
        c.remote.addTrack(ev.track);
        stream = c.remote;
      }
      if (remoteEl && remoteEl.srcObject !== stream) {
        remoteEl.srcObject = stream;
        play(remoteEl);
      }
    };
    pc.onconnectionstatechange = () => {
      if (call !== c) return;
      if (pc.connectionState === 'connected' && c.phase !== 'connected') {
        c.phase = 'connected';
        render();
        onChange();
      } else if (pc.connectionState === 'failed') {
        fail(c, new Error('the peer connection failed'));
      }
    };
    return pc;
  }

  /**
   * Our offer or answer went out: the candidates gathered meanwhile follow it.
   * @param {Call} c
   */
  function described(c) {
    c.described = true;
    for (const signal of c.localCandidates.splice(0)) signalOut(c, signal);
  }

  /**
   * Applies the candidates that came before the remote description.
   * @param {Call} c
   * @param {RTCPeerConnection} pc
   */
  async function flushRemoteCandidates(c, pc) {
    for (const init of c.remoteCandidates.splice(0)) {
      if (call !== c) return;
      await pc.addIceCandidate(init).catch((e) => console.warn('[call] candidate refused', e));
    }
  }

  /**
   * The caller's step after `call_answered`: the offer.
   * @param {Call} c
   */
  async function makeOffer(c) {
    const pc = peer(c);
    const offer = await pc.createOffer();
    if (call !== c) return;
    await pc.setLocalDescription(offer);
    if (call !== c || !pc.localDescription) return;
    signalOut(c, { kind: 'offer', sdp: pc.localDescription.sdp });
    described(c);
  }

  /**
   * One signal from the other side, in order.
   * @param {Call} c
   * @param {Signal} signal
   */
  async function applySignal(c, signal) {
    if (signal.kind === 'offer' && typeof signal.sdp === 'string') {
      const pc = peer(c);
      await pc.setRemoteDescription({ type: 'offer', sdp: signal.sdp });
      if (call !== c) return;
      await flushRemoteCandidates(c, pc);
      const answerDesc = await pc.createAnswer();
      if (call !== c) return;
      await pc.setLocalDescription(answerDesc);
      if (call !== c || !pc.localDescription) return;
      signalOut(c, { kind: 'answer', sdp: pc.localDescription.sdp });
      described(c);
    } else if (signal.kind === 'answer' && typeof signal.sdp === 'string') {
      const pc = c.pc;
      if (!pc || pc.signalingState !== 'have-local-offer') return;
      await pc.setRemoteDescription({ type: 'answer', sdp: signal.sdp });
      if (call !== c) return;
      await flushRemoteCandidates(c, pc);
    } else if (signal.kind === 'candidate' && typeof signal.candidate === 'string' && signal.candidate) {
      /** @type {RTCIceCandidateInit} */
      const init = {
        candidate: signal.candidate,
        sdpMid: typeof signal.sdp_mid === 'string' ? signal.sdp_mid : null,
        sdpMLineIndex: typeof signal.sdp_mline_index === 'number' ? signal.sdp_mline_index : null,
      };
      // One of the two is needed to place the candidate: the first m-line then.
      if (init.sdpMid === null && init.sdpMLineIndex === null) init.sdpMLineIndex = 0;
      const pc = c.pc;
      if (pc && pc.remoteDescription) await pc.addIceCandidate(init).catch((e) => console.warn('[call] candidate refused', e));
      else c.remoteCandidates.push(init);
    }
  }

  /**
   * Runs a signalling step after the ones before it; a failure ends the call.
   * @param {Call} c
   * @param {() => Promise<void>} step
   */
  function queue(c, step) {
    c.chain = c.chain.then(() => (call === c ? step() : undefined)).catch((e) => fail(c, e));
  }

  // ---- what the user does --------------------------------------------------------

  /**
   * Calls the other side of `conversationId` (the chat's open conversation, or one the
   * agent holds). Nothing happens while a call is live.
   * @param {CallMedia} m
   * @param {string} conversationId
   */
  async function start(m, conversationId) {
    if (call) return;
    const c = newCall({ id: '', conversationId, media: m, iceServers: [], phase: 'starting', caller: true });
    call = c;
    hideNotice();
    buildMedia(c);
    render();
    onChange();
    const stream = await getMedia(m);
    if (call !== c) {
      stopTracks(stream);
      return;
    }
    if (!stream) {
      finish(c, null);
      return;
    }
    c.local = stream;
    showLocal(c);
    if (!out(c, 'call_start', { media: m })) {
      showError('not_connected', t('error.not_connected'));
      finish(c, null);
      return;
    }
    c.startSent = true;
    c.startTimer = setTimeout(() => {
      if (call === c && c.phase === 'starting') {
        showError('timeout', t('call.error.no_reply'));
        finish(c, null);
      }
    }, START_TIMEOUT_MS);
    onEngaged(conversationId);
  }

  /** Answers the ringing call: microphone (and camera) first, then `call_answer`. */
  async function answer() {
    const c = call;
    if (!c || c.phase !== 'incoming') return;
    c.phase = 'answering';
    buildMedia(c);
    render();
    onChange();
    onEngaged(c.conversationId);
    const stream = await getMedia(c.media);
    if (call !== c) {
      stopTracks(stream);
      return;
    }
    if (!stream) {
      // No microphone: the call is declined.
      out(c, 'call_hangup', { call_id: c.id });
      finish(c, null);
      return;
    }
    c.local = stream;
    showLocal(c);
    peer(c);
    if (!out(c, 'call_answer', { call_id: c.id })) {
      showError('not_connected', t('error.not_connected'));
      finish(c, null);
    }
  }

  /** Hangs up (or declines the ringing call, or gives up a call still starting). */
  function hangup() {
    const c = call;
    if (!c) return;
    if (c.id) out(c, 'call_hangup', { call_id: c.id });
    const declined = c.phase === 'incoming';
    finish(c, {
      reason: declined ? 'declined' : 'hangup',
      by: role,
      duration_ms: c.answeredAt ? Date.now() - c.answeredAt : 0,
    });
  }

  function toggleMute() {
    const c = call;
    if (!c || !c.local) return;
    c.muted = !c.muted;
    for (const track of c.local.getAudioTracks()) track.enabled = !c.muted;
    render();
  }

  function toggleCamera() {
    const c = call;
    if (!c || !c.local || c.media !== 'video') return;
    c.cameraOff = !c.cameraOff;
    for (const track of c.local.getVideoTracks()) track.enabled = !c.cameraOff;
    render();
  }

  // ---- the end -------------------------------------------------------------------

  /**
   * Ends the call on this page: the peer connection closed, local tracks stopped, the
   * panel hidden; `info` (reason, by, duration) makes the "Call ended" notice, null none.
   * @param {Call} c
   * @param {CallEnded | null} info
   */
  function finish(c, info) {
    if (call !== c) return;
    call = null;
    if (c.id) remember(c.id);
    else if (c.startSent) abandoned = c;
    clearTimeout(c.startTimer);
    clearInterval(timer);
    timer = undefined;
    if (c.pc) {
      const pc = c.pc;
      pc.onicecandidate = pc.ontrack = pc.onconnectionstatechange = null;
      try {
        pc.close();
      } catch {
        /* already closed */
      }
    }
    if (window.__switchboardCall === c.pc) window.__switchboardCall = null;
    c.pc = null;
    stopTracks(c.local);
    c.local = null;
    if (remoteEl) remoteEl.srcObject = null;
    if (localEl) localEl.srcObject = null;
    panel.dataset.state = 'ended';
    if (info) {
      const ended = { ...info };
      showNotice(() => callEndedText(ended, byFrom(role)));
    }
    render();
    onChange();
  }

  /**
   * A failure of this page's side (signalling, the peer connection): hang up.
   * @param {Call} c
   * @param {unknown} e
   */
  function fail(c, e) {
    if (call !== c) return;
    console.warn('[call] failed', e);
    if (c.id) out(c, 'call_hangup', { call_id: c.id });
    finish(c, { reason: 'failed', by: role, duration_ms: c.answeredAt ? Date.now() - c.answeredAt : 0 });
  }

  /** @param {string} id */
  function remember(id) {
    gone.add(id);
    if (gone.size > 32) gone.delete(/** @type {string} */ (gone.values().next().value));
  }

  /** @param {() => string} text */
  function showNotice(text) {
    noticeText = text;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(hideNotice, NOTICE_MS);
  }

  function hideNotice() {
    clearTimeout(noticeTimer);
    noticeText = null;
    render();
  }

  // ---- the frames ----------------------------------------------------------------

  /** @param {RTCIceServer[] | undefined} servers */
  const iceServersOf = (servers) => (Array.isArray(servers) ? servers : []);

  /** @param {CallRinging} msg  the other side is being rung: only to the socket that called */
  function onRinging(msg) {
    /** @param {Call | null} x */
    const mine = (x) => !!x && x.phase === 'starting' && !x.id && !(x.conversationId && msg.conversation_id && x.conversationId !== msg.conversation_id);
    const c = call;
    if (!c || !mine(c)) {
      // The call this page gave up before it rang: hang it up now that it has an id.
      if (abandoned && mine(abandoned)) {
        abandoned.id = msg.call_id;
        out(abandoned, 'call_hangup', { call_id: msg.call_id });
        remember(msg.call_id);
        abandoned = null;
      }
      return;
    }
    clearTimeout(c.startTimer);
    c.id = msg.call_id;
    c.iceServers = iceServersOf(msg.ice_servers);
    c.phase = 'ringing';
    render();
  }

  /** @param {CallRinging} msg  this side is rung */
  function onIncoming(msg) {
    if (call || gone.has(msg.call_id)) return; // one call at a time
    call = newCall({
      id: msg.call_id,
      conversationId: msg.conversation_id,
      media: msg.media === 'video' ? 'video' : 'audio',
      iceServers: iceServersOf(msg.ice_servers),
      phase: 'incoming',
      caller: false,
    });
    hideNotice();
    render();
    onChange();
  }

  /** @param {CallAnswered} msg */
  function onAnswered(msg) {
    const c = call;
    if (!c || c.id !== msg.call_id) return;
    if (c.phase === 'incoming') {
      // Another socket of this side answered: this one only stops ringing.
      finish(c, null);
      return;
    }
    if (c.phase !== 'ringing' && c.phase !== 'answering') return;
    const caller = c.phase === 'ringing';
    c.phase = 'connecting';
    c.answeredAt = Date.now();
    clearInterval(timer);
    timer = setInterval(renderClock, TIMER_EVERY_MS);
    render();
    onChange();
    if (caller) queue(c, () => makeOffer(c));
  }

  /** @param {CallSignal} msg */
  function onSignal(msg) {
    const c = call;
    // Only the socket in the call (it started or answered it) takes signals.
    if (!c || c.id !== msg.call_id || !msg.signal) return;
    if (c.phase !== 'answering' && c.phase !== 'connecting' && c.phase !== 'connected') return;
    const signal = msg.signal;
    queue(c, () => applySignal(c, signal));
  }

  /** @param {CallEnded} msg */
  function onEnded(msg) {
    const c = call;
    if (!c || c.id !== msg.call_id) return;
    finish(c, {
      reason: msg.reason,
      by: msg.by,
      duration_ms: typeof msg.duration_ms === 'number' ? msg.duration_ms : c.answeredAt ? Date.now() - c.answeredAt : 0,
    });
  }

  /**
   * An `error` frame: if it is about this page's call the call UI is dropped (or, for a
   * refused signal, the call hung up). Returns the text to show, '' for nothing (an
   * error about a call already gone, or signals over the engine's limit: the call goes
   * on), null if the error is not a call's.
   *
   * A call's errors name it in `ref`; a refused `call_start` names the conversation. A
   * refused start without any `ref`, and a refused answer naming the conversation, are
   * taken as the call's too (nothing else is in flight then).
   * @param {{ code: string, message?: string, ref?: string }} msg
   * @returns {string | null}
   */
  function onError(msg) {
    const c = call;
    const callCode = CALL_ERRORS.has(msg.code);
    const text = has(`call.error.${msg.code}`) ? t(`call.error.${msg.code}`) : msg.message || msg.code;
    if (c && c.id && msg.ref === c.id && msg.code === 'rate_limited') {
      console.warn('[call] signal refused, the call goes on:', msg.message || msg.code);
      return '';
    }
    if (c && c.phase === 'starting' && c.startSent && callCode && (!msg.ref || msg.ref === c.conversationId)) {
      // The start was refused: nothing rings.
      finish(c, null);
      abandoned = null;
      return text;
    }
    if (abandoned && callCode && (!msg.ref || msg.ref === abandoned.conversationId)) {
      abandoned = null;
      return '';
    }
    if (c && c.phase === 'answering' && callCode && (msg.ref === c.id || msg.ref === c.conversationId)) {
      // The answer was refused (another socket of this side answered first, the call ended).
      finish(c, null);
      return text;
    }
    if (c && c.id && msg.ref === c.id) {
      // `not_found`: this page is not (or no longer) in the call; a refused answer before
      // any signal: another socket answered. This page just leaves the call. A refused
      // offer, answer or candidate breaks it: hang up.
      if (msg.code === 'not_found' || c.phase === 'incoming' || c.phase === 'ringing' || (!c.caller && !c.described)) finish(c, null);
      else fail(c, new Error(`${msg.code}: ${msg.message || ''}`));
      return text;
    }
    if (msg.ref && gone.has(msg.ref)) return '';
    return null;
  }

  /** The socket dropped: the engine ends the call (`disconnected`); so does this page. */
  function socketLost() {
    const c = call;
    if (c && (c.phase === 'incoming' || c.phase === 'starting')) finish(c, null);
    else if (c) finish(c, { reason: 'disconnected', by: role, duration_ms: c.answeredAt ? Date.now() - c.answeredAt : 0 });
    abandoned = null; // its socket is gone: it will never ring
  }

  // ---- drawing -------------------------------------------------------------------

  function renderClock() {
    const c = call;
    clock.hidden = !c || !c.answeredAt;
    const text = c && c.answeredAt ? formatCallClock(Date.now() - c.answeredAt, true) : '00:00';
    if (clock.textContent !== text) clock.textContent = text;
  }

  /** @param {Call} c */
  function panelState(c) {
    if (c.phase === 'starting' || c.phase === 'ringing') return 'ringing';
    if (c.phase === 'connected') return 'connected';
    return 'connecting';
  }

  function render() {
    const c = call;
    answerBtn.textContent = t('call.answer');
    declineBtn.textContent = t('call.decline');
    hangupBtn.textContent = t('call.hangup');
    muteBtn.textContent = t('call.mute');
    cameraBtn.textContent = t('call.camera_off');

    const ringing = !!c && c.phase === 'incoming';
    banner.hidden = !ringing;
    if (c && ringing) {
      banner.dataset.media = c.media;
      banner.dataset.callId = c.id;
      bannerText.textContent = t(c.media === 'video' ? 'call.incoming_video' : 'call.incoming_audio', { name: peerName(c.conversationId) });
      banner.setAttribute('aria-label', bannerText.textContent);
    }

    const inCall = !!c && !ringing;
    panel.hidden = !inCall;
    if (c && inCall) {
      const st = panelState(c);
      panel.dataset.state = st;
      panel.dataset.media = c.media;
      panel.dataset.callId = c.id;
      title.textContent = `${callMediaLabel(c.media)} · ${peerName(c.conversationId)}`;
      panel.setAttribute('aria-label', title.textContent);
      status.textContent = t(`call.state.${st}`);
      muteBtn.setAttribute('aria-pressed', String(c.muted));
      muteBtn.title = c.muted ? t('call.unmute') : t('call.mute');
      cameraBtn.hidden = c.media !== 'video';
      cameraBtn.setAttribute('aria-pressed', String(c.cameraOff));
      cameraBtn.title = c.cameraOff ? t('call.camera_on') : t('call.camera_off');
      const ready = !!c.local;
      muteBtn.disabled = !ready;
      cameraBtn.disabled = !ready;
      if (remoteEl) remoteEl.setAttribute('aria-label', t('call.remote_label', { name: peerName(c.conversationId) }));
      if (localEl) {
        localEl.setAttribute('aria-label', t('call.local_label'));
        localEl.classList.toggle('is-off', c.cameraOff);
      }
    }
    renderClock();

    notice.hidden = !noticeText;
    if (noticeText) notice.textContent = noticeText();
    container.hidden = banner.hidden && panel.hidden && notice.hidden;
  }

  render();

  return {
    start,
    answer,
    hangup,
    onError,
    socketLost,
    /** Whether a call is live on this page (ringing, incoming or in progress). */
    get busy() {
      return !!call;
    },
    /** The frames this controller reads, by type (for the page's socket handlers). */
    handlers: {
      /** @param {CallRinging} msg */
      call_ringing: (msg) => onRinging(msg),
      /** @param {CallRinging} msg */
      call_incoming: (msg) => onIncoming(msg),
      /** @param {CallAnswered} msg */
      call_answered: (msg) => onAnswered(msg),
      /** @param {CallSignal} msg */
      call_signal: (msg) => onSignal(msg),
      /** @param {CallEnded} msg */
      call_ended: (msg) => onEnded(msg),
    },
  };
}

/** @typedef {ReturnType<typeof createCallController>} CallController */

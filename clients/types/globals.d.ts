// types/globals.d.ts — owns the types of what the pages put on `window` rather than
// export: `window.uPlot`, set by supervisor/vendor/uPlot.iife.min.js (its types are
// uPlot's own: node_modules/uplot, the same pinned version as the vendored file), and
// `window.__switchboardCall`, the live call's peer connection that shared/call.js
// exposes for the browser test. Only the type checker reads this folder; the engine
// does not serve it.

import type uPlot from 'uplot';

declare global {
  interface Window {
    /** Absent if the vendored script failed to load: the charts are then skipped. */
    uPlot?: typeof uPlot;
    /** The browser call's RTCPeerConnection (shared/call.js); null or absent when none. */
    __switchboardCall?: RTCPeerConnection | null;
  }
}

export {};

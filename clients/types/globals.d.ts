// types/globals.d.ts — owns the types of what the pages get from classic scripts rather
// than from imports: `window.uPlot`, set by supervisor/vendor/uPlot.iife.min.js. Its
// types are uPlot's own (node_modules/uplot, the same pinned version as the vendored
// file). Only the type checker reads this folder; the engine does not serve it.

import type uPlot from 'uplot';

declare global {
  interface Window {
    /** Absent if the vendored script failed to load: the charts are then skipped. */
    uPlot?: typeof uPlot;
  }
}

export {};

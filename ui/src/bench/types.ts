/** What bench/ui.ts asks the bench page to run, and what the page reports back. */

export interface BenchOptions {
  firstRenderNodes: number;
  firstRenderRuns: number;
  interactionNodes: number;
  hovers: number;
  zooms: number;
}

export interface BenchResult {
  firstRenderNodes: number;
  /** Per run, data in hand (before decoding) → draw call done / canvas rasterised / next frame. */
  firstRenderDrawnMs: number[];
  firstRenderFlushedMs: number[];
  firstRenderPaintedMs: number[];
  /** The renderer alone (decode + colours + layout + draw + rasterise), per run. */
  rendererOnlyMs: number[];
  interactionNodes: number;
  /** Nodes laid out and drawn at the root focus of the interaction graph. */
  drawnNodes: number;
  hoverMs: number[];
  zoomMs: number[];
  /** The same focus changes on the renderer alone: layout + draw + rasterise. */
  rendererZoomMs: number[];
  /** Of the renderer-alone zooms, the medians of each part's drawing calls. */
  rendererZoomParts: { layoutMs: number; rectsMs: number; labelsMs: number; labels: number };
  devicePixelRatio: number;
  canvasWidthPx: number;
}

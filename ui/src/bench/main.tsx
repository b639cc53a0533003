/**
 * The render bench page (bench/ui.ts builds and drives it in Chromium). It renders the real
 * ProfileView (decode, top table, layout, canvas) with synthetic data and times, with
 * performance marks:
 * - first render of a 10,000-node graph: from data in hand (before decoding) to the draw call
 *   done, to the canvas rasterised (a 1-pixel read forces Chromium to flush its recorded
 *   drawing), and to the next animation frame (paint);
 * - hover and zoom at 50,000 nodes: from the dispatched mouse event to the work being done
 *   (Preact's re-render, style/layout of the tooltip, the canvas or overlay rasterised).
 */
import { render } from "preact";
import { useState } from "preact/hooks";
import { diffGraph as demoDiff } from "../flamegraph/fixtures.ts";
import {
  DiffView,
  defaultFlameViewState,
  type FlameGraphData,
  type FlameViewState,
  ProfileView,
} from "../flamegraph/index.ts";
import { FlameGraphRenderer } from "../flamegraph/renderer.ts";
import { decodeFlameGraph } from "../flamegraph/tree.ts";
import { seededRandom, syntheticFlameGraph } from "./synthetic.ts";
import type { BenchOptions, BenchResult } from "./types.ts";

declare global {
  interface Window {
    __kilnBench?: { run(options: BenchOptions): Promise<BenchResult> };
  }
}

function Harness(props: { data: FlameGraphData }) {
  const [state, setState] = useState<FlameViewState>(defaultFlameViewState);
  return (
    <ProfileView
      data={props.data}
      unit="nanoseconds"
      theme="light"
      state={state}
      onStateChange={(patch) => setState((previous) => ({ ...previous, ...patch }))}
    />
  );
}

const app = document.getElementById("app")!;

function nextFrame(): Promise<void> {
  return new Promise((resolve) => requestAnimationFrame(() => resolve()));
}

/** Resolves after pending microtasks (Preact schedules re-renders on them) have run. */
function afterMicrotasks(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(null);
  });
}

/** Reading one pixel makes Chromium rasterise the canvas's recorded drawing now. */
function flush(canvas: HTMLCanvasElement): void {
  canvas.getContext("2d")!.getImageData(0, 0, 1, 1);
}

function mainCanvas(container: HTMLElement): HTMLCanvasElement {
  return container.querySelector<HTMLCanvasElement>('[data-testid="flamegraph-canvas"]')!;
}

async function firstRender(data: FlameGraphData, run: number): Promise<[number, number, number]> {
  const container = document.createElement("div");
  app.replaceChildren(container);
  await nextFrame();
  const start = `first-render-${run}-start`;
  performance.mark(start);
  render(<Harness data={data} />, container);
  const drawn = performance.measure(`first-render-${run}-drawn`, start).duration;
  const canvas = mainCanvas(container);
  flush(canvas);
  const flushed = performance.measure(`first-render-${run}-flushed`, start).duration;
  await nextFrame();
  const painted = performance.measure(`first-render-${run}-painted`, start).duration;
  render(null, container);
  return [drawn, flushed, painted];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Focus changes on the renderer alone, at the points the ProfileView zooms used. */
function rendererZooms(
  data: FlameGraphData,
  points: [number, number][],
): Pick<BenchResult, "rendererZoomMs" | "rendererZoomParts"> {
  const canvas = document.createElement("canvas");
  app.replaceChildren(canvas);
  const renderer = new FlameGraphRenderer(canvas);
  renderer.setData(decodeFlameGraph(data));
  renderer.setSize(1384, window.devicePixelRatio || 1);
  renderer.draw();
  const targets = points.map(([x, y]) => renderer.hitTest(x, y)).filter((node) => node >= 0);
  const rendererZoomMs: number[] = [];
  const parts = {
    layoutMs: [] as number[],
    rectsMs: [] as number[],
    labelsMs: [] as number[],
    labels: [] as number[],
  };
  for (const node of targets) {
    renderer.setFocus(0);
    renderer.draw();
    flush(canvas);
    const start = performance.now();
    renderer.setFocus(node);
    renderer.draw();
    flush(canvas);
    rendererZoomMs.push(performance.now() - start);
    parts.layoutMs.push(renderer.stats.layoutMs);
    parts.rectsMs.push(renderer.stats.rectsMs);
    parts.labelsMs.push(renderer.stats.labelsMs);
    parts.labels.push(renderer.stats.labels);
  }
  return {
    rendererZoomMs,
    rendererZoomParts: {
      layoutMs: median(parts.layoutMs),
      rectsMs: median(parts.rectsMs),
      labelsMs: median(parts.labelsMs),
      labels: median(parts.labels),
    },
  };
}

function rendererOnly(data: FlameGraphData): { ms: number; drawnNodes: number } {
  const canvas = document.createElement("canvas");
  app.replaceChildren(canvas);
  const start = performance.now();
  const renderer = new FlameGraphRenderer(canvas);
  renderer.setData(decodeFlameGraph(data));
  renderer.setSize(1384, window.devicePixelRatio || 1);
  renderer.draw();
  flush(canvas);
  return { ms: performance.now() - start, drawnNodes: renderer.stats.drawnNodes };
}

/** Points (canvas-relative CSS px) over frames, drawn deterministically. */
function framePoints(
  canvas: HTMLCanvasElement,
  count: number,
  maxY: number,
  seed: number,
): [number, number][] {
  const random = seededRandom(seed);
  const hooks = window.__kilnFlamegraph!;
  const points: [number, number][] = [];
  for (let tries = 0; points.length < count && tries < count * 200; tries++) {
    const x = random() * canvas.clientWidth;
    const y = random() * Math.min(maxY, canvas.clientHeight);
    if (hooks.hitTest(x, y) !== null) points.push([x, y]);
  }
  return points;
}

function mouse(canvas: HTMLCanvasElement, type: string, x: number, y: number): void {
  const box = canvas.getBoundingClientRect();
  canvas.dispatchEvent(
    new MouseEvent(type, { clientX: box.left + x, clientY: box.top + y, bubbles: true, cancelable: true }),
  );
}

async function interactions(
  data: FlameGraphData,
  hovers: number,
  zooms: number,
): Promise<{ hoverMs: number[]; zoomMs: number[]; zoomPoints: [number, number][] }> {
  const container = document.createElement("div");
  app.replaceChildren(container);
  render(<Harness data={data} />, container);
  await nextFrame();
  const canvas = mainCanvas(container);
  const overlay = canvas.nextElementSibling as HTMLCanvasElement;
  const hoverMs: number[] = [];
  for (const [x, y] of framePoints(canvas, hovers, 40 * 18, 7)) {
    const start = performance.now();
    mouse(canvas, "mousemove", x, y);
    await afterMicrotasks();
    container.querySelector('[data-testid="flamegraph-tooltip"]')?.getBoundingClientRect();
    flush(overlay);
    hoverMs.push(performance.now() - start);
    await nextFrame();
  }
  mouse(canvas, "mouseleave", 0, 0);
  const zoomMs: number[] = [];
  // Frames in the first rows are wide enough to be worth zooming into, as a user would.
  const zoomPoints = framePoints(canvas, zooms, 8 * 18, 11);
  for (const [x, y] of zoomPoints) {
    const start = performance.now();
    mouse(canvas, "click", x, y);
    await afterMicrotasks();
    flush(canvas);
    container.getBoundingClientRect();
    zoomMs.push(performance.now() - start);
    await nextFrame();
    // Back to the whole graph (not timed) so every zoom starts from the same view.
    mouse(canvas, "dblclick", 1, 1);
    await afterMicrotasks();
    await nextFrame();
  }
  render(null, container);
  return { hoverMs, zoomMs, zoomPoints };
}

window.__kilnBench = {
  async run(options) {
    const firstRenderDrawnMs: number[] = [];
    const firstRenderFlushedMs: number[] = [];
    const firstRenderPaintedMs: number[] = [];
    const rendererOnlyMs: number[] = [];
    for (let run = 0; run < options.firstRenderRuns; run++) {
      // A fresh copy each run: nothing decoded is reused from an earlier run.
      const data = syntheticFlameGraph(options.firstRenderNodes, 1);
      const [drawn, flushed, painted] = await firstRender(data, run);
      firstRenderDrawnMs.push(drawn);
      firstRenderFlushedMs.push(flushed);
      firstRenderPaintedMs.push(painted);
      rendererOnlyMs.push(rendererOnly(syntheticFlameGraph(options.firstRenderNodes, 1)).ms);
    }
    const big = syntheticFlameGraph(options.interactionNodes, 2);
    const drawnNodes = rendererOnly(big).drawnNodes;
    const { hoverMs, zoomMs, zoomPoints } = await interactions(big, options.hovers, options.zooms);
    const renderer = rendererZooms(big, zoomPoints);
    return {
      firstRenderNodes: options.firstRenderNodes,
      firstRenderDrawnMs,
      firstRenderFlushedMs,
      firstRenderPaintedMs,
      rendererOnlyMs,
      interactionNodes: options.interactionNodes,
      drawnNodes,
      hoverMs,
      zoomMs,
      ...renderer,
      devicePixelRatio: window.devicePixelRatio,
      canvasWidthPx: 1384,
    };
  },
};

/** `bench.html?demo`: a ProfileView and a DiffView left on screen, for looking at by hand. */
function Demo() {
  const [state, setState] = useState<FlameViewState>(defaultFlameViewState);
  const [diffState, setDiffState] = useState<FlameViewState>({ ...defaultFlameViewState, tableSort: "diff" });
  const data = syntheticFlameGraph(3000, 3);
  return (
    <>
      <ProfileView
        data={data}
        unit="nanoseconds"
        theme="light"
        state={state}
        onStateChange={(patch) => setState((previous) => ({ ...previous, ...patch }))}
      />
      <hr />
      <DiffView
        data={demoDiff}
        unit="nanoseconds"
        theme="dark"
        state={diffState}
        onStateChange={(patch) => setDiffState((previous) => ({ ...previous, ...patch }))}
      />
    </>
  );
}

if (new URLSearchParams(location.search).has("demo")) render(<Demo />, app);

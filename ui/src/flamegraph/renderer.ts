/**
 * The canvas renderer: a plain class that owns one canvas (plus a transparent overlay for the
 * hover and selection outlines, so hovering never redraws the graph). Everything that depends
 * only on the data (colours per name or per diff node) is computed in `setData`; a frame only
 * lays out the visible nodes (layout.ts) and draws their rectangles and labels.
 *
 * Framework-free so that the Preact components, the PNG export and the bench share it.
 */
import { DIFF_STEPS, diffStepColor, frameColor, frameTextColor, type Theme } from "./colors.ts";
import { nodeDiffSteps } from "./diff.ts";
import { FlameLayout, type Orientation, type Rect, ROW_HEIGHT_PX } from "./layout.ts";
import type { FlameTree } from "./tree.ts";

const FONT_SIZE_PX = 12;
const FONT = `${FONT_SIZE_PX}px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace`;
const LABEL_PADDING_PX = 3;
/** Labels need room for a few characters; narrower frames stay unlabelled. */
const LABEL_MIN_CHARS = 3;
const ELLIPSIS = "…";

const DIMMED: Record<Theme, string> = { light: "#e4e4e4", dark: "#3a3a3e" };
const HOVER_STROKE: Record<Theme, string> = { light: "#111", dark: "#fff" };
const SELECT_STROKE: Record<Theme, string> = { light: "#0b5fff", dark: "#6ea8ff" };
const BACKGROUND: Record<Theme, string> = { light: "#ffffff", dark: "#181b1f" };

/** Anything with a 2D context: an on-screen canvas, or an offscreen one for PNG export. */
export interface CanvasLike {
  width: number;
  height: number;
  getContext(kind: "2d"): CanvasRenderingContext2D | null;
  style?: CSSStyleDeclaration;
}

export interface DrawStats {
  /** Entries laid out (and drawn) in the last frame. */
  drawnNodes: number;
  labels: number;
  /** Time spent in each part of the last frame (drawing calls only; rasterising comes later). */
  layoutMs: number;
  rectsMs: number;
  labelsMs: number;
}

export class FlameGraphRenderer {
  readonly canvas: CanvasLike;
  readonly overlay: CanvasLike | null;
  #tree: FlameTree | null = null;
  #layout: FlameLayout | null = null;
  /** Fill colour index per node into #palette. */
  #colorOfNode: Uint32Array = new Uint32Array(0);
  #palette: string[] = [];
  /** Per colour-key source: name texts (single) or diff steps (diff). */
  #diffSteps: Int8Array | null = null;
  #theme: Theme = "light";
  #orientation: Orientation = "icicle";
  #focus = 0;
  #widthPx = 0;
  #dpr = 1;
  /** 1 where a node matches the search; null when nothing is searched. */
  #matches: Uint8Array | null = null;
  #hover = -1;
  #selected = -1;
  #charWidthPx = 0;
  #frameRequest = 0;
  #layoutDirty = true;
  stats: DrawStats = { drawnNodes: 0, labels: 0, layoutMs: 0, rectsMs: 0, labelsMs: 0 };

  constructor(canvas: CanvasLike, overlay: CanvasLike | null = null) {
    this.canvas = canvas;
    this.overlay = overlay;
  }

  get tree(): FlameTree | null {
    return this.#tree;
  }

  get layout(): FlameLayout | null {
    return this.#layout;
  }

  get focus(): number {
    return this.#focus;
  }

  get heightPx(): number {
    return this.#layout ? this.#layout.heightPx : 0;
  }

  setData(tree: FlameTree): void {
    this.#tree = tree;
    this.#layout = new FlameLayout(tree);
    this.#diffSteps = tree.diff ? nodeDiffSteps(tree) : null;
    this.#focus = 0;
    this.#hover = -1;
    this.#selected = -1;
    this.#matches = null;
    this.#computeColors();
    this.#layoutDirty = true;
  }

  setTheme(theme: Theme): void {
    if (theme === this.#theme) return;
    this.#theme = theme;
    this.#computeColors();
  }

  setOrientation(orientation: Orientation): void {
    if (orientation === this.#orientation) return;
    this.#orientation = orientation;
    this.#layoutDirty = true;
  }

  setFocus(node: number): void {
    const valid = this.#tree && node >= 0 && node < this.#tree.nodeCount ? node : 0;
    if (valid === this.#focus) return;
    this.#focus = valid;
    this.#layoutDirty = true;
  }

  /** Per-node match flags (search or a highlighted function); null clears the dimming. */
  setMatches(matches: Uint8Array | null): void {
    this.#matches = matches;
  }

  /** CSS width of the graph and the device pixel ratio to draw at. */
  setSize(widthPx: number, dpr = 1): void {
    const width = Math.max(0, Math.floor(widthPx));
    if (width === this.#widthPx && dpr === this.#dpr) return;
    this.#widthPx = width;
    this.#dpr = dpr;
    this.#layoutDirty = true;
  }

  /** Hover outline (overlay only, the graph is not redrawn). */
  setHover(node: number): void {
    if (node === this.#hover) return;
    this.#hover = node;
    this.#drawOverlay();
  }

  setSelected(node: number): void {
    if (node === this.#selected) return;
    this.#selected = node;
    this.#drawOverlay();
  }

  /** Draws on the next animation frame (several changes in one frame draw once). */
  requestDraw(): void {
    if (this.#frameRequest !== 0) return;
    this.#frameRequest = requestAnimationFrame(() => {
      this.#frameRequest = 0;
      this.draw();
    });
  }

  cancel(): void {
    if (this.#frameRequest !== 0) cancelAnimationFrame(this.#frameRequest);
    this.#frameRequest = 0;
  }

  /** Lays out (when something changed) and draws the graph now. */
  draw(): void {
    const tree = this.#tree;
    const layout = this.#layout;
    const ctx = this.canvas.getContext("2d");
    if (!tree || !layout || !ctx) return;
    const startMs = performance.now();
    if (this.#layoutDirty) {
      layout.compute({ focus: this.#focus, widthPx: this.#widthPx, orientation: this.#orientation });
      this.#layoutDirty = false;
    }
    const dpr = this.#dpr;
    const heightPx = layout.heightPx;
    this.#sizeCanvas(this.canvas, heightPx);
    if (this.overlay) this.#sizeCanvas(this.overlay, heightPx);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = BACKGROUND[this.#theme];
    ctx.fillRect(0, 0, this.#widthPx, heightPx);
    ctx.font = FONT;
    ctx.textBaseline = "middle";
    if (this.#charWidthPx === 0) this.#charWidthPx = ctx.measureText("MMMMMMMMMM").width / 10 || 7;

    const layoutDoneMs = performance.now();
    const rowHeight = layout.rowHeightPx;
    const boxHeight = rowHeight - 1;
    const matches = this.#matches;
    const dimmed = DIMMED[this.#theme];
    const focusDepth = layout.focusDepth;
    let currentFill = "";
    // Rectangles first (fill style changes only between colours), labels in a second pass.
    for (let e = 0; e < layout.count; e++) {
      const node = layout.node[e]!;
      const depth = tree.depth[node]!;
      const fill = matches && matches[node] !== 1 ? dimmed : this.#palette[this.#colorOfNode[node]!]!;
      if (fill !== currentFill) {
        ctx.fillStyle = fill;
        currentFill = fill;
      }
      const w = layout.widthPx[e]!;
      // Ancestors of the focus are drawn fainter: they are context, not part of the view.
      if (depth < focusDepth) ctx.globalAlpha = 0.55;
      ctx.fillRect(layout.xPx[e]!, layout.rowY(depth), w > 2 ? w - 0.5 : Math.max(w, 1), boxHeight);
      if (depth < focusDepth) ctx.globalAlpha = 1;
    }
    const rectsDoneMs = performance.now();
    ctx.fillStyle = frameTextColor(this.#theme);
    const charWidth = this.#charWidthPx;
    const minLabelPx = charWidth * LABEL_MIN_CHARS + 2 * LABEL_PADDING_PX;
    let labels = 0;
    for (let e = 0; e < layout.count; e++) {
      const w = layout.widthPx[e]!;
      if (w < minLabelPx) continue;
      const node = layout.node[e]!;
      const name = tree.names[tree.name[node]!] ?? "";
      const fit = Math.floor((w - 2 * LABEL_PADDING_PX) / charWidth);
      const text = name.length <= fit ? name : `${name.slice(0, fit - 1)}${ELLIPSIS}`;
      ctx.fillText(
        text,
        layout.xPx[e]! + LABEL_PADDING_PX,
        layout.rowY(tree.depth[node]!) + boxHeight / 2 + 0.5,
      );
      labels++;
    }
    this.stats = {
      drawnNodes: layout.count,
      labels,
      layoutMs: layoutDoneMs - startMs,
      rectsMs: rectsDoneMs - layoutDoneMs,
      labelsMs: performance.now() - rectsDoneMs,
    };
    this.#drawOverlay();
  }

  /** The node under a point in CSS pixels of the canvas, or -1. */
  hitTest(xPx: number, yPx: number): number {
    return this.#layout ? this.#layout.hitTest(xPx, yPx) : -1;
  }

  /** Where `node` is drawn, or null when it is not visible. */
  rectOf(node: number): Rect | null {
    const layout = this.#layout;
    if (!layout) return null;
    const entry = layout.entryOf(node);
    return entry < 0 ? null : layout.rectOf(entry);
  }

  #sizeCanvas(canvas: CanvasLike, heightPx: number): void {
    const width = Math.max(1, Math.round(this.#widthPx * this.#dpr));
    const height = Math.max(1, Math.round(heightPx * this.#dpr));
    // Assigning a size clears the canvas, even the same size: only when it changes.
    if (canvas.width !== width) canvas.width = width;
    if (canvas.height !== height) canvas.height = height;
    if (canvas.style) {
      canvas.style.width = `${this.#widthPx}px`;
      canvas.style.height = `${heightPx}px`;
    }
  }

  #drawOverlay(): void {
    const overlay = this.overlay;
    const layout = this.#layout;
    if (!overlay || !layout) return;
    const ctx = overlay.getContext("2d");
    if (!ctx) return;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    ctx.setTransform(this.#dpr, 0, 0, this.#dpr, 0, 0);
    const outline = (node: number, color: string, lineWidth: number) => {
      if (node < 0) return;
      const rect = this.rectOf(node);
      if (!rect) return;
      ctx.strokeStyle = color;
      ctx.lineWidth = lineWidth;
      ctx.strokeRect(rect.x + 0.5, rect.y + 0.5, Math.max(rect.w - 1, 1), rect.h - 2);
    };
    outline(this.#selected, SELECT_STROKE[this.#theme], 2);
    outline(this.#hover, HOVER_STROKE[this.#theme], 1);
  }

  #computeColors(): void {
    const tree = this.#tree;
    if (!tree) return;
    const colorOfNode = new Uint32Array(tree.nodeCount);
    if (this.#diffSteps) {
      // Palette index = step + DIFF_STEPS.
      this.#palette = [];
      for (let step = -DIFF_STEPS; step <= DIFF_STEPS; step++)
        this.#palette.push(diffStepColor(step, this.#theme));
      for (let n = 0; n < tree.nodeCount; n++) colorOfNode[n] = this.#diffSteps[n]! + DIFF_STEPS;
    } else {
      // One colour string per distinct colour; names share them by package.
      const paletteIndex = new Map<string, number>();
      const palette: string[] = [];
      const byName = new Uint32Array(tree.names.length);
      for (let i = 0; i < tree.names.length; i++) {
        const color = frameColor(tree.names[i]!, this.#theme);
        let index = paletteIndex.get(color);
        if (index === undefined) {
          index = palette.length;
          palette.push(color);
          paletteIndex.set(color, index);
        }
        byName[i] = index;
      }
      for (let n = 0; n < tree.nodeCount; n++) colorOfNode[n] = byName[tree.name[n]!]!;
      this.#palette = palette;
    }
    this.#colorOfNode = colorOfNode;
  }
}

export { ROW_HEIGHT_PX };

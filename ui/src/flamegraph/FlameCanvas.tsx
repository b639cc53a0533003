/**
 * One interactive flame graph: the renderer's canvas with its overlay, the tooltip, the
 * context menu and keyboard navigation. Focus is owned by the parent (it lives in the URL for
 * the main graph); hover, selection and menus are local.
 */
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import type { Theme } from "./colors.ts";
import type { Orientation, Rect } from "./layout.ts";
import { FlameGraphRenderer } from "./renderer.ts";
import type { FlameTree } from "./tree.ts";

/** Test and bench hooks for the most recently drawn main flame graph (CSS px, canvas-relative). */
export interface FlamegraphTestHooks {
  hitTest(xPx: number, yPx: number): string | null;
  frameRect(name: string): Rect | null;
}

declare global {
  interface Window {
    __kilnFlamegraph?: FlamegraphTestHooks;
  }
}

export interface FlameCanvasProps {
  tree: FlameTree;
  theme: Theme;
  orientation: Orientation;
  focus: number;
  onFocus: (node: number) => void;
  /** Per-node match flags (search or highlighted function); null when nothing is searched. */
  matches: Uint8Array | null;
  /** Tooltip body for a node. */
  tooltip: (node: number) => ComponentChildren;
  /** Opens the sandwich view of a function (context menu entry); absent hides the entry. */
  onSandwich?: (name: string) => void;
  canvasTestId?: string;
  /** Registers window.__kilnFlamegraph for this graph. */
  exposeForTests?: boolean;
  /** Called after each draw with the renderer (the bench reads stats through it). */
  onDraw?: (renderer: FlameGraphRenderer) => void;
}

interface PointerState {
  node: number;
  clientX: number;
  clientY: number;
}

const TOOLTIP_OFFSET_PX = 14;

export function FlameCanvas(props: FlameCanvasProps): JSX.Element {
  const { tree, theme, orientation, focus, matches } = props;
  const containerRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const overlayRef = useRef<HTMLCanvasElement>(null);
  const rendererRef = useRef<FlameGraphRenderer | null>(null);
  const propsRef = useRef(props);
  propsRef.current = props;
  const [hover, setHover] = useState<PointerState | null>(null);
  const [menu, setMenu] = useState<PointerState | null>(null);
  const [selected, setSelected] = useState(-1);

  // The renderer lives as long as the canvas; data and settings are pushed into it below.
  useLayoutEffect(() => {
    const renderer = new FlameGraphRenderer(canvasRef.current!, overlayRef.current!);
    rendererRef.current = renderer;
    const container = containerRef.current!;
    const observer = new ResizeObserver(() => {
      renderer.setSize(container.clientWidth, window.devicePixelRatio || 1);
      draw();
    });
    observer.observe(container);
    return () => {
      observer.disconnect();
      renderer.cancel();
      rendererRef.current = null;
    };
  }, []);

  // Draws now (first paint and focus changes must not wait a frame behind the DOM update).
  function draw(): void {
    const renderer = rendererRef.current;
    if (!renderer) return;
    renderer.draw();
    const current = propsRef.current;
    if (current.exposeForTests) exposeHooks(renderer);
    current.onDraw?.(renderer);
  }

  useLayoutEffect(() => {
    const renderer = rendererRef.current!;
    renderer.setData(tree);
    renderer.setSize(containerRef.current!.clientWidth, window.devicePixelRatio || 1);
    setSelected(-1);
    setHover(null);
  }, [tree]);

  useLayoutEffect(() => {
    const renderer = rendererRef.current!;
    renderer.setTheme(theme);
    renderer.setOrientation(orientation);
    renderer.setFocus(focus);
    renderer.setMatches(matches);
    draw();
  }, [tree, theme, orientation, focus, matches]);

  useEffect(() => {
    rendererRef.current?.setSelected(selected);
  }, [selected]);

  useEffect(() => {
    if (!menu) return;
    const close = () => setMenu(null);
    window.addEventListener("click", close);
    window.addEventListener("blur", close);
    return () => {
      window.removeEventListener("click", close);
      window.removeEventListener("blur", close);
    };
  }, [menu]);

  function pointAt(event: MouseEvent): number {
    const rect = canvasRef.current!.getBoundingClientRect();
    return rendererRef.current?.hitTest(event.clientX - rect.left, event.clientY - rect.top) ?? -1;
  }

  function onMouseMove(event: MouseEvent): void {
    const node = pointAt(event);
    rendererRef.current?.setHover(node);
    setHover(node < 0 ? null : { node, clientX: event.clientX, clientY: event.clientY });
  }

  function onMouseLeave(): void {
    rendererRef.current?.setHover(-1);
    setHover(null);
  }

  function onClick(event: MouseEvent): void {
    const node = pointAt(event);
    if (node < 0) return;
    setSelected(node);
    props.onFocus(node);
  }

  function onContextMenu(event: MouseEvent): void {
    const node = pointAt(event);
    if (node < 0) return;
    event.preventDefault();
    setHover(null);
    setMenu({ node, clientX: event.clientX, clientY: event.clientY });
  }

  function onKeyDown(event: KeyboardEvent): void {
    const renderer = rendererRef.current;
    const layout = renderer?.layout;
    if (!renderer || !layout) return;
    const current = selected >= 0 && layout.entryOf(selected) >= 0 ? selected : -1;
    const start = current >= 0 ? current : focus;
    let next = -1;
    const towardsRoot = orientation === "icicle" ? "ArrowUp" : "ArrowDown";
    const towardsLeaves = orientation === "icicle" ? "ArrowDown" : "ArrowUp";
    switch (event.key) {
      case towardsRoot:
        next = current < 0 ? start : Math.max(tree.parent[start]!, 0);
        break;
      case towardsLeaves:
        next = current < 0 ? start : widestVisibleChild(renderer, start);
        break;
      case "ArrowLeft":
      case "ArrowRight": {
        const entry = layout.entryOf(start);
        const depth = tree.depth[start]!;
        const neighbour = entry + (event.key === "ArrowLeft" ? -1 : 1);
        const inRow = neighbour >= layout.rowStart[depth]! && neighbour < layout.rowStart[depth + 1]!;
        next = current < 0 || !inRow ? start : layout.node[neighbour]!;
        break;
      }
      case "Enter":
        if (current >= 0) props.onFocus(current);
        event.preventDefault();
        return;
      case "Escape":
        setSelected(-1);
        setMenu(null);
        props.onFocus(0);
        event.preventDefault();
        return;
      default:
        return;
    }
    event.preventDefault();
    if (next >= 0) {
      setSelected(next);
      const rect = renderer.rectOf(next);
      const box = canvasRef.current!.getBoundingClientRect();
      if (rect)
        setHover({ node: next, clientX: box.left + rect.x + rect.w / 2, clientY: box.top + rect.y + rect.h });
    }
  }

  const menuName = menu ? (tree.names[tree.name[menu.node]!] ?? "") : "";
  return (
    <div
      class="kfg-graph"
      ref={containerRef}
      // biome-ignore lint/a11y/noNoninteractiveTabindex: the graph takes the keyboard (arrows, Enter, Escape)
      tabIndex={0}
      role="application"
      aria-label="Flame graph: click a frame to focus it, arrows to move, Enter to focus, Escape to reset"
      onKeyDown={onKeyDown}
    >
      <canvas
        ref={canvasRef}
        data-testid={props.canvasTestId ?? "flamegraph-canvas"}
        onMouseMove={onMouseMove}
        onMouseLeave={onMouseLeave}
        onClick={onClick}
        onDblClick={() => props.onFocus(0)}
        onContextMenu={onContextMenu}
      />
      <canvas ref={overlayRef} class="kfg-overlay" />
      {hover && !menu ? (
        <div
          class="kfg-tooltip"
          data-testid="flamegraph-tooltip"
          style={tooltipPosition(hover.clientX, hover.clientY)}
        >
          {props.tooltip(hover.node)}
        </div>
      ) : null}
      {menu ? (
        <div class="kfg-menu" role="menu" style={{ left: `${menu.clientX}px`, top: `${menu.clientY}px` }}>
          <button type="button" role="menuitem" onClick={() => props.onFocus(menu.node)}>
            Focus on this frame
          </button>
          {props.onSandwich && menu.node > 0 ? (
            <button type="button" role="menuitem" onClick={() => props.onSandwich?.(menuName)}>
              Sandwich view (callers and callees)
            </button>
          ) : null}
          <button type="button" role="menuitem" onClick={() => props.onFocus(0)}>
            Reset focus
          </button>
          <button type="button" role="menuitem" onClick={() => void navigator.clipboard?.writeText(menuName)}>
            Copy function name
          </button>
        </div>
      ) : null}
    </div>
  );
}

function widestVisibleChild(renderer: FlameGraphRenderer, node: number): number {
  const tree = renderer.tree!;
  let best = -1;
  const first = tree.firstChild[node]!;
  for (let c = first; c < first + tree.childCount[node]!; c++) {
    if (renderer.rectOf(c) && (best < 0 || tree.total[c]! > tree.total[best]!)) best = c;
  }
  return best < 0 ? node : best;
}

function tooltipPosition(clientX: number, clientY: number): Record<string, string | undefined> {
  // Keep the tooltip inside the window: flip to the left/top near the right/bottom edge.
  const flipX = clientX > window.innerWidth - 360;
  const flipY = clientY > window.innerHeight - 160;
  return {
    left: flipX ? undefined : `${clientX + TOOLTIP_OFFSET_PX}px`,
    right: flipX ? `${window.innerWidth - clientX + TOOLTIP_OFFSET_PX}px` : undefined,
    top: flipY ? undefined : `${clientY + TOOLTIP_OFFSET_PX}px`,
    bottom: flipY ? `${window.innerHeight - clientY + TOOLTIP_OFFSET_PX}px` : undefined,
  };
}

function exposeHooks(renderer: FlameGraphRenderer): void {
  window.__kilnFlamegraph = {
    hitTest(xPx, yPx) {
      const tree = renderer.tree;
      const node = renderer.hitTest(xPx, yPx);
      return tree && node >= 0 ? (tree.names[tree.name[node]!] ?? null) : null;
    },
    frameRect(name) {
      // The widest visible frame of that name.
      const layout = renderer.layout;
      const tree = renderer.tree;
      if (!layout || !tree) return null;
      let best = -1;
      for (let e = 0; e < layout.count; e++) {
        const node = layout.node[e]!;
        if (tree.names[tree.name[node]!] !== name) continue;
        if (best < 0 || layout.widthPx[e]! > layout.widthPx[best]!) best = e;
      }
      return best < 0 ? null : layout.rectOf(best);
    },
  };
}

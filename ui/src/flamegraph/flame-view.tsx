/**
 * What ProfileView and DiffView share around their graph and table: the view's local state
 * (decoded tree, search, highlighted function, focused frame, search box) in one hook, and
 * the themed root with the toolbar, and the graph wired to that state.
 */
import type { ComponentChildren, JSX, RefObject } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { Theme } from "./colors.ts";
import { FlameCanvas } from "./FlameCanvas.tsx";
import type { Orientation } from "./layout.ts";
import { focusPathOf, Toolbar } from "./parts.tsx";
import { useStableCallback } from "./pure.ts";
import { type SearchResult, searchTree } from "./search.ts";
import { decodeFlameGraph, type FlameTree, nodeAtPath } from "./tree.ts";
import type { FlameGraphData, FlameGraphDiffData, FlameViewState } from "./types.ts";

type StateChange = (patch: Partial<FlameViewState>) => void;

export interface FlameView {
  tree: FlameTree;
  search: SearchResult;
  searchRef: RefObject<HTMLInputElement | null>;
  /** The function clicked in the table, if any. */
  highlighted: string | null;
  setHighlighted: (name: string | null) => void;
  /** Frames the graph marks: the highlighted function's, else the search's; null for none. */
  matches: Uint8Array | null;
  focus: number;
  onFocus: (node: number) => void;
  showGraph: boolean;
  showTable: boolean;
}

/** The local state of a flame view over `data`, driven by the URL's `state`. */
export function useFlameView(
  data: FlameGraphData | FlameGraphDiffData,
  state: FlameViewState,
  onStateChange: StateChange,
): FlameView {
  const tree = useMemo(() => decodeFlameGraph(data), [data]);
  const search = useMemo(() => searchTree(tree, state.search), [tree, state.search]);
  const { highlighted, setHighlighted, matches } = useHighlight(tree, search);
  const { focus, onFocus } = useFocus(tree, state.focusPath, onStateChange);
  const searchRef = useSearchBox();
  return {
    tree,
    search,
    searchRef,
    highlighted,
    setHighlighted,
    matches,
    focus,
    onFocus,
    showGraph: state.view !== "table",
    showTable: state.view !== "flamegraph",
  };
}

/** 1 for every node named `name`. */
function nodesNamed(tree: FlameTree, name: string): Uint8Array {
  const out = new Uint8Array(tree.nodeCount);
  const nameMatches = tree.names.map((text) => text === name);
  for (let n = 1; n < tree.nodeCount; n++) if (nameMatches[tree.name[n]!]) out[n] = 1;
  return out;
}

/** The highlighted function and the frames to mark (see FlameView). */
function useHighlight(tree: FlameTree, search: SearchResult) {
  const [highlighted, setHighlighted] = useState<string | null>(null);
  // New data (a refresh, another range) may not hold the highlighted function: start clean,
  // so a stale highlight never hides the search marks.
  useEffect(() => setHighlighted(null), [tree]);
  const highlightMatches = useMemo(
    () => (highlighted === null ? null : nodesNamed(tree, highlighted)),
    [tree, highlighted],
  );
  const matches = highlightMatches ?? (search.matcher.empty ? null : search.nodeMatches);
  return { highlighted, setHighlighted, matches };
}

/** The node the focus path names (the root when none), and a stable callback that focuses a node. */
function useFocus(tree: FlameTree, focusPath: FlameViewState["focusPath"], onStateChange: StateChange) {
  const focusKey = focusPath ? focusPath.join("\u0000") : "";
  // Keyed by the path's text: the state may hold an equal path in a new array on every render.
  const focus = useMemo(() => nodeAtPath(tree, focusPath), [tree, focusKey]);
  const onFocus = useStableCallback((node: number) => onStateChange({ focusPath: focusPathOf(tree, node) }));
  return { focus, onFocus };
}

/** A ref for the search box; "/" anywhere outside a text field puts the cursor in it. */
function useSearchBox(): RefObject<HTMLInputElement | null> {
  const searchRef = useRef<HTMLInputElement>(null);
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      const typing =
        target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable);
      if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
        event.preventDefault();
        searchRef.current?.focus();
      }
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [searchRef]);
  return searchRef;
}

/**
 * A flame view's themed root with the toolbar on top. Reset clears the highlight, the focus
 * and the search, and applies `resetAlso`.
 */
export function FlameViewRoot(props: {
  view: FlameView;
  theme: Theme;
  state: FlameViewState;
  onStateChange: StateChange;
  resetAlso?: Partial<FlameViewState>;
  children: ComponentChildren;
}): JSX.Element {
  const { view, theme, onStateChange } = props;
  return (
    <div class={`kfg ${theme === "dark" ? "kfg-dark" : ""}`} data-theme={theme}>
      <Toolbar
        state={props.state}
        onStateChange={onStateChange}
        search={view.search}
        searchRef={view.searchRef}
        focused={view.focus > 0}
        onReset={() => {
          view.setHighlighted(null);
          onStateChange({ focusPath: null, search: "", ...props.resetAlso });
        }}
      />
      {props.children}
    </div>
  );
}

/**
 * The view's flame graph: focus and marks from the view, the test hooks exposed (it is the
 * page's main graph).
 */
export function FlameViewGraph(props: {
  view: FlameView;
  theme: Theme;
  orientation: Orientation;
  tooltip: (node: number) => ComponentChildren;
  onSandwich?: (name: string) => void;
}): JSX.Element {
  const { view } = props;
  return (
    <FlameCanvas
      tree={view.tree}
      theme={props.theme}
      orientation={props.orientation}
      focus={view.focus}
      onFocus={view.onFocus}
      matches={view.matches}
      tooltip={props.tooltip}
      onSandwich={props.onSandwich}
      exposeForTests
    />
  );
}

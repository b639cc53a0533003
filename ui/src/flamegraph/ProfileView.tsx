/**
 * ProfileView: a flame graph beside a sortable, searchable top table, with breadcrumbs, a
 * toolbar, tooltip, keyboard navigation and the sandwich view. Every change that belongs in
 * the URL goes through onStateChange; hover, selection and the highlighted row stay local.
 */
import type { JSX } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { FlameCanvas } from "./FlameCanvas.tsx";
import { Breadcrumbs, focusPathOf, ProfileTooltip, Toolbar } from "./parts.tsx";
import { useStableCallback } from "./pure.ts";
import { SandwichPanel } from "./SandwichPanel.tsx";
import { searchTree } from "./search.ts";
import { ensureStyles } from "./styles.ts";
import { TopTable } from "./TopTable.tsx";
import { topTable } from "./top.ts";
import { decodeFlameGraph, type FlameTree, nodeAtPath } from "./tree.ts";
import type { FlameGraphData, FlameViewState } from "./types.ts";

export interface ProfileViewProps {
  data: FlameGraphData;
  unit: string;
  theme: "light" | "dark";
  state: FlameViewState;
  onStateChange: (patch: Partial<FlameViewState>) => void;
}

/** 1 for every node named `name`. */
export function nodesNamed(tree: FlameTree, name: string): Uint8Array {
  const out = new Uint8Array(tree.nodeCount);
  const nameMatches = tree.names.map((text) => text === name);
  for (let n = 1; n < tree.nodeCount; n++) if (nameMatches[tree.name[n]!]) out[n] = 1;
  return out;
}

/** "/" anywhere outside a text field puts the cursor in the search box. */
export function useSlashToSearch(searchRef: { current: HTMLInputElement | null }): void {
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
}

export function ProfileView(props: ProfileViewProps): JSX.Element {
  ensureStyles();
  const { data, unit, theme, state, onStateChange } = props;
  const tree = useMemo(() => decodeFlameGraph(data), [data]);
  const rows = useMemo(() => topTable(tree), [tree]);
  const search = useMemo(() => searchTree(tree, state.search), [tree, state.search]);
  const [highlighted, setHighlighted] = useState<string | null>(null);
  useEffect(() => setHighlighted(null), [tree]);
  const highlightMatches = useMemo(
    () => (highlighted === null ? null : nodesNamed(tree, highlighted)),
    [tree, highlighted],
  );
  const matches = highlightMatches ?? (search.matcher.empty ? null : search.nodeMatches);
  const focusKey = state.focusPath ? state.focusPath.join("\u0000") : "";
  // Keyed by the path's text: the state may hold an equal path in a new array on every render.
  const focus = useMemo(() => nodeAtPath(tree, state.focusPath), [tree, focusKey]);
  const searchRef = useRef<HTMLInputElement>(null);
  useSlashToSearch(searchRef);

  const onFocus = useStableCallback((node: number) => onStateChange({ focusPath: focusPathOf(tree, node) }));
  const onSandwich = useStableCallback((name: string) => onStateChange({ sandwich: name }));
  const onSort = useStableCallback((tableSort: FlameViewState["tableSort"]) => onStateChange({ tableSort }));
  const showGraph = state.view !== "table";
  const showTable = state.view !== "flamegraph";
  const empty = tree.rootTotal === 0 && tree.nodeCount <= 1;

  return (
    <div class={`kfg ${theme === "dark" ? "kfg-dark" : ""}`} data-theme={theme}>
      <Toolbar
        state={state}
        onStateChange={onStateChange}
        search={search}
        searchRef={searchRef}
        focused={focus > 0}
        onReset={() => {
          setHighlighted(null);
          onStateChange({ focusPath: null, search: "", sandwich: null });
        }}
      />
      {showGraph && !state.sandwich ? <Breadcrumbs tree={tree} focus={focus} onFocus={onFocus} /> : null}
      {empty ? (
        <div class="kfg-empty">No samples in this selection: widen the time range or change the query.</div>
      ) : (
        <div class={`kfg-body ${showGraph ? "" : "kfg-only-table"}`}>
          {showTable ? (
            <TopTable
              rows={rows}
              rootTotal={tree.rootTotal}
              unit={unit}
              theme={theme}
              sort={state.tableSort === "diff" ? "self" : state.tableSort}
              onSort={onSort}
              matcher={search.matcher}
              highlighted={highlighted}
              onHighlight={setHighlighted}
              onSandwich={onSandwich}
            />
          ) : null}
          {showGraph && state.sandwich ? (
            <SandwichPanel
              tree={tree}
              name={state.sandwich}
              unit={unit}
              theme={theme}
              onClose={() => onStateChange({ sandwich: null })}
            />
          ) : null}
          {showGraph && !state.sandwich ? (
            <FlameCanvas
              tree={tree}
              theme={theme}
              orientation={state.orientation}
              focus={focus}
              onFocus={onFocus}
              matches={matches}
              tooltip={(node) => <ProfileTooltip tree={tree} node={node} focus={focus} unit={unit} />}
              onSandwich={onSandwich}
              exposeForTests
            />
          ) : null}
        </div>
      )}
    </div>
  );
}

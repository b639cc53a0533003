/**
 * ProfileView: a flame graph beside a sortable, searchable top table, with breadcrumbs, a
 * toolbar, tooltip, keyboard navigation and the sandwich view. Every change that belongs in
 * the URL goes through onStateChange; hover, selection and the highlighted row stay local.
 */
import type { JSX } from "preact";
import { useMemo } from "preact/hooks";
import { FlameViewGraph, FlameViewRoot, useFlameView } from "./flame-view.tsx";
import { Breadcrumbs, ProfileTooltip } from "./parts.tsx";
import { useStableCallback } from "./pure.ts";
import { SandwichPanel } from "./SandwichPanel.tsx";
import { ensureStyles } from "./styles.ts";
import { TopTable } from "./TopTable.tsx";
import { topTable } from "./top.ts";
import type { FlameGraphData, FlameViewState } from "./types.ts";

export interface ProfileViewProps {
  data: FlameGraphData;
  unit: string;
  theme: "light" | "dark";
  state: FlameViewState;
  onStateChange: (patch: Partial<FlameViewState>) => void;
}

export function ProfileView(props: ProfileViewProps): JSX.Element {
  ensureStyles();
  const { data, unit, theme, state, onStateChange } = props;
  const view = useFlameView(data, state, onStateChange);
  const { tree, focus, onFocus, highlighted, setHighlighted, showGraph, showTable } = view;
  const rows = useMemo(() => topTable(tree), [tree]);
  const onSandwich = useStableCallback((name: string) => onStateChange({ sandwich: name }));
  const onSort = useStableCallback((tableSort: FlameViewState["tableSort"]) => onStateChange({ tableSort }));
  const empty = tree.rootTotal === 0 && tree.nodeCount <= 1;

  return (
    <FlameViewRoot
      view={view}
      theme={theme}
      state={state}
      onStateChange={onStateChange}
      resetAlso={{ sandwich: null }}
    >
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
              matcher={view.search.matcher}
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
            <FlameViewGraph
              view={view}
              theme={theme}
              orientation={state.orientation}
              tooltip={(node) => <ProfileTooltip tree={tree} node={node} focus={focus} unit={unit} />}
              onSandwich={onSandwich}
            />
          ) : null}
        </div>
      )}
    </FlameViewRoot>
  );
}

/**
 * DiffView: the diff flame graph coloured by relative change of each frame's share (right vs
 * left, each normalised by its own side's total), a legend, and the table of the functions
 * whose share changed most. Table sort: "diff" (absolute change in share, the default; "self"
 * maps to it since the diff table has no self column), "total" (right share) or "name".
 */
import type { JSX } from "preact";
import { useMemo, useRef, useState } from "preact/hooks";
import { formatChange, formatPercent, formatPoints, formatValue } from "../units.ts";
import { diffColor, diffLegend, type Theme } from "./colors.ts";
import { changedMost, type DiffRow, diffTable } from "./diff.ts";
import { FlameCanvas } from "./FlameCanvas.tsx";
import { nodesNamed, useSlashToSearch } from "./ProfileView.tsx";
import { Breadcrumbs, DiffTooltip, FunctionLabel, focusPathOf, Toolbar } from "./parts.tsx";
import { pure, useStableCallback } from "./pure.ts";
import { type NameMatcher, searchTree } from "./search.ts";
import { ensureStyles } from "./styles.ts";
import { TABLE_ROW_LIMIT } from "./TopTable.tsx";
import { decodeFlameGraph, nodeAtPath } from "./tree.ts";
import type { FlameGraphDiffData, FlameViewState } from "./types.ts";

export interface DiffViewProps {
  data: FlameGraphDiffData;
  unit: string;
  theme: "light" | "dark";
  state: FlameViewState;
  onStateChange: (patch: Partial<FlameViewState>) => void;
}

type DiffSort = "diff" | "total" | "name";

export function DiffView(props: DiffViewProps): JSX.Element {
  ensureStyles();
  const { data, unit, theme, state, onStateChange } = props;
  const tree = useMemo(() => decodeFlameGraph(data), [data]);
  const rows = useMemo(() => diffTable(tree), [tree]);
  const search = useMemo(() => searchTree(tree, state.search), [tree, state.search]);
  const [highlighted, setHighlighted] = useState<string | null>(null);
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
  const onSort = useStableCallback((tableSort: DiffSort) => onStateChange({ tableSort }));
  const sort: DiffSort = state.tableSort === "total" || state.tableSort === "name" ? state.tableSort : "diff";
  const showGraph = state.view !== "table";
  const showTable = state.view !== "flamegraph";

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
          onStateChange({ focusPath: null, search: "" });
        }}
      />
      <div class="kfg-toolbar">
        <Legend theme={theme} />
        <span class="kfg-summary">
          colour: change in each frame's share of its side's total, right versus left
        </span>
      </div>
      {showGraph ? <Breadcrumbs tree={tree} focus={focus} onFocus={onFocus} /> : null}
      <div class={`kfg-body ${showGraph ? "" : "kfg-only-table"}`}>
        {showTable ? (
          <DiffTable
            rows={rows}
            unit={unit}
            theme={theme}
            sort={sort}
            onSort={onSort}
            matcher={search.matcher}
            highlighted={highlighted}
            onHighlight={setHighlighted}
          />
        ) : null}
        {showGraph ? (
          <FlameCanvas
            tree={tree}
            theme={theme}
            orientation={state.orientation}
            focus={focus}
            onFocus={onFocus}
            matches={matches}
            tooltip={(node) => <DiffTooltip tree={tree} node={node} unit={unit} />}
            exposeForTests
          />
        ) : null}
      </div>
    </div>
  );
}

function Legend(props: { theme: Theme }): JSX.Element {
  return (
    <div class="kfg-legend">
      <span class="kfg-legend-title">share change:</span>
      {diffLegend(props.theme).map(([label, color]) => (
        <span key={label} style={{ background: color }}>
          {label}
        </span>
      ))}
    </div>
  );
}

function sortDiffRows(rows: readonly DiffRow[], sort: DiffSort): DiffRow[] {
  if (sort === "diff") return changedMost(rows);
  if (sort === "name") return [...rows].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return [...rows].sort((a, b) => b.rightShare - a.rightShare || b.leftShare - a.leftShare);
}

const DiffTable = pure(function DiffTable(props: {
  rows: readonly DiffRow[];
  unit: string;
  theme: Theme;
  sort: DiffSort;
  onSort: (sort: DiffSort) => void;
  matcher: NameMatcher;
  highlighted: string | null;
  onHighlight: (name: string | null) => void;
}): JSX.Element {
  const { rows, unit, sort, matcher } = props;
  const [limit, setLimit] = useState(TABLE_ROW_LIMIT);
  const visible = useMemo(
    () => sortDiffRows(matcher.empty ? rows : rows.filter((row) => matcher.test(row.name)), sort),
    [rows, sort, matcher],
  );
  const header = (key: DiffSort, label: string, className?: string) => (
    <th
      class={className}
      scope="col"
      aria-sort={sort === key ? (key === "name" ? "ascending" : "descending") : undefined}
      onClick={() => props.onSort(key)}
    >
      {label}
    </th>
  );
  return (
    <div class="kfg-table-wrap">
      <table class="kfg-table kfg-diff-table" data-testid="diff-table">
        <thead>
          <tr>
            {header("name", "Function", "kfg-name")}
            <th scope="col">Left total</th>
            {header("total", "Right total")}
            {header("diff", "Change", "kfg-change")}
          </tr>
        </thead>
        <tbody>
          {visible.slice(0, limit).map((row) => (
            <tr
              key={row.name}
              data-name={row.name}
              aria-selected={props.highlighted === row.name}
              onClick={() => props.onHighlight(props.highlighted === row.name ? null : row.name)}
            >
              <td class="kfg-name" title={row.name}>
                <div class="kfg-name-cell">
                  <span class="kfg-swatch" style={{ background: diffColor(row.relative, props.theme) }} />
                  <FunctionLabel name={row.name} />
                </div>
              </td>
              <td>
                {formatValue(row.leftTotal, unit)} ({formatPercent(row.leftShare)})
              </td>
              <td>
                {formatValue(row.rightTotal, unit)} ({formatPercent(row.rightShare)})
              </td>
              <td class={row.shareChange > 0 ? "kfg-up" : row.shareChange < 0 ? "kfg-down" : undefined}>
                {formatPoints(row.shareChange)} ({formatChange(row.relative)})
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {visible.length > limit ? (
        <div class="kfg-more">
          {visible.length - limit} more functions ·{" "}
          <button type="button" class="kfg-button" onClick={() => setLimit(limit + TABLE_ROW_LIMIT)}>
            Show more
          </button>
        </div>
      ) : null}
    </div>
  );
});

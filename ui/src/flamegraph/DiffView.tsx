/**
 * DiffView: the diff flame graph coloured by relative change of each frame's share (right vs
 * left, each normalised by its own side's total), a legend, and the table of the functions
 * whose share changed most. Table sort: "diff" (absolute change in share, the default; "self"
 * maps to it since the diff table has no self column), "total" (right share) or "name".
 */
import type { JSX } from "preact";
import { useMemo } from "preact/hooks";
import { formatChange, formatPercent, formatPoints, formatValue } from "../units.ts";
import { diffColor, diffLegend, type Theme } from "./colors.ts";
import { changedMost, type DiffRow, diffTable } from "./diff.ts";
import { FunctionTable, type FunctionTableInputs, SortHeader, useMatchingRows } from "./FunctionTable.tsx";
import { FlameViewGraph, FlameViewRoot, useFlameView } from "./flame-view.tsx";
import { Breadcrumbs, DiffTooltip } from "./parts.tsx";
import { pure, useStableCallback } from "./pure.ts";
import { ensureStyles } from "./styles.ts";
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
  const view = useFlameView(data, state, onStateChange);
  const { tree, focus, onFocus, showGraph, showTable } = view;
  const rows = useMemo(() => diffTable(tree), [tree]);
  const onSort = useStableCallback((tableSort: DiffSort) => onStateChange({ tableSort }));
  const sort: DiffSort = state.tableSort === "total" || state.tableSort === "name" ? state.tableSort : "diff";

  return (
    <FlameViewRoot view={view} theme={theme} state={state} onStateChange={onStateChange}>
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
            matcher={view.search.matcher}
            highlighted={view.highlighted}
            onHighlight={view.setHighlighted}
          />
        ) : null}
        {showGraph ? (
          <FlameViewGraph
            view={view}
            theme={theme}
            orientation={state.orientation}
            tooltip={(node) => <DiffTooltip tree={tree} node={node} unit={unit} />}
          />
        ) : null}
      </div>
    </FlameViewRoot>
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

const DiffTable = pure(function DiffTable(props: FunctionTableInputs<DiffRow, DiffSort>): JSX.Element {
  const { unit, sort, onSort } = props;
  const visible = useMatchingRows(props.rows, props.matcher, sort, sortDiffRows);
  return (
    <FunctionTable
      tableClass="kfg-table kfg-diff-table"
      testId="diff-table"
      head={
        <>
          <SortHeader by="name" sort={sort} onSort={onSort} label="Function" class="kfg-name" />
          <th scope="col">Left total</th>
          <SortHeader by="total" sort={sort} onSort={onSort} label="Right total" />
          <SortHeader by="diff" sort={sort} onSort={onSort} label="Change" class="kfg-change" />
        </>
      }
      rows={visible}
      swatch={(row) => diffColor(row.relative, props.theme)}
      cells={(row) => (
        <>
          <td>
            {formatValue(row.leftTotal, unit)} ({formatPercent(row.leftShare)})
          </td>
          <td>
            {formatValue(row.rightTotal, unit)} ({formatPercent(row.rightShare)})
          </td>
          <td class={row.shareChange > 0 ? "kfg-up" : row.shareChange < 0 ? "kfg-down" : undefined}>
            {formatPoints(row.shareChange)} ({formatChange(row.relative)})
          </td>
        </>
      )}
      highlighted={props.highlighted}
      onHighlight={props.onHighlight}
    />
  );
});

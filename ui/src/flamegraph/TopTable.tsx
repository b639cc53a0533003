/**
 * The top table: one row per function (self, total and their percentages), sortable by its
 * headers, filtered by the search, capped to a number of rows so 50,000 functions render fast
 * (the search narrows the rest). Clicking a row highlights the function in the graph.
 */
import type { JSX } from "preact";
import { useMemo, useState } from "preact/hooks";
import { formatPercent, formatValue } from "../units.ts";
import { frameColor, type Theme } from "./colors.ts";
import { FunctionLabel } from "./parts.tsx";
import { pure } from "./pure.ts";
import type { NameMatcher } from "./search.ts";
import { sortTopRows, type TopRow, type TopSort } from "./top.ts";

/** Rows rendered before "show more": enough to scroll, small enough to stay instant. */
export const TABLE_ROW_LIMIT = 300;

export const TopTable = pure(function TopTable(props: {
  rows: readonly TopRow[];
  rootTotal: number;
  unit: string;
  theme: Theme;
  sort: TopSort;
  onSort: (sort: TopSort) => void;
  matcher: NameMatcher;
  highlighted: string | null;
  onHighlight: (name: string | null) => void;
  onSandwich: (name: string) => void;
}): JSX.Element {
  const { rows, rootTotal, unit, sort, matcher } = props;
  const [limit, setLimit] = useState(TABLE_ROW_LIMIT);
  const visible = useMemo(() => {
    const filtered = matcher.empty ? rows : rows.filter((row) => matcher.test(row.name));
    return sortTopRows(filtered, sort);
  }, [rows, sort, matcher]);
  const percent = (value: number) => (rootTotal > 0 ? formatPercent(value / rootTotal) : "–");
  const header = (key: TopSort, label: string, className?: string) => (
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
      <table class="kfg-table" data-testid="top-table">
        <thead>
          <tr>
            {header("name", "Function", "kfg-name")}
            {header("self", "Self")}
            <th scope="col" onClick={() => props.onSort("self")}>
              Self %
            </th>
            {header("total", "Total")}
            <th scope="col" onClick={() => props.onSort("total")}>
              Total %
            </th>
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
                  <span class="kfg-swatch" style={{ background: frameColor(row.name, props.theme) }} />
                  <button
                    type="button"
                    class="kfg-row-action"
                    title="Sandwich view: callers and callees"
                    aria-label={`Sandwich view of ${row.name}`}
                    onClick={(event) => {
                      event.stopPropagation();
                      props.onSandwich(row.name);
                    }}
                  >
                    ⇅
                  </button>
                  <FunctionLabel name={row.name} />
                </div>
              </td>
              <td>{formatValue(row.self, unit)}</td>
              <td>{percent(row.self)}</td>
              <td>{formatValue(row.total, unit)}</td>
              <td>{percent(row.total)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {visible.length > limit ? (
        <div class="kfg-more">
          {visible.length - limit} more functions ·{" "}
          <button type="button" class="kfg-button" onClick={() => setLimit(limit + TABLE_ROW_LIMIT)}>
            Show more
          </button>{" "}
          or refine the search
        </div>
      ) : null}
      {visible.length === 0 ? <div class="kfg-more">No function matches the search.</div> : null}
    </div>
  );
});

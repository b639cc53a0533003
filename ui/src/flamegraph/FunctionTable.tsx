/**
 * The table machinery shared by the top table and the diff table: the rows the search lets
 * through in the chosen order, sortable column headers, and the table itself (one row per
 * function, click to highlight it in the graph, capped with "Show more").
 */
import type { ComponentChildren, JSX } from "preact";
import { useMemo, useState } from "preact/hooks";
import type { Theme } from "./colors.ts";
import { FunctionLabel } from "./parts.tsx";
import type { NameMatcher } from "./search.ts";

/** Rows rendered before "show more": enough to scroll, small enough to stay instant. */
export const TABLE_ROW_LIMIT = 300;

/** The inputs of a function table: its rows and sort, the search, the highlighted function. */
export interface FunctionTableInputs<Row, Sort> {
  rows: readonly Row[];
  unit: string;
  theme: Theme;
  sort: Sort;
  onSort: (sort: Sort) => void;
  matcher: NameMatcher;
  highlighted: string | null;
  onHighlight: (name: string | null) => void;
}

/** The rows whose function name the search matches, in `sort` order. */
export function useMatchingRows<Row extends { name: string }, Sort>(
  rows: readonly Row[],
  matcher: NameMatcher,
  sort: Sort,
  sortRows: (rows: readonly Row[], sort: Sort) => Row[],
): Row[] {
  return useMemo(
    () => sortRows(matcher.empty ? rows : rows.filter((row) => matcher.test(row.name)), sort),
    [rows, sort, matcher, sortRows],
  );
}

/** A column header that sorts the table by `by` when clicked: names ascending, numbers descending. */
export function SortHeader<Sort extends string>(props: {
  by: Sort;
  sort: Sort;
  onSort: (sort: Sort) => void;
  label: string;
  class?: string;
}): JSX.Element {
  const { by, sort } = props;
  return (
    <th
      class={props.class}
      scope="col"
      aria-sort={sort === by ? (by === "name" ? "ascending" : "descending") : undefined}
      onClick={() => props.onSort(by)}
    >
      {props.label}
    </th>
  );
}

/**
 * A table with one row per function: a colour swatch, an optional action button and the name,
 * then the caller's cells. Clicking a row highlights its function (clicking it again clears
 * the highlight). The first TABLE_ROW_LIMIT rows render; "Show more" adds as many again.
 */
export function FunctionTable<Row extends { name: string }>(props: {
  tableClass: string;
  testId: string;
  /** The header cells. */
  head: ComponentChildren;
  /** Filtered and sorted. */
  rows: readonly Row[];
  swatch: (row: Row) => string;
  action?: (row: Row) => ComponentChildren;
  cells: (row: Row) => ComponentChildren;
  highlighted: string | null;
  onHighlight: (name: string | null) => void;
  /** Said after the "Show more" button. */
  moreHint?: string;
  /** After the table, inside its wrapper. */
  children?: ComponentChildren;
}): JSX.Element {
  const { rows, highlighted } = props;
  const [limit, setLimit] = useState(TABLE_ROW_LIMIT);
  return (
    <div class="kfg-table-wrap">
      <table class={props.tableClass} data-testid={props.testId}>
        <thead>
          <tr>{props.head}</tr>
        </thead>
        <tbody>
          {rows.slice(0, limit).map((row) => (
            <tr
              key={row.name}
              data-name={row.name}
              aria-selected={highlighted === row.name}
              onClick={() => props.onHighlight(highlighted === row.name ? null : row.name)}
            >
              <td class="kfg-name" title={row.name}>
                <div class="kfg-name-cell">
                  <span class="kfg-swatch" style={{ background: props.swatch(row) }} />
                  {props.action?.(row)}
                  <FunctionLabel name={row.name} />
                </div>
              </td>
              {props.cells(row)}
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length > limit ? (
        <div class="kfg-more">
          {rows.length - limit} more functions ·{" "}
          <button type="button" class="kfg-button" onClick={() => setLimit(limit + TABLE_ROW_LIMIT)}>
            Show more
          </button>
          {props.moreHint === undefined ? null : ` ${props.moreHint}`}
        </div>
      ) : null}
      {props.children}
    </div>
  );
}

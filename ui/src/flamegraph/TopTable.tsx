/**
 * The top table: one row per function (self, total and their percentages), sortable by its
 * headers, filtered by the search, capped to a number of rows so 50,000 functions render fast
 * (the search narrows the rest). Clicking a row highlights the function in the graph.
 */
import type { JSX } from "preact";
import { formatPercent, formatValue } from "../units.ts";
import { frameColor } from "./colors.ts";
import { FunctionTable, type FunctionTableInputs, SortHeader, useMatchingRows } from "./FunctionTable.tsx";
import { pure } from "./pure.ts";
import { sortTopRows, type TopRow, type TopSort } from "./top.ts";

export const TopTable = pure(function TopTable(
  props: FunctionTableInputs<TopRow, TopSort> & { rootTotal: number; onSandwich: (name: string) => void },
): JSX.Element {
  const { rootTotal, unit, sort, onSort } = props;
  const visible = useMatchingRows(props.rows, props.matcher, sort, sortTopRows);
  const percent = (value: number) => (rootTotal > 0 ? formatPercent(value / rootTotal) : "–");
  return (
    <FunctionTable
      tableClass="kfg-table"
      testId="top-table"
      head={
        <>
          <SortHeader by="name" sort={sort} onSort={onSort} label="Function" class="kfg-name" />
          <SortHeader by="self" sort={sort} onSort={onSort} label="Self" />
          <th scope="col" onClick={() => onSort("self")}>
            Self %
          </th>
          <SortHeader by="total" sort={sort} onSort={onSort} label="Total" />
          <th scope="col" onClick={() => onSort("total")}>
            Total %
          </th>
        </>
      }
      rows={visible}
      swatch={(row) => frameColor(row.name, props.theme)}
      action={(row) => (
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
      )}
      cells={(row) => (
        <>
          <td>{formatValue(row.self, unit)}</td>
          <td>{percent(row.self)}</td>
          <td>{formatValue(row.total, unit)}</td>
          <td>{percent(row.total)}</td>
        </>
      )}
      highlighted={props.highlighted}
      onHighlight={props.onHighlight}
      moreHint="or refine the search"
    >
      {visible.length === 0 ? <div class="kfg-more">No function matches the search.</div> : null}
    </FunctionTable>
  );
});

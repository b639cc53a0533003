/**
 * Pieces shared by ProfileView and DiffView: toolbar, breadcrumbs, tooltip bodies.
 */
import type { JSX, RefObject } from "preact";
import { formatChange, formatPercent, formatPoints, formatValue } from "../units.ts";
import { relativeChange } from "./colors.ts";
import { splitFunctionName } from "./function-name.ts";
import type { SearchResult } from "./search.ts";
import { type FlameTree, pathOf } from "./tree.ts";
import type { FlameViewState } from "./types.ts";

export function Toolbar(props: {
  state: FlameViewState;
  onStateChange: (patch: Partial<FlameViewState>) => void;
  search: SearchResult;
  searchRef: RefObject<HTMLInputElement | null>;
  focused: boolean;
  onReset: () => void;
}): JSX.Element {
  const { state, onStateChange, search } = props;
  const invalid = !search.matcher.valid;
  let summary = "";
  if (invalid) summary = "invalid regular expression";
  else if (!search.matcher.empty) {
    const matches = search.functionCount === 1 ? "1 match" : `${search.functionCount} matches`;
    summary = `${matches} · ${formatPercent(search.share)} of total`;
  }
  return (
    <div class="kfg-toolbar">
      <input
        ref={props.searchRef}
        type="search"
        class={invalid ? "kfg-invalid" : undefined}
        data-testid="flamegraph-search"
        placeholder="Search (text or /regex/), press /"
        aria-label="Search functions"
        value={state.search}
        onInput={(event) => onStateChange({ search: (event.currentTarget as HTMLInputElement).value })}
        onKeyDown={(event) => {
          if (event.key === "Escape") onStateChange({ search: "" });
        }}
      />
      <span class="kfg-summary" data-testid="search-summary" aria-live="polite">
        {summary}
      </span>
      <span style={{ flex: "1 1 auto" }} />
      <fieldset class="kfg-group" aria-label="Orientation">
        {(["icicle", "flame"] as const).map((orientation) => (
          <button
            key={orientation}
            type="button"
            class="kfg-button"
            aria-pressed={state.orientation === orientation}
            onClick={() => onStateChange({ orientation })}
            title={orientation === "icicle" ? "Root at the top" : "Root at the bottom"}
          >
            {orientation === "icicle" ? "Icicle" : "Flame"}
          </button>
        ))}
      </fieldset>
      <fieldset class="kfg-group" aria-label="View">
        {(
          [
            ["both", "Both"],
            ["flamegraph", "Flame graph"],
            ["table", "Table"],
          ] as const
        ).map(([view, label]) => (
          <button
            key={view}
            type="button"
            class="kfg-button"
            aria-pressed={state.view === view}
            onClick={() => onStateChange({ view })}
          >
            {label}
          </button>
        ))}
      </fieldset>
      <button
        type="button"
        class="kfg-button"
        onClick={props.onReset}
        disabled={!props.focused && !state.search}
      >
        Reset
      </button>
    </div>
  );
}

export function Breadcrumbs(props: {
  tree: FlameTree;
  focus: number;
  onFocus: (node: number) => void;
}): JSX.Element {
  const { tree, focus } = props;
  const chain: number[] = [];
  for (let n = focus; n >= 0; n = tree.parent[n]!) chain.push(n);
  chain.reverse();
  return (
    <nav class="kfg-breadcrumbs" data-testid="breadcrumbs" aria-label="Focused frame">
      {chain.map((node, i) => (
        <>
          {i > 0 ? <span class="kfg-sep">›</span> : null}
          <button
            type="button"
            aria-current={node === focus}
            title={tree.names[tree.name[node]!]}
            onClick={() => props.onFocus(node)}
          >
            {i === 0 ? "all" : tree.names[tree.name[node]!]}
          </button>
        </>
      ))}
    </nav>
  );
}

/** The focus path for the state: null for the root. */
export function focusPathOf(tree: FlameTree, node: number): string[] | null {
  return node <= 0 ? null : pathOf(tree, node);
}

export function ProfileTooltip(props: {
  tree: FlameTree;
  node: number;
  focus: number;
  unit: string;
}): JSX.Element {
  const { tree, node, focus, unit } = props;
  const total = tree.total[node]!;
  const self = tree.self[node]!;
  const root = tree.rootTotal;
  const focusTotal = tree.total[focus]!;
  const ofRoot = (value: number) => (root > 0 ? formatPercent(value / root) : "–");
  const showFocus = focus > 0 && focusTotal > 0;
  return (
    <>
      <div class="kfg-tip-name">{tree.names[tree.name[node]!]}</div>
      <table>
        <tbody>
          <tr>
            <td>Self</td>
            <td>{formatValue(self, unit)}</td>
            <td>{ofRoot(self)} of total</td>
            {showFocus ? <td>{formatPercent(self / focusTotal)} of focus</td> : null}
          </tr>
          <tr>
            <td>Total</td>
            <td>{formatValue(total, unit)}</td>
            <td>{ofRoot(total)} of total</td>
            {showFocus ? <td>{formatPercent(total / focusTotal)} of focus</td> : null}
          </tr>
        </tbody>
      </table>
    </>
  );
}

export function DiffTooltip(props: { tree: FlameTree; node: number; unit: string }): JSX.Element {
  const { tree, node, unit } = props;
  const sides = tree.diff!;
  const leftShare = sides.leftTicks > 0 ? sides.leftTotal[node]! / sides.leftTicks : 0;
  const rightShare = sides.rightTicks > 0 ? sides.rightTotal[node]! / sides.rightTicks : 0;
  const change = relativeChange(leftShare, rightShare);
  return (
    <>
      <div class="kfg-tip-name">{tree.names[tree.name[node]!]}</div>
      <table>
        <tbody>
          <tr>
            <td>Left (baseline)</td>
            <td>{formatValue(sides.leftTotal[node]!, unit)}</td>
            <td>{formatPercent(leftShare)} of left</td>
            <td>self {formatValue(sides.leftSelf[node]!, unit)}</td>
          </tr>
          <tr>
            <td>Right (comparison)</td>
            <td>{formatValue(sides.rightTotal[node]!, unit)}</td>
            <td>{formatPercent(rightShare)} of right</td>
            <td>self {formatValue(sides.rightSelf[node]!, unit)}</td>
          </tr>
          <tr>
            <td>Change</td>
            <td class={change > 0 ? "kfg-up" : change < 0 ? "kfg-down" : undefined}>
              {formatChange(change)}
            </td>
            <td>{formatPoints(rightShare - leftShare)}</td>
            <td />
          </tr>
        </tbody>
      </table>
    </>
  );
}

/**
 * A function name for a narrow table cell: the path or package prefix dimmed and cut first
 * (ellipsis at its start), so the function itself stays readable. The cell's title holds the
 * full name.
 */
export function FunctionLabel(props: { name: string }): JSX.Element {
  const { prefix, short } = splitFunctionName(props.name);
  return (
    <span class="kfg-fn">
      {prefix ? (
        <span class="kfg-fn-prefix">
          <bdi dir="ltr">{prefix}</bdi>
        </span>
      ) : null}
      <span class="kfg-fn-short">{short}</span>
    </span>
  );
}

/**
 * Comparison: two selections (each its own label selector and time range; by default the
 * current range on the right and the range before it on the left), shown side by side, and
 * a diff flame graph (Diff RPC) coloured by relative change, right versus left.
 */
import { useMemo, useState } from "preact/hooks";
import type { ProfileQuery } from "../../api/types.ts";
import { serviceOf } from "../../app/selector.ts";
import { FLAMEGRAPH_MAX_NODES, queryClient } from "../../app/services.ts";
import type { Theme } from "../../app/theme.ts";
import { absoluteSpec, chooseStepSeconds, type ResolvedRange } from "../../app/time-range.ts";
import { type AppState, type CompareTab, compareSides, type Selection } from "../../app/url-state.ts";
import type { UpdateState } from "../../app/use-app-state.ts";
import { useAsync } from "../../app/use-async.ts";
import { DiffView, type FlameViewState, ProfileView } from "../../flamegraph/index.ts";
import { formatValue } from "../../units.ts";
import { ExportMenu } from "../components/ExportMenu.tsx";
import { LabelSelectorInput } from "../components/LabelSelectorInput.tsx";
import { ProfileTypePicker } from "../components/Pickers.tsx";
import { offeredTypes, suggestionSource, useCatalog } from "../components/QueryBar.tsx";
import { EmptyState, ErrorMessage, Loading } from "../components/StateMessages.tsx";
import { TimeRangePicker } from "../components/TimeRangePicker.tsx";
import { TimeSeriesChart } from "../components/TimeSeriesChart.tsx";
import {
  blockedReason,
  profileQueryOf,
  queryKey,
  unitOf,
  useDefaultMainSelection,
  useResolvedRange,
} from "../components/use-selection-query.ts";

type Side = "left" | "right";

export function ComparisonView(props: { state: AppState; update: UpdateState; theme: Theme }) {
  const { state, update, theme } = props;
  const [refreshKey, setRefreshKey] = useState(0);
  const sides = compareSides(state, Date.now());
  const leftRange = useResolvedRange(sides.left, refreshKey);
  const rightRange = useResolvedRange(sides.right, refreshKey);
  const catalog = useCatalog(rightRange, serviceOf(sides.right.query));
  useDefaultMainSelection(catalog, state, update);
  const unit = unitOf(state.profileType, catalog.profileTypes.data);
  const leftQuery = profileQueryOf(state.profileType, sides.left.query, leftRange);
  const rightQuery = profileQueryOf(state.profileType, sides.right.query, rightRange);

  /** Editing one side pins both in the URL, so the link keeps showing this comparison. */
  const setSide = (side: Side, patch: Partial<Selection>) =>
    update(
      (s) => {
        const current = compareSides(s, Date.now());
        return { ...s, left: current.left, right: current.right, [side]: { ...current[side], ...patch } };
      },
      { push: true },
    );
  const setFlame = (patch: Partial<FlameViewState>) =>
    update((s) => ({ ...s, flame: { ...s.flame, ...patch } }), { push: !("search" in patch) });
  const setTab = (tab: CompareTab) => update((s) => ({ ...s, compareTab: tab }), { push: true });

  return (
    <div class="view compare-view" data-testid="compare-view">
      <div class="query-bar">
        <ProfileTypePicker
          types={offeredTypes(catalog)}
          value={state.profileType}
          onChange={(id) => update((s) => ({ ...s, profileType: id }), { push: true })}
        />
        <button
          type="button"
          class="icon-button"
          title="Refresh"
          aria-label="Refresh"
          onClick={() => setRefreshKey(refreshKey + 1)}
        >
          ⟳
        </button>
        <span class="spacer" />
        <div class="tabs" role="tablist" aria-label="Comparison mode">
          {(
            [
              ["side", "Side by side"],
              ["diff", "Diff"],
            ] as const
          ).map(([tab, label]) => (
            <button
              key={tab}
              type="button"
              role="tab"
              aria-selected={state.compareTab === tab}
              class={`tab${state.compareTab === tab ? " selected" : ""}`}
              data-testid={`tab-${tab}`}
              onClick={() => setTab(tab)}
            >
              {label}
            </button>
          ))}
        </div>
      </div>
      <div class="compare-columns">
        {(["left", "right"] as const).map((side) => (
          <SelectionPanel
            key={side}
            side={side}
            selection={sides[side]}
            range={side === "left" ? leftRange : rightRange}
            query={side === "left" ? leftQuery : rightQuery}
            unit={unit}
            theme={theme}
            refreshKey={refreshKey}
            showFlameGraph={state.compareTab === "side"}
            flame={state.flame}
            onFlame={setFlame}
            onChange={(patch) => setSide(side, patch)}
          />
        ))}
      </div>
      {state.compareTab === "diff" ? (
        <DiffPanel
          left={leftQuery}
          right={rightQuery}
          unit={unit}
          theme={theme}
          refreshKey={refreshKey}
          flame={state.flame}
          onFlame={setFlame}
        />
      ) : null}
    </div>
  );
}

function SelectionPanel(props: {
  side: Side;
  selection: Selection;
  range: ResolvedRange;
  query: ProfileQuery | undefined;
  unit: string;
  theme: Theme;
  refreshKey: number;
  showFlameGraph: boolean;
  flame: FlameViewState;
  onFlame: (patch: Partial<FlameViewState>) => void;
  onChange: (patch: Partial<Selection>) => void;
}) {
  const { side, selection, range, query, unit, theme } = props;
  const key = queryKey(query);
  const source = useMemo(() => suggestionSource(selection.query, range), [selection.query, range]);
  const series = useAsync(
    (signal) =>
      query === undefined
        ? undefined
        : queryClient.selectSeries(query, { stepSeconds: chooseStepSeconds(range) }, signal),
    [key, props.refreshKey],
  );
  const flamegraph = useAsync(
    (signal) =>
      query === undefined || !props.showFlameGraph
        ? undefined
        : queryClient.selectMergeStacktraces(query, { maxNodes: FLAMEGRAPH_MAX_NODES }, signal),
    [key, props.refreshKey, props.showFlameGraph],
  );
  const data = flamegraph.data;
  // The profile types are checked once for both sides (the query bar); here only the selector.
  const blocked = blockedReason(selection.query, false, 0);
  const title = side === "left" ? "Baseline (left)" : "Comparison (right)";
  return (
    <section class={`panel compare-side compare-${side}`} aria-label={title} data-testid={`compare-${side}`}>
      <header class="panel-header">
        <h2>{title}</h2>
        {props.showFlameGraph && data !== undefined && data.total > 0 ? (
          <span class="muted" data-testid={`compare-${side}-total`}>
            Total {formatValue(data.total, unit)}
          </span>
        ) : null}
        <span class="spacer" />
        {props.showFlameGraph && query !== undefined ? (
          <ExportMenu query={query} data={data} flame={props.flame} theme={theme} />
        ) : null}
      </header>
      <div class="selection-editor">
        <LabelSelectorInput
          value={selection.query}
          onSubmit={(next) => props.onChange({ query: next })}
          source={source}
          testId={`label-selector-${side}`}
        />
        <TimeRangePicker
          spec={selection}
          onChange={(spec) => props.onChange(spec)}
          testId={`time-range-${side}`}
        />
      </div>
      {series.status === "error" ? (
        <ErrorMessage error={series.error} what="the time series" />
      ) : series.data === undefined ? null : (
        <TimeSeriesChart
          series={series.data.map((s) => ({ label: "total", points: s.points }))}
          unit={unit}
          theme={theme}
          range={range}
          stepMs={chooseStepSeconds(range) * 1000}
          heightPx={110}
          testId={`timeseries-${side}`}
          onSelectRange={(zoomed) => props.onChange(absoluteSpec(zoomed))}
        />
      )}
      {!props.showFlameGraph ? null : blocked !== undefined ? (
        <EmptyState title={blocked.title}>
          <p>{blocked.detail}</p>
        </EmptyState>
      ) : flamegraph.status === "error" ? (
        <ErrorMessage error={flamegraph.error} what="the flame graph" />
      ) : data === undefined ? (
        <Loading what="the flame graph" />
      ) : data.total === 0 ? (
        <EmptyState title="No data for this side's selection.">
          <p>Widen its time range or loosen its label selector.</p>
        </EmptyState>
      ) : (
        <div class={flamegraph.status === "loading" ? "reloading" : ""}>
          <ProfileView
            data={data}
            unit={unit}
            theme={theme}
            state={props.flame}
            onStateChange={props.onFlame}
          />
        </div>
      )}
    </section>
  );
}

function DiffPanel(props: {
  left: ProfileQuery | undefined;
  right: ProfileQuery | undefined;
  unit: string;
  theme: Theme;
  refreshKey: number;
  flame: FlameViewState;
  onFlame: (patch: Partial<FlameViewState>) => void;
}) {
  const { left, right } = props;
  const diff = useAsync(
    (signal) =>
      left === undefined || right === undefined
        ? undefined
        : queryClient.diff(left, right, { maxNodes: FLAMEGRAPH_MAX_NODES }, signal),
    [queryKey(left), queryKey(right), props.refreshKey],
  );
  const data = diff.data;
  return (
    <section class="panel" aria-label="Diff flame graph" data-testid="diff-panel">
      <header class="panel-header">
        <h2>Diff: right versus left</h2>
        {data === undefined ? null : (
          <span class="muted" data-testid="diff-totals">
            Left {formatValue(data.leftTicks, props.unit)} · Right {formatValue(data.rightTicks, props.unit)}
          </span>
        )}
      </header>
      {diff.status === "error" ? (
        <ErrorMessage error={diff.error} what="the diff" />
      ) : data === undefined ? (
        <Loading what="the diff" />
      ) : data.leftTicks === 0 && data.rightTicks === 0 ? (
        <EmptyState title="Both sides are empty.">
          <p>Widen the time ranges or loosen the label selectors.</p>
        </EmptyState>
      ) : (
        <div class={diff.status === "loading" ? "reloading" : ""}>
          <DiffView
            data={data}
            unit={props.unit}
            theme={props.theme}
            state={props.flame}
            onStateChange={props.onFlame}
          />
        </div>
      )}
    </section>
  );
}

/**
 * Tag explorer: group the selection by one label; a series per value (with legend) and a
 * table of each value's total, average and share. Clicking a value opens Explore filtered
 * to it.
 */
import { useMemo } from "preact/hooks";
import { SERVICE_LABEL, withEqualMatcher } from "../../app/selector.ts";
import { queryClient } from "../../app/services.ts";
import type { Theme } from "../../app/theme.ts";
import { absoluteSpec, chooseStepSeconds } from "../../app/time-range.ts";
import type { AppState } from "../../app/url-state.ts";
import type { UpdateState } from "../../app/use-app-state.ts";
import { useAsync } from "../../app/use-async.ts";
import { formatPercent, formatValue } from "../../units.ts";
import { QueryBar } from "../components/QueryBar.tsx";
import { EmptyState, ErrorMessage, Loading } from "../components/StateMessages.tsx";
import { SERIES_COLORS, TimeSeriesChart } from "../components/TimeSeriesChart.tsx";
import { queryKey, resetFocus, useMainSelectionQuery } from "../components/use-selection-query.ts";
import { tagRows } from "./tag-stats.ts";

/** Top values by total; more would make an unreadable chart. */
const SERIES_LIMIT = 20;

export function TagExplorerView(props: { state: AppState; update: UpdateState; theme: Theme }) {
  const { state, update, theme } = props;
  const { selection, range, service, catalog, unit, query, blocked, refreshKey, refresh } =
    useMainSelectionQuery(state, update);
  const stepSeconds = chooseStepSeconds(range);

  const labelNames = useAsync(
    (signal) =>
      queryClient.labelNames(
        { matchers: service === "" ? [] : [withEqualMatcher("{}", SERVICE_LABEL, service)], ...range },
        signal,
      ),
    [service, range.startMs, range.endMs],
  );
  const groupable = (labelNames.data ?? []).filter((name) => name !== SERVICE_LABEL);
  const groupBy = state.groupBy;

  const series = useAsync(
    (signal) =>
      query === undefined || groupBy === ""
        ? undefined
        : queryClient.selectSeries(query, { stepSeconds, groupBy: [groupBy], limit: SERIES_LIMIT }, signal),
    [queryKey(query), groupBy, refreshKey],
  );
  const rows = useMemo(() => tagRows(series.data ?? [], groupBy), [series.data, groupBy]);
  const chartSeries = useMemo(
    () =>
      (series.data ?? []).map((s) => ({
        label: s.labels.find((l) => l.name === groupBy)?.value || "(no value)",
        points: s.points,
      })),
    [series.data, groupBy],
  );

  const openInExplore = (value: string) =>
    update(
      (s) => ({
        ...s,
        route: "explore",
        main: { ...s.main, query: withEqualMatcher(s.main.query || "{}", groupBy, value) },
        flame: resetFocus(s.flame),
      }),
      { push: true },
    );

  return (
    <div class="view tags-view" data-testid="tags-view">
      <QueryBar
        selection={selection}
        profileType={state.profileType}
        range={range}
        catalog={catalog}
        onQuery={(next) => update((s) => ({ ...s, main: { ...s.main, query: next } }), { push: true })}
        onProfileType={(id) => update((s) => ({ ...s, profileType: id }), { push: true })}
        onRange={(spec) => update((s) => ({ ...s, main: { ...s.main, ...spec } }), { push: true })}
        onRefresh={refresh}
      />
      <section class="panel" aria-label="Group by">
        <header class="panel-header">
          <h2>Group by</h2>
          <fieldset class="chips" aria-label="Label to group by" data-testid="group-by">
            {labelNames.status === "loading" && labelNames.data === undefined ? (
              <Loading what="labels" />
            ) : null}
            {groupable.map((name) => (
              <button
                key={name}
                type="button"
                aria-pressed={name === groupBy}
                class={`chip${name === groupBy ? " selected" : ""}`}
                onClick={() => update((s) => ({ ...s, groupBy: name }), { push: true })}
              >
                {name}
              </button>
            ))}
            {labelNames.status === "ok" && groupable.length === 0 ? (
              <span class="muted">No labels besides service_name in this range.</span>
            ) : null}
          </fieldset>
        </header>
        {labelNames.status === "error" ? (
          <ErrorMessage error={labelNames.error} what="the label names" />
        ) : null}
        {blocked !== undefined ? (
          <EmptyState title={blocked.title}>
            <p>{blocked.detail}</p>
          </EmptyState>
        ) : groupBy === "" ? (
          <EmptyState title="Pick a label to group by.">
            <p>Each of its values gets its own series and a row with its total, average and share.</p>
          </EmptyState>
        ) : series.status === "error" ? (
          <ErrorMessage error={series.error} what="the series" onRetry={refresh} />
        ) : series.data === undefined ? (
          <Loading what="the series" />
        ) : series.data.length === 0 ? (
          <EmptyState title={`No series with data for ${groupBy} in this range.`} />
        ) : (
          <div class={series.status === "loading" ? "reloading" : ""}>
            <TimeSeriesChart
              series={chartSeries}
              unit={unit}
              theme={theme}
              range={range}
              stepMs={chooseStepSeconds(range) * 1000}
              heightPx={240}
              showLegend
              testId="tags-timeseries"
              onSelectRange={(zoomed) =>
                update((s) => ({ ...s, main: { ...s.main, ...absoluteSpec(zoomed) } }), { push: true })
              }
            />
            <table class="data-table tag-table" data-testid="tag-table">
              <thead>
                <tr>
                  <th scope="col">{groupBy}</th>
                  <th scope="col" class="num">
                    Total
                  </th>
                  <th scope="col" class="num" title={`Mean of the ${stepSeconds} s steps that have data`}>
                    Average / {stepSeconds} s
                  </th>
                  <th scope="col" class="num">
                    Share
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => (
                  <tr key={row.value} data-value={row.value} data-total={row.total}>
                    <td>
                      <span
                        class="swatch"
                        style={{ background: SERIES_COLORS[row.seriesIndex % SERIES_COLORS.length] }}
                        aria-hidden="true"
                      />
                      <button
                        type="button"
                        class="link-button"
                        title={`Open ${groupBy}="${row.value}" in Explore`}
                        onClick={() => openInExplore(row.value)}
                      >
                        {row.value === "" ? <em>(no value)</em> : row.value}
                      </button>
                    </td>
                    <td class="num">{formatValue(row.total, unit)}</td>
                    <td class="num">{formatValue(row.average, unit)}</td>
                    <td class="num">
                      <span class="share-bar" style={{ width: `${Math.round(row.share * 100)}%` }} />
                      {formatPercent(row.share)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {series.data.length >= SERIES_LIMIT ? (
              <p class="muted">Showing the top {SERIES_LIMIT} values by total.</p>
            ) : null}
          </div>
        )}
      </section>
    </div>
  );
}

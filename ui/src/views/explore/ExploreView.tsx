/**
 * Explore: pick service, profile type, labels and time range; see the selection's time series
 * (drag to zoom) and its merged flame graph beside the top table.
 */
import { serviceOf } from "../../app/selector.ts";
import { FLAMEGRAPH_MAX_NODES, queryClient } from "../../app/services.ts";
import type { Theme } from "../../app/theme.ts";
import { absoluteSpec, chooseStepSeconds, describeRange } from "../../app/time-range.ts";
import type { AppState } from "../../app/url-state.ts";
import type { UpdateState } from "../../app/use-app-state.ts";
import { useAsync } from "../../app/use-async.ts";
import { type FlameViewState, ProfileView } from "../../flamegraph/index.ts";
import { formatValue } from "../../units.ts";
import { ExportMenu } from "../components/ExportMenu.tsx";
import { QueryBar } from "../components/QueryBar.tsx";
import { EmptyState, ErrorMessage, Loading } from "../components/StateMessages.tsx";
import { TimeSeriesChart } from "../components/TimeSeriesChart.tsx";
import { queryKey, resetFocus, useMainSelectionQuery } from "../components/use-selection-query.ts";

export function ExploreView(props: { state: AppState; update: UpdateState; theme: Theme }) {
  const { state, update, theme } = props;
  const { selection, range, catalog, unit, query, blocked, refreshKey, refresh } = useMainSelectionQuery(
    state,
    update,
  );
  const key = queryKey(query);
  const series = useAsync(
    (signal) =>
      query === undefined
        ? undefined
        : queryClient.selectSeries(query, { stepSeconds: chooseStepSeconds(range) }, signal),
    [key, refreshKey],
  );
  const flamegraph = useAsync(
    (signal) =>
      query === undefined
        ? undefined
        : queryClient.selectMergeStacktraces(query, { maxNodes: FLAMEGRAPH_MAX_NODES }, signal),
    [key, refreshKey],
  );

  const setFlame = (patch: Partial<FlameViewState>) =>
    update((s) => ({ ...s, flame: { ...s.flame, ...patch } }), { push: !("search" in patch) });

  const noProfilesAtAll = catalog.profileTypes.status === "ok" && catalog.profileTypes.data.length === 0;
  const data = flamegraph.data;
  return (
    <div class="view explore-view" data-testid="explore-view">
      <QueryBar
        selection={selection}
        profileType={state.profileType}
        range={range}
        catalog={catalog}
        onQuery={(next) =>
          update((s) => ({ ...s, main: { ...s.main, query: next }, flame: resetFocus(s.flame) }), {
            push: true,
          })
        }
        onProfileType={(id) =>
          update((s) => ({ ...s, profileType: id, flame: resetFocus(s.flame) }), { push: true })
        }
        onRange={(spec) => update((s) => ({ ...s, main: { ...s.main, ...spec } }), { push: true })}
        onRefresh={refresh}
      />
      {catalog.profileTypes.status === "error" ? (
        <ErrorMessage error={catalog.profileTypes.error} what="the profile types" onRetry={refresh} />
      ) : null}
      {noProfilesAtAll ? (
        <EmptyState
          title={`No profiles in this time range (${describeRange(selection, Date.now())}).`}
          showPushHint
        >
          <p>
            Try a wider time range{" "}
            <button
              type="button"
              onClick={() =>
                update((s) => ({ ...s, main: { ...s.main, from: "now-7d", until: "now" } }), { push: true })
              }
            >
              Show the last 7 days
            </button>{" "}
            or send a first profile.
          </p>
        </EmptyState>
      ) : blocked !== undefined ? (
        <EmptyState title={blocked.title}>
          <p>{blocked.detail}</p>
        </EmptyState>
      ) : (
        <>
          <section class="panel" aria-label="Time series">
            <header class="panel-header">
              <h2>{serviceOf(selection.query) || "All services"}</h2>
              <span class="muted">Drag on the chart to zoom into a time range</span>
            </header>
            {series.status === "error" ? (
              <ErrorMessage error={series.error} what="the time series" onRetry={refresh} />
            ) : series.data === undefined ? (
              series.status === "loading" ? (
                <Loading what="the time series" />
              ) : null
            ) : (
              <div class={series.status === "loading" ? "reloading" : ""}>
                <TimeSeriesChart
                  series={series.data.map((s) => ({ label: "total", points: s.points }))}
                  unit={unit}
                  theme={theme}
                  range={range}
                  stepMs={chooseStepSeconds(range) * 1000}
                  onSelectRange={(zoomed) =>
                    update((s) => ({ ...s, main: { ...s.main, ...absoluteSpec(zoomed) } }), { push: true })
                  }
                />
              </div>
            )}
          </section>
          <section class="panel" aria-label="Flame graph">
            <header class="panel-header">
              <h2>Flame graph</h2>
              {data !== undefined && data.total > 0 ? (
                <span class="muted" data-testid="flamegraph-total">
                  Total {formatValue(data.total, unit)}
                </span>
              ) : null}
              <span class="spacer" />
              {query === undefined ? null : (
                <ExportMenu query={query} data={data} flame={state.flame} theme={theme} />
              )}
            </header>
            {flamegraph.status === "error" ? (
              <ErrorMessage error={flamegraph.error} what="the flame graph" onRetry={refresh} />
            ) : data === undefined ? (
              flamegraph.status === "loading" || query === undefined ? (
                <Loading what="the flame graph" />
              ) : null
            ) : data.total === 0 ? (
              <EmptyState title="No data for this selection.">
                <p>
                  Nothing matched <code>{selection.query}</code> for this profile type in this range. Widen
                  the time range, pick another profile type, or loosen the label selector.
                </p>
              </EmptyState>
            ) : (
              <div class={flamegraph.status === "loading" ? "reloading" : ""} data-testid="profile-view">
                <ProfileView
                  data={data}
                  unit={unit}
                  theme={theme}
                  state={state.flame}
                  onStateChange={setFlame}
                />
              </div>
            )}
          </section>
        </>
      )}
    </div>
  );
}

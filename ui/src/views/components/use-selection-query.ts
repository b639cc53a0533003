/**
 * Shared by the views: resolve a selection's time range against "now" (re-read on refresh
 * and whenever the range changes, so "last hour" means the last hour at query time), and
 * build the API query from it; `useMainSelectionQuery` does all of it for the main selection.
 */
import { useMemo, useState } from "preact/hooks";
import type { ProfileQuery, ProfileType } from "../../api/types.ts";
import { isValidSelector, parseSelector, serviceOf } from "../../app/selector.ts";
import { type ResolvedRange, resolveRange, type TimeRangeSpec } from "../../app/time-range.ts";
import type { AppState, Selection } from "../../app/url-state.ts";
import type { UpdateState } from "../../app/use-app-state.ts";
import type { FlameViewState } from "../../flamegraph/index.ts";
import { type Catalog, offeredTypes, useCatalog, useDefaultSelection } from "./QueryBar.tsx";

export function useResolvedRange(spec: TimeRangeSpec, refreshKey: number): ResolvedRange {
  return useMemo(() => resolveRange(spec, Date.now()), [spec.from, spec.until, refreshKey]);
}

/** The query, or undefined while it cannot run (no profile type yet, or a broken selector). */
export function profileQueryOf(
  profileTypeId: string,
  labelSelector: string,
  range: ResolvedRange,
): ProfileQuery | undefined {
  if (profileTypeId === "" || !isValidSelector(labelSelector)) return undefined;
  const selector = labelSelector.trim() === "" ? "{}" : labelSelector;
  return { profileTypeId, labelSelector: selector, startMs: range.startMs, endMs: range.endMs };
}

/** A stable key of a query, for effect dependencies. */
export function queryKey(query: ProfileQuery | undefined): string {
  return query === undefined
    ? ""
    : `${query.profileTypeId}|${query.labelSelector}|${query.startMs}|${query.endMs}`;
}

/** The sample unit: from the catalog, else the third part of the profile type ID. */
export function unitOf(profileTypeId: string, types: ProfileType[] | undefined): string {
  return types?.find((t) => t.id === profileTypeId)?.sampleUnit ?? profileTypeId.split(":")[2] ?? "";
}

/** A new query shows a new profile: the old focus and sandwich may not exist in it. */
export function resetFocus(flame: FlameViewState): FlameViewState {
  return { ...flame, focusPath: null, sandwich: null };
}

/**
 * Why a selection's query cannot run, for the user: a selector that does not parse, or a
 * service without any profile type in the range. undefined when nothing blocks it.
 */
export function blockedReason(
  labelSelector: string,
  typesLoaded: boolean,
  offeredTypeCount: number,
): { title: string; detail: string } | undefined {
  try {
    parseSelector(labelSelector);
  } catch (err) {
    return {
      title: "The label selector is not valid.",
      detail: `${(err as Error).message}. Selectors look like {service_name="my-app", env=~"prod|staging"}.`,
    };
  }
  if (typesLoaded && offeredTypeCount === 0) {
    return {
      title: "No profile types for this selection in this time range.",
      detail: "Pick another service, or widen the time range.",
    };
  }
  return undefined;
}

/** useDefaultSelection for the main selection: fills in `state.main.query` and `state.profileType`. */
export function useDefaultMainSelection(catalog: Catalog, state: AppState, update: UpdateState): void {
  useDefaultSelection(catalog, state.main, state.profileType, (patch) =>
    update((s) => ({
      ...s,
      main: { ...s.main, query: patch.query ?? s.main.query },
      profileType: patch.profileType ?? s.profileType,
    })),
  );
}

export interface MainSelectionQuery {
  selection: Selection;
  range: ResolvedRange;
  /** The selector's service, "" for none. */
  service: string;
  catalog: Catalog;
  unit: string;
  query: ProfileQuery | undefined;
  blocked: ReturnType<typeof blockedReason>;
  /** Changes on every refresh: an input of the views' loads. */
  refreshKey: number;
  /** Resolves the range again and reloads. */
  refresh: () => void;
}

/**
 * The main selection's query (Explore and the tag explorer): its range, the catalog for the
 * query bar (with a default service and profile type filled in), the unit, the query and what
 * blocks it.
 */
export function useMainSelectionQuery(state: AppState, update: UpdateState): MainSelectionQuery {
  const selection = state.main;
  const [refreshKey, setRefreshKey] = useState(0);
  const range = useResolvedRange(selection, refreshKey);
  const service = serviceOf(selection.query);
  const catalog = useCatalog(range, service);
  useDefaultMainSelection(catalog, state, update);
  return {
    selection,
    range,
    service,
    catalog,
    unit: unitOf(state.profileType, catalog.profileTypes.data),
    query: profileQueryOf(state.profileType, selection.query, range),
    blocked: blockedReason(
      selection.query,
      catalog.profileTypes.status === "ok" && catalog.typesOfService.status === "ok",
      offeredTypes(catalog).length,
    ),
    refreshKey,
    refresh: () => setRefreshKey(refreshKey + 1),
  };
}

/**
 * Shared by the views: resolve a selection's time range against "now" (re-read on refresh
 * and whenever the range changes, so "last hour" means the last hour at query time), and
 * build the API query from it.
 */
import { useMemo } from "preact/hooks";
import type { ProfileQuery, ProfileType } from "../../api/types.ts";
import { isValidSelector, parseSelector } from "../../app/selector.ts";
import { type ResolvedRange, resolveRange, type TimeRangeSpec } from "../../app/time-range.ts";
import type { FlameViewState } from "../../flamegraph/index.ts";

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

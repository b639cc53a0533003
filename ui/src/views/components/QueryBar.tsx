/**
 * The query bar of Explore and the tag explorer: service, profile type, label selector (with
 * autocomplete) and time range with refresh. `useCatalog` loads what the pickers offer for
 * the current range; `useDefaultSelection` fills in a service and profile type on first load,
 * so opening `/` shows a flame graph straight away.
 */
import { useEffect, useMemo } from "preact/hooks";
import type { ProfileType } from "../../api/types.ts";
import { SERVICE_LABEL, serviceOf, withEqualMatcher, withoutMatcher } from "../../app/selector.ts";
import { queryClient } from "../../app/services.ts";
import type { ResolvedRange, TimeRangeSpec } from "../../app/time-range.ts";
import type { Selection } from "../../app/url-state.ts";
import { type AsyncState, useAsync } from "../../app/use-async.ts";
import { LabelSelectorInput, type SuggestionSource } from "./LabelSelectorInput.tsx";
import { ProfileTypePicker, ServicePicker } from "./Pickers.tsx";
import { TimeRangePicker } from "./TimeRangePicker.tsx";

export interface Catalog {
  profileTypes: AsyncState<ProfileType[]>;
  services: AsyncState<string[]>;
  /** Profile type IDs the selected service has (all types when no service is selected). */
  typesOfService: AsyncState<string[] | null>;
}

export function useCatalog(range: ResolvedRange, service: string): Catalog {
  const profileTypes = useAsync(
    (signal) => queryClient.profileTypes(range, signal),
    [range.startMs, range.endMs],
  );
  const services = useAsync(
    (signal) => queryClient.labelValues({ name: SERVICE_LABEL, matchers: [], ...range }, signal),
    [range.startMs, range.endMs],
  );
  const typesOfService = useAsync<string[] | null>(
    (signal) =>
      service === ""
        ? Promise.resolve(null)
        : queryClient.labelValues(
            {
              name: "__profile_type__",
              matchers: [withEqualMatcher("{}", SERVICE_LABEL, service)],
              ...range,
            },
            signal,
          ),
    [range.startMs, range.endMs, service],
  );
  return { profileTypes, services, typesOfService };
}

/** The profile types to offer: those of the selected service, when known. */
export function offeredTypes(catalog: Catalog): ProfileType[] {
  const all = catalog.profileTypes.data ?? [];
  const ofService = catalog.typesOfService.data;
  if (ofService === null || ofService === undefined) return all;
  const ids = new Set(ofService);
  return all.filter((t) => ids.has(t.id));
}

/** CPU time first (what most people open a profiler for), then CPU samples, then the first type. */
export function defaultProfileType(types: ProfileType[]): string {
  const preferred = ["process_cpu:cpu:nanoseconds", "process_cpu:samples:count", "wall:wall:nanoseconds"];
  for (const prefix of preferred) {
    const found = types.find((t) => t.id.startsWith(prefix));
    if (found !== undefined) return found.id;
  }
  return types[0]?.id ?? "";
}

/**
 * Fills in the first service (when no selector was chosen yet) and a profile type the
 * service has (when none is chosen or the chosen one is not offered), replacing the URL.
 */
export function useDefaultSelection(
  catalog: Catalog,
  selection: Selection,
  profileType: string,
  apply: (patch: { query?: string; profileType?: string }) => void,
): void {
  const services = catalog.services.data;
  const types = offeredTypes(catalog);
  const typesReady =
    catalog.profileTypes.status === "ok" &&
    (catalog.typesOfService.status === "ok" || serviceOf(selection.query) === "");
  useEffect(() => {
    if (selection.query === "" && services !== undefined && services.length > 0) {
      apply({ query: withEqualMatcher("{}", SERVICE_LABEL, services[0]!) });
      return;
    }
    if (!typesReady || types.length === 0) return;
    if (profileType === "" || !types.some((t) => t.id === profileType)) {
      apply({ profileType: defaultProfileType(types) });
    }
  }, [selection.query, services, typesReady, types.map((t) => t.id).join(","), profileType]);
}

export function suggestionSource(selector: string, range: ResolvedRange): SuggestionSource {
  // Suggestions are scoped to the service, as the rest of the selector is being edited.
  const service = serviceOf(selector);
  const matchers = service === "" ? [] : [withEqualMatcher("{}", SERVICE_LABEL, service)];
  return {
    scopeKey: `${service}|${range.startMs}|${range.endMs}`,
    labelNames: (signal) => queryClient.labelNames({ matchers, ...range }, signal),
    labelValues: (name, signal) => queryClient.labelValues({ name, matchers, ...range }, signal),
  };
}

export function QueryBar(props: {
  selection: Selection;
  profileType: string;
  range: ResolvedRange;
  catalog: Catalog;
  onQuery: (query: string) => void;
  onProfileType: (profileTypeId: string) => void;
  onRange: (spec: TimeRangeSpec) => void;
  onRefresh: () => void;
}) {
  const { selection, catalog, range } = props;
  const service = serviceOf(selection.query);
  const source = useMemo(() => suggestionSource(selection.query, range), [selection.query, range]);
  return (
    <div class="query-bar">
      <ServicePicker
        services={catalog.services.data ?? []}
        value={service}
        onChange={(next) =>
          props.onQuery(
            next === ""
              ? withoutMatcher(selection.query, SERVICE_LABEL)
              : withEqualMatcher(selection.query, SERVICE_LABEL, next),
          )
        }
      />
      <ProfileTypePicker
        types={offeredTypes(catalog)}
        value={props.profileType}
        onChange={props.onProfileType}
      />
      <LabelSelectorInput value={selection.query} onSubmit={props.onQuery} source={source} />
      <TimeRangePicker spec={selection} onChange={props.onRange} onRefresh={props.onRefresh} />
    </div>
  );
}

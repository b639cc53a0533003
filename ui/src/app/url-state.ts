/**
 * Everything a view shows lives in the URL, so a copied link reproduces the picture. The
 * path names the view (`/explore`, `/tags`, `/compare`); the query string holds the rest:
 *
 *   query, type, from, until                 the selection (Explore, Tag explorer, Comparison's right side)
 *   groupBy                                  the tag explorer's label
 *   lquery, lfrom, luntil, rquery, …         the comparison's two selections
 *   tab                                      the comparison's tab (side | diff)
 *   search, focus (repeated), orientation,   the flame graph's state
 *   sandwich, sort, fgview
 *
 * Values equal to their defaults are left out, to keep links short.
 */
import type { FlameViewState } from "../flamegraph/index.ts";
import { DEFAULT_RANGE, previousSpec, type TimeRangeSpec } from "./time-range.ts";

export type Route = "explore" | "tags" | "compare";
export const ROUTES: readonly Route[] = ["explore", "tags", "compare"];

export interface Selection extends TimeRangeSpec {
  /** Label selector, e.g. `{service_name="api"}`; "" = not chosen yet (queries read it as `{}`). */
  query: string;
}

export type CompareTab = "side" | "diff";

export interface AppState {
  route: Route;
  /** Profile type ID; "" until the user (or the first load) picks one. */
  profileType: string;
  main: Selection;
  groupBy: string;
  /** The comparison's sides; undefined = derived from `main` (see compareSides). */
  left: Selection | undefined;
  right: Selection | undefined;
  compareTab: CompareTab;
  flame: FlameViewState;
}

/** No selector chosen yet: Explore then picks the first service. `{}` (all services) is explicit. */
export const DEFAULT_QUERY = "";

export function routeOfPath(pathname: string): Route {
  const first = pathname.split("/")[1] ?? "";
  return (ROUTES as readonly string[]).includes(first) ? (first as Route) : "explore";
}

export function pathOfRoute(route: Route): string {
  return `/${route}`;
}

export function parseState(pathname: string, search: string, flameDefaults: FlameViewState): AppState {
  const params = new URLSearchParams(search);
  const get = (key: string, fallback: string) => params.get(key) ?? fallback;
  const selection = (prefix: string): Selection | undefined => {
    const query = params.get(`${prefix}query`);
    const from = params.get(`${prefix}from`);
    const until = params.get(`${prefix}until`);
    if (query === null && from === null && until === null) return undefined;
    return {
      query: query ?? DEFAULT_QUERY,
      from: from ?? DEFAULT_RANGE.from,
      until: until ?? DEFAULT_RANGE.until,
    };
  };
  const focus = params.getAll("focus");
  return {
    route: routeOfPath(pathname),
    profileType: get("type", ""),
    main: {
      query: get("query", DEFAULT_QUERY),
      from: get("from", DEFAULT_RANGE.from),
      until: get("until", DEFAULT_RANGE.until),
    },
    groupBy: get("groupBy", ""),
    left: selection("l"),
    right: selection("r"),
    compareTab: params.get("tab") === "diff" ? "diff" : "side",
    flame: {
      search: get("search", flameDefaults.search),
      focusPath: focus.length > 0 ? focus : flameDefaults.focusPath,
      orientation: oneOf(params.get("orientation"), ["icicle", "flame"], flameDefaults.orientation),
      sandwich: params.get("sandwich") ?? flameDefaults.sandwich,
      tableSort: oneOf(params.get("sort"), ["self", "total", "name", "diff"], flameDefaults.tableSort),
      view: oneOf(params.get("fgview"), ["both", "flamegraph", "table"], flameDefaults.view),
    },
  };
}

function oneOf<T extends string>(value: string | null, allowed: readonly T[], fallback: T): T {
  return value !== null && (allowed as readonly string[]).includes(value) ? (value as T) : fallback;
}

/** The URL (path + query string) of a state. */
export function formatState(state: AppState, flameDefaults: FlameViewState): string {
  const params = new URLSearchParams();
  const set = (key: string, value: string, fallback: string) => {
    if (value !== fallback) params.set(key, value);
  };
  set("query", state.main.query, DEFAULT_QUERY);
  set("type", state.profileType, "");
  set("from", state.main.from, DEFAULT_RANGE.from);
  set("until", state.main.until, DEFAULT_RANGE.until);
  set("groupBy", state.groupBy, "");
  for (const [prefix, side] of [
    ["l", state.left],
    ["r", state.right],
  ] as const) {
    if (side === undefined) continue;
    params.set(`${prefix}query`, side.query);
    params.set(`${prefix}from`, side.from);
    params.set(`${prefix}until`, side.until);
  }
  set("tab", state.compareTab, "side");
  const flame = state.flame;
  set("search", flame.search, flameDefaults.search);
  for (const name of flame.focusPath ?? []) params.append("focus", name);
  set("orientation", flame.orientation, flameDefaults.orientation);
  if (flame.sandwich !== null) params.set("sandwich", flame.sandwich);
  set("sort", flame.tableSort, flameDefaults.tableSort);
  set("fgview", flame.view, flameDefaults.view);
  const query = params.toString();
  return `${pathOfRoute(state.route)}${query === "" ? "" : `?${query}`}`;
}

/**
 * The comparison's two selections: as given, or by default the right side is the current
 * selection and the left side the same query over the previous range of the same width.
 */
export function compareSides(state: AppState, nowMs: number): { left: Selection; right: Selection } {
  const right = state.right ?? state.main;
  const left = state.left ?? { query: right.query, ...previousSpec(right, nowMs) };
  return { left, right };
}

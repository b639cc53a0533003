import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { FlameViewState } from "../flamegraph/index.ts";
import { type AppState, compareSides, formatState, parseState, routeOfPath } from "./url-state.ts";

const FLAME_DEFAULTS: FlameViewState = {
  search: "",
  focusPath: null,
  orientation: "icicle",
  sandwich: null,
  tableSort: "self",
  view: "both",
};
const NOW_MS = 1_800_000_000_000;

describe("URL state", () => {
  test("defaults give a short URL, and every field survives a round trip", () => {
    const empty = parseState("/", "", FLAME_DEFAULTS);
    assert.equal(empty.route, "explore");
    assert.equal(formatState(empty, FLAME_DEFAULTS), "/explore");

    const full: AppState = {
      route: "compare",
      profileType: "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
      main: { query: '{service_name="api & co"}', from: "1700000000000", until: "1700000600000" },
      groupBy: "pod",
      left: { query: '{service_name="a"}', from: "now-2h", until: "now-1h" },
      right: { query: '{service_name="b"}', from: "now-1h", until: "now" },
      compareTab: "diff",
      flame: {
        search: "/gc|malloc/",
        focusPath: ["main", "run?x=1&y", "work"],
        orientation: "flame",
        sandwich: "runtime.mallocgc",
        tableSort: "total",
        view: "table",
      },
    };
    const url = formatState(full, FLAME_DEFAULTS);
    const parsed = new URL(url, "http://x");
    assert.equal(parsed.pathname, "/compare");
    assert.deepEqual(parseState(parsed.pathname, parsed.search, FLAME_DEFAULTS), full);
  });

  test("unknown values fall back to defaults", () => {
    const state = parseState("/nope", "?orientation=sideways&sort=x&fgview=y&tab=z", FLAME_DEFAULTS);
    assert.equal(state.route, "explore");
    assert.equal(state.flame.orientation, "icicle");
    assert.equal(state.flame.tableSort, "self");
    assert.equal(state.flame.view, "both");
    assert.equal(state.compareTab, "side");
    assert.equal(routeOfPath("/tags/extra"), "tags");
  });

  test("comparison sides default to the current selection and the range before it", () => {
    const state = parseState("/compare", '?query={service_name="a"}&from=now-6h', FLAME_DEFAULTS);
    assert.deepEqual(compareSides(state, NOW_MS), {
      left: { query: '{service_name="a"}', from: "now-12h", until: "now-6h" },
      right: { query: '{service_name="a"}', from: "now-6h", until: "now" },
    });
    const explicit = parseState("/compare", "?lquery={}&rfrom=1&runtil=2", FLAME_DEFAULTS);
    assert.deepEqual(compareSides(explicit, NOW_MS).right, { query: "", from: "1", until: "2" });
    assert.deepEqual(compareSides(explicit, NOW_MS).left, { query: "{}", from: "now-1h", until: "now" });
  });
});

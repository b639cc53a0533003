import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, test } from "node:test";
import { createRegistry, OVERFLOW_LABEL_VALUE, registerProcessMetrics } from "./metrics.ts";

const PROMTOOL = "/usr/bin/promtool";

/** A registry with every feature the format has to get right. */
function sampleRegistry() {
  const registry = createRegistry();
  registerProcessMetrics(registry);
  const requests = registry.counter({
    name: "kiln_test_requests_total",
    help: 'Requests with a "quoted" help, a back\\slash\nand a newline.',
    labelNames: ["endpoint", "status"],
  });
  requests.inc({ endpoint: "/ingest", status: "200" });
  requests.inc({ endpoint: "/ingest", status: "200" }, 2);
  requests.inc({ endpoint: 'we"ird\\va\nlue', status: "500" });
  const queue = registry.gauge({
    name: "kiln_test_queue_depth",
    help: "Queue depth.",
    labelNames: ["queue"],
  });
  queue.set({ queue: "flush" }, 7);
  queue.dec({ queue: "flush" });
  registry.gauge({ name: "kiln_test_unset", help: "A gauge never set." });
  const duration = registry.histogram({
    name: "kiln_test_duration_seconds",
    help: "Durations.",
    labelNames: ["op"],
    buckets: [0.1, 1, 10],
  });
  for (const v of [0.05, 0.1, 0.5, 5, 50]) duration.observe({ op: "flush" }, v);
  return registry;
}

describe("metrics registry", () => {
  test("renders counters, gauges and cumulative histogram buckets", () => {
    const text = sampleRegistry().render();
    assert.match(
      text,
      /^# HELP kiln_test_requests_total Requests with a "quoted" help, a back\\\\slash\\nand a newline\.$/m,
    );
    assert.match(text, /^# TYPE kiln_test_requests_total counter$/m);
    assert.match(text, /^kiln_test_requests_total\{endpoint="\/ingest",status="200"\} 3$/m);
    assert.ok(text.includes('kiln_test_requests_total{endpoint="we\\"ird\\\\va\\nlue",status="500"} 1\n'));
    assert.match(text, /^kiln_test_queue_depth\{queue="flush"\} 6$/m);
    const histogram = text.split("\n").filter((line) => line.startsWith("kiln_test_duration_seconds"));
    assert.deepEqual(histogram, [
      'kiln_test_duration_seconds_bucket{op="flush",le="0.1"} 2',
      'kiln_test_duration_seconds_bucket{op="flush",le="1"} 3',
      'kiln_test_duration_seconds_bucket{op="flush",le="10"} 4',
      'kiln_test_duration_seconds_bucket{op="flush",le="+Inf"} 5',
      'kiln_test_duration_seconds_sum{op="flush"} 55.65',
      'kiln_test_duration_seconds_count{op="flush"} 5',
    ]);
    for (const name of [
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "process_start_time_seconds",
      "nodejs_heap_size_used_bytes",
    ]) {
      assert.match(text, new RegExp(`^${name} [0-9.e+]+$`, "m"), name);
    }
    assert.ok(text.endsWith("\n"));
  });

  test("label cardinality is bounded per metric", () => {
    const registry = createRegistry();
    const counter = registry.counter({ name: "kiln_t_total", help: "t", labelNames: ["id"], seriesMax: 3 });
    for (let i = 0; i < 10; i++) counter.inc({ id: String(i) });
    const lines = registry.render().split("\n");
    assert.equal(lines.filter((l) => l.startsWith("kiln_t_total{")).length, 4);
    assert.ok(lines.includes(`kiln_t_total{id="${OVERFLOW_LABEL_VALUE}"} 7`));
    assert.ok(lines.includes('kiln_metrics_series_overflow_total{metric="kiln_t_total"} 7'));
  });

  test("misuse throws at once", () => {
    const registry = createRegistry();
    assert.throws(() => registry.counter({ name: "kiln_no_suffix", help: "x" }), /must end in _total/);
    assert.throws(() => registry.gauge({ name: "bad-name", help: "x" }), /invalid metric name/);
    registry.histogram({ name: "kiln_h", help: "x", buckets: [1] });
    assert.throws(() => registry.gauge({ name: "kiln_h_sum", help: "x" }), /collides/);
    const counter = registry.counter({ name: "kiln_c_total", help: "x", labelNames: ["a"] });
    assert.throws(() => counter.inc({ b: "1" }), /label "a" missing/);
    assert.throws(() => counter.inc({ a: "1" }, -1), /negative/);
  });

  test("passes promtool check metrics", (t) => {
    if (!existsSync(PROMTOOL)) {
      if (process.env.CI) assert.fail(`${PROMTOOL} missing (CI is set)`);
      t.skip(`${PROMTOOL} not installed (apt-get install -y --no-install-recommends prometheus)`);
      return;
    }
    const result = spawnSync(PROMTOOL, ["check", "metrics"], {
      input: sampleRegistry().render(),
      encoding: "utf8",
    });
    assert.equal(result.status, 0, `promtool: ${result.stdout}${result.stderr}`);
    assert.equal(`${result.stdout}${result.stderr}`.trim(), "");
  });
});

/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in the
 * text exposition format 0.0.4 (what `/metrics` serves and `promtool check metrics` accepts).
 *
 * Hand-written rather than prom-client because Kiln needs only these three types, and a
 * registry that bounds label cardinality itself: every metric has `seriesMax` (default
 * {@link SERIES_MAX_DEFAULT}); once a metric holds that many label sets, new label sets are
 * folded into one series whose label values are all {@link OVERFLOW_LABEL_VALUE}, and
 * `kiln_metrics_series_overflow_total{metric}` counts how often that happened. A bug that puts
 * a raw URL or a tenant-supplied value into a label then costs a bounded amount of memory and
 * shows up on a dashboard instead of taking the process down.
 */

import { monitorEventLoopDelay } from "node:perf_hooks";

export const CONTENT_TYPE_PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

/** Enough for per-endpoint × method × status in one process; see the module comment. */
export const SERIES_MAX_DEFAULT = 2_000;

export const OVERFLOW_LABEL_VALUE = "__overflow__";

/** Prometheus' default buckets, in seconds: 5 ms … 10 s. */
export const DURATION_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

export type Labels = Readonly<Record<string, string>>;

interface MetricOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
  seriesMax?: number;
}

export interface CounterOptions extends MetricOptions {
  /** For counters owned by someone else (CPU seconds): read at render time, no labels. */
  collect?: () => number;
}

export interface GaugeOptions extends MetricOptions {
  /** For gauges read at render time (memory, queue depth), no labels. */
  collect?: () => number;
}

export interface HistogramOptions extends MetricOptions {
  /** Upper bounds, strictly increasing, finite; `+Inf` is implied. */
  buckets: readonly number[];
}

export interface Counter {
  inc(labels?: Labels, value?: number): void;
}

export interface Gauge {
  set(labels: Labels | undefined, value: number): void;
  inc(labels?: Labels, value?: number): void;
  dec(labels?: Labels, value?: number): void;
}

export interface Histogram {
  observe(labels: Labels | undefined, value: number): void;
}

export interface Registry {
  counter(options: CounterOptions): Counter;
  gauge(options: GaugeOptions): Gauge;
  histogram(options: HistogramOptions): Histogram;
  /** The whole registry in text format 0.0.4, ending with a newline. */
  render(): string;
}

const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Joins label values into a map key; label values are UTF-8 text and never contain it. */
const KEY_SEPARATOR = "\u0000";

type MetricType = "counter" | "gauge" | "histogram";

interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  renderInto(lines: string[]): void;
}

/** Label sets of one metric, with the cardinality guard. */
class SeriesTable<T> {
  readonly #labelNames: readonly string[];
  readonly #seriesMax: number;
  readonly #make: () => T;
  readonly #onOverflow: () => void;
  readonly series = new Map<string, { values: readonly string[]; state: T }>();

  constructor(labelNames: readonly string[], seriesMax: number, make: () => T, onOverflow: () => void) {
    this.#labelNames = labelNames;
    this.#seriesMax = seriesMax;
    this.#make = make;
    this.#onOverflow = onOverflow;
  }

  get(labels: Labels | undefined): T {
    const values = this.#labelNames.map((name) => {
      const value = labels?.[name];
      if (value === undefined) throw new Error(`metric label "${name}" missing`);
      return value;
    });
    if (labels !== undefined && Object.keys(labels).length !== this.#labelNames.length) {
      throw new Error(`metric labels ${JSON.stringify(Object.keys(labels))}, want ${this.#labelNames}`);
    }
    let key = values.join(KEY_SEPARATOR);
    let entry = this.series.get(key);
    if (entry === undefined) {
      if (this.series.size >= this.#seriesMax) {
        this.#onOverflow();
        const overflow = this.#labelNames.map(() => OVERFLOW_LABEL_VALUE);
        key = overflow.join(KEY_SEPARATOR);
        entry = this.series.get(key);
        if (entry === undefined) {
          // The overflow series itself may exceed seriesMax by one: that is the bound.
          entry = { values: overflow, state: this.#make() };
          this.series.set(key, entry);
        }
        return entry.state;
      }
      entry = { values, state: this.#make() };
      this.series.set(key, entry);
    }
    return entry.state;
  }

  labelText(values: readonly string[], extra?: string): string {
    const parts = this.#labelNames.map((name, i) => `${name}="${escapeLabelValue(values[i]!)}"`);
    if (extra !== undefined) parts.push(extra);
    return parts.length === 0 ? "" : `{${parts.join(",")}}`;
  }
}

export function createRegistry(): Registry {
  const metrics = new Map<string, Metric>();
  let overflowCounter: Counter | undefined;
  const noteOverflow = (metricName: string) => () => overflowCounter?.inc({ metric: metricName });

  // Every sample name in use, so a histogram's `x_sum` cannot collide with a metric `x_sum`.
  const sampleNames = new Set<string>();
  const add = (metric: Metric): void => {
    const names =
      metric.type === "histogram"
        ? [metric.name, `${metric.name}_bucket`, `${metric.name}_sum`, `${metric.name}_count`]
        : [metric.name];
    for (const name of names) {
      if (sampleNames.has(name)) throw new Error(`metric "${metric.name}" collides with "${name}"`);
    }
    for (const name of names) sampleNames.add(name);
    metrics.set(metric.name, metric);
  };

  const registry: Registry = {
    counter(options) {
      const labelNames = checkOptions(options);
      if (!options.name.endsWith("_total")) throw new Error(`counter "${options.name}" must end in _total`);
      const table = new SeriesTable(
        labelNames,
        seriesMaxOf(options),
        () => ({ value: 0 }),
        noteOverflow(options.name),
      );
      add({
        name: options.name,
        help: options.help,
        type: "counter",
        renderInto(lines) {
          if (options.collect !== undefined) table.get(undefined).value = options.collect();
          for (const { values, state } of table.series.values()) {
            lines.push(`${options.name}${table.labelText(values)} ${formatNumber(state.value)}`);
          }
        },
      });
      return {
        inc(labels, value = 1) {
          if (!(value >= 0)) throw new Error(`counter "${options.name}" increment ${value} is negative`);
          table.get(labels).value += value;
        },
      };
    },

    gauge(options) {
      const labelNames = checkOptions(options);
      const table = new SeriesTable(
        labelNames,
        seriesMaxOf(options),
        () => ({ value: 0 }),
        noteOverflow(options.name),
      );
      add({
        name: options.name,
        help: options.help,
        type: "gauge",
        renderInto(lines) {
          if (options.collect !== undefined) table.get(undefined).value = options.collect();
          for (const { values, state } of table.series.values()) {
            lines.push(`${options.name}${table.labelText(values)} ${formatNumber(state.value)}`);
          }
        },
      });
      return {
        set(labels, value) {
          table.get(labels).value = value;
        },
        inc(labels, value = 1) {
          table.get(labels).value += value;
        },
        dec(labels, value = 1) {
          table.get(labels).value -= value;
        },
      };
    },

    histogram(options) {
      const labelNames = checkOptions(options);
      if (labelNames.includes("le")) throw new Error(`histogram "${options.name}" cannot use label "le"`);
      const buckets = options.buckets;
      if (buckets.length === 0) throw new Error(`histogram "${options.name}" needs buckets`);
      for (let i = 0; i < buckets.length; i++) {
        if (!Number.isFinite(buckets[i]) || (i > 0 && buckets[i]! <= buckets[i - 1]!)) {
          throw new Error(`histogram "${options.name}" buckets must be finite and strictly increasing`);
        }
      }
      const make = () => ({ counts: new Float64Array(buckets.length), sum: 0, count: 0 });
      const table = new SeriesTable(labelNames, seriesMaxOf(options), make, noteOverflow(options.name));
      add({
        name: options.name,
        help: options.help,
        type: "histogram",
        renderInto(lines) {
          for (const { values, state } of table.series.values()) {
            // Stored per bucket, rendered cumulative as the format requires.
            let cumulative = 0;
            for (let i = 0; i < buckets.length; i++) {
              cumulative += state.counts[i]!;
              const le = `le="${formatNumber(buckets[i]!)}"`;
              lines.push(`${options.name}_bucket${table.labelText(values, le)} ${formatNumber(cumulative)}`);
            }
            lines.push(`${options.name}_bucket${table.labelText(values, 'le="+Inf"')} ${state.count}`);
            lines.push(`${options.name}_sum${table.labelText(values)} ${formatNumber(state.sum)}`);
            lines.push(`${options.name}_count${table.labelText(values)} ${state.count}`);
          }
        },
      });
      return {
        observe(labels, value) {
          if (Number.isNaN(value)) return;
          const state = table.get(labels);
          const i = bucketIndex(buckets, value);
          if (i < buckets.length) state.counts[i]! += 1;
          state.sum += value;
          state.count += 1;
        },
      };
    },

    render() {
      const lines: string[] = [];
      for (const metric of metrics.values()) {
        lines.push(`# HELP ${metric.name} ${escapeHelp(metric.help)}`);
        lines.push(`# TYPE ${metric.name} ${metric.type}`);
        metric.renderInto(lines);
      }
      return `${lines.join("\n")}\n`;
    },
  };

  overflowCounter = registry.counter({
    name: "kiln_metrics_series_overflow_total",
    help: "Label sets folded into the __overflow__ series because a metric reached its series limit.",
    labelNames: ["metric"],
  });
  return registry;
}

/** First bucket whose upper bound is >= value; buckets.length when above all (only +Inf). */
function bucketIndex(buckets: readonly number[], value: number): number {
  let lo = 0;
  let hi = buckets.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (buckets[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function checkOptions(options: MetricOptions & { collect?: () => number }): readonly string[] {
  if (!METRIC_NAME_RE.test(options.name)) throw new Error(`invalid metric name "${options.name}"`);
  const labelNames = options.labelNames ?? [];
  for (const name of labelNames) {
    if (!LABEL_NAME_RE.test(name) || name.startsWith("__")) {
      throw new Error(`invalid label name "${name}" for metric "${options.name}"`);
    }
  }
  if (new Set(labelNames).size !== labelNames.length) {
    throw new Error(`duplicate label names for metric "${options.name}"`);
  }
  if (options.collect !== undefined && labelNames.length > 0) {
    throw new Error(`metric "${options.name}" with collect() cannot have labels`);
  }
  return Object.freeze([...labelNames]);
}

function seriesMaxOf(options: MetricOptions): number {
  const seriesMax = options.seriesMax ?? SERIES_MAX_DEFAULT;
  if (!Number.isInteger(seriesMax) || seriesMax < 1) {
    throw new Error(`metric "${options.name}" seriesMax must be a positive integer`);
  }
  return seriesMax;
}

/** Text format 0.0.4: label values escape backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === "\\" ? "\\\\" : c === '"' ? '\\"' : "\\n"));
}

/** HELP text escapes only backslash and line feed. */
function escapeHelp(help: string): string {
  return help.replace(/[\\\n]/g, (c) => (c === "\\" ? "\\\\" : "\\n"));
}

export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

/**
 * Process and Node.js runtime metrics under the names the Prometheus client libraries use,
 * so existing dashboards work. Values are read at render time.
 */
export function registerProcessMetrics(registry: Registry): void {
  const startTimeSeconds = performance.timeOrigin / 1000;
  registry.counter({
    name: "process_cpu_seconds_total",
    help: "Total user and system CPU time spent in seconds.",
    collect: () => {
      const usage = process.cpuUsage();
      return (usage.user + usage.system) / 1e6;
    },
  });
  registry.gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes.",
    collect: () => process.memoryUsage.rss(),
  });
  registry.gauge({
    name: "process_start_time_seconds",
    help: "Start time of the process since unix epoch in seconds.",
    collect: () => startTimeSeconds,
  });
  registry.gauge({
    name: "nodejs_heap_size_total_bytes",
    help: "Process heap size from Node.js in bytes.",
    collect: () => process.memoryUsage().heapTotal,
  });
  registry.gauge({
    name: "nodejs_heap_size_used_bytes",
    help: "Process heap size used from Node.js in bytes.",
    collect: () => process.memoryUsage().heapUsed,
  });
  registry.gauge({
    name: "nodejs_external_memory_bytes",
    help: "Node.js external memory size in bytes (buffers, typed arrays outside the heap).",
    collect: () => process.memoryUsage().external,
  });
  // Event-loop delay is the first sign of CPU-bound work on the main thread (decoding,
  // merging) starving request handling. Resolution 20 ms keeps the sampler cheap.
  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  loopDelay.enable();
  registry.gauge({
    name: "nodejs_eventloop_delay_p99_seconds",
    help: "99th percentile of event-loop delay since the previous scrape, in seconds.",
    collect: () => {
      const p99Seconds = loopDelay.count > 0 ? loopDelay.percentile(99) / 1e9 : 0;
      loopDelay.reset();
      return p99Seconds;
    },
  });
}

/**
 * `__name__` of a pprof uploaded through /ingest (wire reference §2.5), as Pyroscope's
 * RawProfile.metricName derives it from the sample types.
 */
import type { Pprof } from "../../model/pprof.ts";

/** One entry of the `sample_type_config` multipart part (pyroscope SDKs), keyed by sample type. */
export interface SampleTypeConfig {
  "display-name"?: string;
  units?: string;
  aggregation?: string;
  cumulative?: boolean;
  sampled?: boolean;
}

/** Pyroscope's DefaultSampleTypeMapping, display names only (the only part that names profiles). */
export const defaultSampleTypeConfig: Readonly<Record<string, SampleTypeConfig>> = Object.freeze({
  samples: { "display-name": "cpu" },
  inuse_objects: {},
  alloc_objects: {},
  inuse_space: {},
  alloc_space: {},
  goroutine: { "display-name": "goroutines" },
  contentions: { "display-name": "mutex_count" },
  delay: { "display-name": "mutex_duration" },
});

export function pprofMetricName(pprof: Pprof, sampleTypeConfig?: Record<string, SampleTypeConfig>): string {
  // A config sent by the client replaces the default table entirely, as in Pyroscope.
  const config = sampleTypeConfig ?? defaultSampleTypeConfig;
  const types = Array.from(pprof.sampleTypeStr, (i) => pprof.strings[i] ?? "");
  if (types.includes("wall")) return "wall";
  let st = "";
  for (const raw of types) {
    st = raw;
    const entry = Object.hasOwn(config, raw) ? config[raw] : undefined;
    const display = entry?.["display-name"];
    if (display) st = display;
    if (st.includes("cpu")) return "process_cpu";
    if (st.includes("alloc_") || st.includes("inuse_") || st === "space" || st === "objects") return "memory";
    if (st.includes("mutex_")) return "mutex";
    if (st.includes("block_")) return "block";
    if (st.includes("goroutines")) return "goroutines";
  }
  // No rule matched: the last sample type's name (its display name when it has one).
  return st;
}

/**
 * push.v1.PusherService/Push → normalized profiles (wire reference §3). Transport-free: the
 * Connect/gRPC service in src/api calls it and hands the result to the segment writer.
 */

import { decodePprofAsync } from "../formats/pprof/decode.ts";
import { KilnError } from "../model/errors.ts";
import type { Label } from "../model/labels.ts";
import type { NormalizedProfile } from "../model/profile.ts";
import type { IngestLimits } from "./normalize/limits.ts";
import { normalizePprof } from "./normalize/normalize.ts";

/**
 * The parts of a push.v1 PushRequest that ingest reads. The generated `PushRequest` has this
 * shape; ingest workers receive the same data as a plain object across a thread boundary.
 */
export interface PushInput {
  series: readonly {
    labels: readonly { name: string; value: string }[];
    samples: readonly { rawProfile: Uint8Array }[];
  }[];
}

export async function profilesFromPushRequest(
  request: PushInput,
  limits: IngestLimits,
  nowMs: number,
): Promise<NormalizedProfile[]> {
  const profiles: NormalizedProfile[] = [];
  let received = 0;
  for (const series of request.series) {
    if (series.labels.length > limits.maxLabelNamesPerSeries * 2 + 16) {
      // Cheap early bound before building label arrays; the exact check runs in normalize.
      throw new KilnError(
        "invalid_argument",
        "too_many_labels",
        `series has ${series.labels.length} labels, limit ${limits.maxLabelNamesPerSeries} (max_label_names_per_series)`,
      );
    }
    // Annotations sent by clients are dropped (wire reference §3.1): they are set internally.
    const seriesLabels: Label[] = series.labels.map((l) => [l.name, l.value] as const);
    for (const sample of series.samples) {
      if (sample.rawProfile.byteLength === 0) continue;
      received++;
      const pprof = await decodePprofAsync(sample.rawProfile, {
        maxDecompressedBytes: limits.maxProfileSizeBytes,
        invalidUtf8: "reject",
      });
      for (const p of normalizePprof(pprof, { seriesLabels, limits, nowMs })) profiles.push(p);
    }
  }
  if (received === 0) throw new KilnError("invalid_argument", "no_profiles", "no profiles received");
  return profiles;
}

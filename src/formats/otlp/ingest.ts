/**
 * OTLP profiles request → normalized profiles (wire reference §7): decode (decode.ts),
 * convert to pprof + series labels (convert.ts), then `normalizePprof` as every other
 * ingest path, so limits, label validation, the time window and private labels apply alike.
 *
 * A request is accepted or refused as a whole, as Pyroscope does: the first invalid profile
 * fails it with its error, and nothing of it is stored. Kiln therefore never answers with an
 * ExportProfilesPartialSuccess; the success response is always the empty message.
 */

import type { IngestLimits } from "../../ingest/normalize/limits.ts";
import { normalizePprof } from "../../ingest/normalize/normalize.ts";
import type { NormalizedProfile } from "../../model/profile.ts";
import { otlpToPprofs } from "./convert.ts";
import { decodeContentEncoding, decodeOtlpRequest } from "./decode.ts";

export interface OtlpIngestInput {
  body: Uint8Array;
  /** `application/x-protobuf`, `application/protobuf` or `application/json` (415 otherwise). */
  contentType: string | undefined;
  /** The Content-Encoding header: absent/identity or gzip (415 otherwise). */
  contentEncoding?: string | undefined;
  limits: IngestLimits;
  nowMs: number;
}

export async function profilesFromOtlp(input: OtlpIngestInput): Promise<NormalizedProfile[]> {
  const { limits, nowMs } = input;
  const body = await decodeContentEncoding(input.body, input.contentEncoding, limits.maxBodyBytes);
  const request = decodeOtlpRequest(body, input.contentType);
  const profiles: NormalizedProfile[] = [];
  for (const { pprof, seriesLabels } of otlpToPprofs(request, nowMs)) {
    for (const p of normalizePprof(pprof, { seriesLabels, limits, nowMs })) profiles.push(p);
  }
  return profiles;
}

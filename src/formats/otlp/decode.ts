/**
 * OTLP profiles request bytes → the generated `ExportProfilesServiceRequest` (wire reference
 * §7.1, §7.2): content type selection, optional gzip Content-Encoding (bounded), binary
 * protobuf with a check for the pre-v1.10 Sample layout, and JSON.
 *
 * JSON is proto3 canonical JSON (protojson), unknown fields ignored. The bytes fields
 * `traceId`, `spanId` (Link) and `profileId` (Profile) are accepted both as the OTLP/JSON
 * spec's hex (exactly 32 / 16 / 32 hex digits) and as protojson's base64, which is what
 * Pyroscope's own decoder expects. The two cannot be confused: base64 of 16 bytes is 24
 * characters and of 8 bytes 12, never 32 or 16.
 */
import { promisify } from "node:util";
import { gunzip } from "node:zlib";
import { fromBinary, fromJson, type JsonValue } from "@bufbuild/protobuf";
import {
  type ExportProfilesServiceRequest,
  ExportProfilesServiceRequestSchema,
} from "../../gen/opentelemetry/proto/collector/profiles/v1development/profiles_service_pb.js";
import { IngestHttpError } from "../../ingest/receivers/ingest-http.ts";
import { KilnError } from "../../model/errors.ts";
import { detectLegacySampleLayout } from "./legacy-layout.ts";

export type OtlpEncoding = "protobuf" | "json";

/**
 * The body encoding of an OTLP/HTTP Content-Type; parameters (`; charset=utf-8`) are ignored.
 * Anything else is an IngestHttpError with status 415.
 */
export function otlpEncodingOf(contentType: string | undefined): OtlpEncoding {
  const mediaType = (contentType ?? "").split(";", 1)[0]!.trim().toLowerCase();
  if (mediaType === "application/x-protobuf" || mediaType === "application/protobuf") return "protobuf";
  if (mediaType === "application/json") return "json";
  throw new IngestHttpError(
    415,
    "invalid_argument",
    "unsupported_media_type",
    `unsupported Content-Type ${JSON.stringify(contentType ?? "")}: OTLP profiles take application/x-protobuf, application/protobuf or application/json`,
  );
}

const gunzipAsync = promisify(gunzip);

/**
 * Applies the request's Content-Encoding: none/identity → the body itself, gzip → the
 * decompressed body, at most `maxBytes` (413 beyond); anything else → 415.
 */
export async function decodeContentEncoding(
  body: Uint8Array,
  contentEncoding: string | undefined,
  maxBytes: number,
): Promise<Uint8Array> {
  const encoding = (contentEncoding ?? "").trim().toLowerCase();
  if (encoding === "" || encoding === "identity") return body;
  if (encoding !== "gzip" && encoding !== "x-gzip") {
    throw new IngestHttpError(
      415,
      "invalid_argument",
      "unsupported_encoding",
      `unsupported Content-Encoding ${JSON.stringify(contentEncoding)}: only gzip is accepted`,
    );
  }
  const tooLarge = () =>
    new IngestHttpError(
      413,
      "invalid_argument",
      "body_too_large",
      `request body too large: more than ${maxBytes} bytes after gzip decompression (max_body_bytes)`,
    );
  try {
    const out = await gunzipAsync(body, { maxOutputLength: Math.max(1, maxBytes) });
    if (out.byteLength > maxBytes) throw tooLarge();
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (err) {
    if (err instanceof KilnError) throw err;
    const code = (err as { code?: unknown }).code;
    if (
      code === "ERR_BUFFER_TOO_LARGE" ||
      (err instanceof RangeError && /maxOutputLength/i.test(err.message))
    )
      throw tooLarge();
    throw new KilnError(
      "invalid_argument",
      "malformed_otlp",
      `invalid gzip body: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

/** Binary protobuf → request. Refuses the v1.9 Sample layout where it shows (legacy-layout.ts). */
export function decodeOtlpBinary(bytes: Uint8Array): ExportProfilesServiceRequest {
  const legacy = detectLegacySampleLayout(bytes);
  if (legacy !== undefined) {
    throw new KilnError(
      "invalid_argument",
      "unsupported_otlp_version",
      `OTLP profiles from opentelemetry-proto v1.9 or older are not supported: ${legacy}. Kiln speaks v1.10+ (Sample: #2 attribute_indices, #3 link_index, #4 values); upgrade the sender`,
    );
  }
  try {
    return fromBinary(ExportProfilesServiceRequestSchema, bytes);
  } catch (err) {
    throw new KilnError(
      "invalid_argument",
      "malformed_otlp",
      `malformed OTLP protobuf: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

/** JSON text → request; see the module comment for the bytes fields. */
export function decodeOtlpJson(bytes: Uint8Array): ExportProfilesServiceRequest {
  let json: JsonValue;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)) as JsonValue;
  } catch (err) {
    throw new KilnError(
      "invalid_argument",
      "malformed_otlp",
      `malformed OTLP JSON: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  hexBytesToBase64(json);
  try {
    return fromJson(ExportProfilesServiceRequestSchema, json, { ignoreUnknownFields: true });
  } catch (err) {
    throw new KilnError(
      "invalid_argument",
      "malformed_otlp",
      `malformed OTLP JSON: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

/** Decodes a request body of the given Content-Type (already Content-Encoding-decoded). */
export function decodeOtlpRequest(
  bytes: Uint8Array,
  contentType: string | undefined,
): ExportProfilesServiceRequest {
  return otlpEncodingOf(contentType) === "json" ? decodeOtlpJson(bytes) : decodeOtlpBinary(bytes);
}

const hex32 = /^[0-9a-fA-F]{32}$/;
const hex16 = /^[0-9a-fA-F]{16}$/;

type JsonObject = { [key: string]: JsonValue };

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function arrayOf(v: JsonValue | undefined): JsonValue[] {
  return Array.isArray(v) ? v : [];
}

/** Rewrites, in place, hex trace/span/profile ids to base64 (either JSON field name). */
function hexBytesToBase64(json: JsonValue): void {
  if (!isObject(json)) return;
  const fix = (obj: JsonObject, names: readonly string[], pattern: RegExp) => {
    for (const name of names) {
      const v = obj[name];
      if (typeof v === "string" && pattern.test(v)) obj[name] = Buffer.from(v, "hex").toString("base64");
    }
  };
  const dictionary = json.dictionary;
  if (isObject(dictionary)) {
    for (const link of [...arrayOf(dictionary.linkTable), ...arrayOf(dictionary.link_table)]) {
      if (!isObject(link)) continue;
      fix(link, ["traceId", "trace_id"], hex32);
      fix(link, ["spanId", "span_id"], hex16);
    }
  }
  for (const rp of [...arrayOf(json.resourceProfiles), ...arrayOf(json.resource_profiles)]) {
    if (!isObject(rp)) continue;
    for (const sp of [...arrayOf(rp.scopeProfiles), ...arrayOf(rp.scope_profiles)]) {
      if (!isObject(sp)) continue;
      for (const profile of arrayOf(sp.profiles)) {
        if (isObject(profile)) fix(profile, ["profileId", "profile_id"], hex32);
      }
    }
  }
}

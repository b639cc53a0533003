/**
 * `POST /ingest` (wire reference §2) → normalized profiles, independent of the HTTP server:
 * the server reads the body (bounded), calls `parseIngestRequest`, hands the profiles to the
 * segment writer, and answers a thrown `IngestHttpError` with its `status` and the JSON body
 * `{"code": err.code, "message": err.message}`.
 *
 * Statuses follow Pyroscope's ingest handler (§2.7), which decides them by *where* an error
 * happened rather than by its kind:
 * - `name` unparsable → 400;
 * - body over max_body_bytes → 413;
 * - any failure while parsing or converting pprof / multipart (incl. `prev_profile`,
 *   sample_type_config JSON), a bad folded count, and every error of the pprof path after
 *   decoding (normalization and validation) → 422 with code `unknown`;
 * - errors of the text paths after parsing (unknown profile-type suffix, label validation,
 *   limits) carry a Connect code → that code's HTTP status (400 invalid_argument, 429
 *   resource_exhausted, …).
 */

import { type CpuProfile, cpuProfileToPprof, parseCpuProfile } from "../../formats/cpuprofile/cpuprofile.ts";
import { jfrToPprof } from "../../formats/jfr/convert.ts";
import { decodeLabelsSnapshot, type LabelsSnapshot } from "../../formats/jfr/labels-snapshot.ts";
import { parseMultipart } from "../../formats/multipart/multipart.ts";
import { parsePerfScript } from "../../formats/perf-script/perf-script.ts";
import { decodePprofAsync } from "../../formats/pprof/decode.ts";
import { inflateProfileAsync } from "../../formats/pprof/inflate.ts";
import { FrameStacks, frameStacksToPprof } from "../../formats/speedscope/frame-stacks.ts";
import { parseSpeedscope, speedscopeToPprofs } from "../../formats/speedscope/speedscope.ts";
import { parseFolded } from "../../formats/text/folded.ts";
import { parseLines } from "../../formats/text/lines.ts";
import { parseAppName } from "../../formats/text/name.ts";
import type { ParsedStacks, TextStackLimits } from "../../formats/text/stacks.ts";
import { suffixProfileType, textStacksToPprof } from "../../formats/text/text-pprof.ts";
import { httpStatusOfCode, KilnError } from "../../model/errors.ts";
import { type Label, LabelName } from "../../model/labels.ts";
import type { Pprof } from "../../model/pprof.ts";
import type { NormalizedProfile } from "../../model/profile.ts";
import { parseTimeNanos } from "../../model/time.ts";
import type { IngestLimits } from "../normalize/limits.ts";
import { defaultSampleTypeConfig, pprofMetricName, type SampleTypeConfig } from "../normalize/metric-name.ts";
import { normalizePprof } from "../normalize/normalize.ts";

export interface IngestHttpRequest {
  query: URLSearchParams;
  contentType: string | undefined;
  body: Uint8Array;
  limits: IngestLimits;
  nowMs: number;
  /** Profile ids for the stored profiles (random UUIDs by default). */
  profileIdFor?: () => string;
}

export interface IngestResult {
  profiles: NormalizedProfile[];
}

/** A rejected /ingest request: a KilnError plus the HTTP status Pyroscope would answer. */
export class IngestHttpError extends KilnError {
  readonly status: number;
  constructor(
    status: number,
    code: KilnError["code"],
    reason: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, reason, message, options);
    this.name = "IngestHttpError";
    this.status = status;
  }
}

export type IngestFormat =
  | "trie"
  | "tree"
  | "lines"
  | "jfr"
  | "pprof"
  | "speedscope"
  | "cpuprofile"
  | "perf-script"
  | "multipart"
  | "folded";

/** §2.3, first match wins. */
export function selectIngestFormat(format: string | null, contentType: string | undefined): IngestFormat {
  const ct = contentType ?? "";
  if (format === "trie" || ct === "binary/octet-stream+trie") return "trie";
  if (format === "tree" || ct === "binary/octet-stream+tree") return "tree";
  if (format === "lines") return "lines";
  if (format === "jfr") return "jfr";
  // Raw body only: a multipart body with format=pprof goes to the pprof decoder and fails (422).
  if (format === "pprof") return "pprof";
  if (format === "speedscope") return "speedscope";
  // Kiln extensions (not in Pyroscope): explicit formats only, so they never shadow rule 7/8.
  if (format === "cpuprofile") return "cpuprofile";
  if (format === "perf-script") return "perf-script";
  if (ct.includes("multipart/form-data")) return "multipart";
  return "folded";
}

const defaultSampleRateHz = 100;
/** Multipart parts accepted per request: the Go SDK sends at most three. */
const maxMultipartParts = 64;
/** Spies whose function names get their file name prepended (Pyroscope's "scripting" spies). */
const scriptingSpies = new Set(["pyspy", "rbspy", "scripting"]);

interface RequestMeta {
  appName: string;
  tags: Map<string, string>;
  fromNanos: bigint;
  untilNanos: bigint;
  sampleRateHz: number;
  spyName: string;
}

export async function parseIngestRequest(req: IngestHttpRequest): Promise<IngestResult> {
  const { query, limits } = req;
  const meta = parseMeta(query, req.nowMs);
  if (limits.maxBodyBytes > 0 && req.body.length > limits.maxBodyBytes) {
    throw new IngestHttpError(
      413,
      "invalid_argument",
      "body_too_large",
      `request body too large: ${req.body.length} bytes, limit ${limits.maxBodyBytes} (max_body_bytes)`,
    );
  }
  const format = selectIngestFormat(query.get("format"), req.contentType);
  switch (format) {
    case "folded":
    case "lines":
      return { profiles: ingestText(format, req, meta) };
    case "pprof":
      return { profiles: await ingestPprof(req.body, undefined, req, meta) };
    case "multipart":
      return { profiles: await ingestMultipart(req, meta) };
    case "jfr":
      return { profiles: await ingestJfr(req, meta) };
    case "speedscope":
      return { profiles: ingestSpeedscope(req, meta) };
    case "cpuprofile":
    case "perf-script":
      return { profiles: ingestScriptFormat(format, req, meta) };
    case "trie":
    case "tree":
      throw new IngestHttpError(
        422,
        "unknown",
        "unsupported_format",
        `format ${format} is not supported yet`,
      );
  }
}

function parseMeta(query: URLSearchParams, nowMs: number): RequestMeta {
  let parsed: ReturnType<typeof parseAppName>;
  try {
    parsed = parseAppName(query.get("name") ?? "");
  } catch (err) {
    throw asStatus(err, 400, "invalid_argument");
  }
  const nowNanos = BigInt(Math.trunc(nowMs)) * 1_000_000n;
  const from = query.get("from");
  const until = query.get("until");
  // Pyroscope reads sampleRate with Atoi and falls back to 100 on error; a negative rate
  // would wrap in its uint32, the wire reference settles it as 100 too.
  const rateText = query.get("sampleRate");
  const rate =
    rateText === null || !/^[+-]?\d{1,10}$/.test(rateText) ? defaultSampleRateHz : Number(rateText);
  const spy = query.get("spyName");
  return {
    appName: parsed.appName,
    tags: parsed.tags,
    fromNanos: from ? parseTimeNanos(from, nowMs) : nowNanos,
    untilNanos: until ? parseTimeNanos(until, nowMs) : nowNanos,
    sampleRateHz: rate < 0 ? defaultSampleRateHz : rate,
    spyName: spy ? spy : "unknown",
  };
}

function ingestText(
  format: "folded" | "lines",
  req: IngestHttpRequest,
  meta: RequestMeta,
): NormalizedProfile[] {
  const { limits } = req;
  const textLimits = textPathLimits(limits);
  let parsed: ParsedStacks;
  try {
    parsed = format === "lines" ? parseLines(req.body, textLimits) : parseFolded(req.body, textLimits);
  } catch (err) {
    // Upstream's parse runs before its limits: any parse failure is a conversion error (422).
    // Kiln's early limit checks (size, distinct stacks) stand in for storage-side validation,
    // which answers with the error's own code.
    if (err instanceof KilnError && err.reason !== "malformed_folded") throw asStatus(err);
    throw asStatus(err, 422, "unknown");
  }
  // Legacy exemplar uploads: Pyroscope drops them silently (§2.2 gotcha).
  if ((meta.tags.get("profile_id") ?? "") !== "") return [];
  try {
    const type = suffixProfileType(meta.appName);
    if (parsed.stacks.length === 0) return [];
    const labels = textPathLabels(meta, type.serviceName, type.metricName);
    const pprof = textStacksToPprof(parsed, {
      type,
      sampleRate: meta.sampleRateHz,
      timeNanos: meta.fromNanos,
    });
    return normalizePprof(pprof, {
      seriesLabels: labels,
      limits,
      nowMs: req.nowMs,
      fallbackTimeNanos: meta.fromNanos,
      ...(req.profileIdFor ? { profileIdFor: req.profileIdFor } : {}),
    });
  } catch (err) {
    throw asStatus(err);
  }
}

/** Series labels of the text-like paths (§2.2's folded / … / speedscope row). */
function textPathLabels(meta: RequestMeta, serviceName: string, metricName: string): Label[] {
  const labels: Label[] = [
    [LabelName.metricName, metricName],
    [LabelName.delta, "false"],
  ];
  if (meta.spyName !== "") labels.push([LabelName.spy, meta.spyName]);
  labels.push(...allowedTags(meta.tags));
  if (!meta.tags.has(LabelName.serviceName)) labels.push([LabelName.serviceName, serviceName]);
  else if (!meta.tags.has(LabelName.appName)) labels.push([LabelName.appName, serviceName]);
  return labels;
}

function textPathLimits(limits: IngestLimits): TextStackLimits {
  return {
    maxDecodedBytes: limits.maxProfileSizeBytes > 0 ? limits.maxProfileSizeBytes : Number.MAX_SAFE_INTEGER,
    maxDistinctStacks: limits.maxProfileSamples,
    maxStackDepth: limits.maxStackDepth,
  };
}

/**
 * speedscope (§2.4.7): one pprof per merged profile, labelled like the text path plus
 * `profile_name`. As upstream, where the whole conversion and storage call sits behind the
 * speedscope parser, every failure after the name and size checks answers 422 — including an
 * unknown app-name suffix and limits.
 */
function ingestSpeedscope(req: IngestHttpRequest, meta: RequestMeta): NormalizedProfile[] {
  try {
    const parsed = parseSpeedscope(req.body, textPathLimits(req.limits));
    if ((meta.tags.get("profile_id") ?? "") !== "") return [];
    const out: NormalizedProfile[] = [];
    for (const profile of speedscopeToPprofs(parsed, {
      appName: meta.appName,
      sampleRate: meta.sampleRateHz,
      timeNanos: meta.fromNanos,
    })) {
      const labels = textPathLabels(meta, profile.serviceName, profile.metricName).filter(
        ([name]) => name !== "profile_name",
      );
      labels.push(["profile_name", profile.profileName]);
      out.push(...normalizeTextPprof(profile.pprof, labels, req, meta));
    }
    return out;
  } catch (err) {
    throw asStatus(err, 422, "unknown");
  }
}

/**
 * Kiln's extra text-like formats, V8 `.cpuprofile` and `perf script` output: the app name's
 * suffix picks the type as for folded (§2.6); a parse failure answers 422, later failures
 * (unknown suffix, limits, validation) their own code's status, as on the folded path.
 */
function ingestScriptFormat(
  format: "cpuprofile" | "perf-script",
  req: IngestHttpRequest,
  meta: RequestMeta,
): NormalizedProfile[] {
  const limits = textPathLimits(req.limits);
  let parsed: FrameStacks | CpuProfile;
  try {
    parsed = format === "cpuprofile" ? parseCpuProfile(req.body, limits) : parsePerfScript(req.body, limits);
  } catch (err) {
    if (err instanceof KilnError && !err.reason.startsWith("malformed_")) throw asStatus(err);
    throw asStatus(err, 422, "unknown");
  }
  if ((meta.tags.get("profile_id") ?? "") !== "") return [];
  try {
    const type = suffixProfileType(meta.appName);
    const pprof =
      parsed instanceof FrameStacks
        ? parsed.stackCount === 0
          ? undefined
          : frameStacksToPprof(parsed, { type, sampleRate: meta.sampleRateHz, timeNanos: meta.fromNanos })
        : cpuProfileToPprof(parsed, { type, sampleRate: meta.sampleRateHz, timeNanos: meta.fromNanos });
    if (!pprof || pprof.sampleCount === 0) return [];
    return normalizeTextPprof(pprof, textPathLabels(meta, type.serviceName, type.metricName), req, meta);
  } catch (err) {
    throw asStatus(err);
  }
}

function normalizeTextPprof(
  pprof: Pprof,
  labels: Label[],
  req: IngestHttpRequest,
  meta: RequestMeta,
): NormalizedProfile[] {
  return normalizePprof(pprof, {
    seriesLabels: labels,
    limits: req.limits,
    nowMs: req.nowMs,
    fallbackTimeNanos: meta.fromNanos,
    ...(req.profileIdFor ? { profileIdFor: req.profileIdFor } : {}),
  });
}

async function ingestMultipart(req: IngestHttpRequest, meta: RequestMeta): Promise<NormalizedProfile[]> {
  let files: Map<string, Uint8Array>;
  try {
    files = parseMultipart(req.body, req.contentType ?? "", {
      maxParts: maxMultipartParts,
      maxPartBytes: req.limits.maxBodyBytes > 0 ? req.limits.maxBodyBytes : req.body.length,
    });
  } catch (err) {
    throw asStatus(err, 422, "unknown");
  }
  const profile = files.get("profile");
  if (files.has("prev_profile")) {
    throw new IngestHttpError(
      422,
      "unknown",
      "unsupported_client",
      "unsupported client version. Please update github.com/grafana/pyroscope-go to the latest version",
    );
  }
  const configBytes = files.get("sample_type_config");
  const config = configBytes ? parseSampleTypeConfig(configBytes) : undefined;
  if (!profile) return [];
  return ingestPprof(profile, config, req, meta);
}

async function ingestPprof(
  bytes: Uint8Array,
  sampleTypeConfig: Record<string, SampleTypeConfig> | undefined,
  req: IngestHttpRequest,
  meta: RequestMeta,
): Promise<NormalizedProfile[]> {
  if (bytes.length === 0) return [];
  try {
    const pprof = await decodePprofAsync(bytes, {
      maxDecompressedBytes: req.limits.maxProfileSizeBytes,
      // Pyroscope refuses strings that are not UTF-8 (422 here, 400 on Push): match it.
      invalidUtf8: "reject",
    });
    rewriteScriptingFunctionNames(pprof, meta.spyName);
    const labels: Label[] = [
      [LabelName.metricName, pprofMetricName(pprof, sampleTypeConfig)],
      [LabelName.delta, "false"],
      [LabelName.spy, meta.spyName],
    ];
    if (!meta.tags.has(LabelName.serviceName)) labels.push([LabelName.serviceName, meta.appName]);
    labels.push(...allowedTags(meta.tags));
    return normalizePprof(pprof, {
      seriesLabels: labels,
      limits: req.limits,
      nowMs: req.nowMs,
      fallbackTimeNanos: meta.fromNanos,
      dashedSampleTypes: isDotnet(meta.spyName, sampleTypeConfig) ? "replace" : "reject",
      ...(req.profileIdFor ? { profileIdFor: req.profileIdFor } : {}),
    });
  } catch (err) {
    // Decoding and everything after it on the pprof path fail the request with 422.
    throw asStatus(err, 422, "unknown");
  }
}

/**
 * Decompressed JFR recordings (and labels parts) are capped here, on top of the body limit:
 * a gzip bomb costs at most this much memory.
 */
const maxJfrBytes = 64 * 1024 * 1024;

/**
 * JFR (§2.4.3): a raw recording, or multipart with a required `jfr` part and an optional
 * `labels` part (pyroscope-java's LabelsSnapshot), each gzip-sniffed. One pprof per profile
 * kind, labelled per §2.2's JFR row, then normalized as any pprof. Every failure, from the
 * form to label validation, answers 422 as upstream.
 */
async function ingestJfr(req: IngestHttpRequest, meta: RequestMeta): Promise<NormalizedProfile[]> {
  const maxBytes = req.limits.maxBodyBytes > 0 ? Math.min(req.limits.maxBodyBytes, maxJfrBytes) : maxJfrBytes;
  try {
    let jfr = req.body;
    let labels: LabelsSnapshot | undefined;
    if ((req.contentType ?? "").includes("multipart/form-data")) {
      const files = parseMultipart(req.body, req.contentType ?? "", {
        maxParts: maxMultipartParts,
        maxPartBytes: req.limits.maxBodyBytes > 0 ? req.limits.maxBodyBytes : req.body.length,
      });
      const part = files.get("jfr");
      if (!part) {
        throw new IngestHttpError(422, "unknown", "malformed_jfr", "jfr field is required");
      }
      jfr = part;
      const labelsPart = files.get("labels");
      if (labelsPart && labelsPart.length > 0) {
        labels = decodeLabelsSnapshot(await inflateJfrPart(labelsPart, maxBytes, "labels"));
      }
    }
    const recording = await inflateJfrPart(jfr, maxBytes, "jfr");
    const conversion = jfrToPprof(recording, {
      sampleRate: meta.sampleRateHz,
      startNanos: meta.fromNanos,
      endNanos: meta.untilNanos,
      ...(labels ? { labels } : {}),
    });
    const out: NormalizedProfile[] = [];
    for (const profile of conversion.profiles) {
      const labels: Label[] = allowedTags(meta.tags);
      labels.push(
        [LabelName.spy, meta.spyName],
        [LabelName.delta, "false"],
        [meta.tags.has(LabelName.serviceName) ? LabelName.appName : LabelName.serviceName, meta.appName],
        [LabelName.metricName, profile.metricName],
      );
      if (conversion.event !== "") labels.push(["jfr_event", conversion.event]);
      out.push(
        ...normalizePprof(profile.pprof, {
          seriesLabels: labels,
          limits: req.limits,
          nowMs: req.nowMs,
          fallbackTimeNanos: meta.fromNanos,
          ...(req.profileIdFor ? { profileIdFor: req.profileIdFor } : {}),
        }),
      );
    }
    return out;
  } catch (err) {
    throw asStatus(err, 422, "unknown");
  }
}

/** gzip-sniffed, size-capped bytes of a JFR upload part; too short to sniff is an error. */
async function inflateJfrPart(bytes: Uint8Array, maxBytes: number, what: string): Promise<Uint8Array> {
  if (bytes.length < 2) {
    throw new KilnError("invalid_argument", "malformed_jfr", `${what}: ${bytes.length} bytes is too short`);
  }
  return inflateProfileAsync(bytes, maxBytes);
}

/** Tags become series labels unless private (`__…`), except `__session_id__` (§2.2). */
function allowedTags(tags: Map<string, string>): Label[] {
  const out: Label[] = [];
  for (const [name, value] of tags) {
    if (!name.startsWith("__") || name === LabelName.sessionId) out.push([name, value]);
  }
  return out;
}

/**
 * `sample_type_config` as Go unmarshals it into map[string]*SampleTypeConfig: an object (or
 * null) of objects (or null) whose known keys have the right JSON types; anything else → 422.
 */
export function parseSampleTypeConfig(bytes: Uint8Array): Record<string, SampleTypeConfig> | undefined {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    throw new IngestHttpError(
      422,
      "unknown",
      "malformed_sample_type_config",
      `sample_type_config: ${String(err)}`,
    );
  }
  if (json === null) return undefined;
  if (typeof json !== "object" || Array.isArray(json)) {
    throw badConfig("want a JSON object keyed by sample type");
  }
  const config: Record<string, SampleTypeConfig> = {};
  for (const [type, entry] of Object.entries(json)) {
    if (entry === null) continue;
    if (typeof entry !== "object" || Array.isArray(entry))
      throw badConfig(`${JSON.stringify(type)}: want an object`);
    const e = entry as Record<string, unknown>;
    const out: SampleTypeConfig = {};
    for (const key of ["units", "display-name", "aggregation"] as const) {
      const v = e[key];
      if (v === undefined || v === null) continue;
      if (typeof v !== "string") throw badConfig(`${JSON.stringify(type)}.${key}: want a string`);
      out[key] = v;
    }
    for (const key of ["cumulative", "sampled"] as const) {
      const v = e[key];
      if (v === undefined || v === null) continue;
      if (typeof v !== "boolean") throw badConfig(`${JSON.stringify(type)}.${key}: want a boolean`);
      out[key] = v;
    }
    config[type] = out;
  }
  return config;
}

function badConfig(message: string): IngestHttpError {
  return new IngestHttpError(
    422,
    "unknown",
    "malformed_sample_type_config",
    `sample_type_config: ${message}`,
  );
}

/** Pyroscope's isDotnetspy: the spy name, or `unknown` with a config that has `inuse-space`. */
function isDotnet(spyName: string, config: Record<string, SampleTypeConfig> | undefined): boolean {
  if (spyName === "dotnetspy") return true;
  const effective = config ?? defaultSampleTypeConfig;
  return spyName === "unknown" && Object.hasOwn(effective, "inuse-space");
}

/**
 * pyspy/rbspy/scripting: function names become `"<filename> <function>"` (the old UI showed
 * files that way). pyspy functions whose file name is absolute are left alone: newer
 * pyroscope-rs sends absolute paths, and Pyroscope stopped rewriting those.
 */
function rewriteScriptingFunctionNames(pprof: Pprof, spyName: string): void {
  if (!scriptingSpies.has(spyName)) return;
  const interned = new Map<string, number>();
  for (let f = 0; f < pprof.functionCount; f++) {
    const filename = pprof.strings[pprof.functionFilenameStr[f]!] ?? "";
    if (spyName === "pyspy" && filename.startsWith("/")) continue;
    const name = `${filename} ${pprof.strings[pprof.functionNameStr[f]!] ?? ""}`;
    let index = interned.get(name);
    if (index === undefined) {
      index = pprof.strings.length;
      pprof.strings.push(name);
      interned.set(name, index);
    }
    pprof.functionNameStr[f] = index;
  }
}

/**
 * Wraps an error with the status it gets at this point of the request. Without an explicit
 * status, a KilnError keeps its code's status; anything else is a bug → 500.
 */
function asStatus(err: unknown, status?: number, code?: KilnError["code"]): IngestHttpError {
  if (err instanceof IngestHttpError) return err;
  if (err instanceof KilnError) {
    return new IngestHttpError(
      status ?? httpStatusOfCode[err.code],
      code ?? err.code,
      err.reason,
      err.message,
      {
        cause: err,
      },
    );
  }
  if (status === undefined) throw err;
  return new IngestHttpError(status, code ?? "unknown", "conversion_failed", String(err), { cause: err });
}

/**
 * `kiln push`: send profile files to a running server through its public ingest endpoints,
 * one request per file (`/ingest?name=<service>{labels}&format=…`, or OTLP/HTTP
 * `/v1development/profiles`), a few at a time. Each file's format is detected from its
 * content unless `--format` says it (see detectFormat); a line per file on stderr says
 * whether it was stored or why the server refused it.
 *
 * Exit status: 0 when every file was stored, 1 when any was refused or could not be sent,
 * 2 for usage errors (unknown flag, missing --service, unreadable file).
 */
import { readFile, stat } from "node:fs/promises";
import { parseArgs } from "node:util";
import { gunzipSync, constants as zlibConstants } from "node:zlib";

/** Same default as `kiln query --url`. */
const DEFAULT_URL = "http://localhost:4040";

export const PUSH_FORMATS = [
  "auto",
  "pprof",
  "jfr",
  "otlp",
  "folded",
  "speedscope",
  "cpuprofile",
  "perf-script",
] as const;
export type PushFormat = Exclude<(typeof PUSH_FORMATS)[number], "auto">;

export const PUSH_HELP = `Usage: kiln push FILE... --service NAME [options]

Push profile files to a running Kiln (or Pyroscope) server, one request per file.

Options:
  --service NAME      Service (app) name the profiles are stored under. Required, except
                      with --format otlp (OTLP carries service.name itself).
  --labels k=v,...    Extra labels for every file, e.g. env=prod,region=eu.
  --format FORMAT     auto (default), pprof, jfr, otlp, folded, speedscope, cpuprofile or
                      perf-script. auto looks at each file: gzip (pprof or JFR inside), JFR,
                      speedscope / V8 .cpuprofile / OTLP JSON, perf script text, else folded.
                      OTLP protobuf looks like pprof: pass --format otlp for it.
  --url URL           Server. Default ${DEFAULT_URL}.
  --tenant T          Tenant, sent as X-Scope-OrgID.
  --concurrency N     Files in flight at once. Default 4.
  -h, --help          Show this help.

Prints one line per file on stderr ("[3/40] cpu.pb.gz: stored" or "refused (422): …") and
a summary on stdout. Exit status: 0 all stored, 1 any refused or failed, 2 usage error.
`;

type Out = { write(text: string): unknown };

class UsageError extends Error {}

export interface PushOptions {
  files: string[];
  service?: string;
  labels: [string, string][];
  format: PushFormat | "auto";
  url: string;
  tenant?: string;
  concurrency: number;
}

export async function runPushCli(
  argv: readonly string[],
  out: Out = process.stdout,
  err: Out = process.stderr,
): Promise<number> {
  let options: PushOptions | "help";
  try {
    options = parsePushArgs(argv);
    if (options !== "help") for (const file of options.files) await checkFile(file);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    err.write(`kiln push: ${error.message}\n(see kiln push --help)\n`);
    return 2;
  }
  if (options === "help") {
    out.write(PUSH_HELP);
    return 0;
  }
  const results = await pushFiles(options, (line) => err.write(`${line}\n`));
  const stored = results.filter((r) => r.ok).length;
  const bytes = results.reduce((sum, r) => sum + (r.ok ? r.bytes : 0), 0);
  out.write(
    `pushed ${results.length} file${results.length === 1 ? "" : "s"} to ${options.url}: ` +
      `${stored} stored (${bytes} bytes), ${results.length - stored} refused\n`,
  );
  return stored === results.length ? 0 : 1;
}

export function parsePushArgs(argv: readonly string[]): PushOptions | "help" {
  let parsed: ReturnType<typeof parseFlags>;
  try {
    parsed = parseFlags(argv);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return "help";
  if (positionals.length === 0) throw new UsageError("no files given");
  const format = values.format ?? "auto";
  if (!(PUSH_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format "${format}" is not one of ${PUSH_FORMATS.join(", ")}`);
  }
  const service = values.service;
  if (service !== undefined && !/^[A-Za-z0-9_.\-/]+$/.test(service)) {
    throw new UsageError(`--service "${service}": use letters, digits and _ . - /`);
  }
  if (service === undefined && format !== "otlp") throw new UsageError("--service is required");
  const labels = parseLabels(values.labels ?? "");
  const url = (values.url ?? DEFAULT_URL).replace(/\/+$/, "");
  if (!/^https?:\/\/[^/]/.test(url))
    throw new UsageError(`--url: "${url}" is not an http:// or https:// URL`);
  if (values.tenant === "") throw new UsageError("--tenant is empty");
  const concurrency = Number(values.concurrency ?? 4);
  if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 256) {
    throw new UsageError(`--concurrency "${values.concurrency}" is not an integer from 1 to 256`);
  }
  return {
    files: positionals,
    ...(service === undefined ? {} : { service }),
    labels,
    format: format as PushOptions["format"],
    url,
    ...(values.tenant === undefined ? {} : { tenant: values.tenant }),
    concurrency,
  };
}

function parseFlags(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      service: { type: "string" },
      labels: { type: "string" },
      format: { type: "string" },
      url: { type: "string" },
      tenant: { type: "string" },
      concurrency: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}

/** `k=v,k2=v2` → pairs; keys as the ingest name parser accepts them, values without `,` `}`. */
export function parseLabels(text: string): [string, string][] {
  const pairs: [string, string][] = [];
  for (const item of text.split(",")) {
    if (item.trim() === "") continue;
    const eq = item.indexOf("=");
    if (eq <= 0) throw new UsageError(`--labels: "${item}" is not key=value`);
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    if (!/^[A-Za-z0-9_.]+$/.test(key)) throw new UsageError(`--labels: invalid label name "${key}"`);
    if (/[{}]/.test(value)) throw new UsageError(`--labels: value of "${key}" may not contain { or }`);
    pairs.push([key, value]);
  }
  return pairs;
}

async function checkFile(file: string): Promise<void> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(file);
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  if (!info.isFile()) throw new UsageError(`${file} is not a file`);
}

const GZIP_MAGIC = [0x1f, 0x8b];
const JFR_MAGIC = [0x46, 0x4c, 0x52, 0x00]; // "FLR\0"

function startsWith(data: Uint8Array, magic: readonly number[]): boolean {
  return data.length >= magic.length && magic.every((b, i) => data[i] === b);
}

/**
 * The format of a file, by content: gzip → JFR when the inflated start is `FLR\0`, else
 * pprof; `FLR\0` → JFR; JSON with a speedscope `$schema` → speedscope, with `nodes` or `head`
 * → V8 cpuprofile, with `resourceProfiles` → OTLP; binary (not UTF-8 text) → pprof; text with
 * `perf script` sample headers → perf-script; any other text → folded.
 */
export function detectFormat(data: Uint8Array): PushFormat {
  if (startsWith(data, GZIP_MAGIC)) {
    let head: Uint8Array;
    try {
      // Only the start matters; a sync flush accepts the truncated input.
      head = gunzipSync(data.subarray(0, 64 * 1024), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    } catch {
      return "pprof"; // not valid gzip: let the server say so
    }
    return startsWith(head, JFR_MAGIC) ? "jfr" : "pprof";
  }
  if (startsWith(data, JFR_MAGIC)) return "jfr";
  // UTF-16 text (with a byte-order mark) is folded: the server decodes it.
  if (startsWith(data, [0xff, 0xfe]) || startsWith(data, [0xfe, 0xff])) return "folded";
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(data.subarray(0, 1024 * 1024));
  } catch {
    // Invalid UTF-8 within the first MiB (a cut multi-byte character at the end aside).
    if (data.length <= 1024 * 1024 || !validUtf8Prefix(data)) return "pprof";
    text = new TextDecoder().decode(data.subarray(0, 1024 * 1024));
  }
  if (text.includes("\u0000")) return "pprof";
  const trimmed = text.trimStart();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    const json = jsonKind(data);
    if (json !== undefined) return json;
  }
  if (looksLikePerfScript(text)) return "perf-script";
  return "folded";
}

function validUtf8Prefix(data: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(data.subarray(0, 1024 * 1024 - 4));
    return true;
  } catch {
    return false;
  }
}

function jsonKind(data: Uint8Array): PushFormat | undefined {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const doc = value as Record<string, unknown>;
  if (typeof doc.$schema === "string" && doc.$schema.includes("speedscope")) return "speedscope";
  if ("resourceProfiles" in doc) return "otlp";
  if (Array.isArray(doc.nodes) || (typeof doc.head === "object" && doc.head !== null)) return "cpuprofile";
  return undefined;
}

/**
 * `perf script` output: a sample header line `comm pid[/tid] [cpu] seconds.micros: [period]
 * event:` followed by indented frames. Folded lines (`a;b;c 12`) never carry the timestamp.
 */
const PERF_HEADER = /^\S.*?\s+\d+(?:\/\d+)?\s+(?:\[\d+\]\s+)?\d+\.\d+:\s+(?:\d+\s+)?[\w.:\-/]+:/;

function looksLikePerfScript(text: string): boolean {
  let checked = 0;
  for (const line of text.split("\n", 2000)) {
    if (line === "" || line.startsWith("#") || /^\s/.test(line)) continue;
    if (PERF_HEADER.test(line)) return true;
    if (++checked >= 20) break;
  }
  return false;
}

export interface PushResult {
  file: string;
  format: PushFormat;
  ok: boolean;
  bytes: number;
  /** HTTP status, or undefined when the request did not get an answer. */
  status?: number;
  message: string;
}

/** The request that sends one file: path, query, headers. */
export function pushRequest(
  options: Pick<PushOptions, "url" | "service" | "labels" | "tenant">,
  format: PushFormat,
  data: Uint8Array,
): { url: string; headers: Record<string, string> } {
  const headers: Record<string, string> = {};
  if (options.tenant !== undefined) headers["X-Scope-OrgID"] = options.tenant;
  if (format === "otlp") {
    let body = data;
    if (startsWith(data, GZIP_MAGIC)) {
      headers["Content-Encoding"] = "gzip";
      body = gunzipSync(data.subarray(0, 64 * 1024), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    }
    const json = new TextDecoder().decode(body.subarray(0, 64)).trimStart().startsWith("{");
    headers["Content-Type"] = json ? "application/json" : "application/x-protobuf";
    return { url: `${options.url}/v1development/profiles`, headers };
  }
  const labels = options.labels.map(([k, v]) => `${k}=${v}`).join(",");
  const name = `${options.service ?? ""}${labels === "" ? "" : `{${labels}}`}`;
  const query = new URLSearchParams({ name });
  // Folded is what /ingest does without a format.
  if (format !== "folded") query.set("format", format);
  headers["Content-Type"] = format === "folded" ? "text/plain" : "application/octet-stream";
  return { url: `${options.url}/ingest?${query}`, headers };
}

async function pushOne(options: PushOptions, file: string): Promise<PushResult> {
  const data = await readFile(file);
  const format = options.format === "auto" ? detectFormat(data) : options.format;
  if (format !== "otlp" && options.service === undefined) {
    return { file, format, ok: false, bytes: data.length, message: "not sent: --service is required" };
  }
  const { url, headers } = pushRequest(options, format, data);
  try {
    const res = await fetch(url, { method: "POST", headers, body: data });
    const text = (await res.text()).trim();
    if (res.ok) return { file, format, ok: true, bytes: data.length, status: res.status, message: "stored" };
    return {
      file,
      format,
      ok: false,
      bytes: data.length,
      status: res.status,
      message: text === "" ? res.statusText : oneLine(text),
    };
  } catch (error) {
    const cause = (error as { cause?: { message?: string; code?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (error as Error).message;
    return { file, format, ok: false, bytes: data.length, message: `not sent: ${why}` };
  }
}

/** A plain-text or JSON error body as one readable line. */
function oneLine(text: string): string {
  try {
    const body = JSON.parse(text) as { message?: unknown; error?: unknown };
    const message = body.message ?? body.error;
    if (typeof message === "string") return message;
  } catch {
    // not JSON
  }
  return text.replace(/\s*\n\s*/g, " ").slice(0, 2000);
}

/** Pushes every file, at most `concurrency` at once; results in argument order. */
export async function pushFiles(
  options: PushOptions,
  progress: (line: string) => void,
): Promise<PushResult[]> {
  const results: PushResult[] = new Array(options.files.length);
  const total = options.files.length;
  const width = String(total).length;
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const index = next++;
      const file = options.files[index]!;
      let result: PushResult;
      try {
        result = await pushOne(options, file);
      } catch (error) {
        result = {
          file,
          format: "pprof",
          ok: false,
          bytes: 0,
          message: `not sent: ${(error as Error).message}`,
        };
      }
      results[index] = result;
      done++;
      const what = result.ok
        ? `stored (${result.format}, ${result.bytes} bytes)`
        : result.status === undefined
          ? `failed (${result.format}): ${result.message}`
          : `refused (${result.status}, ${result.format}): ${result.message}`;
      const counter = total > 1 ? `[${String(done).padStart(width)}/${total}] ` : "";
      progress(`${counter}${file}: ${what}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, total) }, worker));
  return results;
}

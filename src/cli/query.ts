/**
 * `kiln query <subcommand> [options]`: flame graphs as a top table or folded stacks, time
 * series, label names and values, profile types, and pprof export, from a running server
 * (`--url`, the default, over querier.v1 so any Pyroscope-compatible server answers) or from
 * a Kiln data folder read in this process (`--data-dir`).
 *
 * Exit status: 0 on success, 1 when the query fails (server error, unreachable server, bad
 * data folder), 2 for usage errors (unknown subcommand or flag, invalid value).
 */
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { DEFAULT_METASTORE_FILE } from "../metastore/sqlite.ts";
import { formatLabels } from "../model/labels.ts";
import { parseProfileTypeId } from "../model/profile-type.ts";
import { formatSelector, newMatcher, parseQuery } from "../model/selector.ts";
import { parseTime } from "../model/time.ts";
import type { SeriesResult, TimeRange } from "../query/engine.ts";
import { topBy, topTable } from "../query/top.ts";
import { childrenByName, type NameTree } from "../query/tree.ts";
import { LocalSource, type Protocol, type QuerySource, RemoteSource } from "./query-source.ts";

export const DEFAULT_URL = "http://localhost:4040";
export const DEFAULT_PROFILE_TYPE = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
const DEFAULT_TOP_LIMIT = 20;
const DEFAULT_TIMEOUT_MS = 300_000;
/** Points per series the automatic step aims at. */
const AUTO_STEP_POINTS = 100;
const MIN_AUTO_STEP_MS = 10_000;
/** The label Kiln and Pyroscope keep the profile type ID under. */
const PROFILE_TYPE_LABEL = "__profile_type__";

const SUBCOMMANDS = {
  top: "Functions by self or total value of the merged flame graph, as a table.",
  folded: "The merged flame graph as folded stacks: `root;…;leaf value` per line.",
  series: "Per-profile totals over time (SelectSeries), per --group-by combination.",
  labels: "Label names of the matching series.",
  "label-values": "Values of label NAME on the matching series (kiln query label-values NAME).",
  "profile-types": "Profile types with data in the range.",
  export: "The merged profile as a gzipped pprof file (--out FILE, - for stdout).",
} as const;

type Subcommand = keyof typeof SUBCOMMANDS;
const STACK_COMMANDS: readonly Subcommand[] = ["top", "folded", "series", "export"];

interface FlagSpec {
  value: string;
  help: string;
  /** Subcommands it applies to; absent = all. */
  only?: readonly Subcommand[];
  repeatable?: boolean;
}

const FLAGS: Readonly<Record<string, FlagSpec>> = {
  "--url": { value: "<url>", help: `Server to ask (querier.v1 API). Default ${DEFAULT_URL}.` },
  "--data-dir": {
    value: "<dir>",
    help: "Read a Kiln data folder in this process instead of asking a server.",
  },
  "--tenant": {
    value: "<id>",
    help: "Tenant (sent as X-Scope-OrgID). Default: none over --url, anonymous with --data-dir.",
  },
  "--from": {
    value: "<time>",
    help: "Range start: now-1h, now-30m, unix seconds/ms/ns, YYYYMMDD. Default now-1h.",
  },
  "--until": { value: "<time>", help: "Range end, same forms. Default now." },
  "--query": {
    value: "<query>",
    help: `Profile type and selector, e.g. '${DEFAULT_PROFILE_TYPE}{service_name="api"}'. The profile type defaults to ${DEFAULT_PROFILE_TYPE} for top, folded, series and export; labels, label-values and profile-types use only what is given.`,
  },
  "--limit": {
    value: "<n>",
    help: `top: rows shown (default ${DEFAULT_TOP_LIMIT}, 0 = all); series: keep the N largest series (default all).`,
    only: ["top", "series"],
  },
  "--sort": { value: "self|total", help: "top: order by self (default) or total.", only: ["top"] },
  "--step": {
    value: "<duration>",
    help: `series: step, e.g. 15s, 1m, 1h (a bare number is seconds). Default: the range / ${AUTO_STEP_POINTS}, at least ${MIN_AUTO_STEP_MS / 1000}s.`,
    only: ["series"],
  },
  "--group-by": {
    value: "<label>",
    help: "series: one series per value of this label; repeat or comma-separate for several.",
    only: ["series"],
    repeatable: true,
  },
  "--aggregation": {
    value: "sum|average",
    help: "series: how profiles in one step combine. Default sum.",
    only: ["series"],
  },
  "--out": {
    value: "<file>",
    help: "export: file to write (gzipped pprof); - writes to stdout.",
    only: ["export"],
  },
  "--protocol": {
    value: "connect|connect-json|grpc",
    help: "Wire protocol with --url: Connect binary (default), Connect JSON, or gRPC.",
  },
  "--timeout": { value: "<duration>", help: "Deadline of each call to the server. Default 5m." },
};

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export interface QueryOptions {
  subcommand: Subcommand;
  /** label-values: the label name. */
  labelName?: string;
  url: string;
  dataDir?: string;
  tenant?: string;
  range: TimeRange;
  /** Profile type from --query (or the default for stack commands). */
  profileType?: string;
  /** Selector text from --query, without the profile type: `{…}`. */
  selector: string;
  /** Whether --query gave any matcher or profile type. */
  queryGiven: boolean;
  limit?: number;
  sort: "self" | "total";
  stepMs?: number;
  groupBy: string[];
  aggregation: "sum" | "average";
  out?: string;
  protocol: Protocol;
  timeoutMs: number;
}

/** Help text of `kiln query --help`. */
export function queryHelpText(): string {
  const lines = [
    "Usage: kiln query <subcommand> [options]",
    "",
    "Query profiles from a running server (Kiln or any Pyroscope-compatible one) or a Kiln data folder.",
    "",
    "Subcommands:",
  ];
  for (const [name, help] of Object.entries(SUBCOMMANDS)) lines.push(`  ${name.padEnd(15)}${help}`);
  lines.push("", "Options (--name value or --name=value):");
  for (const [flag, spec] of Object.entries(FLAGS)) {
    lines.push(`  ${flag} ${spec.value}`, `      ${spec.help}`);
  }
  lines.push(
    "  -h, --help",
    "      Show this help.",
    "",
    "Examples:",
    `  kiln query top --from now-6h --query '${DEFAULT_PROFILE_TYPE}{service_name="api"}' --limit 10`,
    `  kiln query folded --query '{service_name="api"}' > api.folded`,
    "  kiln query series --step 1m --group-by pod --query '{service_name=\"api\"}'",
    "  kiln query label-values service_name",
    "  kiln query export --out api.pb.gz --query '{service_name=\"api\"}' && go tool pprof -top api.pb.gz",
    "",
  );
  return lines.join("\n");
}

/** Parses a duration: `500ms`, `15s`, `1m`, `2h`, `1d`, or a bare number of seconds. */
export function parseDurationMs(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (m === null) throw new UsageError(`${what}: "${text}" is not a duration (e.g. 30s, 1m, 1h)`);
  const unit = m[2] ?? "s";
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit]!;
  const ms = Number(m[1]) * factor;
  if (!(ms > 0) || !Number.isFinite(ms)) throw new UsageError(`${what}: "${text}" must be positive`);
  return ms;
}

/** Parses the arguments after `kiln query`. Throws UsageError. */
export function parseQueryArgs(argv: readonly string[], nowMs: number): QueryOptions {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError("missing subcommand (see kiln query --help)");
  if (!Object.hasOwn(SUBCOMMANDS, first)) {
    throw new UsageError(`unknown subcommand "${first}" (see kiln query --help)`);
  }
  const subcommand = first as Subcommand;
  const values = new Map<string, string[]>();
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (!arg.startsWith("--") || arg === "--") {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const spec = FLAGS[name];
    if (spec === undefined) throw new UsageError(`unknown flag ${name} (see kiln query --help)`);
    if (spec.only !== undefined && !spec.only.includes(subcommand)) {
      throw new UsageError(
        `flag ${name} does not apply to "${subcommand}" (only to ${spec.only.join(", ")})`,
      );
    }
    let value: string;
    if (eq !== -1) {
      value = arg.slice(eq + 1);
    } else {
      const next = rest[i + 1];
      if (next === undefined) throw new UsageError(`flag ${name} needs a value`);
      value = next;
      i++;
    }
    const list = values.get(name) ?? [];
    if (list.length > 0 && !spec.repeatable) throw new UsageError(`flag ${name} given twice`);
    list.push(value);
    values.set(name, list);
  }
  const one = (name: string): string | undefined => values.get(name)?.[0];

  let labelName: string | undefined;
  if (subcommand === "label-values") {
    if (positional.length !== 1) throw new UsageError("label-values needs exactly one label NAME");
    labelName = positional[0]!;
    if (labelName === "") throw new UsageError("label-values: the label NAME is empty");
  } else if (positional.length > 0) {
    throw new UsageError(`unexpected argument "${positional[0]}" (options start with --)`);
  }

  const dataDir = one("--data-dir");
  if (dataDir !== undefined && values.has("--url"))
    throw new UsageError("give either --url or --data-dir, not both");
  if (dataDir !== undefined && values.has("--protocol"))
    throw new UsageError("--protocol applies to --url only");
  const url = one("--url") ?? DEFAULT_URL;
  if (!/^https?:\/\/[^/]/.test(url))
    throw new UsageError(`--url: "${url}" is not an http:// or https:// URL`);

  const startMs = parseTime(one("--from") ?? "now-1h", nowMs);
  const endMs = parseTime(one("--until") ?? "now", nowMs);
  if (endMs < startMs) throw new UsageError(`the range ends (--until) before it starts (--from)`);

  let profileType: string | undefined;
  let selector = "{}";
  const queryText = one("--query");
  if (queryText !== undefined && queryText.trim() !== "") {
    let parsed: ReturnType<typeof parseQuery>;
    try {
      parsed = parseQuery(queryText);
    } catch (err) {
      throw new UsageError(`--query: ${(err as Error).message}`);
    }
    profileType = parsed.profileTypeId;
    selector = formatSelector(parsed.matchers);
  }
  const queryGiven = profileType !== undefined || selector !== "{}";
  if (profileType === undefined && STACK_COMMANDS.includes(subcommand)) profileType = DEFAULT_PROFILE_TYPE;
  if (profileType !== undefined) {
    try {
      parseProfileTypeId(profileType);
    } catch (err) {
      throw new UsageError(`--query: ${(err as Error).message}`);
    }
  }

  let limit: number | undefined;
  const limitText = one("--limit");
  if (limitText !== undefined) {
    if (!/^\d+$/.test(limitText))
      throw new UsageError(`--limit: "${limitText}" is not a non-negative integer`);
    limit = Number(limitText);
  }
  const sort = one("--sort") ?? "self";
  if (sort !== "self" && sort !== "total") throw new UsageError(`--sort: "${sort}" is not self or total`);
  const aggregation = one("--aggregation") ?? "sum";
  if (aggregation !== "sum" && aggregation !== "average") {
    throw new UsageError(`--aggregation: "${aggregation}" is not sum or average`);
  }
  const protocol = one("--protocol") ?? "connect";
  if (protocol !== "connect" && protocol !== "connect-json" && protocol !== "grpc") {
    throw new UsageError(`--protocol: "${protocol}" is not connect, connect-json or grpc`);
  }
  const stepText = one("--step");
  const timeoutText = one("--timeout");
  const groupBy = (values.get("--group-by") ?? [])
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter((v) => v !== "");
  const out = one("--out");
  if (subcommand === "export" && (out === undefined || out === "")) {
    throw new UsageError("export needs --out FILE (or --out - for stdout)");
  }
  const tenant = one("--tenant");
  if (tenant === "") throw new UsageError("--tenant is empty");

  return {
    subcommand,
    ...(labelName === undefined ? {} : { labelName }),
    url: url.replace(/\/+$/, ""),
    ...(dataDir === undefined ? {} : { dataDir }),
    ...(tenant === undefined ? {} : { tenant }),
    range: { startMs, endMs },
    ...(profileType === undefined ? {} : { profileType }),
    selector,
    queryGiven,
    ...(limit === undefined ? {} : { limit }),
    sort,
    ...(stepText === undefined ? {} : { stepMs: parseDurationMs(stepText, "--step") }),
    groupBy,
    aggregation,
    ...(out === undefined ? {} : { out }),
    protocol,
    timeoutMs: timeoutText === undefined ? DEFAULT_TIMEOUT_MS : parseDurationMs(timeoutText, "--timeout"),
  };
}

export interface QueryIo {
  /** Resolves once the text is handed to the OS (the caller may exit right after). */
  stdout: (text: string | Uint8Array) => Promise<void>;
  stderr: (text: string) => void;
}

/**
 * stdout writes that resolve when flushed: a pipe may be asynchronous, and main.ts calls
 * process.exit as soon as the command resolves, which would cut a large answer short.
 */
function processIo(): QueryIo {
  // `kiln query folded | head`: the reader going away is not an error of ours.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
  return {
    stdout: (text) =>
      new Promise((resolve, reject) => {
        process.stdout.write(text, (err) => (err ? reject(err) : resolve()));
      }),
    stderr: (text) => {
      process.stderr.write(text);
    },
  };
}

/** Runs `kiln query …` and resolves with the exit status. */
export async function runQueryCli(argv: readonly string[], io: QueryIo = processIo()): Promise<number> {
  if (argv.length === 0) {
    io.stderr(queryHelpText());
    return 2;
  }
  if (argv.includes("--help") || argv.includes("-h") || argv[0] === "help") {
    await io.stdout(queryHelpText());
    return 0;
  }
  let options: QueryOptions;
  try {
    options = parseQueryArgs(argv, Date.now());
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr(`kiln query: ${err.message}\n`);
    return 2;
  }
  let source: QuerySource;
  try {
    source = await openSource(options);
  } catch (err) {
    io.stderr(`kiln query: ${errorText(err)}\n`);
    return 1;
  }
  try {
    await runSubcommand(source, options, io);
    return 0;
  } catch (err) {
    io.stderr(`kiln query: ${source.description}: ${errorText(err)}\n`);
    return 1;
  } finally {
    await source.close();
  }
}

async function openSource(options: QueryOptions): Promise<QuerySource> {
  if (options.dataDir === undefined) {
    return new RemoteSource({
      url: options.url,
      protocol: options.protocol,
      timeoutMs: options.timeoutMs,
      ...(options.tenant === undefined ? {} : { tenant: options.tenant }),
    });
  }
  // Opening would create an empty store: a mistyped folder must be an error, not "no data".
  if (!existsSync(join(options.dataDir, DEFAULT_METASTORE_FILE))) {
    throw new Error(`${options.dataDir} is not a Kiln data folder (no ${DEFAULT_METASTORE_FILE} in it)`);
  }
  return LocalSource.open(options.dataDir, options.tenant);
}

function errorText(err: unknown): string {
  // A ConnectError's message carries its code: "[unavailable] connect ECONNREFUSED …".
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Selectors for the label queries: the --query matchers plus its profile type, if given. */
function labelSelectors(options: QueryOptions): string[] {
  if (!options.queryGiven) return [];
  if (options.profileType === undefined) return [options.selector];
  const inner = options.selector.slice(1, -1);
  const typeMatcher = formatSelector([newMatcher(PROFILE_TYPE_LABEL, "=", options.profileType)]).slice(1, -1);
  return [`{${inner === "" ? typeMatcher : `${typeMatcher}, ${inner}`}}`];
}

async function runSubcommand(source: QuerySource, options: QueryOptions, io: QueryIo): Promise<void> {
  const { range } = options;
  const selection = () => ({
    profileType: options.profileType!,
    selector: options.selector,
    startMs: range.startMs,
    endMs: range.endMs,
  });
  switch (options.subcommand) {
    case "profile-types":
      await io.stdout(lines(await source.profileTypes(range)));
      return;
    case "labels":
      await io.stdout(lines(await source.labelNames(labelSelectors(options), range)));
      return;
    case "label-values":
      await io.stdout(lines(await source.labelValues(options.labelName!, labelSelectors(options), range)));
      return;
    case "top": {
      const tree = await source.mergeTree(selection());
      await io.stdout(
        formatTop(tree, options.sort, options.limit ?? DEFAULT_TOP_LIMIT, unitOf(options.profileType!)),
      );
      return;
    }
    case "folded":
      await io.stdout(formatFolded(await source.mergeTree(selection())));
      return;
    case "series": {
      const stepMs = options.stepMs ?? autoStepMs(range);
      const series = await source.selectSeries({
        ...selection(),
        stepMs,
        groupBy: options.groupBy,
        aggregation: options.aggregation,
        limit: options.limit ?? 0,
      });
      await io.stdout(formatSeries(series, stepMs));
      return;
    }
    case "export": {
      const bytes = gzipSync(await source.mergePprofBytes(selection()));
      if (options.out === "-") {
        await io.stdout(bytes);
      } else {
        await writeFile(options.out!, bytes);
        io.stderr(`wrote ${options.out} (${bytes.byteLength} bytes, gzipped pprof)\n`);
      }
      return;
    }
  }
}

function lines(items: readonly string[]): string {
  return items.map((item) => `${item}\n`).join("");
}

function unitOf(profileType: string): string {
  const t = parseProfileTypeId(profileType);
  return t.sampleUnit === "" ? t.sampleType : `${t.sampleType} ${t.sampleUnit}`;
}

/** The automatic step: about AUTO_STEP_POINTS points over the range, whole seconds. */
export function autoStepMs(range: TimeRange): number {
  const step = Math.ceil((range.endMs - range.startMs) / AUTO_STEP_POINTS / 1000) * 1000;
  return Math.max(MIN_AUTO_STEP_MS, step);
}

/** Integers print in full (no exponent below 1e21); fractions with up to 3 decimals. */
function formatValue(value: number): string {
  if (Number.isInteger(value)) return value.toFixed(0);
  return String(Math.round(value * 1000) / 1000);
}

function percent(part: number, whole: number): string {
  if (whole === 0) return "-";
  return `${((100 * part) / whole).toFixed(2)}%`;
}

/**
 * The top table: a total line, then self, self%, total, total% and the function name per
 * row, the `limit` largest by `sort` (0 = all). Percentages are of the tree total.
 */
export function formatTop(tree: NameTree, sort: "self" | "total", limit: number, unit: string): string {
  const entries = topTable(tree);
  const total = tree.totals()[0] ?? 0;
  const rows = topBy(entries, sort, limit === 0 ? entries.length : limit);
  const table: string[][] = [["self", "self%", "total", "total%", "function"]];
  for (const e of rows) {
    table.push([
      formatValue(e.self),
      percent(e.self, total),
      formatValue(e.total),
      percent(e.total, total),
      e.name,
    ]);
  }
  const widths = [0, 1, 2, 3].map((c) => Math.max(...table.map((r) => r[c]!.length)));
  const out = [`total ${formatValue(total)} ${unit}, ${entries.length} functions`];
  for (const row of table) {
    out.push(
      `${row
        .slice(0, 4)
        .map((cell, c) => cell.padStart(widths[c]!))
        .join("  ")}  ${row[4]}`,
    );
  }
  return `${out.join("\n")}\n`;
}

/** Folded stacks: one `root;…;leaf self` line per node with a non-zero self, in name order. */
export function formatFolded(tree: NameTree): string {
  const view = tree.view();
  const { offsets, children } = childrenByName(view, tree.names.ranks());
  const names = tree.names.names;
  const parts: string[] = [];
  // Depth-first in name order; each stack entry is a node, its path kept alongside.
  const stack: { node: number; path: string }[] = [];
  for (let c = offsets[1]! - 1; c >= offsets[0]!; c--) {
    const child = children[c]!;
    stack.push({ node: child, path: names[view.name[child]!]! });
  }
  while (stack.length > 0) {
    const { node, path } = stack.pop()!;
    const self = view.self[node]!;
    if (self !== 0) parts.push(`${path} ${formatValue(self)}\n`);
    for (let c = offsets[node + 1]! - 1; c >= offsets[node]!; c--) {
      const child = children[c]!;
      stack.push({ node: child, path: `${path};${names[view.name[child]!]!}` });
    }
  }
  return parts.join("");
}

/** Series: a label line per series, then one `time value` line per point. */
export function formatSeries(series: readonly SeriesResult[], stepMs: number): string {
  const out: string[] = [];
  for (const s of series) {
    const total = s.points.reduce((sum, p) => sum + p.value, 0);
    out.push(
      `${formatLabels(s.labels)}  step ${stepMs / 1000}s, ${s.points.length} points, total ${formatValue(total)}`,
    );
    for (const p of s.points) out.push(`  ${new Date(p.timestamp).toISOString()}  ${formatValue(p.value)}`);
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`;
}

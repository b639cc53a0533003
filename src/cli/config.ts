/**
 * Kiln's configuration: one table of options from which the flag parser, the `KILN_*`
 * environment variables, the JSON config file and the help text are all derived, so they
 * cannot drift apart.
 *
 * Precedence, highest first: command-line flags, environment variables, the file named by
 * `--config` (or `KILN_CONFIG`), built-in defaults. An unknown flag or file key is a
 * ConfigError (the CLI exits 2), because a typo silently falling back to a default is how
 * a production limit ends up not applied.
 *
 * Per-tenant ingest limits keep Pyroscope's defaults and (camel-cased) names, so an
 * operator's Pyroscope settings carry over one to one.
 */

import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import type { ServerCompactionConfig } from "../compactor/server.ts";
import type { IngestLimits } from "../ingest/normalize/limits.ts";
import { isLogLevel, type LogLevel } from "../observability/log.ts";

/** The per-tenant ingest limits that are server options (semantics in src/ingest/normalize/limits.ts). */
export const LIMIT_OPTION_KEYS = [
  "maxBodyBytes",
  "maxProfileSizeBytes",
  "maxProfileSamples",
  "maxLabelNamesPerSeries",
  "maxLabelNameLength",
  "maxLabelValueLength",
  "maxSampleLabels",
  "maxStackDepth",
  "maxSymbolLength",
  "rejectOlderThanMs",
  "creationGracePeriodMs",
  "sanitizeLabelNames",
] as const satisfies readonly (keyof IngestLimits)[];

export type LimitOptions = Pick<IngestLimits, (typeof LIMIT_OPTION_KEYS)[number]>;

/** The limit options of a config, to lay over `defaultIngestLimits`. */
export function limitOptionsOf(config: KilnConfig): LimitOptions {
  const limits = {} as LimitOptions;
  for (const key of LIMIT_OPTION_KEYS) setOption(limits, key, config[key]);
  return limits;
}

function setOption<K extends keyof LimitOptions>(target: LimitOptions, key: K, value: LimitOptions[K]): void {
  target[key] = value;
}

/** Every server option; the compactor's own are declared with it (src/compactor/server.ts). */
export interface KilnConfig extends LimitOptions, ServerCompactionConfig {
  port: number;
  otlpGrpcPort: number;
  otlpHttpPort: number;
  host: string;
  dataDir: string;
  logLevel: LogLevel;
  multitenancy: boolean;
  flushIntervalMs: number;
  segmentBytesMax: number;
  ingestWorkers: number;
  readyTimeoutMs: number;
  shutdownTimeoutMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  queryTimeoutMs: number;
  queryBytesReadMax: number;
  queryMemoryBytesMax: number;
  queryWorkers: number;
  querySectionCacheBytes: number;
  queryAggregateCacheBytes: number;
  queryRollups: boolean;
  compaction: boolean;
}

type OptionSpec =
  | { type: "integer"; default: number; min: number; max: number; help: string }
  | { type: "string"; default: string; help: string }
  | { type: "boolean"; default: boolean; help: string }
  | { type: "logLevel"; default: LogLevel; help: string }
  | { type: "tenantDurations"; default: Readonly<Record<string, number>>; help: string };

const MiB = 1024 * 1024;
const INT_MAX = Number.MAX_SAFE_INTEGER;

/** The option table. Keys are config-file keys; flags and env vars derive from them. */
const OPTION_TABLE = {
  port: {
    type: "integer",
    default: 4040,
    min: 0,
    max: 65535,
    help: "TCP port for HTTP/1.1 and HTTP/2 (gRPC).",
  },
  otlpGrpcPort: {
    type: "integer",
    default: 0,
    min: 0,
    max: 65535,
    help: "Also listen for OTLP/gRPC profiles (ProfilesService/Export) on this port, the standard one being 4317; 0 = off.",
  },
  otlpHttpPort: {
    type: "integer",
    default: 0,
    min: 0,
    max: 65535,
    help: "Also listen for OTLP/HTTP profiles (POST /v1development/profiles) on this port, the standard one being 4318; 0 = off.",
  },
  host: { type: "string", default: "0.0.0.0", help: "Address to listen on." },
  dataDir: { type: "string", default: "./data", help: "Folder for the object store and the metastore." },
  logLevel: { type: "logLevel", default: "info", help: "Log level: debug, info, warn or error." },
  multitenancy: {
    type: "boolean",
    default: false,
    help: 'Take the tenant from the X-Scope-OrgID header; when off every request is tenant "anonymous".',
  },
  ingestWorkers: {
    type: "integer",
    default: Math.max(1, availableParallelism()),
    min: 1,
    max: 256,
    help: "Ingest worker threads (decode, normalize, store); each writes its own segment per flush window. Default: one per core.",
  },
  flushIntervalMs: {
    type: "integer",
    default: 500,
    min: 1,
    max: 3_600_000,
    help: "Segment flush window: pushes are acknowledged after their segment is stored.",
  },
  segmentBytesMax: {
    type: "integer",
    default: 64 * MiB,
    min: 1024,
    max: 1024 * MiB,
    help: "Flush a segment early when it reaches this size.",
  },
  readyTimeoutMs: {
    type: "integer",
    default: 30_000,
    min: 1,
    max: INT_MAX,
    help: "Startup must reach ready within this time, or Kiln exits with status 1.",
  },
  shutdownTimeoutMs: {
    type: "integer",
    default: 30_000,
    min: 1,
    max: INT_MAX,
    help: "Graceful shutdown (finish requests, flush) must end within this time, or Kiln exits 1.",
  },
  headersTimeoutMs: {
    type: "integer",
    default: 30_000,
    min: 1,
    max: INT_MAX,
    help: "Time a client has to send request headers (slow-client bound).",
  },
  requestTimeoutMs: {
    type: "integer",
    default: 300_000,
    min: 1,
    max: INT_MAX,
    help: "Time a client has to send a whole request, headers and body.",
  },
  queryTimeoutMs: {
    type: "integer",
    default: 60_000,
    min: 1,
    max: INT_MAX,
    help: "Longest a query may run; past it the query stops with deadline_exceeded. Queries also stop when the client goes away.",
  },
  queryBytesReadMax: {
    type: "integer",
    default: 4 * 1024 * MiB,
    min: 1,
    max: INT_MAX,
    help: "Most bytes of block sections one query may read; past it the query fails with resource_exhausted.",
  },
  queryMemoryBytesMax: {
    type: "integer",
    default: 2 * 1024 * MiB,
    min: 1,
    max: INT_MAX,
    help: "Most memory one query may hold (estimated: decoded sections plus intermediate results); past it the query fails with resource_exhausted.",
  },
  queryWorkers: {
    type: "integer",
    default: Math.max(1, availableParallelism()),
    min: 0,
    max: 256,
    help: "Query worker threads that decode and sum block datasets (0 = on the main thread). Answers are identical whatever the count.",
  },
  querySectionCacheBytes: {
    type: "integer",
    default: 256 * MiB,
    min: 0,
    max: INT_MAX,
    help: "Memory for decoded block sections (symbols above all) kept between queries.",
  },
  queryAggregateCacheBytes: {
    type: "integer",
    default: 256 * MiB,
    min: 0,
    max: INT_MAX,
    help: "Memory for per-dataset partial flame graphs and profile summaries kept between queries (long ranges merge these instead of re-reading samples).",
  },
  queryRollups: {
    type: "boolean",
    default: true,
    help: "Answer long ranges from the rollup sections of compacted blocks where they cover the range (answers are identical to reading every profile).",
  },
  compaction: {
    type: "boolean",
    default: true,
    help: "Run the compactor in this server (merges small blocks; a separate compactor process can share the data folder).",
  },
  compactionIntervalMs: {
    type: "integer",
    default: 5_000,
    min: 10,
    max: INT_MAX,
    help: "How often the compactor plans jobs, leases them and deletes due objects.",
  },
  compactionConcurrency: {
    type: "integer",
    default: 2,
    min: 1,
    max: 256,
    help: "Compaction jobs this server runs at once.",
  },
  compactionDeleteDelayMs: {
    type: "integer",
    default: 15 * 60_000,
    min: 0,
    max: INT_MAX,
    help: "Grace period before the objects of compacted blocks are deleted (queries already planned may still read them).",
  },
  compactionL0MaxBlocks: {
    type: "integer",
    default: 20,
    min: 1,
    max: 10_000,
    help: "Most level-0 segments in one compaction job (output: per-tenant level-1 blocks).",
  },
  compactionL0MaxAgeMs: {
    type: "integer",
    default: 36_000,
    min: 0,
    max: INT_MAX,
    help: "Compact fewer level-0 segments once the oldest is this old.",
  },
  compactionL1MaxBlocks: {
    type: "integer",
    default: 10,
    min: 2,
    max: 10_000,
    help: "Most level-1 blocks of a tenant in one compaction job.",
  },
  compactionL1MaxAgeMs: {
    type: "integer",
    default: 720_000,
    min: 0,
    max: INT_MAX,
    help: "Compact fewer (at least 2) level-1 blocks once the oldest is this old.",
  },
  compactionL2MaxBlocks: {
    type: "integer",
    default: 10,
    min: 2,
    max: 10_000,
    help: "Most level-2 blocks of a tenant in one compaction job (output: hourly level-3 blocks).",
  },
  compactionL2MaxAgeMs: {
    type: "integer",
    default: 10_800_000,
    min: 0,
    max: INT_MAX,
    help: "Compact fewer (at least 2) level-2 blocks once the oldest is this old.",
  },
  compactionL3MaxBlocks: {
    type: "integer",
    default: 24,
    min: 2,
    max: 10_000,
    help: "Most hourly level-3 blocks of a tenant merged into one daily level-4 block (final).",
  },
  compactionL3MaxAgeMs: {
    type: "integer",
    default: 86_400_000,
    min: 0,
    max: INT_MAX,
    help: "Merge fewer (at least 2) level-3 blocks of a day once the oldest is this old.",
  },
  compactionRollupFineMs: {
    type: "integer",
    default: 60_000,
    min: 0,
    max: 7 * 24 * 3_600_000,
    help: "Width of the fine rollup buckets (pre-merged profiles per series) written from --compaction-rollup-from-level on; 0 = no rollups.",
  },
  compactionRollupCoarseMs: {
    type: "integer",
    default: 3_600_000,
    min: 0,
    max: 7 * 24 * 3_600_000,
    help: "Width of the coarse rollup buckets, a multiple of the fine width; 0 = fine rollups only.",
  },
  compactionRollupFromLevel: {
    type: "integer",
    default: 2,
    min: 1,
    max: 16,
    help: "Compacted blocks of this level and above carry rollups (long-range queries sum them instead of every profile).",
  },
  retentionPeriodMs: {
    type: "integer",
    default: 0,
    min: 0,
    max: INT_MAX,
    help: "Delete data older than this (whole blocks, by their newest profile); 0 keeps everything, as Pyroscope does.",
  },
  retentionPeriodMsByTenant: {
    type: "tenantDurations",
    default: Object.freeze({}),
    help: 'Per-tenant retention periods overriding --retention-period-ms, a JSON object of ms, e.g. {"team-a": 604800000, "audit": 0} (0 = keep forever).',
  },
  maxBodyBytes: {
    type: "integer",
    default: 16 * MiB,
    min: 1,
    max: 1024 * MiB,
    help: "Largest request body (as sent, before decompression), for /ingest and RPCs.",
  },
  maxProfileSizeBytes: {
    type: "integer",
    default: 4_194_304,
    min: 0,
    max: INT_MAX,
    help: "Largest decompressed profile; 0 disables. (Pyroscope: max_profile_size_bytes)",
  },
  maxProfileSamples: {
    type: "integer",
    default: 16_000,
    min: 0,
    max: INT_MAX,
    help: "Most samples in one profile; 0 disables. (Pyroscope: max_profile_stacktrace_samples)",
  },
  maxLabelNamesPerSeries: {
    type: "integer",
    default: 30,
    min: 1,
    max: 10_000,
    help: "Most labels on one series. (Pyroscope: max_label_names_per_series)",
  },
  maxLabelNameLength: {
    type: "integer",
    default: 1024,
    min: 1,
    max: INT_MAX,
    help: "Longest label name. (Pyroscope: max_label_name_length)",
  },
  maxLabelValueLength: {
    type: "integer",
    default: 2048,
    min: 1,
    max: INT_MAX,
    help: "Longest label value. (Pyroscope: max_label_value_length)",
  },
  maxSampleLabels: {
    type: "integer",
    default: 100,
    min: 0,
    max: INT_MAX,
    help: "Most labels on one sample; 0 disables. (Pyroscope: max_profile_stacktrace_sample_labels)",
  },
  maxStackDepth: {
    type: "integer",
    default: 1000,
    min: 0,
    max: INT_MAX,
    help: "Deeper stacks are truncated; 0 disables. (Pyroscope: max_profile_stacktrace_depth)",
  },
  maxSymbolLength: {
    type: "integer",
    default: 65_535,
    min: 0,
    max: INT_MAX,
    help: "Longer symbol names are truncated; 0 disables. (Pyroscope: max_profile_symbol_value_length)",
  },
  rejectOlderThanMs: {
    type: "integer",
    default: 3_600_000,
    min: 0,
    max: INT_MAX,
    help: "Reject profiles older than this; 0 disables. (Pyroscope: reject_older_than)",
  },
  creationGracePeriodMs: {
    type: "integer",
    default: 600_000,
    min: 0,
    max: INT_MAX,
    help: "Reject profiles this far in the future. (Pyroscope: creation_grace_period)",
  },
  sanitizeLabelNames: {
    type: "boolean",
    default: false,
    help: "Replace invalid characters in label names instead of rejecting. (Pyroscope: sanitize_label_names)",
  },
} as const satisfies Record<keyof KilnConfig, OptionSpec>;

export type OptionKey = keyof KilnConfig;

export interface OptionInfo {
  key: OptionKey;
  flag: string;
  env: string;
  spec: OptionSpec;
}

/** Every option with its derived flag and env var, in table order. */
export const OPTIONS: readonly OptionInfo[] = Object.freeze(
  (Object.entries(OPTION_TABLE) as [OptionKey, OptionSpec][]).map(([key, spec]) => ({
    key,
    flag: `--${kebab(key)}`,
    env: `KILN_${kebab(key).replaceAll("-", "_").toUpperCase()}`,
    spec,
  })),
);

/** `--config FILE` / KILN_CONFIG: not a KilnConfig field, it says where the file is. */
export const CONFIG_FLAG = "--config";
export const CONFIG_ENV = "KILN_CONFIG";

export class ConfigError extends Error {
  /** The CLI's exit status for usage errors. */
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export function defaultConfig(): KilnConfig {
  const config: Record<string, unknown> = {};
  for (const { key, spec } of OPTIONS) config[key] = spec.default;
  return config as unknown as KilnConfig;
}

/**
 * Builds the configuration from the option arguments (after the `server` command) and the
 * environment. Throws ConfigError on unknown flags or keys and on invalid values.
 */
export function loadConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): KilnConfig {
  const { values: flagValues, configPath: flagConfigPath } = parseFlags(argv);
  const config = defaultConfig() as unknown as Record<OptionKey, unknown>;

  const configPath = flagConfigPath ?? nonEmpty(env[CONFIG_ENV]);
  if (configPath !== undefined) {
    for (const [key, value] of Object.entries(readConfigFile(configPath))) {
      const option = OPTIONS.find((o) => o.key === key);
      if (option === undefined) {
        throw new ConfigError(`unknown key "${key}" in config file ${configPath} (see kiln server --help)`);
      }
      config[option.key] = fromJson(option, value, `key "${key}" in ${configPath}`);
    }
  }
  for (const option of OPTIONS) {
    const raw = nonEmpty(env[option.env]);
    if (raw !== undefined) config[option.key] = fromText(option, raw, `environment variable ${option.env}`);
  }
  for (const [key, value] of flagValues) config[key] = value;
  return config as unknown as KilnConfig;
}

/** KILN_* variables that name no option: likely typos, worth a warning at startup. */
export function unknownEnvVars(env: Readonly<Record<string, string | undefined>>): string[] {
  const known = new Set([CONFIG_ENV, ...OPTIONS.map((o) => o.env)]);
  return Object.keys(env).filter((name) => name.startsWith("KILN_") && !known.has(name));
}

function parseFlags(argv: readonly string[]): { values: Map<OptionKey, unknown>; configPath?: string } {
  const values = new Map<OptionKey, unknown>();
  let configPath: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--") || arg === "--") {
      throw new ConfigError(`unexpected argument "${arg}" (options start with --; see kiln server --help)`);
    }
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg : arg.slice(0, eq);
    let inline = eq === -1 ? undefined : arg.slice(eq + 1);
    const takeValue = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined || next.startsWith("--")) throw new ConfigError(`flag ${name} needs a value`);
      i++;
      return next;
    };
    if (name === CONFIG_FLAG) {
      configPath = takeValue();
      continue;
    }
    const option = OPTIONS.find((o) => o.flag === name);
    if (option === undefined && name.startsWith("--no-")) {
      // --no-multitenancy: the negative form of a boolean flag.
      const positive = OPTIONS.find((o) => o.flag === `--${name.slice(5)}`);
      if (positive?.spec.type === "boolean" && inline === undefined) {
        values.set(positive.key, false);
        continue;
      }
    }
    if (option === undefined) throw new ConfigError(`unknown flag ${name} (see kiln server --help)`);
    if (option.spec.type === "boolean" && inline === undefined) {
      // A bare boolean flag means true; `--flag false` is accepted as the explicit form.
      const next = argv[i + 1];
      if (next === "true" || next === "false") {
        inline = next;
        i++;
      } else {
        inline = "true";
      }
    }
    values.set(option.key, fromText(option, takeValue(), `flag ${name}`));
  }
  return configPath === undefined ? { values } : { values, configPath };
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path} must hold a JSON object of options`);
  }
  return parsed as Record<string, unknown>;
}

function fromText(option: OptionInfo, raw: string, where: string): unknown {
  const { spec } = option;
  switch (spec.type) {
    case "string":
      return raw;
    case "boolean":
      if (raw === "true" || raw === "1") return true;
      if (raw === "false" || raw === "0") return false;
      throw new ConfigError(`${where}: "${raw}" is not a boolean (true, false, 1 or 0)`);
    case "integer":
      if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(`${where}: "${raw}" is not an integer`);
      return checkInteger(spec, Number(raw.trim()), where);
    case "logLevel":
      if (!isLogLevel(raw))
        throw new ConfigError(`${where}: "${raw}" is not one of debug, info, warn, error`);
      return raw;
    case "tenantDurations": {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        throw new ConfigError(`${where}: "${raw}" is not a JSON object`);
      }
      return tenantDurations(parsed, where);
    }
  }
}

/** A JSON object of tenant → non-negative integer ms, checked; frozen. */
function tenantDurations(value: unknown, where: string): Readonly<Record<string, number>> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError(
      `${where}: expected a JSON object of tenant to milliseconds, got ${JSON.stringify(value)}`,
    );
  }
  const out: Record<string, number> = {};
  for (const [tenant, ms] of Object.entries(value)) {
    if (tenant === "") throw new ConfigError(`${where}: empty tenant id`);
    if (typeof ms !== "number" || !Number.isSafeInteger(ms) || ms < 0) {
      throw new ConfigError(
        `${where}: tenant "${tenant}": ${JSON.stringify(ms)} is not a non-negative integer`,
      );
    }
    out[tenant] = ms;
  }
  return Object.freeze(out);
}

function fromJson(option: OptionInfo, value: unknown, where: string): unknown {
  const { spec } = option;
  if (spec.type === "tenantDurations") return tenantDurations(value, where);
  const want = spec.type === "integer" ? "number" : spec.type === "boolean" ? "boolean" : "string";
  if (typeof value !== want)
    throw new ConfigError(`${where}: expected a ${want}, got ${JSON.stringify(value)}`);
  if (spec.type === "integer") return checkInteger(spec, value as number, where);
  if (spec.type === "logLevel") return fromText(option, value as string, where);
  return value;
}

function checkInteger(spec: { min: number; max: number }, value: number, where: string): number {
  if (!Number.isSafeInteger(value)) throw new ConfigError(`${where}: ${value} is not an integer`);
  if (value < spec.min || value > spec.max) {
    throw new ConfigError(`${where}: ${value} is out of range ${spec.min}..${spec.max}`);
  }
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

const VALUE_HINT: Readonly<Record<OptionSpec["type"], string>> = {
  integer: "<int>",
  string: "<string>",
  boolean: "[=true|false]",
  logLevel: "<level>",
  tenantDurations: "<json>",
};

/** Help text for `kiln --help` and `kiln server --help`: every option, default and env var. */
export function helpText(): string {
  const lines = [
    "Usage: kiln <command> [options]",
    "",
    "Kiln: a continuous-profiling database, a drop-in Grafana Pyroscope 2.0 server.",
    "",
    "Commands:",
    "  server      Run the server (HTTP/1.1 and gRPC/HTTP/2 on one port).",
    "  query       Query a server or a data folder: top, folded, series, labels, export (kiln query --help).",
    "  push        Push profile files (pprof, JFR, OTLP, folded, …) to a server (kiln push --help).",
    "  admin       Inspect and manage a data folder: list blocks, delete a tenant's data (kiln admin --help).",
    "  compactor   Run the standalone compactor on a data folder, once or until stopped (kiln compactor --help).",
    "",
    "Options of kiln server. Flags take --name=value or --name value; booleans also --name and",
    "--no-name. Precedence: flags > KILN_* environment variables > --config file > defaults.",
    "",
    `  ${CONFIG_FLAG} <file>`,
    '      JSON config file of options by file key, e.g. {"port": 4041}.',
    `      default none, env ${CONFIG_ENV}`,
  ];
  for (const { key, flag, env, spec } of OPTIONS) {
    lines.push(`  ${flag} ${VALUE_HINT[spec.type]}`);
    lines.push(`      ${spec.help}`);
    lines.push(`      default ${formatDefault(spec)}, env ${env}, file key ${key}`);
  }
  lines.push("  -h, --help", "      Show this help.", "  --version", "      Print the version.", "");
  return lines.join("\n");
}

function formatDefault(spec: OptionSpec): string {
  if (spec.type === "integer" && spec.default >= MiB && spec.default % MiB === 0) {
    return `${spec.default} (${spec.default / MiB} MiB)`;
  }
  return typeof spec.default === "string" || typeof spec.default === "object"
    ? JSON.stringify(spec.default)
    : String(spec.default);
}

/**
 * `kiln admin`: inspect and manage a data folder.
 *
 *   kiln admin blocks [--data-dir ./data] [--tenant T] [--level N] [--json]
 *   kiln admin delete-tenant TENANT [--data-dir ./data] [--yes] [--delete-delay-ms N]
 *
 * Both work on the folder of a running server: the SQLite metastore is in WAL mode, so this
 * process reads and writes it next to the server's connections (a write waits for the
 * server's at most a few seconds). `delete-tenant` tombstones every block of the tenant in one
 * transaction and records the deletion (the tenant's part of shared level-0 segments is
 * hidden from then on and dropped when they are compacted); the compactor (in the server, or
 * `node src/compactor/main.ts`) deletes the objects once the grace period is over. Without
 * `--yes` it only says what it would delete.
 */

import { parseArgs } from "node:util";
import { SectionKind, sectionKindName } from "../block/format.ts";
import type { BlockMeta } from "../metastore/metastore.ts";
import { SqliteMetastore } from "../metastore/sqlite.ts";

export const ADMIN_HELP = `Usage: kiln admin <command> [options]

Commands:
  blocks [--data-dir DIR] [--tenant T] [--level N] [--json]
      List live blocks by tenant and level: id, level, time range, size, datasets.
      --tenant "" lists the multi-tenant level-0 segments.
  delete-tenant TENANT [--data-dir DIR] [--yes] [--delete-delay-ms N]
      Delete every block of TENANT: they disappear from queries at once and their objects
      are deleted by the compactor after the grace period (default 900000 ms). Without
      --yes, only prints what would be deleted.

--data-dir defaults to ./data. Both work against a running server's data folder (the
SQLite metastore is in WAL mode).
`;

type Out = { write(text: string): unknown };

export async function runAdminCli(
  argv: readonly string[],
  out: Out = process.stdout,
  err: Out = process.stderr,
): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    (command === undefined ? err : out).write(ADMIN_HELP);
    return command === undefined ? 2 : 0;
  }
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(rest);
  } catch (error) {
    err.write(`kiln admin: ${(error as Error).message}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out.write(ADMIN_HELP);
    return 0;
  }
  const dataDir = values["data-dir"] ?? "./data";
  if (command === "blocks") {
    if (positionals.length > 0) return usage(err, `unexpected argument "${positionals[0]}"`);
    const level = values.level === undefined ? undefined : Number(values.level);
    if (level !== undefined && (!Number.isSafeInteger(level) || level < 0))
      return usage(err, `--level "${values.level}" is not a non-negative integer`);
    const metastore = await SqliteMetastore.open(dataDir);
    try {
      const blocks = await metastore.listBlocks({
        ...(values.tenant === undefined ? {} : { tenant: values.tenant }),
        ...(level === undefined ? {} : { level }),
      });
      out.write(values.json ? `${JSON.stringify(blocks.map(summary), null, 2)}\n` : blocksTable(blocks));
    } finally {
      await metastore.close();
    }
    return 0;
  }
  if (command === "delete-tenant") {
    if (positionals.length !== 1) return usage(err, "delete-tenant takes one TENANT");
    const tenant = positionals[0]!;
    if (tenant === "") return usage(err, "TENANT is empty");
    const delay = Number(values["delete-delay-ms"] ?? 15 * 60_000);
    if (!Number.isSafeInteger(delay) || delay < 0)
      return usage(err, `--delete-delay-ms "${values["delete-delay-ms"]}" is not a non-negative integer`);
    const metastore = await SqliteMetastore.open(dataDir);
    try {
      const blocks = await metastore.listBlocks({ tenant });
      const bytes = blocks.reduce((sum, b) => sum + b.sizeBytes, 0);
      const shared = (await metastore.listBlocks({ tenant: "" })).filter((b) =>
        b.datasets.some((d) => d.tenant === tenant),
      ).length;
      if (!values.yes) {
        out.write(
          `would delete tenant "${tenant}": ${blocks.length} blocks, ${formatBytes(bytes)}` +
            (shared > 0 ? `, and its data in ${shared} shared level-0 segments` : "") +
            "\nnothing done; run again with --yes\n",
        );
        return 1;
      }
      const nowMs = Date.now();
      const ids = await metastore.deleteTenant(tenant, { deleteAfterMs: nowMs + delay, nowMs });
      out.write(
        `deleted tenant "${tenant}": ${ids.length} blocks tombstoned` +
          (shared > 0 ? `, its data in ${shared} shared level-0 segments hidden` : "") +
          `; the compactor deletes the objects after ${new Date(nowMs + delay).toISOString()}\n`,
      );
    } finally {
      await metastore.close();
    }
    return 0;
  }
  return usage(err, `unknown command "${command}"`);
}

function parse(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      "data-dir": { type: "string" },
      tenant: { type: "string" },
      level: { type: "string" },
      json: { type: "boolean", default: false },
      yes: { type: "boolean", default: false },
      "delete-delay-ms": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
}

function usage(err: Out, message: string): number {
  err.write(`kiln admin: ${message}; run 'kiln admin --help' for usage\n`);
  return 2;
}

function summary(b: BlockMeta) {
  return {
    id: b.id,
    tenant: b.tenant,
    level: b.level,
    minTime: new Date(b.minTimeMs).toISOString(),
    maxTime: new Date(b.maxTimeMs).toISOString(),
    sizeBytes: b.sizeBytes,
    datasets: b.datasets.map((d) => ({
      tenant: d.tenant,
      service: d.service,
      sections: d.sections.map((s) => ({ kind: sectionKindName(s.kind), sizeBytes: s.sizeBytes })),
    })),
  };
}

/** One line per block, grouped by tenant then level, with a total per group. */
function blocksTable(blocks: readonly BlockMeta[]): string {
  const groups = new Map<string, BlockMeta[]>();
  for (const b of [...blocks].sort((x, y) =>
    x.tenant < y.tenant ? -1 : x.tenant > y.tenant ? 1 : x.level - y.level,
  )) {
    const key = `${b.tenant === "" ? "(shared segments)" : b.tenant} level ${b.level}`;
    const group = groups.get(key) ?? [];
    group.push(b);
    groups.set(key, group);
  }
  const lines: string[] = [];
  for (const [key, group] of groups) {
    const bytes = group.reduce((sum, b) => sum + b.sizeBytes, 0);
    lines.push(`${key}: ${group.length} blocks, ${formatBytes(bytes)}`);
    for (const b of group) {
      const datasets = b.datasets.map((d) => {
        const name = b.tenant === "" ? `${d.tenant}/${d.service}` : d.service;
        // Rollup sections (kinds 4 and 5) and their size: what long-range queries read.
        const rollups = d.sections.filter(
          (s) => s.kind === SectionKind.rollupFine || s.kind === SectionKind.rollupCoarse,
        );
        if (rollups.length === 0) return name;
        const bytes = rollups.reduce((sum, s) => sum + s.sizeBytes, 0);
        return `${name} (+${rollups.length} rollup${rollups.length > 1 ? "s" : ""}, ${formatBytes(bytes)})`;
      });
      lines.push(
        `  ${b.id}  L${b.level}  ${new Date(b.minTimeMs).toISOString()} .. ${new Date(b.maxTimeMs).toISOString()}  ${formatBytes(b.sizeBytes).padStart(10)}  ${datasets.join(",")}`,
      );
    }
  }
  lines.push(`${blocks.length} blocks`);
  return `${lines.join("\n")}\n`;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

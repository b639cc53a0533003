/**
 * Reads ../shared/testdata/MANIFEST.md: per file, the totals per sample type (pprof) or the
 * sum of counts (collapsed text), so tests can compare what Kiln stored with what the
 * profiler wrote.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { testdataRoot } from "./testdata.ts";

export interface ManifestEntry {
  /** Path relative to the testdata root, e.g. "pprof/pyroscope-go-heap.pb.gz". */
  path: string;
  /** pprof: sample type "type:unit" → total, in file order. Values as bigint (they exceed 2^53 in places). */
  totals: Map<string, bigint>;
  /** Collapsed text: number of parseable stack lines and the sum of their counts. */
  stackLines?: number;
  collapsedTotal?: bigint;
}

export function readManifest(root = testdataRoot): Map<string, ManifestEntry> {
  const text = readFileSync(join(root, "MANIFEST.md"), "utf8");
  const entries = new Map<string, ManifestEntry>();
  let current: ManifestEntry | undefined;
  for (const line of text.split("\n")) {
    const heading = /^### `([^`]+)`/.exec(line);
    if (heading) {
      current = { path: heading[1]!, totals: new Map() };
      entries.set(current.path, current);
      continue;
    }
    if (!current) continue;
    if (line.startsWith("- totals: ")) {
      for (const m of line.slice("- totals: ".length).matchAll(/`([^`]*)`=(-?\d+)/g)) {
        current.totals.set(m[1]!, BigInt(m[2]!));
      }
      continue;
    }
    const collapsed = /stack lines: (\d+);.*total value \(sum of counts\): (-?\d+)/.exec(line);
    if (collapsed) {
      current.stackLines = Number(collapsed[1]);
      current.collapsedTotal = BigInt(collapsed[2]!);
    }
  }
  return entries;
}

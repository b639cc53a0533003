/**
 * Issue 4, rollups: flame graphs, pprofs and time series answered from rollup sections are
 * identical to those answered from every raw profile, over real profiles of the corpus.
 *
 * Thirty hours of two services (Go CPU profiles in one; Java CPU, Go heap with four sample
 * types, Node.js wall and Python in the other), three pods each, a profile every 7.5 minutes
 * at odd milliseconds (every 20 s for two busy hours) plus some exactly on minute and hour
 * edges, are written as 20-minute
 * level-1 blocks; the real compactor then runs to completion, so level-2 and level-3 blocks
 * carry 1-minute and 1-hour rollups. The same blocks are then queried by engines that read
 * rollups (in-process, on worker threads, with and without the aggregate cache) and by one
 * that reads only raw profiles, over ranges whose edges fall everywhere (inside buckets, on
 * bucket edges, shorter than a bucket, whole blocks) and series whose steps do and do not
 * line up with the buckets.
 */
import assert from "node:assert/strict";
import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { encodeBlock } from "../src/block/block-writer.ts";
import { DatasetBuilder } from "../src/block/dataset-builder.ts";
import { SectionKind } from "../src/block/format.ts";
import { SymbolsBuilder } from "../src/block/symbols.ts";
import { DEFAULT_LEVELS } from "../src/compactor/planner.ts";
import { normalizePprof } from "../src/ingest/normalize/normalize.ts";
import { SqliteMetastore } from "../src/metastore/sqlite.ts";
import type { Label } from "../src/model/labels.ts";
import type { Pprof } from "../src/model/pprof.ts";
import type { NormalizedProfile } from "../src/model/profile.ts";
import { profileTypeId } from "../src/model/profile-type.ts";
import { FsObjectStore } from "../src/objstore/fs-store.ts";
import { QueryEngine, type SeriesQuery, type StackQuery } from "../src/query/engine.ts";
import { flameGraph } from "../src/query/flamegraph.ts";
import { corpusLimits, readCorpusPprof } from "../src/query/test-helpers.ts";
import { storeBlock } from "../src/testing/blocks.ts";
import { compactToCompletion } from "../src/testing/compaction.ts";
import { mulberry32 } from "../src/testing/prng.ts";
import { testdata } from "../src/testing/testdata.ts";

const corpus = testdata("pprof");
const TENANT = "anonymous";
const HOUR_MS = 3_600_000;
/** An hour edge, and the data's start a little after it (odd ms). */
const HOUR0 = 1_700_002_800_000;
const T0 = HOUR0 + 123_457;
const HOURS = 30;
const INTERVAL_MS = 450_000;
const DENSE_INTERVAL_MS = 20_000;
/** Short level-1 blocks: 12 per hour make two level-2 blocks per hour, so levels 3 and 4 follow. */
const BLOCK_MS = 5 * 60_000;
const PODS = 3;
const SERVICES: Record<string, string[]> = {
  checkout: ["pyroscope-go-cpu-labels.pb.gz", "parca-go-fib-cpu.pb.gz", "pyroscope-go-cpu-span-id.pb.gz"],
  mixed: [
    "pyroscope-java-asyncprofiler-cpu.pb.gz",
    "pyroscope-go-heap.pb.gz",
    "pyroscope-nodejs-wall.pb.gz",
    "pyroscope-python-pyspy.pb",
  ],
};

/** Every profile of a corpus file for one pod, normalized once (times are set per push). */
function profilesOf(service: string, file: string, pod: number): NormalizedProfile[] {
  const labels: Label[] = [
    ["__name__", "process_cpu"],
    ["service_name", service],
    ["pod", `p${pod}`],
  ];
  return normalizePprof(readCorpusPprof(`pprof/${file}`), {
    seriesLabels: labels,
    limits: corpusLimits,
    nowMs: T0,
    dashedSampleTypes: "replace",
  });
}

/** Push times: every INTERVAL_MS per pod at odd ms, plus some on minute and hour edges. */
function pushTimes(random: () => number): number[] {
  const times: number[] = [];
  for (let at = T0; at < T0 + HOURS * HOUR_MS; at += INTERVAL_MS)
    times.push(at + Math.floor(random() * 1000));
  // Hours 6 to 8 are busy (a push every 20 s): only their blocks merge enough profiles per
  // minute to get a 1-minute rollup, so queries mix datasets with and without one.
  for (let at = HOUR0 + 6 * HOUR_MS + 7; at < HOUR0 + 8 * HOUR_MS; at += DENSE_INTERVAL_MS) times.push(at);
  for (let h = 1; h < HOURS; h += 4) {
    const edge = HOUR0 + h * HOUR_MS;
    times.push(edge, edge + 1, edge + 60_000, edge + 60_001);
  }
  return times.sort((a, b) => a - b);
}

/** A merged pprof's samples as "frame;frame;… value", sorted: independent of sample order. */
function samplesOf(pprof: Pprof): string[] {
  const frameOf = (location: number) => {
    const names: string[] = [];
    for (let l = pprof.locationLineOffsets[location]!; l < pprof.locationLineOffsets[location + 1]!; l++) {
      const fn = pprof.lineFunctionPlus1[l]!;
      names.push(fn === 0 ? "?" : pprof.strings[pprof.functionNameStr[fn - 1]!]!);
    }
    return `${names.join("<")}@${pprof.locationAddress[location]}`;
  };
  const out: string[] = [];
  const types = pprof.sampleTypeStr.length;
  for (let i = 0; i < pprof.sampleCount; i++) {
    const frames: string[] = [];
    for (let at = pprof.sampleLocationOffsets[i]!; at < pprof.sampleLocationOffsets[i + 1]!; at++) {
      frames.push(frameOf(pprof.sampleLocations[at]!));
    }
    out.push(`${frames.join(";")} ${pprof.sampleValues.subarray(i * types, (i + 1) * types).join(",")}`);
  }
  return out.sort();
}

describe("rollups answer exactly as raw profiles", { skip: corpus.skip }, () => {
  let folder: string;
  let store: FsObjectStore;
  let metastore: SqliteMetastore;
  const engines: QueryEngine[] = [];
  const profileTypes = new Map<string, Set<string>>();

  before(async () => {
    folder = await fsp.mkdtemp(join(tmpdir(), "kiln-rollups-"));
    store = await FsObjectStore.open(join(folder, "objects"));
    metastore = await SqliteMetastore.open(folder);
    const random = mulberry32(7);
    const times = pushTimes(random);
    // Blocks of BLOCK_MS, one dataset per service, as level-1 blocks. Pods push 1013 ms
    // apart; pod 0 pushes exactly at the times above.
    const dictionaries = new Map(Object.keys(SERVICES).map((s) => [s, new SymbolsBuilder()]));
    const bases = new Map<string, NormalizedProfile[][]>();
    for (const [service, files] of Object.entries(SERVICES)) {
      const perPod: NormalizedProfile[][] = [];
      for (let pod = 0; pod < PODS; pod++) perPod.push(files.flatMap((f) => profilesOf(service, f, pod)));
      bases.set(service, perPod);
      const types = new Set<string>();
      for (const p of perPod[0]!) types.add(profileTypeId(p.profileType));
      profileTypes.set(service, types);
    }
    let blockIndex = 0;
    for (let start = T0; start < T0 + HOURS * HOUR_MS + HOUR_MS; start += BLOCK_MS) {
      const builders: DatasetBuilder[] = [];
      for (const service of Object.keys(SERVICES)) {
        const builder = new DatasetBuilder(TENANT, service, dictionaries.get(service)!);
        for (const timeMs of times) {
          if (timeMs < start || timeMs >= start + BLOCK_MS) continue;
          for (let pod = 0; pod < PODS; pod++) {
            // One profile of the pod's set per push, values scaled so the series vary.
            const set = bases.get(service)![pod]!;
            const factor = 1 + Math.floor(random() * 3);
            for (const base of set.filter(
              (_, i) => i % set.length === Math.floor(timeMs / 7) % set.length || i < 4,
            )) {
              builder.append({
                ...base,
                timeNanos: BigInt(timeMs + pod * 1013) * 1_000_000n,
                profileId: crypto.randomUUID(),
                values: base.values.map((v) => v * factor),
              });
            }
          }
        }
        if (builder.profileCount > 0) builders.push(builder);
      }
      if (builders.length === 0) continue;
      const encoded = encodeBlock(builders);
      const id = `01HROLLUP${String(blockIndex++).padStart(17, "0")}`;
      await storeBlock(store, metastore, encoded, { id, level: 1, tenant: TENANT, createdAtMs: T0 });
    }
    // The real compactor: level 1 → 2 (rollups from here). The daily levels come later.
    await compactToCompletion(store, metastore, { fromLevel: 1, levels: DEFAULT_LEVELS.slice(0, 2) });
  });

  after(async () => {
    for (const engine of engines) await engine.close();
    await metastore?.close();
    await store?.close();
    if (folder !== undefined) await fsp.rm(folder, { recursive: true, force: true });
  });

  const engine = (options: Partial<ConstructorParameters<typeof QueryEngine>[0]>) => {
    const e = new QueryEngine({ store, metastore, ...options });
    engines.push(e);
    return e;
  };

  const ranges = (): { startMs: number; endMs: number }[] => {
    const random = mulberry32(11);
    const edge = (h: number) => HOUR0 + h * HOUR_MS;
    const out = [
      { startMs: T0 - 1, endMs: T0 + (HOURS + 1) * HOUR_MS }, // everything
      { startMs: edge(3), endMs: edge(27) }, // on hour edges
      { startMs: edge(3) + 1, endMs: edge(27) - 1 }, // just inside them
      { startMs: edge(5) - 59_999, endMs: edge(6) + 30_001 }, // minute pieces around an hour
      { startMs: edge(9), endMs: edge(9) + 60_000 }, // one minute bucket and an edge profile
      { startMs: edge(13) + 10_000, endMs: edge(13) + 40_000 }, // shorter than a bucket
      { startMs: edge(5) + 2, endMs: edge(9) + 60_000 }, // 1 ms past a bucket's first profile
      { startMs: edge(5) + 1, endMs: edge(9) + 60_001 }, // on a bucket's first ms
    ];
    for (let i = 0; i < 6; i++) {
      const startMs = T0 + Math.floor(random() * (HOURS - 1) * HOUR_MS);
      out.push({ startMs, endMs: startMs + 30_000 + Math.floor(random() * 20 * HOUR_MS) });
    }
    return out;
  };

  const flame = async (e: QueryEngine, q: StackQuery) => {
    const tree = await e.mergeTree(q);
    // The magnitude (an internal bound on rounding) may be smaller from rollups; never the sums.
    return JSON.stringify({ graph: flameGraph(tree, 1_000_000), exact: tree.exact });
  };

  /** Bounds on the query matrix: the daily phase reads whole days raw, so it samples fewer. */
  interface Matrix {
    rangesMax: number;
    typesMax: number;
  }
  const FULL: Matrix = { rangesMax: 100, typesMax: 100 };
  const SAMPLED: Matrix = { rangesMax: 9, typesMax: 2 };

  const queries = (matrix: Matrix): StackQuery[] => {
    const out: StackQuery[] = [];
    for (const [service, types] of profileTypes) {
      for (const profileType of [...types].slice(0, matrix.typesMax)) {
        for (const range of ranges().slice(0, matrix.rangesMax)) {
          out.push({ tenant: TENANT, profileType, selector: `{service_name="${service}"}`, ...range });
        }
        out.push({
          tenant: TENANT,
          profileType,
          selector: `{service_name="${service}", pod=~"p[02]"}`,
          ...ranges()[2]!,
        });
      }
    }
    return out;
  };

  /**
   * Every block at `level` has a 1-hour rollup (a lone block a level below waits for a partner
   * to merge with and may remain); returns how many of them have a 1-minute one.
   */
  const checkRollupsWritten = async (level: number): Promise<{ withFine: number; datasets: number }> => {
    const blocks = (await metastore.listBlocks({ tenant: TENANT })).filter((b) => b.level === level);
    let withFine = 0;
    let datasets = 0;
    for (const block of blocks) {
      for (const dataset of block.datasets) {
        const kinds = dataset.sections.map((s) => s.kind);
        assert.ok(kinds.includes(SectionKind.rollupCoarse), `${block.id}: kinds ${kinds}`);
        if (kinds.includes(SectionKind.rollupFine)) withFine++;
        datasets++;
      }
    }
    return { withFine, datasets };
  };

  const checkFlameGraphs = async (matrix: Matrix) => {
    const raw = engine({ rollups: false, workers: 0, aggregateCacheBytes: 0 });
    const inProcess = engine({ workers: 0 });
    const pooled = engine({ workers: 2, objectsDir: store.root });
    const noAggregates = engine({ workers: 0, aggregateCacheBytes: 0 });
    let nonEmpty = 0;
    for (const q of queries(matrix)) {
      const want = await flame(raw, q);
      if (JSON.parse(want).graph.total > 0) nonEmpty++;
      for (const e of [inProcess, pooled, noAggregates]) {
        assert.equal(await flame(e, q), want, JSON.stringify(q));
      }
    }
    assert.ok(nonEmpty > 15, `${nonEmpty} non-empty flame graphs`);
    // The rollups were read: coarse sections sit in the in-process engine's section cache.
    const coarseKeys = (await metastore.listBlocks({ tenant: TENANT })).flatMap((b) =>
      b.datasets.flatMap((d) =>
        d.sections
          .filter((s) => s.kind === SectionKind.rollupCoarse)
          .map((s) => `${b.objectKey}@${s.offset}:5`),
      ),
    );
    assert.ok(coarseKeys.filter((key) => inProcess.cache.has(key)).length > 0, "coarse rollups read");
    // pprof output (one sample per stack) holds the same samples too (its sample and location
    // order follows the order datasets finish reading, so compare stack by stack).
    for (const q of queries(matrix).slice(0, 8)) {
      assert.deepEqual(samplesOf(await noAggregates.mergePprof(q)), samplesOf(await raw.mergePprof(q)));
    }
  };

  const checkSeries = async (matrix: Matrix) => {
    const raw = engine({ rollups: false, workers: 0, aggregateCacheBytes: 0 });
    const inProcess = engine({ workers: 0 });
    const pooled = engine({ workers: 2, objectsDir: store.root });
    let points = 0;
    for (const [service, types] of profileTypes) {
      const profileType = [...types][0]!;
      for (const range of ranges().slice(0, matrix.rangesMax)) {
        for (const stepMs of [60_000, HOUR_MS, 900_000, 2 * HOUR_MS, 45_000]) {
          for (const alignMs of [undefined, HOUR0]) {
            for (const variant of [
              { groupBy: [], aggregation: "sum" as const },
              { groupBy: ["pod"], aggregation: "average" as const },
            ]) {
              const q: SeriesQuery = {
                tenant: TENANT,
                profileType,
                selector: `{service_name="${service}"}`,
                ...range,
                stepMs,
                ...(alignMs === undefined ? {} : { alignMs }),
                ...variant,
              };
              const want = JSON.stringify(await raw.selectSeries(q));
              points += (want.match(/timestamp/g) ?? []).length;
              assert.equal(JSON.stringify(await inProcess.selectSeries(q)), want, JSON.stringify(q));
              assert.equal(JSON.stringify(await pooled.selectSeries(q)), want, JSON.stringify(q));
            }
          }
        }
      }
    }
    assert.ok(points > 500, `${points} points compared`);
  };

  it("hourly level-2 blocks carry 1-hour rollups, and 1-minute ones where they pay", async () => {
    const { withFine, datasets } = await checkRollupsWritten(2);
    assert.ok(datasets > 40, `${datasets} datasets`);
    assert.ok(
      withFine > 0 && withFine < datasets,
      `${withFine} of ${datasets} datasets with 1-minute rollups`,
    );
  });
  it("hourly blocks: flame graphs and pprofs identical from rollups and from raw profiles", () =>
    checkFlameGraphs(FULL));
  it("hourly blocks: time series identical for every step, aligned to the buckets or not", () =>
    checkSeries(FULL));

  it("compaction on to daily level-4 blocks keeps the 1-hour rollups", async () => {
    await compactToCompletion(store, metastore, { fromLevel: 2 });
    const { datasets } = await checkRollupsWritten(4);
    // 30 hours from 23:02 UTC touch three UTC days; a day whose hours end in one level-3
    // block has nothing to merge it with, and that block stays.
    assert.ok(datasets >= 2, `${datasets} level-4 datasets`);
  });
  it("daily blocks: flame graphs and pprofs identical from rollups and from raw profiles", () =>
    checkFlameGraphs(SAMPLED));
  it("daily blocks: time series identical for every step, aligned to the buckets or not", () =>
    checkSeries(SAMPLED));
});

import assert from "node:assert/strict";
import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { encodeBlock } from "../block/block-writer.ts";
import { DatasetBuilder } from "../block/dataset-builder.ts";
import { buildPprof, normalize } from "../block/test-fixtures.ts";
import { defaultConfig } from "../cli/config.ts";
import { SqliteMetastore } from "../metastore/sqlite.ts";
import { ulid } from "../model/ulid.ts";
import { FsObjectStore } from "../objstore/fs-store.ts";
import { createLogger } from "../observability/log.ts";
import { createRegistry } from "../observability/metrics.ts";
import { levelsOf, rollupsOf, startServerCompactor } from "./server.ts";

describe("server compactor", () => {
  it("levels come from the config; defaults are Pyroscope's, then a daily level", () => {
    const levels = levelsOf(defaultConfig());
    assert.deepEqual(
      levels.map((l) => [l.maxBlocks, l.maxAgeMs]),
      [
        [20, 36_000],
        [10, 720_000],
        [10, 10_800_000],
        [24, 86_400_000],
      ],
    );
    assert.equal(defaultConfig().compaction, true);
  });

  it("rollup options: 1 minute and 1 hour from level 2 by default; bad widths named", () => {
    assert.deepEqual(rollupsOf(defaultConfig()), { bucketsMs: [60_000, 3_600_000], fromLevel: 2 });
    assert.deepEqual(
      rollupsOf({ ...defaultConfig(), compactionRollupFineMs: 0, compactionRollupCoarseMs: 0 }),
      {
        bucketsMs: [],
        fromLevel: 2,
      },
    );
    assert.throws(
      () => rollupsOf({ ...defaultConfig(), compactionRollupFineMs: 500 }),
      /--compaction-rollup-fine-ms 500: want 0/,
    );
    assert.throws(
      () => rollupsOf({ ...defaultConfig(), compactionRollupCoarseMs: 90_000 }),
      /must be a larger multiple of --compaction-rollup-fine-ms 60000/,
    );
  });

  it("compacts segments in the background and exports block and lag metrics", async () => {
    const dir = await fsp.mkdtemp(join(tmpdir(), "kiln-server-compactor-"));
    const store = await FsObjectStore.open(join(dir, "objects"));
    const metastore = await SqliteMetastore.open(dir);
    for (let n = 0; n < 3; n++) {
      const pprof = buildPprof({
        sampleTypes: [["cpu", "nanoseconds"]],
        locations: [{ address: 1, lines: [{ fn: "main", line: 1 }] }],
        samples: [{ stack: [0], values: [10 + n] }],
      });
      const builders = ["t1", "t2"].map((tenant) => {
        const b = new DatasetBuilder(tenant, "api");
        b.append(normalize(pprof, { service: "api", timeNanos: 1_700_000_000_000_000_000n + BigInt(n) }));
        return b;
      });
      const encoded = encodeBlock(builders);
      const id = ulid();
      await store.put(`segments/${id}/block.bin`, encoded.bytes);
      await metastore.addBlock({
        id,
        objectKey: `segments/${id}/block.bin`,
        formatVersion: 1,
        level: 0,
        tenant: "",
        minTimeMs: encoded.minTimeMs,
        maxTimeMs: encoded.maxTimeMs,
        sizeBytes: encoded.bytes.length,
        createdAtMs: Date.now(),
        datasets: encoded.datasets,
      });
    }
    const metrics = createRegistry();
    const running = await startServerCompactor({
      dataDir: dir,
      config: { ...defaultConfig(), compactionIntervalMs: 20, compactionL0MaxAgeMs: 0 },
      metrics,
      logger: createLogger({ level: "error" }),
    });
    try {
      for (let i = 0; i < 300 && (await metastore.listBlocks({ level: 0 })).length > 0; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      await running.compactor.refreshSnapshot();
      const text = metrics.render();
      assert.match(text, /kiln_compaction_jobs_total\{level="0",outcome="success"\} 1/);
      assert.match(text, /kiln_blocks\{level="1"\} 2/);
      assert.match(text, /kiln_blocks\{level="0"\} 0/);
      assert.match(text, /kiln_compaction_lag_seconds 0/);
      assert.match(text, /kiln_compaction_tombstones 3/);
    } finally {
      await running.stop();
      await store.close();
      await metastore.close();
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});

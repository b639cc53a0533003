import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, it } from "node:test";
import { block, dataset, metastoreContract } from "./contract.ts";
import { CREATE_SCHEMA_VERSION_TABLE, MIGRATIONS } from "./schema.ts";
import { DEFAULT_METASTORE_FILE, SqliteMetastore } from "./sqlite.ts";

const SQLITE_URL = new URL("./sqlite.ts", import.meta.url).href;
const CONTRACT_URL = new URL("./contract.ts", import.meta.url).href;

async function tempFolder(): Promise<string> {
  return fsp.mkdtemp(join(tmpdir(), "kiln-metastore-"));
}

metastoreContract("SqliteMetastore", async () => {
  const dir = await tempFolder();
  const dataDir = join(dir, "data");
  return {
    store: await SqliteMetastore.open(dataDir),
    reopen: () => SqliteMetastore.open(dataDir),
    cleanup: () => fsp.rm(dir, { recursive: true, force: true }),
  };
});

/** Runs an ES module snippet in a fresh Node process; resolves with how it ended. */
function runChild(source: string): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", source], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (code !== null && code !== 0) reject(new Error(`child exited with ${code}: ${stderr}`));
      else resolvePromise({ code, signal });
    });
  });
}

describe("SqliteMetastore", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await tempFolder();
  });
  afterEach(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it("uses WAL mode in a file in the data folder", async () => {
    const store = await SqliteMetastore.open(dir);
    assert.equal(store.path, join(dir, DEFAULT_METASTORE_FILE));
    const raw = new DatabaseSync(store.path, { readOnly: true });
    assert.equal(raw.prepare("PRAGMA journal_mode").get()?.journal_mode, "wal");
    raw.close();
    await store.close();
  });

  it("a block added right before SIGKILL is there on reopen", async () => {
    const source = `
      import { SqliteMetastore } from ${JSON.stringify(SQLITE_URL)};
      import { block, dataset } from ${JSON.stringify(CONTRACT_URL)};
      const store = await SqliteMetastore.open(${JSON.stringify(dir)});
      await store.addBlock(block(42, { datasets: [dataset({ service: "killed" })] }));
      process.kill(process.pid, "SIGKILL");
    `;
    const { signal } = await runChild(source);
    assert.equal(signal, "SIGKILL");
    const store = await SqliteMetastore.open(dir);
    assert.deepEqual(
      await store.getBlock(block(42).id),
      block(42, { datasets: [dataset({ service: "killed" })] }),
    );
    const hits = await store.queryDatasets({ tenant: "t1", startMs: 0, endMs: 10_000, service: "killed" });
    assert.equal(hits.length, 1);
    await store.close();
  });

  it("two processes can write to the same file at once", async () => {
    const perWriter = 100;
    const source = `
      import { SqliteMetastore } from ${JSON.stringify(SQLITE_URL)};
      import { block } from ${JSON.stringify(CONTRACT_URL)};
      const store = await SqliteMetastore.open(${JSON.stringify(dir)});
      for (let i = 0; i < ${perWriter}; i++) await store.addBlock(block(1000 + i));
      await store.close();
    `;
    const store = await SqliteMetastore.open(dir);
    const child = runChild(source);
    for (let i = 0; i < perWriter; i++) {
      await store.addBlock(block(i));
      // Yield so the child gets turns at the write lock while this process is between writes.
      await new Promise((r) => setImmediate(r));
    }
    await child;
    assert.equal((await store.listBlocks()).length, 2 * perWriter);
    await store.close();
  });

  it("two handles on one file see each other's commits", async () => {
    const a = await SqliteMetastore.open(dir);
    const b = await SqliteMetastore.open(dir);
    await a.addBlock(block(1));
    assert.deepEqual(await b.getBlock(block(1).id), block(1));
    await a.close();
    await b.close();
  });

  it("refuses a file whose schema is newer than this code", async () => {
    const store = await SqliteMetastore.open(dir);
    const path = store.path;
    await store.close();
    const raw = new DatabaseSync(path);
    raw.prepare("INSERT INTO schema_version (version, applied_at_ms) VALUES (?, ?)").run(99, Date.now());
    raw.close();
    await assert.rejects(SqliteMetastore.open(dir), /schema version 99, newer/);
  });

  it("reopening an up-to-date file applies no migration twice", async () => {
    await (await SqliteMetastore.open(dir)).close();
    const store = await SqliteMetastore.open(dir);
    assert.equal(await store.schemaVersion(), 3);
    await store.close();
    const raw = new DatabaseSync(join(dir, DEFAULT_METASTORE_FILE), { readOnly: true });
    assert.deepEqual(
      raw
        .prepare("SELECT version FROM schema_version ORDER BY version")
        .all()
        .map((r) => r.version),
      [1, 2, 3],
    );
    raw.close();
  });

  it("migrates a version-1 file with blocks to the current version, keeping them", async () => {
    const raw = new DatabaseSync(join(dir, DEFAULT_METASTORE_FILE));
    raw.exec(CREATE_SCHEMA_VERSION_TABLE);
    for (const statement of MIGRATIONS[0]!) raw.exec(statement);
    raw.prepare("INSERT INTO schema_version (version, applied_at_ms) VALUES (1, 0)").run();
    raw
      .prepare(
        `INSERT INTO blocks (id, object_key, format_version, level, tenant, min_time_ms, max_time_ms,
           size_bytes, created_at_ms, deleted_at_ms) VALUES ('B1', 'segments/B1/block.bin', 1, 0, '', 1, 2, 3, 4, NULL)`,
      )
      .run();
    raw.close();
    const store = await SqliteMetastore.open(dir);
    assert.equal(await store.schemaVersion(), 3);
    assert.deepEqual(
      (await store.listBlocks()).map((b) => b.id),
      ["B1"],
    );
    await store.addCompactionJobs([{ id: "J1", tenant: "", level: 0, sourceBlockIds: ["B1"] }]);
    assert.equal((await store.acquireCompactionJob({ owner: "w", leaseMs: 1000 }))?.job.id, "J1");
    // Version 3: retention and deletion work on the migrated rows.
    assert.deepEqual(await store.deleteTenant("t9", { deleteAfterMs: 0 }), []);
    assert.deepEqual(
      (await store.listBlocksEndingBefore(3, 10)).map((b) => b.id),
      ["B1"],
    );
    await store.close();
  });
});

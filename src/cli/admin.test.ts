import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Compactor } from "../compactor/compactor.ts";
import { block, dataset } from "../metastore/contract.ts";
import { SqliteMetastore } from "../metastore/sqlite.ts";
import { FsObjectStore } from "../objstore/fs-store.ts";
import { ADMIN_HELP, runAdminCli } from "./admin.ts";
import { helpText } from "./config.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));

function capture() {
  let text = "";
  return {
    write(chunk: string) {
      text += chunk;
    },
    get text() {
      return text;
    },
  };
}

describe("kiln admin", () => {
  it("lists blocks and deletes a tenant, against a data folder another process has open", async () => {
    const dir = await fsp.mkdtemp(join(tmpdir(), "kiln-admin-"));
    // The "server": its own connections stay open the whole time.
    const store = await FsObjectStore.open(join(dir, "objects"));
    const metastore = await SqliteMetastore.open(dir);
    try {
      const blocks = [
        block(1, {
          tenant: "",
          datasets: [dataset({ tenant: "t1" }), dataset({ tenant: "t2", service: "web" })],
        }),
        block(2, { tenant: "t1", level: 1 }),
        block(3, { tenant: "t1", level: 2 }),
        block(4, { tenant: "t2", level: 1, datasets: [dataset({ tenant: "t2", service: "web" })] }),
      ];
      for (const b of blocks) {
        await store.put(b.objectKey, new Uint8Array(8));
        await metastore.addBlock(b);
      }
      const help = spawnSync(process.execPath, [MAIN, "admin", "--help"], { encoding: "utf8" });
      assert.equal(help.status, 0);
      assert.equal(help.stdout, ADMIN_HELP);
      assert.match(helpText(), /\n {2}admin {7}/);

      const run = async (...args: string[]) => {
        const out = capture();
        const err = capture();
        const code = await runAdminCli(args, out, err);
        return { code, out: out.text, err: err.text };
      };
      const listed = spawnSync(process.execPath, [MAIN, "admin", "blocks", "--data-dir", dir], {
        encoding: "utf8",
      });
      assert.equal(listed.status, 0, listed.stderr);
      assert.match(listed.stdout, /\(shared segments\) level 0: 1 blocks/);
      assert.match(
        listed.stdout,
        /t1 level 1: 1 blocks, 4\.0 KiB\n {2}01J0+2 {2}L1 {2}1970-01-01T00:00:01\.000Z \.\. 1970-01-01T00:00:02\.000Z/,
      );
      assert.match(listed.stdout, /t1\/api,t2\/web/);
      assert.match(listed.stdout, /4 blocks\n$/);
      const json = await run("blocks", "--data-dir", dir, "--tenant", "t1", "--level", "2", "--json");
      assert.equal(json.code, 0);
      assert.deepEqual(
        JSON.parse(json.out).map((b: { id: string; level: number }) => [b.id, b.level]),
        [[blocks[2]!.id, 2]],
      );
      assert.equal((await run("blocks", "--level", "x", "--data-dir", dir)).code, 2);
      assert.equal((await run("bogus")).code, 2);

      // Without --yes: says what it would do, changes nothing.
      const dry = await run("delete-tenant", "t1", "--data-dir", dir);
      assert.equal(dry.code, 1);
      assert.match(
        dry.out,
        /would delete tenant "t1": 2 blocks, 8\.0 KiB, and its data in 1 shared level-0 segments/,
      );
      assert.equal((await metastore.listBlocks({ tenant: "t1" })).length, 2);

      const done = spawnSync(
        process.execPath,
        [MAIN, "admin", "delete-tenant", "t1", "--data-dir", dir, "--yes", "--delete-delay-ms", "0"],
        { encoding: "utf8" },
      );
      assert.equal(done.status, 0, done.stderr);
      assert.match(done.stdout, /deleted tenant "t1": 2 blocks tombstoned/);
      // The server's own connection sees it at once: no t1 data left to query, t2 untouched.
      const all = { startMs: 0, endMs: Number.MAX_SAFE_INTEGER };
      assert.deepEqual(await metastore.queryDatasets({ tenant: "t1", ...all }), []);
      assert.equal((await metastore.queryDatasets({ tenant: "t2", ...all })).length, 2);
      // The compactor deletes the objects after the grace period (0 here).
      const compactor = new Compactor({ store, metastore, plan: false, orphanSweepIntervalMs: 0 });
      assert.equal(await compactor.deleteDueTombstones(), 2);
      assert.deepEqual(
        (await store.list("")).map((o) => o.key).sort(),
        [blocks[0]!.objectKey, blocks[3]!.objectKey].sort(),
      );
    } finally {
      await store.close();
      await metastore.close();
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});

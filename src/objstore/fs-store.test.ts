import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { objectStoreContract, patternBytes } from "./contract.ts";
import { FsObjectStore, FsRangeReaderSync } from "./fs-store.ts";
import { InvalidObjectKeyError, ObjectNotFoundError } from "./object-store.ts";

const FS_STORE_URL = new URL("./fs-store.ts", import.meta.url).href;

async function tempFolder(): Promise<string> {
  return fsp.mkdtemp(join(tmpdir(), "kiln-fs-store-"));
}

objectStoreContract("FsObjectStore", async () => {
  const dir = await tempFolder();
  const store = await FsObjectStore.open(join(dir, "objects"));
  return { store, cleanup: () => fsp.rm(dir, { recursive: true, force: true }) };
});

/** Runs an ES module snippet in a fresh Node process; resolves with its exit signal and stdout. */
function runChild(
  source: string,
  opts: { killAfterMs?: number } = {},
): Promise<{ signal: string | null; stdout: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", source], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer =
      opts.killAfterMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), opts.killAfterMs);
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (code !== null && code !== 0) reject(new Error(`child exited with ${code}: ${stderr}`));
      else resolvePromise({ signal, stdout });
    });
  });
}

/** strace can show the order of syscalls a put makes; not every machine has it or allows ptrace. */
const straceSkip: string | false =
  spawnSync("strace", ["-f", "-qq", "-o", "/dev/null", "true"]).status === 0
    ? false
    : "strace is not available";

type Syscall = { kind: "fsync" | "mkdir"; path: string } | { kind: "rename"; from: string; to: string };

/**
 * Reads an `strace -f -o` log into the successful fsync/mkdir/rename calls in completion
 * order, resolving fsync's file descriptor to the path it was opened with.
 */
function parseStrace(log: string): Syscall[] {
  const pending = new Map<string, string>();
  const fdPaths = new Map<string, string>();
  const calls: Syscall[] = [];
  for (const line of log.split("\n")) {
    const m = /^(\d+)\s+(.*)$/.exec(line);
    if (m === null) continue;
    const [, pid, rest] = m as unknown as [string, string, string];
    if (rest.endsWith("<unfinished ...>")) {
      pending.set(pid, rest.slice(0, -"<unfinished ...>".length));
      continue;
    }
    const resumed = /^<\.\.\. \w+ resumed>(.*)$/.exec(rest);
    const call = resumed === null ? rest : (pending.get(pid) ?? "") + resumed[1];
    pending.delete(pid);
    const ok = / = (\d+)$/.exec(call);
    if (ok === null) continue;
    const ret = ok[1]!;
    const str = [...call.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((x) => x[1]!);
    if (call.startsWith("openat(")) fdPaths.set(ret, str[0]!);
    else if (call.startsWith("close(")) fdPaths.delete(/^close\((\d+)/.exec(call)![1]!);
    else if (call.startsWith("fsync(") || call.startsWith("fdatasync(")) {
      const path = fdPaths.get(/^f\w+\((\d+)/.exec(call)![1]!);
      if (path !== undefined) calls.push({ kind: "fsync", path });
    } else if (call.startsWith("mkdir")) calls.push({ kind: "mkdir", path: str[0]! });
    else if (call.startsWith("rename")) calls.push({ kind: "rename", from: str[0]!, to: str[1]! });
  }
  return calls;
}

describe("FsObjectStore", () => {
  let dir: string;
  let root: string;
  beforeEach(async () => {
    dir = await tempFolder();
    root = join(dir, "data", "objects");
  });
  afterEach(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it("creates a missing root with its parents and stores objects as files under it", async () => {
    const store = await FsObjectStore.open(root);
    await store.put("a/b/c.bin", new Uint8Array([1, 2, 3]));
    assert.deepEqual(
      new Uint8Array(await fsp.readFile(join(root, "a", "b", "c.bin"))),
      new Uint8Array([1, 2, 3]),
    );
    await store.close();
  });

  it("getRange through cached read handles sees this process's replacements and deletes", async () => {
    const store = await FsObjectStore.open(root, { readHandlesMax: 2 });
    const keys = ["h/1", "h/2", "h/3", "h/4", "h/5"];
    for (const [i, key] of keys.entries()) await store.put(key, new Uint8Array([i, i, i]));
    // More keys than handles, read twice and concurrently: every answer is its own object's.
    for (let round = 0; round < 2; round++) {
      const got = await Promise.all(keys.map((key) => store.getRange(key, 1, 2)));
      for (const [i, bytes] of got.entries()) assert.deepEqual(bytes, new Uint8Array([i, i]));
    }
    await store.put("h/5", new Uint8Array([9, 8, 7, 6]));
    assert.deepEqual(await store.getRange("h/5", 2, 2), new Uint8Array([7, 6]));
    await store.delete("h/4");
    await assert.rejects(store.getRange("h/4", 0, 1), ObjectNotFoundError);
    await assert.rejects(store.getRange("h/3", 2, 5), RangeError);
    // Handles are closed by close (asynchronously: give FileHandle.close a turn).
    await store.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const fds = await fsp.readdir("/proc/self/fd");
    const targets = await Promise.all(fds.map((fd) => fsp.readlink(`/proc/self/fd/${fd}`).catch(() => "")));
    const still = targets.filter((target) => target.startsWith(root));
    assert.deepEqual(still, [], `descriptors left open: ${still.join(", ")}`);
  });

  it("FsRangeReaderSync reads ranges through cached descriptors and notices deleted objects", async () => {
    const store = await FsObjectStore.open(root);
    await store.put("r/a", new Uint8Array([1, 2, 3, 4]));
    const reader = new FsRangeReaderSync(root, 1);
    try {
      assert.deepEqual(reader.read("r/a", 1, 2), new Uint8Array([2, 3]));
      assert.throws(() => reader.read("r/a", 3, 2), RangeError);
      // Deleted (another process, say): the cached descriptor is dropped, not read.
      await store.delete("r/a");
      assert.throws(() => reader.read("r/a", 0, 1), ObjectNotFoundError);
      // Replaced by a new object under the same key: the new bytes.
      await store.put("r/a", new Uint8Array([9, 8]));
      assert.deepEqual(reader.read("r/a", 0, 2), new Uint8Array([9, 8]));
      assert.throws(() => reader.read("missing", 0, 1), ObjectNotFoundError);
    } finally {
      reader.close();
      await store.close();
    }
  });

  it("hides leftover temp files from list and get, and refuses keys that look like them", async () => {
    const store = await FsObjectStore.open(root);
    await store.put("a/real", new Uint8Array([1]));
    await fsp.writeFile(join(root, "a", ".kiln-tmp-0123456789abcdef"), "partial");
    await fsp.writeFile(join(root, ".kiln-tmp-feedfacefeedface"), "partial");
    assert.deepEqual(await store.list(""), [{ key: "a/real", sizeBytes: 1 }]);
    await assert.rejects(store.get("a/.kiln-tmp-0123456789abcdef"), InvalidObjectKeyError);
    await assert.rejects(store.put(".kiln-tmp-x/y", new Uint8Array([1])), InvalidObjectKeyError);
    await store.close();
  });

  it("deletes stale temp files at open and keeps young ones, which may belong to a live writer", async () => {
    await fsp.mkdir(join(root, "seg"), { recursive: true });
    const stale = join(root, "seg", ".kiln-tmp-aaaaaaaaaaaaaaaa");
    const young = join(root, "seg", ".kiln-tmp-bbbbbbbbbbbbbbbb");
    await fsp.writeFile(stale, "left by a crash");
    await fsp.writeFile(young, "being written");
    const hourAgo = new Date(Date.now() - 60 * 60 * 1000);
    await fsp.utimes(stale, hourAgo, hourAgo);
    const store = await FsObjectStore.open(root);
    assert.equal(existsSync(stale), false);
    assert.equal(existsSync(young), true);
    await store.close();
    const eager = await FsObjectStore.open(root, { staleTempAgeMs: 0 });
    assert.equal(existsSync(young), false);
    await eager.close();
  });

  it("never touches anything outside the root", async () => {
    const store = await FsObjectStore.open(root);
    const before = (await fsp.readdir(join(dir, "data"))).sort();
    for (const key of ["../escape", "a/../../escape", "/tmp/escape", "..\\escape"]) {
      await assert.rejects(store.put(key, new Uint8Array([1])), InvalidObjectKeyError);
      await assert.rejects(store.delete(key), InvalidObjectKeyError);
    }
    await assert.rejects(store.list("../"), InvalidObjectKeyError);
    assert.deepEqual((await fsp.readdir(join(dir, "data"))).sort(), before);
    await store.close();
  });

  it("removes folders left empty by delete, up to but not including the root", async () => {
    const store = await FsObjectStore.open(root);
    await store.put("x/y/z/obj", new Uint8Array([1]));
    await store.put("x/keep", new Uint8Array([2]));
    await store.delete("x/y/z/obj");
    assert.equal(existsSync(join(root, "x", "y")), false);
    assert.equal(existsSync(join(root, "x", "keep")), true);
    await store.delete("x/keep");
    assert.equal(existsSync(join(root, "x")), false);
    assert.equal(existsSync(root), true);
    await store.close();
  });

  it("puts and deletes racing in one folder never lose an acknowledged put", async () => {
    const store = await FsObjectStore.open(root);
    const rounds = 50;
    for (let i = 0; i < rounds; i++) {
      // Deleting the only other object in the folder tries to remove the folder while the put
      // is creating its temp file in it.
      await store.put(`race/${i}/old`, new Uint8Array([0]));
      await Promise.all([store.delete(`race/${i}/old`), store.put(`race/${i}/new`, new Uint8Array([i]))]);
      assert.deepEqual(await store.get(`race/${i}/new`), new Uint8Array([i]));
    }
    await store.close();
  });

  it("a put that cannot create its folder rejects and leaves no temp file", async () => {
    const store = await FsObjectStore.open(root);
    await store.put("file", new Uint8Array([1]));
    await assert.rejects(store.put("file/below", new Uint8Array([2])));
    assert.deepEqual(await fsp.readdir(root), ["file"]);
    await store.close();
  });

  it("an object is readable after the process is SIGKILLed right after put resolves", async () => {
    const source = `
      import { FsObjectStore } from ${JSON.stringify(FS_STORE_URL)};
      const store = await FsObjectStore.open(${JSON.stringify(root)});
      const data = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 7) & 0xff);
      await store.put("segments/01JKILLED/block.bin", data);
      process.kill(process.pid, "SIGKILL");
    `;
    const { signal } = await runChild(source);
    assert.equal(signal, "SIGKILL");
    const store = await FsObjectStore.open(root);
    const back = await store.get("segments/01JKILLED/block.bin");
    assert.equal(back.length, 3 * 1024 * 1024);
    assert.ok(back.every((b, i) => b === ((i * 7) & 0xff)));
    await store.close();
  });

  it("put syncs the temp file before the rename, the folder after it, and new folders' parents", {
    skip: straceSkip,
  }, async () => {
    // The root exists beforehand, as after `open`; the put must create seg/ and seg/01J/.
    await (await FsObjectStore.open(root)).close();
    const logPath = join(dir, "strace.log");
    const source = `
      import { FsObjectStore } from ${JSON.stringify(FS_STORE_URL)};
      const store = await FsObjectStore.open(${JSON.stringify(root)});
      await store.put("seg/01J/block.bin", new Uint8Array(1000));
    `;
    const traced = spawnSync(
      "strace",
      [
        "-f",
        "-qq",
        "-o",
        logPath,
        "-e",
        "trace=openat,close,fsync,fdatasync,mkdir,mkdirat,rename,renameat,renameat2",
      ].concat([process.execPath, "--input-type=module", "-e", source]),
      { encoding: "utf8" },
    );
    assert.equal(traced.status, 0, traced.stderr);
    const calls = parseStrace(await fsp.readFile(logPath, "utf8")).filter((c) =>
      c.kind === "rename" ? c.to.startsWith(root) : c.path.startsWith(root),
    );
    const key = join(root, "seg", "01J", "block.bin");
    const renameAt = calls.findIndex((c) => c.kind === "rename" && c.to === key);
    assert.ok(renameAt >= 0, `no rename to ${key} in ${JSON.stringify(calls)}`);
    const rename = calls[renameAt] as { from: string };
    assert.match(rename.from, /\/seg\/01J\/\.kiln-tmp-[0-9a-f]+$/);
    const fsyncAt = (path: string, from: number, to: number) =>
      calls.findIndex((c, i) => i > from && i < to && c.kind === "fsync" && c.path === path);
    assert.ok(fsyncAt(rename.from, -1, renameAt) >= 0, "temp file not fsynced before the rename");
    assert.ok(fsyncAt(dirname(key), renameAt, calls.length) >= 0, "folder not fsynced after the rename");
    for (const folder of [join(root, "seg"), join(root, "seg", "01J")]) {
      const madeAt = calls.findIndex((c) => c.kind === "mkdir" && c.path === folder);
      assert.ok(madeAt >= 0 && madeAt < renameAt, `${folder} not made before the rename`);
      assert.ok(
        fsyncAt(dirname(folder), madeAt, renameAt) >= 0,
        `parent of ${folder} not fsynced before the rename`,
      );
    }
  });

  it("a process killed in the middle of puts leaves each key whole or absent", async () => {
    const sizeBytes = 2 * 1024 * 1024;
    // The child replaces one key with version after version and writes fresh keys, printing
    // each acknowledged one; it is killed at an arbitrary moment.
    const source = `
      import { FsObjectStore } from ${JSON.stringify(FS_STORE_URL)};
      import { patternBytes } from ${JSON.stringify(new URL("./contract.ts", import.meta.url).href)};
      const store = await FsObjectStore.open(${JSON.stringify(root)});
      for (let i = 0; i < 1000; i++) {
        await store.put("replaced", patternBytes(${sizeBytes}, i % 4));
        await store.put("fresh/" + i, patternBytes(${sizeBytes}, i % 4));
        process.stdout.write("acked " + i + "\\n");
      }
    `;
    const { signal, stdout } = await runChild(source, { killAfterMs: 400 });
    assert.equal(signal, "SIGKILL", "the child finished before it was killed; raise the put count");
    const acked = stdout.split("\n").filter((l) => l.startsWith("acked ")).length;
    const store = await FsObjectStore.open(root, { staleTempAgeMs: 0 });
    const versions = [0, 1, 2, 3].map((seed) => Buffer.from(patternBytes(sizeBytes, seed)));
    const whole = (b: Uint8Array) => versions.some((v) => v.equals(Buffer.from(b)));
    try {
      assert.ok(whole(await store.get("replaced")));
    } catch (err) {
      // Only possible when the kill came before the first put finished.
      assert.ok(err instanceof ObjectNotFoundError && acked === 0, String(err));
    }
    const fresh = await store.list("fresh/");
    assert.ok(fresh.length >= acked, `${fresh.length} fresh objects but ${acked} acknowledged`);
    for (const { key, sizeBytes: size } of fresh) {
      assert.equal(size, sizeBytes);
      assert.ok(whole(await store.get(key)), `${key} is not a whole version`);
    }
    // The open above removed whatever temp file the kill left.
    const leftovers = (await fsp.readdir(root, { recursive: true })).filter((p) => p.includes(".kiln-tmp-"));
    assert.deepEqual(leftovers, []);
    await store.close();
  });
});

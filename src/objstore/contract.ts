/**
 * The ObjectStore contract as a node:test suite. Every implementation (filesystem now, S3
 * later) runs it from its own test file:
 *
 *   objectStoreContract("FsObjectStore", async () => { … return { store, cleanup }; });
 *
 * Each test gets a fresh, empty store from `make` and calls `cleanup` afterwards (after
 * closing the store itself), so tests are independent of each other's keys.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { InvalidObjectKeyError, ObjectNotFoundError, type ObjectStore } from "./object-store.ts";

export interface ObjectStoreFixture {
  store: ObjectStore;
  cleanup(): Promise<void>;
}

/** Deterministic bytes that differ at every offset, so a shifted or mixed read shows up. */
export function patternBytes(sizeBytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(sizeBytes);
  let x = (seed * 2654435761 + 1) >>> 0;
  for (let i = 0; i < sizeBytes; i++) {
    // xorshift32: cheap and never stuck at zero for a non-zero state.
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

const INVALID_KEYS = [
  "",
  "/abs",
  "/",
  "a//b",
  "a/",
  "..",
  "../x",
  "a/../../b",
  "a/..",
  "./a",
  "a/./b",
  "a\\b",
  "a\u0000b",
  "a\nb",
  "x".repeat(1025),
];

export function objectStoreContract(name: string, make: () => Promise<ObjectStoreFixture>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let fixture: ObjectStoreFixture;
    let store: ObjectStore;
    beforeEach(async () => {
      fixture = await make();
      store = fixture.store;
    });
    afterEach(async () => {
      await store.close();
      await fixture.cleanup();
    });

    it("puts and gets an object, including an empty one", async () => {
      await store.put("a/b.bin", text("hello"));
      await store.put("empty", new Uint8Array(0));
      assert.deepEqual(await store.get("a/b.bin"), text("hello"));
      assert.deepEqual(await store.get("empty"), new Uint8Array(0));
      assert.equal(await store.size("a/b.bin"), 5);
      assert.equal(await store.size("empty"), 0);
    });

    it("stores a copy: changing the caller's buffer after put changes nothing", async () => {
      const data = text("original");
      await store.put("k", data);
      data.fill(0);
      assert.deepEqual(await store.get("k"), text("original"));
    });

    it("replaces an existing key whole, also with a shorter object", async () => {
      await store.put("k", patternBytes(4096, 1));
      await store.put("k", text("short"));
      assert.deepEqual(await store.get("k"), text("short"));
      assert.equal(await store.size("k"), 5);
      const listed = await store.list("k");
      assert.deepEqual(listed, [{ key: "k", sizeBytes: 5 }]);
    });

    it("getRange returns exactly the requested bytes", async () => {
      const data = patternBytes(1000, 2);
      await store.put("r", data);
      assert.deepEqual(await store.getRange("r", 0, 10), data.subarray(0, 10));
      assert.deepEqual(await store.getRange("r", 123, 456), data.subarray(123, 579));
      assert.deepEqual(await store.getRange("r", 990, 10), data.subarray(990, 1000));
      assert.deepEqual(await store.getRange("r", 0, 1000), data);
      assert.deepEqual(await store.getRange("r", 1000, 0), new Uint8Array(0));
      assert.deepEqual(await store.getRange("r", 500, 0), new Uint8Array(0));
    });

    it("getRange past the end or with a bad range rejects with RangeError", async () => {
      await store.put("r", patternBytes(100, 3));
      await assert.rejects(store.getRange("r", 95, 6), RangeError);
      await assert.rejects(store.getRange("r", 100, 1), RangeError);
      await assert.rejects(store.getRange("r", 101, 0), RangeError);
      await assert.rejects(store.getRange("r", 0, 101), RangeError);
      await assert.rejects(store.getRange("r", -1, 5), RangeError);
      await assert.rejects(store.getRange("r", 0, -1), RangeError);
      await assert.rejects(store.getRange("r", 1.5, 2), RangeError);
      await assert.rejects(store.getRange("r", 0, Number.NaN), RangeError);
    });

    it("missing keys reject with ObjectNotFoundError naming the key", async () => {
      const isNotFound = (key: string) => (err: unknown) =>
        err instanceof ObjectNotFoundError && err.key === key;
      await assert.rejects(store.get("nope/x"), isNotFound("nope/x"));
      await assert.rejects(store.getRange("nope/x", 0, 1), isNotFound("nope/x"));
      await assert.rejects(store.size("nope/x"), isNotFound("nope/x"));
      // A "folder" of an existing key is not an object.
      await store.put("dir/child", text("c"));
      await assert.rejects(store.get("dir"), isNotFound("dir"));
      await assert.rejects(store.size("dir"), isNotFound("dir"));
      // Nor is a path below an existing object.
      await assert.rejects(store.get("dir/child/below"), isNotFound("dir/child/below"));
    });

    it("lists by plain string prefix, sorted, with sizes", async () => {
      await store.put("seg/b/c", text("ccc"));
      await store.put("seg/a", text("a"));
      await store.put("segx", text("xx"));
      await store.put("se", text("s"));
      await store.put("other/seg", text("o"));
      assert.deepEqual(await store.list("seg"), [
        { key: "seg/a", sizeBytes: 1 },
        { key: "seg/b/c", sizeBytes: 3 },
        { key: "segx", sizeBytes: 2 },
      ]);
      assert.deepEqual(
        (await store.list("seg/")).map((o) => o.key),
        ["seg/a", "seg/b/c"],
      );
      assert.deepEqual(
        (await store.list("seg/b")).map((o) => o.key),
        ["seg/b/c"],
      );
      assert.deepEqual(
        (await store.list("seg/b/c")).map((o) => o.key),
        ["seg/b/c"],
      );
      assert.deepEqual(
        (await store.list("")).map((o) => o.key),
        ["other/seg", "se", "seg/a", "seg/b/c", "segx"],
      );
      assert.deepEqual(await store.list("nothing"), []);
      assert.deepEqual(await store.list("nothing/below/"), []);
    });

    it("lists in byte order of the keys", async () => {
      const keys = ["b", "a/z", "a-", "a0", "B", "a/a/a", "ab"];
      for (const key of keys) await store.put(key, text(key));
      const sorted = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      assert.deepEqual(
        (await store.list("")).map((o) => o.key),
        sorted,
      );
    });

    it("delete removes the object and is idempotent", async () => {
      await store.put("d/one", text("1"));
      await store.put("d/two", text("2"));
      await store.delete("d/one");
      await assert.rejects(store.get("d/one"), ObjectNotFoundError);
      assert.deepEqual(await store.get("d/two"), text("2"));
      await store.delete("d/one");
      await store.delete("never/existed");
      await store.delete("d"); // a "folder", not an object
      assert.deepEqual(
        (await store.list("d")).map((o) => o.key),
        ["d/two"],
      );
      await store.delete("d/two");
      assert.deepEqual(await store.list(""), []);
      // The emptied folder can be written again.
      await store.put("d/three", text("3"));
      assert.deepEqual(await store.get("d/three"), text("3"));
    });

    it("handles keys in deeply nested folders", async () => {
      const key = "t/01J0000000000000000000000/level/1/2/3/4/5/block.bin";
      await store.put(key, text("deep"));
      assert.deepEqual(await store.get(key), text("deep"));
      assert.deepEqual(await store.list("t/"), [{ key, sizeBytes: 4 }]);
      await store.delete(key);
      assert.deepEqual(await store.list(""), []);
    });

    it("stores a large (5 MiB) object and reads ranges of it", async () => {
      const sizeBytes = 5 * 1024 * 1024 + 17;
      const data = patternBytes(sizeBytes, 4);
      await store.put("big/block.bin", data);
      assert.equal(await store.size("big/block.bin"), sizeBytes);
      const back = await store.get("big/block.bin");
      assert.equal(back.length, sizeBytes);
      assert.ok(Buffer.from(back).equals(Buffer.from(data)));
      const start = 3 * 1024 * 1024 - 5;
      const range = await store.getRange("big/block.bin", start, 1024 * 1024);
      assert.ok(Buffer.from(range).equals(Buffer.from(data.subarray(start, start + 1024 * 1024))));
    });

    it("concurrent puts of different keys all land", async () => {
      const count = 40;
      await Promise.all(
        Array.from({ length: count }, (_, i) => store.put(`c/${i % 4}/obj-${i}`, patternBytes(1000 + i, i))),
      );
      const listed = await store.list("c/");
      assert.equal(listed.length, count);
      for (let i = 0; i < count; i++) {
        assert.deepEqual(await store.get(`c/${i % 4}/obj-${i}`), patternBytes(1000 + i, i));
      }
    });

    it("concurrent puts of one key end with exactly one whole version", async () => {
      const versions = Array.from({ length: 8 }, (_, i) => patternBytes(256 * 1024 + i * 1000, 100 + i));
      const isWholeVersion = (b: Uint8Array) => versions.some((v) => Buffer.from(v).equals(Buffer.from(b)));
      let putsSettled = false;
      const puts = Promise.all(versions.map((v) => store.put("same/key", v))).finally(() => {
        putsSettled = true;
      });
      // Readers running during the puts must only ever see a whole version (or nothing yet).
      for (let reads = 0; !putsSettled && reads < 200; reads++) {
        try {
          assert.ok(isWholeVersion(await store.get("same/key")), "a concurrent read saw a partial object");
        } catch (err) {
          if (!(err instanceof ObjectNotFoundError)) throw err;
        }
      }
      await puts;
      assert.ok(isWholeVersion(await store.get("same/key")));
      const listed = await store.list("same/");
      assert.equal(listed.length, 1);
      assert.ok(versions.some((v) => v.length === listed[0]!.sizeBytes));
    });

    it("rejects invalid keys with InvalidObjectKeyError and writes nothing", async () => {
      for (const key of INVALID_KEYS) {
        const named = (err: unknown) => err instanceof InvalidObjectKeyError && err.key === key;
        await assert.rejects(store.put(key, text("x")), named, `put ${JSON.stringify(key)}`);
        await assert.rejects(store.get(key), named, `get ${JSON.stringify(key)}`);
        await assert.rejects(store.getRange(key, 0, 1), named, `getRange ${JSON.stringify(key)}`);
        await assert.rejects(store.size(key), named, `size ${JSON.stringify(key)}`);
        await assert.rejects(store.delete(key), named, `delete ${JSON.stringify(key)}`);
      }
      for (const prefix of ["/", "../", "a/../", "a//", "a\u0000"]) {
        await assert.rejects(store.list(prefix), InvalidObjectKeyError, `list ${JSON.stringify(prefix)}`);
      }
      assert.deepEqual(await store.list(""), []);
    });

    it("accepts keys with dots, dashes and non-ASCII characters", async () => {
      const keys = ["a.b/..c/.d", "x-y_z/ünïcødé/日本", "..."];
      for (const key of keys) await store.put(key, text(key));
      for (const key of keys) assert.deepEqual(await store.get(key), text(key));
      assert.equal((await store.list("")).length, keys.length);
      assert.deepEqual(
        (await store.list("..")).map((o) => o.key),
        ["..."],
      );
    });

    it("close waits for puts in flight; later calls reject; close is idempotent", async () => {
      const put = store.put("closing/k", patternBytes(100_000, 5));
      await store.close();
      await put;
      await assert.rejects(store.get("closing/k"));
      await assert.rejects(store.put("closing/other", text("x")));
      await store.close();
    });
  });
}

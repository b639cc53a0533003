/**
 * Query guard rails: the per-query timeout, cancellation when the caller goes away, and the
 * bounds on section bytes read and memory held, each exceeded with an error naming the bound
 * and the value. Server-level checks go through Connect and the render API (options from the
 * config); engine-level checks use a QueryEngine over the same stores with other limits.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { QuerierService } from "../src/gen/querier/v1/querier_pb.js";
import { SqliteMetastore } from "../src/metastore/sqlite.ts";
import { KilnError } from "../src/model/errors.ts";
import { FsObjectStore } from "../src/objstore/fs-store.ts";
import type { ObjectStore } from "../src/objstore/object-store.ts";
import { formatBytes, QueryBudget } from "../src/query/budget.ts";
import { QueryEngine, type StackQuery } from "../src/query/engine.ts";
import { testdata, testdataRoot } from "../src/testing/testdata.ts";
import { acceptAnyTime, type InProcessKiln, startInProcess } from "./helpers/kiln.ts";

const corpus = testdata("pprof");
const TYPE = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
const FILES = [
  ["pprof/pyroscope-java-asyncprofiler-cpu.pb.gz", "svc-a"],
  ["pprof/pyroscope-java-asyncprofiler-cpu.pb.gz", "svc-b"],
  ["pprof/pyroscope-go-cpu-labels.pb.gz", "svc-c"],
] as const;

async function push(url: string, path: string, name: string): Promise<void> {
  const query = new URLSearchParams({ name, format: "pprof", spyName: "rawspy" });
  const res = await fetch(`${url}/ingest?${query}`, {
    method: "POST",
    body: readFileSync(join(testdataRoot, path)),
    headers: { "content-type": "application/octet-stream" },
  });
  assert.equal(res.status, 200, await res.text());
}

/** A store whose ranged reads take `delayMs` (a slow object store). */
function slowStore(inner: ObjectStore, delayMs: number): ObjectStore {
  const wait = () => new Promise((r) => setTimeout(r, delayMs));
  return {
    put: (k, d) => inner.put(k, d),
    get: async (k) => {
      await wait();
      return inner.get(k);
    },
    getRange: async (k, o, l) => {
      await wait();
      return inner.getRange(k, o, l);
    },
    size: (k) => inner.size(k),
    list: (p) => inner.list(p),
    delete: (k) => inner.delete(k),
    close: () => inner.close(),
  } as ObjectStore;
}

function isKilnError(code: string, pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof KilnError, `KilnError expected, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    return true;
  };
}

describe("QueryBudget", () => {
  it("formats bytes and names the bound it enforces", () => {
    assert.equal(formatBytes(512), "512 B");
    assert.equal(formatBytes(4 * 1024 ** 3), "4 GiB");
    assert.equal(formatBytes(5.1 * 1024 ** 3), "5.1 GiB");
    const budget = new QueryBudget({ timeoutMs: 60_000, bytesReadMax: 1000, memoryBytesMax: 500 });
    budget.read(600);
    assert.throws(
      () => budget.read(600),
      isKilnError(
        "resource_exhausted",
        /^query read 1.2 KiB of block sections, limit 1000 B \(query_bytes_read_max\); narrow the time range or the selector$/,
      ),
    );
    budget.hold(300);
    budget.release(300);
    budget.setState(400);
    assert.throws(
      () => budget.hold(200),
      isKilnError("resource_exhausted", /600 B .*limit 500 B \(query_memory_bytes_max\)/),
    );
    assert.equal(budget.peakBytes, 600);
    const controller = new AbortController();
    const cancelled = new QueryBudget(
      { timeoutMs: 60_000, bytesReadMax: 1, memoryBytesMax: 1 },
      controller.signal,
    );
    cancelled.check();
    controller.abort();
    assert.throws(() => cancelled.check(), isKilnError("canceled", /client went away/));
  });
});

describe("query guard rails", { skip: corpus.skip }, () => {
  let kiln: InProcessKiln;
  let store: FsObjectStore;
  let metastore: SqliteMetastore;
  const query: StackQuery = { tenant: "anonymous", profileType: TYPE, selector: "{}", startMs: 1, endMs: 0 };

  before(async () => {
    kiln = await startInProcess({ ...acceptAnyTime, queryBytesReadMax: 1000 });
    for (const [path, name] of FILES) await push(kiln.url, path, name);
    store = await FsObjectStore.open(join(kiln.dataDir, "objects"));
    metastore = await SqliteMetastore.open(kiln.dataDir);
    query.endMs = Date.now() + 24 * 3600 * 1000;
  });
  after(async () => {
    await metastore?.close();
    await store?.close();
    await kiln?.stop();
  });

  it("the server's query_bytes_read_max answers resource_exhausted over Connect and render", async () => {
    const client = createClient(
      QuerierService,
      createConnectTransport({ baseUrl: kiln.url, httpVersion: "1.1" }),
    );
    await assert.rejects(
      client.selectMergeStacktraces({
        profileTypeID: TYPE,
        labelSelector: "{}",
        start: 1n,
        end: BigInt(query.endMs),
      }),
      (err: unknown) => {
        assert.ok(err instanceof ConnectError);
        assert.equal(err.code, Code.ResourceExhausted);
        assert.match(err.rawMessage, /of block sections, limit 1000 B \(query_bytes_read_max\)/);
        return true;
      },
    );
    const params = new URLSearchParams({ query: `${TYPE}{}`, from: "1", until: String(query.endMs) });
    const res = await fetch(`${kiln.url}/pyroscope/render?${params}`);
    assert.equal(res.status, 429);
    const body = (await res.json()) as { code: string; message: string };
    assert.equal(body.code, "resource_exhausted");
    assert.match(body.message, /query_bytes_read_max/);
    // Metadata-only queries read no sections and still work.
    const types = await client.profileTypes({ start: 1n, end: BigInt(query.endMs) });
    assert.ok(types.profileTypes.some((t) => t.ID === TYPE));
  });

  it("engine limits: bytes read, memory held; generous limits answer", async () => {
    const generous = new QueryEngine({ store, metastore });
    const tree = await generous.mergeTree(query);
    assert.ok(tree.totals()[0]! > 0);
    const budget = generous.budget();
    assert.ok(budget.limits.bytesReadMax === 4 * 1024 ** 3 && budget.limits.memoryBytesMax === 2 * 1024 ** 3);

    const fewBytes = new QueryEngine({ store, metastore, limits: { bytesReadMax: 2000 } });
    await assert.rejects(
      fewBytes.mergeTree(query),
      isKilnError("resource_exhausted", /limit 2 KiB \(query_bytes_read_max\)/),
    );
    await assert.rejects(
      fewBytes.mergePprof(query),
      isKilnError("resource_exhausted", /query_bytes_read_max/),
    );
    await assert.rejects(
      fewBytes.selectSeries({ ...query, stepMs: 60_000, groupBy: [], aggregation: "sum" }),
      isKilnError("resource_exhausted", /query_bytes_read_max/),
    );
    const littleMemory = new QueryEngine({ store, metastore, limits: { memoryBytesMax: 4096 } });
    await assert.rejects(
      littleMemory.mergeTree(query),
      isKilnError(
        "resource_exhausted",
        /^query would hold .* limit 4 KiB \(query_memory_bytes_max\); narrow/,
      ),
    );
    await assert.rejects(
      littleMemory.labelValues("anonymous", "service_name", [], { startMs: 1, endMs: query.endMs }),
      isKilnError("resource_exhausted", /query_memory_bytes_max/),
    );
  });

  it("timeout: deadline_exceeded naming query_timeout_ms", async () => {
    const slow = new QueryEngine({
      store: slowStore(store, 60),
      metastore,
      cacheBytes: 0,
      limits: { timeoutMs: 20 },
    });
    await assert.rejects(
      slow.mergeTree(query),
      isKilnError("deadline_exceeded", /limit 20 ms \(query_timeout_ms\)/),
    );
  });

  it("cancellation: an aborted signal stops the query between sections", async () => {
    const slow = new QueryEngine({ store: slowStore(store, 30), metastore, cacheBytes: 0 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 10);
    await assert.rejects(
      slow.mergeTree({ ...query, signal: controller.signal }),
      isKilnError("canceled", /client went away/),
    );
    // A reason the caller gives (e.g. a Connect deadline) is passed through.
    const given = new KilnError("deadline_exceeded", "rpc_deadline", "the RPC deadline passed");
    await assert.rejects(
      slow.mergePprof({ ...query, signal: AbortSignal.abort(given) }),
      (err: unknown) => err === given,
    );
  });
});

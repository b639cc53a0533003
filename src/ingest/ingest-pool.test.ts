import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { SqliteMetastore } from "../metastore/sqlite.ts";
import { KilnError } from "../model/errors.ts";
import { createLogger } from "../observability/log.ts";
import type { HttpIngestJob } from "./ingest-messages.ts";
import { IngestPool } from "./ingest-pool.ts";
import { defaultIngestLimits } from "./normalize/limits.ts";
import { IngestHttpError } from "./receivers/ingest-http.ts";

const job = (app: string, body = "main;work 3\nmain;idle 1\n"): HttpIngestJob => ({
  kind: "http",
  tenant: "anonymous",
  query: new URLSearchParams({ name: app, from: String(Math.floor(Date.now() / 1000)) }).toString(),
  contentType: undefined,
  body: new TextEncoder().encode(body),
  nowMs: Date.now(),
});

describe("IngestPool", () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "kiln-pool-"));
    await (await SqliteMetastore.open(dir)).close();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const start = (extra: Partial<Parameters<typeof IngestPool.start>[0]> = {}) =>
    IngestPool.start({
      workers: 2,
      dataDir: dir,
      limits: defaultIngestLimits,
      flushIntervalMs: 20,
      segmentBytesMax: 64 << 20,
      logger: createLogger({ level: "error" }),
      ...extra,
    });

  test("jobs are stored by the workers and acknowledged once registered", async () => {
    const pool = await start();
    try {
      const stored = await Promise.all(
        ["svc-a", "svc-b", "svc-c", "svc-d"].map((app) => pool.ingest(job(app), app)),
      );
      assert.deepEqual(stored, [1, 1, 1, 1]);
      const metastore = await SqliteMetastore.open(dir);
      const services = (await metastore.listBlocks()).flatMap((b) => b.datasets.map((d) => d.service)).sort();
      await metastore.close();
      assert.deepEqual(services, ["svc-a", "svc-b", "svc-c", "svc-d"]);
    } finally {
      await pool.close();
    }
  });

  test("a worker's refusal comes back as the same error, with its /ingest status", async () => {
    const pool = await start();
    try {
      await assert.rejects(pool.ingest(job("bad-app", "main;work many\n"), "bad-app"), (err: unknown) => {
        assert.ok(err instanceof IngestHttpError);
        assert.equal(err.status, 422);
        assert.match(err.message, /many/);
        return true;
      });
    } finally {
      await pool.close();
    }
  });

  test("a full worker queue refuses with resource_exhausted", async () => {
    const pool = await start({ workers: 1, jobsInFlightMax: 1, flushIntervalMs: 200 });
    try {
      const first = pool.ingest(job("svc"), "svc");
      await assert.rejects(pool.ingest(job("svc"), "svc"), (err: unknown) => {
        assert.ok(err instanceof KilnError);
        assert.equal(err.code, "resource_exhausted");
        return true;
      });
      assert.equal(await first, 1);
    } finally {
      await pool.close();
    }
  });

  test("a crashed worker fails its jobs in flight with unavailable and is replaced", async () => {
    const pool = await start({ workers: 1, flushIntervalMs: 60_000 });
    try {
      const inFlight = pool.ingest(job("svc"), "svc");
      // Wait until the job sits in the worker's open segment, then crash the worker.
      const deadline = Date.now() + 10_000;
      while (pool.pendingProfiles === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      await pool.crashWorkerForTest(0);
      await assert.rejects(inFlight, (err: unknown) => {
        assert.ok(err instanceof KilnError);
        assert.equal(err.code, "unavailable");
        return true;
      });
      // The replacement serves new jobs (with a long window, close() flushes it).
      const next = pool.ingest(job("svc"), "svc");
      await pool.close();
      assert.equal(await next, 1);
    } finally {
      await pool.close();
    }
  });
});

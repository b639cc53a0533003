/**
 * Operating the server: /metrics is valid Prometheus text (checked by promtool) carrying the
 * ingest metrics; multi-tenancy keeps tenants apart; one port speaks HTTP/1.1 and h2c.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { connect } from "node:http2";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { encodePprof } from "../src/formats/pprof/encode.ts";
import { PusherService, PushRequestSchema } from "../src/gen/push/v1/push_pb.js";
import { getLabel } from "../src/model/labels.ts";
import { makeCpuPprof } from "../src/testing/fixtures.ts";
import { type InProcessKiln, startInProcess } from "./helpers/kiln.ts";
import { readStored } from "./helpers/stored.ts";

const promtool = spawnSync("promtool", ["--version"]).status === 0;
if (!promtool && process.env.CI) throw new Error("CI is set but promtool is missing (.ci/run installs it)");

const folded = "main;handler;work 7\nmain;idle 3\n";
const now = () => String(Math.floor(Date.now() / 1000));

describe("operations", () => {
  let kiln: InProcessKiln;
  before(async () => {
    kiln = await startInProcess();
  });
  after(async () => kiln?.stop());

  test("/metrics passes promtool and counts ingest, rejections and flushes", {
    skip: !promtool && "promtool not installed",
  }, async () => {
    const ok = await fetch(`${kiln.url}/ingest?name=metrics-app&from=${now()}`, {
      method: "POST",
      body: folded,
    });
    assert.equal(ok.status, 200);
    const bad = await fetch(`${kiln.url}/ingest?name=metrics-app&format=pprof`, {
      method: "POST",
      body: "junk",
    });
    assert.equal(bad.status, 422);
    const text = await (await fetch(`${kiln.url}/metrics`)).text();
    const check = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
    assert.match(text, /^kiln_ingest_profiles_total\{receiver="ingest"\} 1$/m);
    assert.match(text, /^kiln_ingest_rejected_total\{receiver="ingest",reason="malformed_pprof"\} 1$/m);
    assert.match(text, /^kiln_segment_flush_duration_seconds_count\{outcome="success"\} [1-9]/m);
    assert.match(text, /^kiln_http_requests_total\{endpoint="\/ingest",method="POST",status="200"\} 1$/m);
    assert.match(text, /^kiln_http_request_bytes_total\{endpoint="\/ingest"\} \d+/m);
    assert.match(text, /^process_cpu_seconds_total /m);
  });

  test("HTTP/1.1 and cleartext HTTP/2 on the same port", async () => {
    assert.equal((await fetch(`${kiln.url}/ready`)).status, 200);
    const session = connect(kiln.url);
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = session.request({ ":path": "/ready" });
        req.on("response", (h) => resolve(Number(h[":status"])));
        req.on("error", reject);
        req.resume();
        req.end();
      });
      assert.equal(status, 200);
    } finally {
      session.close();
    }
  });
});

describe("multi-tenancy", () => {
  let kiln: InProcessKiln;
  before(async () => {
    kiln = await startInProcess({ multitenancy: true });
  });
  after(async () => kiln?.stop());

  test("X-Scope-OrgID is required, and each tenant's data stays its own", async () => {
    const push = (tenant: string | undefined, service: string) =>
      fetch(`${kiln.url}/ingest?name=${service}&from=${now()}`, {
        method: "POST",
        body: folded,
        headers: tenant === undefined ? {} : { "X-Scope-OrgID": tenant },
      });
    const missing = await push(undefined, "shared-app");
    assert.equal(missing.status, 401);
    assert.match(await missing.text(), /X-Scope-OrgID/);
    const badTenant = await push("../etc", "shared-app");
    assert.equal(badTenant.status, 400);
    assert.equal((await push("team-a", "shared-app")).status, 200);
    assert.equal((await push("team-b", "shared-app")).status, 200);
    assert.equal((await push("team-b", "shared-app")).status, 200);

    const a = await readStored(kiln.dataDir, { tenant: "team-a" });
    const b = await readStored(kiln.dataDir, { tenant: "team-b" });
    const cpu = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
    assert.equal(a.totals.get(cpu), 10n * 10_000_000n);
    assert.equal(b.totals.get(cpu), 2n * 10n * 10_000_000n);
    assert.equal((await readStored(kiln.dataDir, { tenant: "anonymous" })).profiles, 0);
    for (const labels of [...a.series, ...b.series])
      assert.equal(getLabel(labels, "service_name"), "shared-app");
  });

  test("push.v1 over gRPC takes the tenant from X-Scope-OrgID too", async () => {
    const client = createClient(PusherService, createGrpcTransport({ baseUrl: kiln.url }));
    const request = create(PushRequestSchema, {
      series: [
        {
          labels: [
            { name: "__name__", value: "process_cpu" },
            { name: "service_name", value: "grpc-app" },
          ],
          samples: [
            {
              rawProfile: gzipSync(encodePprof(makeCpuPprof({ timeNanos: BigInt(Date.now()) * 1_000_000n }))),
            },
          ],
        },
      ],
    });
    await assert.rejects(client.push(request), (err: unknown) => {
      assert.ok(err instanceof ConnectError);
      assert.equal(err.code, Code.Unauthenticated);
      return true;
    });
    await client.push(request, { headers: { "X-Scope-OrgID": "team-c" } });
    const c = await readStored(kiln.dataDir, { tenant: "team-c", service: "grpc-app" });
    assert.equal(c.totals.get("process_cpu:cpu:nanoseconds:cpu:nanoseconds"), 60_000_000n);
    assert.equal((await readStored(kiln.dataDir, { tenant: "team-a", service: "grpc-app" })).profiles, 0);
  });
});

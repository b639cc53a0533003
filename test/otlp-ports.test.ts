/**
 * The standard OTLP ports (--otlp-grpc-port, usually 4317; --otlp-http-port, usually 4318):
 * extra listeners that carry only the OTLP receivers, off by default, closed on shutdown.
 * The test picks free ports by binding and releasing them.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { createServer } from "node:net";
import { after, before, describe, test } from "node:test";
import { toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { defaultConfig } from "../src/cli/config.ts";
import { richExpectedTotals, richRequest } from "../src/formats/otlp/test-fixtures.ts";
import {
  ExportProfilesServiceRequestSchema,
  ProfilesService,
} from "../src/gen/opentelemetry/proto/collector/profiles/v1development/profiles_service_pb.js";
import { acceptAnyTime, type InProcessKiln, startInProcess, tempDataDir } from "./helpers/kiln.ts";
import { readStored } from "./helpers/stored.ts";

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const probe = createServer();
    probe.once("error", rej);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() => res(port));
    });
  });
}

const nowNanos = () => BigInt(Date.now()) * 1_000_000n;

async function totalsOf(dataDir: string, tenant: string): Promise<Map<string, number>> {
  const totals = new Map<string, number>();
  for (const service of ["shop", "checkout", "cart"]) {
    const stored = await readStored(dataDir, { tenant, service });
    for (const [type, total] of stored.totals) totals.set(`${service} ${type}`, Number(total));
  }
  return totals;
}

describe("OTLP standard ports", () => {
  test("off by default", () => {
    assert.equal(defaultConfig().otlpGrpcPort, 0);
    assert.equal(defaultConfig().otlpHttpPort, 0);
  });

  let kiln: InProcessKiln;
  let grpcPort: number;
  let httpPort: number;
  before(async () => {
    grpcPort = await freePort();
    httpPort = await freePort();
    kiln = await startInProcess({
      ...acceptAnyTime,
      multitenancy: true,
      otlpGrpcPort: grpcPort,
      otlpHttpPort: httpPort,
    });
  });
  after(async () => kiln?.stop());

  test("the listeners are bound where asked", () => {
    assert.equal(kiln.kiln.otlpGrpcPort, grpcPort);
    assert.equal(kiln.kiln.otlpHttpPort, httpPort);
  });

  test("OTLP/HTTP on the HTTP port stores the profiles; nothing else is served there", async () => {
    const body = toBinary(ExportProfilesServiceRequestSchema, richRequest(nowNanos()));
    const res = await fetch(`http://127.0.0.1:${httpPort}/v1development/profiles`, {
      method: "POST",
      headers: { "content-type": "application/x-protobuf", "x-scope-orgid": "http-port" },
      body,
    });
    assert.equal(res.status, 200, await res.text());
    assert.deepEqual(await totalsOf(kiln.dataDir, "http-port"), richExpectedTotals);

    const ingest = await fetch(`http://127.0.0.1:${httpPort}/ingest?name=a`, {
      method: "POST",
      body: "a;b 1",
    });
    assert.equal(ingest.status, 404);
    await ingest.text();
    const missingTenant = await fetch(`http://127.0.0.1:${httpPort}/v1development/profiles`, {
      method: "POST",
      headers: { "content-type": "application/x-protobuf" },
      body,
    });
    assert.equal(missingTenant.status, 401, "the main port's tenant rules apply");
    await missingTenant.text();
  });

  test("OTLP/gRPC on the gRPC port stores the profiles", async () => {
    const client = createClient(
      ProfilesService,
      createGrpcTransport({ baseUrl: `http://127.0.0.1:${grpcPort}` }),
    );
    await client.export(richRequest(nowNanos()), { headers: { "x-scope-orgid": "grpc-port" } });
    assert.deepEqual(await totalsOf(kiln.dataDir, "grpc-port"), richExpectedTotals);
  });

  test("the main port keeps its OTLP endpoint", async () => {
    const body = toBinary(ExportProfilesServiceRequestSchema, richRequest(nowNanos()));
    const res = await fetch(`${kiln.url}/v1development/profiles`, {
      method: "POST",
      headers: { "content-type": "application/x-protobuf", "x-scope-orgid": "main-port" },
      body,
    });
    assert.equal(res.status, 200, await res.text());
  });

  test("shutdown closes the OTLP listeners", async () => {
    await kiln.stop();
    for (const port of [grpcPort, httpPort]) {
      await assert.rejects(
        fetch(`http://127.0.0.1:${port}/v1development/profiles`, { method: "POST", body: "" }),
        `port ${port} still open`,
      );
    }
  });
});

describe("OTLP ports: a port in use", () => {
  test("fails startup with the bind error and leaves nothing listening", async () => {
    const blocker = createServer();
    await new Promise<void>((res) => blocker.listen(0, "127.0.0.1", res));
    const address = blocker.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    const dataDir = tempDataDir();
    try {
      await assert.rejects(startInProcess({ dataDir, otlpHttpPort: port }), /EADDRINUSE/);
    } finally {
      await new Promise<void>((res) => blocker.close(() => res()));
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

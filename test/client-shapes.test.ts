/**
 * The request shapes real clients send, against the real server, each checked by reading
 * the stored blocks back:
 * - @pyroscope/nodejs: raw gzipped pprof, `format=pprof`, `from`/`until` in seconds;
 * - the Go SDK: multipart/form-data with `profile` and `sample_type_config`, no `format`;
 * - Grafana Alloy / profilecli: push.v1 over gRPC (HTTP/2), Connect binary and Connect JSON.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { encodePprof } from "../src/formats/pprof/encode.ts";
import { PusherService, PushRequestSchema } from "../src/gen/push/v1/push_pb.js";
import { getLabel } from "../src/model/labels.ts";
import { makeCpuPprof } from "../src/testing/fixtures.ts";
import { type InProcessKiln, startInProcess } from "./helpers/kiln.ts";
import { readStored } from "./helpers/stored.ts";

describe("real client request shapes", () => {
  let kiln: InProcessKiln;
  before(async () => {
    kiln = await startInProcess();
  });
  after(async () => kiln?.stop());

  test("@pyroscope/nodejs: raw gzipped pprof with format=pprof", async () => {
    const nowS = Math.floor(Date.now() / 1000);
    const pprof = gzipSync(encodePprof(makeCpuPprof({ timeNanos: BigInt(nowS) * 1_000_000_000n })));
    const name =
      "node-app{otel.scope.name=com.grafana.pyroscope/nodejs,process.runtime.name=nodejs,region=eu}";
    const query = new URLSearchParams({
      from: String(nowS - 10),
      name,
      spyName: "nodespy",
      until: String(nowS),
      format: "pprof",
    });
    const res = await fetch(`${kiln.url}/ingest?${query}`, {
      method: "POST",
      body: pprof,
      headers: { "content-type": "application/octet-stream" },
    });
    assert.equal(res.status, 200, await res.text());
    const stored = await readStored(kiln.dataDir, { service: "node-app" });
    assert.equal(stored.totals.get("process_cpu:cpu:nanoseconds:cpu:nanoseconds"), 60_000_000n);
    assert.equal(stored.totals.get("process_cpu:samples:count:cpu:nanoseconds"), 6n);
    const labels = stored.series[0]!;
    assert.equal(getLabel(labels, "region"), "eu");
    assert.equal(getLabel(labels, "otel.scope.name"), "com.grafana.pyroscope/nodejs");
    assert.equal(getLabel(labels, "pyroscope_spy"), "nodespy");
    assert.equal(getLabel(labels, "service_name"), "node-app");
  });

  test("Go SDK: multipart pprof with sample_type_config and no format", async () => {
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    const form = new FormData();
    form.append(
      "profile",
      new Blob([gzipSync(encodePprof(makeCpuPprof({ timeNanos: nowNs })))]),
      "profile.pprof",
    );
    form.append(
      "sample_type_config",
      new Blob([
        JSON.stringify({
          cpu: { units: "nanoseconds" },
          samples: { "display-name": "cpu", units: "samples" },
        }),
      ]),
      "sample_type_config.json",
    );
    const query = new URLSearchParams({
      name: "go-app{env=prod}",
      from: String(nowNs - 10_000_000_000n),
      until: String(nowNs),
      spyName: "gospy",
      sampleRate: "100",
    });
    const res = await fetch(`${kiln.url}/ingest?${query}`, { method: "POST", body: form });
    assert.equal(res.status, 200, await res.text());
    const stored = await readStored(kiln.dataDir, { service: "go-app" });
    assert.equal(stored.totals.get("process_cpu:cpu:nanoseconds:cpu:nanoseconds"), 60_000_000n);
    assert.equal(getLabel(stored.series[0]!, "env"), "prod");
  });

  const pushRequest = (service: string) =>
    create(PushRequestSchema, {
      series: [
        {
          labels: [
            { name: "__name__", value: "process_cpu" },
            { name: "service_name", value: service },
            { name: "__delta__", value: "false" },
            { name: "pod", value: "pod-1" },
          ],
          samples: [
            {
              rawProfile: gzipSync(encodePprof(makeCpuPprof({ timeNanos: BigInt(Date.now()) * 1_000_000n }))),
            },
          ],
        },
      ],
    });

  const checkPushed = async (service: string) => {
    const stored = await readStored(kiln.dataDir, { service });
    assert.equal(stored.totals.get("process_cpu:cpu:nanoseconds:cpu:nanoseconds"), 60_000_000n);
    assert.equal(stored.totals.get("process_cpu:samples:count:cpu:nanoseconds"), 6n);
    for (const labels of stored.series) {
      assert.equal(getLabel(labels, "pod"), "pod-1");
      assert.equal(getLabel(labels, "__delta__"), undefined, "__delta__ is removed before storage");
    }
  };

  const transports = {
    "gRPC (h2c)": () => createGrpcTransport({ baseUrl: kiln.url }),
    "Connect binary (HTTP/1.1)": () =>
      createConnectTransport({ baseUrl: kiln.url, httpVersion: "1.1", useBinaryFormat: true }),
    "Connect JSON (HTTP/1.1)": () =>
      createConnectTransport({ baseUrl: kiln.url, httpVersion: "1.1", useBinaryFormat: false }),
    "Connect binary (h2c)": () =>
      createConnectTransport({ baseUrl: kiln.url, httpVersion: "2", useBinaryFormat: true }),
    "gRPC-web": () => createGrpcWebTransport({ baseUrl: kiln.url, httpVersion: "1.1" }),
  };
  for (const [name, makeTransport] of Object.entries(transports)) {
    test(`push.v1 over ${name}`, async () => {
      const service = `push-${name.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}`;
      const client = createClient(PusherService, makeTransport());
      await client.push(pushRequest(service));
      await checkPushed(service);
    });
  }

  test("push.v1 Connect JSON sent by hand (rawProfile base64, proto field names)", async () => {
    const raw = gzipSync(encodePprof(makeCpuPprof({ timeNanos: BigInt(Date.now()) * 1_000_000n })));
    const body = {
      series: [
        {
          labels: [
            { name: "__name__", value: "process_cpu" },
            { name: "service_name", value: "push-json-by-hand" },
            { name: "pod", value: "pod-1" },
          ],
          samples: [{ raw_profile: raw.toString("base64"), ID: "5b1c2f1e-0000-4000-8000-000000000001" }],
        },
      ],
      unknownFieldFromANewerClient: true,
    };
    const res = await fetch(`${kiln.url}/push.v1.PusherService/Push`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.equal(text, "{}", "Connect JSON answers an empty PushResponse as {}");
    await checkPushed("push-json-by-hand");
  });

  test("push.v1 binary via fetch: an empty request is invalid_argument 'no profiles received'", async () => {
    const res = await fetch(`${kiln.url}/push.v1.PusherService/Push`, {
      method: "POST",
      headers: { "content-type": "application/proto" },
      body: toBinary(PushRequestSchema, create(PushRequestSchema, {})),
    });
    assert.equal(res.status, 400);
    const err = (await res.json()) as { code: string; message: string };
    assert.equal(err.code, "invalid_argument");
    assert.match(err.message, /no profiles received/);
  });
});

import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { PusherService, type PushRequest, PushRequestSchema } from "../gen/push/v1/push_pb.js";
import { KilnError } from "../model/errors.ts";
import { createLogger } from "../observability/log.ts";
import { createRegistry, type Registry } from "../observability/metrics.ts";
import { readBody, sendError, sendJson, sendText } from "./http-util.ts";
import { createRouter, metricsHandler } from "./router.ts";
import { type RunningServer, startHttpServer } from "./server.ts";

const BODY_BYTES_MAX = 1000;

interface Fixture {
  server: RunningServer;
  baseUrl: string;
  registry: Registry;
  logLines: string[];
  pushes: PushRequest[];
}

/** A real server with a test PusherService: fails on demand through a label value. */
async function startFixture(serverOptions: { headersTimeoutMs?: number } = {}): Promise<Fixture> {
  const logLines: string[] = [];
  const logger = createLogger({ level: "warn", write: (line) => logLines.push(line) });
  const registry = createRegistry();
  const pushes: PushRequest[] = [];
  const router = createRouter({ logger, metrics: registry, readMaxBytes: 64 * 1024 });
  router
    .get("/hello", (req, res) => sendText(res, 200, `hello ${req.httpVersion}`))
    .get("/metrics", metricsHandler(registry))
    .get("/slow", async (_req, res) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      sendText(res, 200, "slow done");
    })
    .post("/body", async (req, res) => {
      try {
        const body = await readBody(req, { maxBytes: BODY_BYTES_MAX });
        sendJson(res, 200, { bytes: body.byteLength });
      } catch (err) {
        sendError(res, err, req.headers["x-want-413"] === "1" ? { status: 413 } : {});
      }
    })
    .connect((r) =>
      r.service(PusherService, {
        push(request) {
          const label = request.series[0]?.labels[0];
          if (label?.value === "kiln-error")
            throw new KilnError("invalid_argument", "bad", "bad label value");
          if (label?.value === "boom") throw new Error("disk at /secret/path is full");
          pushes.push(request);
          return {};
        },
      }),
    );
  const server = await startHttpServer({
    host: "127.0.0.1",
    port: 0,
    handler: router.handler,
    logger,
    ...serverOptions,
  });
  return { server, baseUrl: `http://127.0.0.1:${server.port}`, registry, logLines, pushes };
}

function pushRequest(labelValue: string): PushRequest {
  return create(PushRequestSchema, {
    series: [{ labels: [{ name: "service_name", value: labelValue }], samples: [{ ID: "x" }] }],
  });
}

function h2Get(
  baseUrl: string,
  path: string,
): Promise<{ status: number; body: string; session: http2.ClientHttp2Session }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(baseUrl);
    session.on("error", reject);
    const stream = session.request({ ":path": path });
    let body = "";
    let status = 0;
    stream.on("response", (headers) => {
      status = Number(headers[":status"]);
    });
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      body += chunk;
    });
    stream.on("end", () => resolve({ status, body, session }));
    stream.on("error", reject);
  });
}

describe("one port, HTTP/1.1 and h2c", () => {
  let f: Fixture;
  before(async () => {
    f = await startFixture();
  });
  after(async () => {
    await f.server.close();
  });

  test("HTTP/1.1 with fetch", async () => {
    const res = await fetch(`${f.baseUrl}/hello`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "hello 1.1");
  });

  test("HTTP/2 with prior knowledge on the same port", async () => {
    const { status, body, session } = await h2Get(f.baseUrl, "/hello");
    session.close();
    assert.equal(status, 200);
    assert.equal(body, "hello 2.0");
  });

  test("unknown path is a 404 with a text body; wrong method a 405", async () => {
    const res = await fetch(`${f.baseUrl}/nope?x=1`, { method: "POST" });
    assert.equal(res.status, 404);
    assert.equal(await res.text(), "not found: POST /nope\n");
    const wrong = await fetch(`${f.baseUrl}/hello`, { method: "POST" });
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get("allow"), "GET");
  });

  const sessionManagers: Http2SessionManager[] = [];
  const transports: [string, () => Transport][] = [
    ["connect binary, HTTP/1.1", () => createConnectTransport({ baseUrl: f.baseUrl, httpVersion: "1.1" })],
    [
      "connect JSON, HTTP/1.1",
      () => createConnectTransport({ baseUrl: f.baseUrl, httpVersion: "1.1", useBinaryFormat: false }),
    ],
    [
      "connect binary, HTTP/2",
      () => {
        const sessionManager = new Http2SessionManager(f.baseUrl);
        sessionManagers.push(sessionManager);
        return createConnectTransport({ baseUrl: f.baseUrl, httpVersion: "2", sessionManager });
      },
    ],
    [
      "gRPC, HTTP/2",
      () => {
        const sessionManager = new Http2SessionManager(f.baseUrl);
        sessionManagers.push(sessionManager);
        return createGrpcTransport({ baseUrl: f.baseUrl, sessionManager });
      },
    ],
    ["gRPC-web, HTTP/1.1", () => createGrpcWebTransport({ baseUrl: f.baseUrl, httpVersion: "1.1" })],
  ];
  for (const [name, makeTransport] of transports) {
    test(`PusherService/Push over ${name}`, async () => {
      const client = createClient(PusherService, makeTransport());
      const before = f.pushes.length;
      await client.push(pushRequest(name));
      assert.equal(f.pushes.length, before + 1);
      assert.equal(f.pushes.at(-1)?.series[0]?.labels[0]?.value, name);

      const kilnErr = await client.push(pushRequest("kiln-error")).then(
        () => assert.fail("expected an error"),
        (err: unknown) => ConnectError.from(err),
      );
      assert.equal(kilnErr.code, Code.InvalidArgument);
      assert.equal(kilnErr.rawMessage, "bad label value");

      const internal = await client.push(pushRequest("boom")).then(
        () => assert.fail("expected an error"),
        (err: unknown) => ConnectError.from(err),
      );
      assert.equal(internal.code, Code.Internal);
      assert.equal(internal.rawMessage, "internal error");
    });
  }
  after(() => {
    for (const manager of sessionManagers) manager.abort();
  });

  test("Connect JSON by hand: gzip body, no protocol header, error JSON", async () => {
    const url = `${f.baseUrl}/push.v1.PusherService/Push`;
    const ok = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "content-encoding": "gzip" },
      body: gzipSync(JSON.stringify({ series: [{ labels: [{ name: "a", value: "gz" }], unknownField: 1 }] })),
    });
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), "{}");
    assert.equal(f.pushes.at(-1)?.series[0]?.labels[0]?.value, "gz");

    const failed = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ series: [{ labels: [{ name: "a", value: "boom" }] }] }),
    });
    assert.equal(failed.status, 500);
    assert.match(failed.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(await failed.json(), { code: "internal", message: "internal error" });
    assert.ok(
      f.logLines.some((line) => line.includes('"msg":"rpc failed"') && line.includes("/secret/path")),
      "the unexpected error is logged with its message",
    );
  });

  test("per-request metrics use bounded endpoint labels", async () => {
    await fetch(`${f.baseUrl}/random/${Math.random()}`);
    await (await fetch(`${f.baseUrl}/body`, { method: "POST", body: "x".repeat(123) })).text();
    const text = await (await fetch(`${f.baseUrl}/metrics`)).text();
    assert.match(text, /^kiln_http_requests_total\{endpoint="\/hello",method="GET",status="200"\} [1-9]/m);
    assert.match(
      text,
      /^kiln_http_requests_total\{endpoint="connect:push\.v1\.PusherService\/Push",method="POST",status="200"\} [1-9]/m,
    );
    assert.match(text, /^kiln_http_requests_total\{endpoint="other",method="GET",status="404"\} 1$/m);
    assert.match(text, /^kiln_http_request_bytes_total\{endpoint="\/body"\} 123$/m);
    assert.match(text, /^kiln_http_response_bytes_total\{endpoint="\/body"\} 13$/m); // {"bytes":123}
    assert.match(text, /^kiln_http_request_duration_seconds_count\{endpoint="\/hello",method="GET"\} [1-9]/m);
    assert.doesNotMatch(text, /random/);
  });
});

describe("readBody limits", () => {
  let f: Fixture;
  before(async () => {
    f = await startFixture();
  });
  after(async () => {
    await f.server.close();
  });

  const tooLarge = {
    code: "invalid_argument",
    message: `request body too large: more than ${BODY_BYTES_MAX} bytes (max_body_bytes)`,
  };

  test("a body at the limit is read whole", async () => {
    const res = await fetch(`${f.baseUrl}/body`, { method: "POST", body: "x".repeat(BODY_BYTES_MAX) });
    assert.deepEqual(await res.json(), { bytes: BODY_BYTES_MAX });
  });

  test("Content-Length over the limit is rejected up front", async () => {
    const res = await fetch(`${f.baseUrl}/body`, { method: "POST", body: "x".repeat(BODY_BYTES_MAX + 1) });
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), tooLarge);
  });

  test("explicit status override (413 for /ingest)", async () => {
    const res = await fetch(`${f.baseUrl}/body`, {
      method: "POST",
      headers: { "x-want-413": "1" },
      body: "x".repeat(5000),
    });
    assert.equal(res.status, 413);
    assert.deepEqual(await res.json(), tooLarge);
  });

  test("a chunked body is rejected once it passes the limit", async () => {
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(`${f.baseUrl}/body`, { method: "POST" }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, body: text });
        });
      });
      req.on("error", reject);
      // No Content-Length: chunked. Keep sending slowly; the answer must come before the end.
      let sent = 0;
      const timer = setInterval(() => {
        if (sent > 50 * BODY_BYTES_MAX) {
          clearInterval(timer);
          req.end();
          return;
        }
        req.write("y".repeat(300));
        sent += 300;
      }, 5);
      req.on("response", () => clearInterval(timer));
    });
    assert.equal(status, 400);
    assert.deepEqual(JSON.parse(body), tooLarge);
  });

  test("over HTTP/2 as well", async () => {
    const session = http2.connect(f.baseUrl);
    const stream = session.request({ ":path": "/body", ":method": "POST" });
    stream.write("z".repeat(BODY_BYTES_MAX + 10));
    const [status, body] = await new Promise<[number, string]>((resolve, reject) => {
      let code = 0;
      let text = "";
      stream.on("response", (h) => {
        code = Number(h[":status"]);
      });
      stream.setEncoding("utf8");
      stream.on("data", (c: string) => {
        text += c;
      });
      stream.on("end", () => resolve([code, text]));
      stream.on("error", reject);
    });
    session.close();
    assert.equal(status, 400);
    assert.deepEqual(JSON.parse(body), tooLarge);
  });
});

describe("shutdown and slow clients", () => {
  test("close() with an idle h2 session and an idle keep-alive connection is fast", async () => {
    const f = await startFixture();
    const { session } = await h2Get(f.baseUrl, "/hello"); // left open and idle
    const agent = new http.Agent({ keepAlive: true });
    await new Promise<void>((resolve) =>
      http.get(`${f.baseUrl}/hello`, { agent }, (res) => res.resume().on("end", resolve)),
    );
    const sessionClosed = new Promise<void>((resolve) => session.once("close", resolve));
    const startMs = performance.now();
    await f.server.close();
    const tookMs = performance.now() - startMs;
    await sessionClosed;
    agent.destroy();
    assert.ok(tookMs < 1000, `close took ${tookMs.toFixed(0)} ms`);
  });

  test("close() lets an in-flight request finish and refuses new connections", async () => {
    const f = await startFixture();
    const slow = fetch(`${f.baseUrl}/slow`).then((res) => res.text());
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closed = f.server.close();
    assert.equal(await slow, "slow done");
    await closed;
    await assert.rejects(fetch(`${f.baseUrl}/hello`));
  });

  test("a client that stops mid-headers gets 408 and is dropped (headersTimeoutMs)", async () => {
    const f = await startFixture({ headersTimeoutMs: 300 });
    const startMs = performance.now();
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(f.server.port, "127.0.0.1", () =>
        socket.write("GET /hello HTTP/1.1\r\nHost: x\r\n"),
      );
      let text = "";
      socket.setEncoding("utf8");
      socket.on("data", (chunk: string) => {
        text += chunk;
      });
      socket.on("close", () => resolve(text));
      socket.on("error", reject);
    });
    const tookMs = performance.now() - startMs;
    assert.match(reply, /^HTTP\/1\.1 408 /);
    assert.ok(tookMs < 2000, `dropped after ${tookMs.toFixed(0)} ms`);
    await f.server.close();
  });

  test("a client that sends nothing at all is dropped", async () => {
    const f = await startFixture({ headersTimeoutMs: 200 });
    const startMs = performance.now();
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(f.server.port, "127.0.0.1");
      socket.on("close", () => resolve());
      socket.on("error", reject);
      socket.resume();
    });
    assert.ok(performance.now() - startMs < 2000);
    await f.server.close();
  });
});

/**
 * Bad input never hurts: malformed, truncated, oversized and hostile requests each get a 4xx
 * whose message says what is wrong, and the server keeps serving.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connect } from "node:http2";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import { encodePprof } from "../src/formats/pprof/encode.ts";
import { PushRequestSchema } from "../src/gen/push/v1/push_pb.js";
import { makeCpuPprof } from "../src/testing/fixtures.ts";
import { type InProcessKiln, startInProcess } from "./helpers/kiln.ts";

const maxBodyBytes = 1 << 20;

function validPprof(): Buffer {
  return gzipSync(encodePprof(makeCpuPprof({ timeNanos: BigInt(Date.now()) * 1_000_000n })));
}

describe("bad input", () => {
  let kiln: InProcessKiln;
  before(async () => {
    kiln = await startInProcess({ maxBodyBytes });
  });
  after(async () => kiln?.stop());

  const ingest = async (
    query: Record<string, string>,
    body: RequestInit["body"],
    headers: Record<string, string> = {},
  ) => {
    const res = await fetch(`${kiln.url}/ingest?${new URLSearchParams(query)}`, {
      method: "POST",
      body,
      headers,
    });
    const text = await res.text();
    return { status: res.status, text };
  };

  const cases: {
    name: string;
    run: () => Promise<{ status: number; text: string }>;
    status: number;
    message: RegExp;
  }[] = [
    {
      name: "random bytes as pprof",
      run: () => ingest({ name: "bad-app", format: "pprof" }, randomBytes(4096)),
      status: 422,
      message: /pprof|protobuf|malformed|wire type/i,
    },
    {
      name: "truncated gzipped pprof",
      run: () => {
        const good = validPprof();
        return ingest({ name: "bad-app", format: "pprof" }, good.subarray(0, good.length >> 1));
      },
      status: 422,
      message: /gzip|truncated|unexpected end|malformed/i,
    },
    {
      name: "gzip bomb (64 MiB of zeros)",
      run: () => ingest({ name: "bad-app", format: "pprof" }, gzipSync(Buffer.alloc(64 << 20), { level: 9 })),
      status: 422,
      message: /4194304 bytes.*max_profile_size_bytes/,
    },
    {
      name: "body over max_body_bytes",
      run: () => ingest({ name: "bad-app", format: "pprof" }, randomBytes(maxBodyBytes + 1024)),
      status: 413,
      message: /request body too large.*max_body_bytes/,
    },
    {
      name: "too many labels",
      run: () => {
        const tags = Array.from({ length: 35 }, (_, i) => `k${i}=v`).join(",");
        return ingest({ name: `bad-app{${tags}}`, format: "pprof" }, validPprof());
      },
      status: 422,
      message: /labels?.*limit 30.*max_label_names_per_series/,
    },
    {
      name: "label value too long",
      run: () => ingest({ name: `bad-app{k=${"v".repeat(3000)}}`, format: "pprof" }, validPprof()),
      status: 422,
      message: /3000.*2048|2048.*3000/,
    },
    {
      name: "invalid character in the app name",
      run: () => ingest({ name: "bad app!" }, "main;work 1\n"),
      status: 400,
      message: /name/,
    },
    {
      name: "invalid label name in name",
      run: () => ingest({ name: "bad-app{bad-key=1}" }, "main;work 1\n"),
      status: 400,
      message: /bad-key|character/,
    },
    {
      name: "unknown profile type suffix on folded",
      run: () => ingest({ name: "bad.app" }, "main;work 1\n"),
      status: 400,
      message: /unknown profile type: app/,
    },
    {
      name: "non-integer folded count",
      run: () => ingest({ name: "bad-app" }, "main;work many\n"),
      status: 422,
      message: /many/,
    },
    {
      name: "multipart with prev_profile (old SDK)",
      run: () => {
        const form = new FormData();
        form.append("profile", new Blob([validPprof()]), "profile.pprof");
        form.append("prev_profile", new Blob([validPprof()]), "profile.pprof");
        return ingest({ name: "bad-app" }, form);
      },
      status: 422,
      message: /unsupported client version/,
    },
    {
      name: "multipart with a broken boundary",
      run: () =>
        ingest({ name: "bad-app" }, "--xyz\r\nnot a part", {
          "content-type": "multipart/form-data; boundary=xyz",
        }),
      status: 422,
      message: /multipart/i,
    },
  ];

  for (const c of cases) {
    test(c.name, async () => {
      const { status, text } = await c.run();
      assert.equal(status, c.status, text);
      assert.match(text, c.message);
      const body = JSON.parse(text) as { code: string; message: string };
      assert.equal(typeof body.code, "string");
    });
  }

  const push = async (request: ReturnType<typeof create<typeof PushRequestSchema>>) => {
    const res = await fetch(`${kiln.url}/push.v1.PusherService/Push`, {
      method: "POST",
      headers: { "content-type": "application/proto" },
      body: toBinary(PushRequestSchema, request),
    });
    return { status: res.status, body: (await res.json()) as { code: string; message: string } };
  };

  test("push.v1: garbage raw_profile is invalid_argument", async () => {
    const { status, body } = await push(
      create(PushRequestSchema, {
        series: [
          {
            labels: [{ name: "__name__", value: "process_cpu" }],
            samples: [{ rawProfile: randomBytes(512) }],
          },
        ],
      }),
    );
    assert.equal(status, 400);
    assert.equal(body.code, "invalid_argument");
  });

  test("push.v1: empty label name and missing __name__ are invalid_argument", async () => {
    for (const labels of [
      [
        { name: "__name__", value: "process_cpu" },
        { name: "", value: "x" },
      ],
      [{ name: "service_name", value: "svc" }],
    ]) {
      const { status, body } = await push(
        create(PushRequestSchema, { series: [{ labels, samples: [{ rawProfile: validPprof() }] }] }),
      );
      assert.equal(status, 400, body.message);
      assert.equal(body.code, "invalid_argument");
      assert.ok(body.message.length > 10, body.message);
    }
  });

  test("push.v1: random bytes as the request message", async () => {
    const res = await fetch(`${kiln.url}/push.v1.PusherService/Push`, {
      method: "POST",
      headers: { "content-type": "application/proto" },
      body: randomBytes(2048),
    });
    assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`);
    await res.arrayBuffer();
  });

  test("push.v1 over gRPC: a message that is not protobuf is InvalidArgument", async () => {
    const session = connect(kiln.url);
    try {
      const payload = Buffer.from([0x07, 0x00, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x33]);
      const frame = Buffer.alloc(5 + payload.length);
      frame.writeUInt32BE(payload.length, 1);
      payload.copy(frame, 5);
      const stream = session.request({
        ":method": "POST",
        ":path": "/push.v1.PusherService/Push",
        "content-type": "application/grpc+proto",
        te: "trailers",
      });
      const trailers = new Promise<Record<string, unknown>>((res) => stream.once("trailers", res));
      stream.end(frame);
      stream.resume();
      const t = await trailers;
      assert.equal(t["grpc-status"], "3", `grpc-status ${t["grpc-status"]}: ${t["grpc-message"]}`);
    } finally {
      session.close();
    }
  });

  test("fuzz: 300 random bodies to /ingest never cause a 5xx", async () => {
    for (let i = 0; i < 300; i++) {
      const format = ["pprof", "folded", "lines", ""][i % 4]!;
      const query: Record<string, string> = { name: "fuzz-app" };
      if (format) query.format = format;
      const body = i % 8 === 0 ? gzipSync(randomBytes(200 + i)) : randomBytes(1 + ((i * 37) % 3000));
      const { status, text } = await ingest(query, body);
      assert.ok(status < 500, `format ${format} → ${status}: ${text}`);
    }
  });

  test("the server keeps serving after all of the above", async () => {
    assert.equal((await fetch(`${kiln.url}/ready`)).status, 200);
    const { status, text } = await ingest({ name: "good-app", format: "pprof" }, validPprof());
    assert.equal(status, 200, text);
  });
});

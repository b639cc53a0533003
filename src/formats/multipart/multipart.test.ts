import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KilnError } from "../../model/errors.ts";
import { multipartBoundary, parseMultipart } from "./multipart.ts";

const limits = { maxParts: 16, maxPartBytes: 1 << 20 };
const bytes = (s: string) => Buffer.from(s, "latin1");

/** A body exactly as Go's mime/multipart Writer lays it out (CreateFormFile + Close). */
function goMultipart(
  boundary: string,
  files: ReadonlyArray<readonly [field: string, filename: string, data: Uint8Array]>,
) {
  const chunks: Buffer[] = [];
  files.forEach(([field, filename, data], i) => {
    chunks.push(bytes(`${i === 0 ? "" : "\r\n"}--${boundary}\r\n`));
    chunks.push(bytes(`Content-Disposition: form-data; name="${field}"; filename="${filename}"\r\n`));
    chunks.push(bytes("Content-Type: application/octet-stream\r\n\r\n"));
    chunks.push(Buffer.from(data));
  });
  chunks.push(bytes(`\r\n--${boundary}--\r\n`));
  return {
    body: new Uint8Array(Buffer.concat(chunks)),
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}

function assertMalformed(fn: () => unknown, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof KilnError);
    assert.equal(err.reason, "malformed_multipart");
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe("parseMultipart", () => {
  const boundary = "a3f1c0ffee00a3f1c0ffee00a3f1c0ffee00a3f1c0ffee00a3f1c0ffee00";
  // Binary content including CR/LF and a near-boundary to make sure only real delimiters end a part.
  const pprof = new Uint8Array([0x1f, 0x8b, 13, 10, 45, 45, 0x61, 13, 10, 0, 255]);
  const config = bytes('{"samples":{"display-name":"cpu"}}\n');

  it("reads a body written like the Pyroscope Go SDK (Go mime/multipart)", () => {
    const { body, contentType } = goMultipart(boundary, [
      ["profile", "profile.pprof", pprof],
      ["sample_type_config", "sample_type_config.json", config],
    ]);
    const files = parseMultipart(body, contentType, limits);
    assert.deepEqual([...files.keys()], ["profile", "sample_type_config"]);
    assert.deepEqual(files.get("profile"), pprof);
    assert.equal(Buffer.from(files.get("sample_type_config")!).toString(), config.toString());
  });

  it("reads a body written by Node's FormData (undici)", async () => {
    const form = new FormData();
    form.append("profile", new Blob([pprof]), "profile.pprof");
    form.append("note", "a plain value");
    form.append("prev_profile", new Blob([new Uint8Array(0)]), "profile.pprof");
    const response = new Response(form);
    const body = new Uint8Array(await response.arrayBuffer());
    const files = parseMultipart(body, response.headers.get("content-type")!, limits);
    assert.deepEqual(files.get("profile"), pprof);
    assert.equal(files.has("note"), false, "non-file values are not returned");
    assert.equal(files.get("prev_profile")?.length, 0);
  });

  it("handles a quoted boundary, preamble, epilogue, LF line endings, trailing whitespace", () => {
    const b = "simple boundary";
    const body = bytes(
      `preamble line\n--${b}  \nContent-Disposition: form-data; name="profile"; filename="C:\\\\x\\\\p.pprof"\n\nhello\n--${b}--\nepilogue`,
    );
    const files = parseMultipart(body, `multipart/form-data; boundary="${b}"`, limits);
    assert.equal(Buffer.from(files.get("profile")!).toString(), "hello");
  });

  it("accepts an empty part and a closing-only body", () => {
    const body = bytes(
      `--b\r\nContent-Disposition: form-data; name="profile"; filename="p"\r\n\r\n--b--\r\n`,
    );
    assert.equal(parseMultipart(body, "multipart/form-data; boundary=b", limits).get("profile")?.length, 0);
    assert.equal(parseMultipart(bytes("--b--\r\n"), "multipart/form-data; boundary=b", limits).size, 0);
  });

  it("keeps the first of duplicate file fields", () => {
    const { body, contentType } = goMultipart("xyz", [
      ["profile", "1", bytes("one")],
      ["profile", "2", bytes("two")],
    ]);
    assert.equal(Buffer.from(parseMultipart(body, contentType, limits).get("profile")!).toString(), "one");
  });

  it("rejects malformed bodies", () => {
    const ct = "multipart/form-data; boundary=b";
    assertMalformed(() => parseMultipart(bytes("no boundary here"), ct, limits), /no boundary line/);
    assertMalformed(
      () =>
        parseMultipart(
          bytes(`--b\r\nContent-Disposition: form-data; name="p"; filename="f"\r\n\r\ndata`),
          ct,
          limits,
        ),
      /missing closing boundary/,
    );
    assertMalformed(
      () => parseMultipart(bytes("--b\r\nbroken header\r\n\r\nx\r\n--b--"), ct, limits),
      /header/,
    );
    assertMalformed(
      () => parseMultipart(bytes("--b--"), "multipart/form-data", limits),
      /no boundary parameter/,
    );
    assertMalformed(() => parseMultipart(bytes("--b--"), "application/json", limits), /not a multipart/);
  });

  it("enforces maxParts and maxPartBytes", () => {
    const { body, contentType } = goMultipart("q", [
      ["a", "a", bytes("1")],
      ["b", "b", bytes("22")],
    ]);
    assertMalformed(
      () => parseMultipart(body, contentType, { maxParts: 1, maxPartBytes: 10 }),
      /more than 1 parts/,
    );
    assertMalformed(
      () => parseMultipart(body, contentType, { maxParts: 5, maxPartBytes: 1 }),
      /exceeds 1 bytes/,
    );
  });

  it("extracts the boundary parameter", () => {
    assert.equal(multipartBoundary('multipart/form-data; charset=utf-8; boundary="a\\"b"'), 'a"b');
    assert.equal(multipartBoundary("Multipart/Form-Data;BOUNDARY=xyz"), "xyz");
  });
});

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { createLogger } from "../observability/log.ts";
import { createRegistry } from "../observability/metrics.ts";
import { sendText } from "./http-util.ts";
import { createRouter } from "./router.ts";
import { type RunningServer, startHttpServer } from "./server.ts";
import { chooseEncoding, etagMatches, isClientRoute, staticUiHandler } from "./static-ui.ts";

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body as sent, not decompressed. */
  body: Buffer;
}

/** node:http rather than fetch: fetch decompresses and hides the encoding we test. */
function request(
  baseUrl: string,
  path: string,
  options: { method?: string; headers?: Record<string, string> } = {},
) {
  return new Promise<RawResponse>((resolve, reject) => {
    const req = http.request(`${baseUrl}${path}`, {
      method: options.method ?? "GET",
      headers: options.headers ?? {},
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

const INDEX_HTML =
  '<!doctype html><html><head><script type="module" src="/assets/index-AbC123.js"></script></head></html>';
/** Large and repetitive enough to be compressed. */
const APP_JS = `export const words = ${JSON.stringify("flame graph ".repeat(500))};\n`;
const TINY_CSS = "body{margin:0}";

describe("static UI", () => {
  let root: string;
  let distDir: string;
  let server: RunningServer;
  let baseUrl: string;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), "kiln-static-ui-"));
    distDir = join(root, "dist");
    mkdirSync(join(distDir, "assets"), { recursive: true });
    writeFileSync(join(distDir, "index.html"), INDEX_HTML);
    writeFileSync(join(distDir, "assets", "index-AbC123.js"), APP_JS);
    writeFileSync(join(distDir, "assets", "index-Zz9.css"), TINY_CSS);
    writeFileSync(join(root, "secret.txt"), "outside the dist folder");
    const logger = createLogger({ level: "error", write: () => {} });
    const router = createRouter({ logger, metrics: createRegistry(), readMaxBytes: 1024 });
    router
      .get("/ready", (_req, res) => sendText(res, 200, "ready\n"))
      .fallbackGet(staticUiHandler({ distDir, logger }));
    server = await startHttpServer({ host: "127.0.0.1", port: 0, handler: router.handler, logger });
    baseUrl = `http://127.0.0.1:${server.port}`;
  });
  after(async () => {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  });

  test("/ is index.html, revalidated on each load and locked down by a CSP", async () => {
    const res = await request(baseUrl, "/");
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-type"], "text/html; charset=utf-8");
    assert.equal(res.headers["cache-control"], "no-cache");
    assert.equal(res.body.toString(), INDEX_HTML);
    assert.match(String(res.headers["content-security-policy"]), /script-src 'self'/);
    assert.match(res.headers.etag ?? "", /^"[\w-]+"$/);
  });

  test("client routes get index.html; files and API-looking paths that do not exist get 404", async () => {
    for (const path of ["/explore", "/compare/diff", "/tags?query=%7B%7D"]) {
      const res = await request(baseUrl, path);
      assert.equal(res.status, 200, path);
      assert.equal(res.body.toString(), INDEX_HTML, path);
    }
    for (const path of [
      "/assets/index-gone.js",
      "/favicon.ico",
      "/querier.v1.QuerierService/Nope",
      "/pyroscope/nope",
      "/api/v1/x",
      "/assets",
    ]) {
      const res = await request(baseUrl, path);
      assert.equal(res.status, 404, path);
      assert.match(res.body.toString(), /^not found: GET /, path);
    }
  });

  test("exact routes still win, and unknown POSTs are still 404", async () => {
    assert.equal((await request(baseUrl, "/ready")).body.toString(), "ready\n");
    const post = await request(baseUrl, "/explore", { method: "POST" });
    assert.equal(post.status, 404);
    assert.equal(post.body.toString(), "not found: POST /explore\n");
  });

  test("hashed assets are immutable for a year, with their content type", async () => {
    const res = await request(baseUrl, "/assets/index-AbC123.js");
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-type"], "text/javascript; charset=utf-8");
    assert.equal(res.headers["cache-control"], "public, max-age=31536000, immutable");
    assert.equal(res.headers["x-content-type-options"], "nosniff");
    assert.equal(res.headers["content-encoding"], undefined);
    assert.equal(res.body.toString(), APP_JS);
    const css = await request(baseUrl, "/assets/index-Zz9.css", { headers: { "accept-encoding": "gzip" } });
    assert.equal(css.headers["content-type"], "text/css; charset=utf-8");
    assert.equal(css.headers["content-encoding"], undefined, "too small to be worth compressing");
    assert.equal(css.body.toString(), TINY_CSS);
  });

  test("compressed when the client accepts it: br preferred, then gzip; each with its own ETag", async () => {
    const br = await request(baseUrl, "/assets/index-AbC123.js", {
      headers: { "accept-encoding": "gzip, br" },
    });
    assert.equal(br.headers["content-encoding"], "br");
    assert.equal(br.headers.vary, "Accept-Encoding");
    assert.ok(br.body.byteLength < APP_JS.length / 10);
    assert.equal(brotliDecompressSync(br.body).toString(), APP_JS);
    assert.equal(Number(br.headers["content-length"]), br.body.byteLength);

    const gz = await request(baseUrl, "/assets/index-AbC123.js", {
      headers: { "accept-encoding": "gzip;q=1, br;q=0" },
    });
    assert.equal(gz.headers["content-encoding"], "gzip");
    assert.equal(gunzipSync(gz.body).toString(), APP_JS);

    const plain = await request(baseUrl, "/assets/index-AbC123.js");
    const tags = new Set([br.headers.etag, gz.headers.etag, plain.headers.etag]);
    assert.equal(tags.size, 3);
  });

  test("If-None-Match with the current tag answers 304 without a body", async () => {
    const first = await request(baseUrl, "/", { headers: { "accept-encoding": "br" } });
    const again = await request(baseUrl, "/", {
      headers: { "accept-encoding": "br", "if-none-match": `"other", W/${first.headers.etag}` },
    });
    assert.equal(again.status, 304);
    assert.equal(again.body.byteLength, 0);
    assert.equal(again.headers.etag, first.headers.etag);
    assert.equal(again.headers["cache-control"], "no-cache");
    const stale = await request(baseUrl, "/", { headers: { "if-none-match": '"old"' } });
    assert.equal(stale.status, 200);
  });

  test("HEAD has the headers of GET and no body", async () => {
    const res = await request(baseUrl, "/assets/index-AbC123.js", { method: "HEAD" });
    assert.equal(res.status, 200);
    assert.equal(Number(res.headers["content-length"]), APP_JS.length);
    assert.equal(res.body.byteLength, 0);
  });

  test("no path leaves the dist folder", async () => {
    for (const path of [
      "/../secret.txt",
      "/%2e%2e/secret.txt",
      "/assets/..%2f..%2fsecret.txt",
      "/assets/%2e%2e/%2e%2e/secret.txt",
      "/..%5csecret.txt",
    ]) {
      const res = await request(baseUrl, path);
      assert.notEqual(res.status, 200, path);
      assert.doesNotMatch(res.body.toString(), /outside the dist folder/, path);
    }
    const malformed = await request(baseUrl, "/%E0%A4%A");
    assert.equal(malformed.status, 400);
  });

  test("a rebuild is picked up without a restart", async () => {
    const newHtml = INDEX_HTML.replace("AbC123", "New456");
    writeFileSync(join(distDir, "assets", "index-New456.js"), "export {};\n");
    writeFileSync(join(distDir, "index.html"), newHtml);
    // The mtime may not move within the same millisecond; the size changed anyway, but be sure.
    const future = new Date(Date.now() + 5_000);
    utimesSync(join(distDir, "index.html"), future, future);
    assert.equal((await request(baseUrl, "/")).body.toString(), newHtml);
    assert.equal((await request(baseUrl, "/assets/index-New456.js")).status, 200);
  });
});

describe("static UI without a build", () => {
  test("/ says how to build the UI; asset paths are 404", async () => {
    const root = mkdtempSync(join(tmpdir(), "kiln-static-ui-missing-"));
    const logger = createLogger({ level: "error", write: () => {} });
    const router = createRouter({ logger, metrics: createRegistry(), readMaxBytes: 1024 });
    router.fallbackGet(staticUiHandler({ distDir: join(root, "dist"), logger }));
    const server = await startHttpServer({ host: "127.0.0.1", port: 0, handler: router.handler, logger });
    try {
      const baseUrl = `http://127.0.0.1:${server.port}`;
      const res = await request(baseUrl, "/");
      assert.equal(res.status, 503);
      assert.equal(res.headers["content-type"], "text/plain; charset=utf-8");
      assert.match(res.body.toString(), /web UI is not built/);
      assert.match(res.body.toString(), /npm run build:ui/);
      assert.equal((await request(baseUrl, "/assets/index-x.js")).status, 404);
    } finally {
      await server.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("static UI helpers", () => {
  test("isClientRoute", () => {
    assert.equal(isClientRoute("/"), true);
    assert.equal(isClientRoute("/explore"), true);
    assert.equal(isClientRoute("/compare/x"), true);
    assert.equal(isClientRoute("/index.html"), false);
    assert.equal(isClientRoute("/querier.v1.QuerierService/SelectSeries"), false);
    assert.equal(isClientRoute("/pyroscope/render"), false);
    assert.equal(isClientRoute("/assets/x"), false);
  });

  test("chooseEncoding honours q values and what the file has", () => {
    const both = { gzip: 1, br: 1 };
    assert.equal(chooseEncoding(undefined, both), "identity");
    assert.equal(chooseEncoding("gzip, deflate, br", both), "br");
    assert.equal(chooseEncoding("br;q=0, gzip", both), "gzip");
    assert.equal(chooseEncoding("*", both), "br");
    assert.equal(chooseEncoding("*, br;q=0", both), "gzip");
    assert.equal(chooseEncoding("identity", both), "identity");
    assert.equal(chooseEncoding("br", { gzip: 1 }), "identity");
    assert.equal(chooseEncoding(["gzip", "br"], { gzip: 1 }), "gzip");
  });

  test("etagMatches uses weak comparison and *", () => {
    assert.equal(etagMatches(undefined, '"a"'), false);
    assert.equal(etagMatches('"a"', '"a"'), true);
    assert.equal(etagMatches('W/"a"', '"a"'), true);
    assert.equal(etagMatches('"b", "a"', '"a"'), true);
    assert.equal(etagMatches("*", '"a"'), true);
    assert.equal(etagMatches('"ab"', '"a"'), false);
  });
});

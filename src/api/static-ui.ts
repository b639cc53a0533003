/**
 * Serves the built web UI (ui/dist, made by `npm run build:ui`) at `/`: the router's GET
 * fallback, so it only sees GET and HEAD requests no API route claimed.
 *
 * - Files are read into memory once (the bundle is a few hundred kB) together with their
 *   gzip and brotli forms, and re-read when ui/dist/index.html changes (a rebuild while the
 *   server runs). Requests are answered from that snapshot, so a URL can only name a file
 *   that is in it: no path reaches the file system, and `..` tricks find nothing.
 * - Hashed assets (`/assets/…`) are cached for a year as immutable; index.html is
 *   `no-cache` (revalidated by ETag), so a new build is picked up on the next load.
 * - Paths that look like client routes of the single-page app (`/`, `/explore`,
 *   `/compare/…`) get index.html; paths that look like files or APIs get a 404.
 * - Without ui/dist, `/` answers with a text page saying how to build it.
 */
import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { extname, join, relative, sep } from "node:path";
import { promisify } from "node:util";
import { brotliCompress, gzip, constants as zlibConstants } from "node:zlib";
import type { Logger } from "../observability/log.ts";
import {
  type HttpHandler,
  type HttpRequest,
  type HttpResponse,
  pathOf,
  sendText,
  writeHead,
} from "./http-util.ts";

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

/** Bounds what a (misplaced) large folder can cost in memory. */
const FILES_MAX = 2_000;
const TOTAL_BYTES_MAX = 64 * 1024 * 1024;
/** Smaller files are not worth compressing (headers cost about as much). */
const COMPRESS_BYTES_MIN = 1024;
/** Hashed file names live here (ui/vite.config.ts); they never change content. */
const HASHED_ASSETS_PREFIX = "/assets/";
const CACHE_IMMUTABLE = "public, max-age=31536000, immutable";
const CACHE_REVALIDATE = "no-cache";
/**
 * First path segments of the server's own APIs (and of the asset folder): a GET there that
 * matched nothing is a wrong URL, and answering it with the UI's HTML would hide the mistake.
 */
const NOT_CLIENT_ROUTE_PREFIXES: ReadonlySet<string> = new Set([
  "api",
  "assets",
  "debug",
  "ingest",
  "metrics",
  "otlp",
  "pyroscope",
  "ready",
  "v1",
  "v1development",
]);
/** The app's own resources stay same-origin; inline styles are set by Preact and uPlot. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
].join("; ");

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".webp": "image/webp",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".wasm": "application/wasm",
};
const COMPRESSIBLE_EXTENSIONS: ReadonlySet<string> = new Set([
  ".html",
  ".js",
  ".mjs",
  ".css",
  ".json",
  ".map",
  ".svg",
  ".txt",
]);

type Encoding = "br" | "gzip" | "identity";

interface Representation {
  body: Buffer;
  etag: string;
}

interface StaticFile {
  contentType: string;
  cacheControl: string;
  identity: Representation;
  gzip?: Representation;
  br?: Representation;
}

interface Snapshot {
  /** ui/dist/index.html's mtime and size when read: a change means a rebuild. */
  versionKey: string;
  files: Map<string, StaticFile>;
}

export interface StaticUiOptions {
  /** The built UI folder (ui/dist). */
  distDir: string;
  logger: Logger;
}

export function staticUiHandler(options: StaticUiOptions): HttpHandler {
  const { distDir, logger } = options;
  const indexPath = join(distDir, "index.html");
  let snapshot: Snapshot | undefined;
  let loading: Promise<Snapshot> | undefined;

  /** The current snapshot, reloaded when index.html changed; undefined when not built. */
  const current = async (): Promise<Snapshot | undefined> => {
    let versionKey: string;
    try {
      const s = await stat(indexPath);
      versionKey = `${s.mtimeMs}:${s.size}`;
    } catch {
      snapshot = undefined;
      return undefined;
    }
    if (snapshot?.versionKey === versionKey) return snapshot;
    loading ??= loadSnapshot(distDir, versionKey).finally(() => {
      loading = undefined;
    });
    const loaded = await loading;
    snapshot = loaded;
    logger.debug("web UI loaded", { distDir, files: loaded.files.size });
    return loaded;
  };

  return async (req, res) => {
    const path = pathOf(req);
    let decodedPath: string;
    try {
      decodedPath = decodeURIComponent(path);
    } catch {
      sendText(res, 400, "bad request: malformed percent-encoding in the path\n");
      return;
    }
    const loaded = await current();
    const file = loaded?.files.get(decodedPath === "/" ? "/index.html" : decodedPath);
    if (file !== undefined) {
      serveFile(req, res, file);
      return;
    }
    if (!isClientRoute(decodedPath)) {
      sendText(res, 404, `not found: ${req.method ?? "GET"} ${path.slice(0, 200)}\n`);
      return;
    }
    const index = loaded?.files.get("/index.html");
    if (index === undefined) {
      sendText(res, 503, notBuiltMessage(distDir));
      return;
    }
    serveFile(req, res, index);
  };
}

/**
 * A path the single-page app may route on the client: `/` or segments without dots (file
 * names and Connect's `/pkg.v1.Service/Method` have dots), outside the API and asset prefixes.
 */
export function isClientRoute(path: string): boolean {
  if (path === "/") return true;
  const segments = path.split("/").slice(1);
  if (NOT_CLIENT_ROUTE_PREFIXES.has(segments[0] ?? "")) return false;
  return segments.every((segment) => !segment.includes(".") && !segment.includes("\\"));
}

function notBuiltMessage(distDir: string): string {
  return (
    `Kiln's web UI is not built: ${join(distDir, "index.html")} is missing.\n\n` +
    "Build it with:\n\n    npm run build:ui\n\n" +
    "(`npm ci` builds it too, through the package's prepare script; `npm start` rebuilds it when stale.)\n" +
    "Then reload this page. The ingest and query APIs on this port work without it.\n"
  );
}

function serveFile(req: HttpRequest, res: HttpResponse, file: StaticFile): void {
  const encoding = chooseEncoding(req.headers["accept-encoding"], file);
  const representation = file[encoding === "identity" ? "identity" : encoding] ?? file.identity;
  const headers: Record<string, string | number> = {
    "cache-control": file.cacheControl,
    etag: representation.etag,
    vary: "Accept-Encoding",
    "x-content-type-options": "nosniff",
  };
  if (file.contentType.startsWith("text/html")) {
    headers["content-security-policy"] = CONTENT_SECURITY_POLICY;
    headers["referrer-policy"] = "same-origin";
  }
  if (etagMatches(req.headers["if-none-match"], representation.etag)) {
    writeHead(res, 304, headers);
    res.end();
    return;
  }
  headers["content-type"] = file.contentType;
  headers["content-length"] = representation.body.byteLength;
  if (encoding !== "identity") headers["content-encoding"] = encoding;
  writeHead(res, 200, headers);
  if (req.method === "HEAD") res.end();
  else res.end(representation.body);
}

/** The best encoding the client accepts (q > 0) among those the file has: br, gzip, identity. */
export function chooseEncoding(
  acceptEncoding: string | string[] | undefined,
  available: { gzip?: unknown; br?: unknown },
): Encoding {
  if (acceptEncoding === undefined) return "identity";
  const header = Array.isArray(acceptEncoding) ? acceptEncoding.join(",") : acceptEncoding;
  const quality = new Map<string, number>();
  for (const part of header.split(",")) {
    const [token, ...params] = part.trim().toLowerCase().split(";");
    if (token === undefined || token === "") continue;
    let q = 1;
    for (const param of params) {
      const [key, value] = param.trim().split("=");
      if (key === "q" && value !== undefined) q = Number(value);
    }
    quality.set(token, Number.isFinite(q) ? q : 0);
  }
  const accepts = (token: string) => (quality.get(token) ?? quality.get("*") ?? 0) > 0;
  if (available.br !== undefined && accepts("br")) return "br";
  if (available.gzip !== undefined && accepts("gzip")) return "gzip";
  return "identity";
}

/** If-None-Match holds `*` or a list of (possibly weak) tags; weak comparison per RFC 9110. */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  const bare = (tag: string) => (tag.startsWith("W/") ? tag.slice(2) : tag);
  return ifNoneMatch
    .split(",")
    .map((tag) => tag.trim())
    .some((tag) => tag === "*" || bare(tag) === bare(etag));
}

async function loadSnapshot(distDir: string, versionKey: string): Promise<Snapshot> {
  const paths = await listFiles(distDir);
  const files = new Map<string, StaticFile>();
  let totalBytes = 0;
  for (const absolutePath of paths) {
    const body = await readFile(absolutePath);
    totalBytes += body.byteLength;
    if (totalBytes > TOTAL_BYTES_MAX) {
      throw new Error(`${distDir} holds more than ${TOTAL_BYTES_MAX} bytes; is it really the built UI?`);
    }
    const urlPath = `/${relative(distDir, absolutePath).split(sep).join("/")}`;
    files.set(urlPath, await prepareFile(urlPath, body));
  }
  return { versionKey, files };
}

async function listFiles(root: string): Promise<string[]> {
  const found: string[] = [];
  const pending = [root];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) pending.push(path);
      else if (entry.isFile()) found.push(path);
      if (found.length > FILES_MAX) throw new Error(`${root} holds more than ${FILES_MAX} files`);
    }
  }
  return found;
}

async function prepareFile(urlPath: string, body: Buffer): Promise<StaticFile> {
  const extension = extname(urlPath).toLowerCase();
  const hash = createHash("sha256").update(body).digest("base64url").slice(0, 27);
  const file: StaticFile = {
    contentType: CONTENT_TYPES[extension] ?? "application/octet-stream",
    cacheControl: urlPath.startsWith(HASHED_ASSETS_PREFIX) ? CACHE_IMMUTABLE : CACHE_REVALIDATE,
    identity: { body, etag: `"${hash}"` },
  };
  if (COMPRESSIBLE_EXTENSIONS.has(extension) && body.byteLength >= COMPRESS_BYTES_MIN) {
    const [gz, br] = await Promise.all([
      gzipAsync(body, { level: 9 }),
      brotliAsync(body, {
        params: {
          [zlibConstants.BROTLI_PARAM_QUALITY]: zlibConstants.BROTLI_MAX_QUALITY,
          [zlibConstants.BROTLI_PARAM_SIZE_HINT]: body.byteLength,
        },
      }),
    ]);
    // Each encoding is its own representation, so it gets its own tag (RFC 9110 §8.8.3).
    if (gz.byteLength < body.byteLength) file.gzip = { body: gz, etag: `"${hash}-gz"` };
    if (br.byteLength < body.byteLength) file.br = { body: br, etag: `"${hash}-br"` };
  }
  return file;
}

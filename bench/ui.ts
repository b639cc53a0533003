/**
 * Web UI bench, in Chromium: builds ui/bench.html (the real ProfileView and renderer on
 * deterministic synthetic flame graphs, ui/src/bench/) with Vite into a temp folder, serves it
 * from a small static server, drives Debian's Chromium with playwright-core and reads the
 * page's performance measurements:
 * - first render of a 10,000-node flame graph, from data in hand to pixels (target < 200 ms);
 * - hover and zoom (focus change) at 50,000 nodes, median and p95 (target < 16 ms);
 * and the production bundle size of the app (ui/vite.config.ts built into a temp folder, so
 * ui/dist is left alone): JS + CSS, raw and gzipped.
 *
 * Standalone: `node_modules/.bin/node bench/ui.ts [--json] [--ui-dpr=2]`.
 */
import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, normalize, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { launchChromium } from "../src/testing/chromium.ts";
import type { BenchOptions, BenchResult } from "../ui/src/bench/types.ts";

const repoRoot = resolve(import.meta.dirname, "..");
const uiRoot = join(repoRoot, "ui");
const VIEWPORT = { width: 1440, height: 1000 };

export interface UiBenchOptions extends BenchOptions {
  devicePixelRatio: number;
}

export const defaultUiBenchOptions: UiBenchOptions = {
  firstRenderNodes: 10_000,
  firstRenderRuns: 5,
  interactionNodes: 50_000,
  hovers: 50,
  zooms: 20,
  devicePixelRatio: 1,
};

export interface UiBenchResult {
  page: BenchResult;
  /** First run (cold JIT) and median of all runs, data in hand → next frame after the draw. */
  firstRenderColdMs: number;
  firstRenderMs: number;
  firstRenderDrawnMs: number;
  rendererOnlyMs: number;
  hoverMedianMs: number;
  hoverP95Ms: number;
  zoomMedianMs: number;
  zoomP95Ms: number;
  /** Null when the app did not build (the reason is in bundleError). */
  bundle: BundleSize | null;
  bundleError: string | null;
  chromiumVersion: string;
}

export interface BundleSize {
  jsBytes: number;
  cssBytes: number;
  gzipBytes: number;
  files: number;
}

export function percentile(values: readonly number[], fraction: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank.
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(fraction * sorted.length)));
  return sorted[rank - 1]!;
}

async function viteBuild(config: Record<string, unknown>): Promise<void> {
  const { build } = await import("vite");
  await build({ logLevel: "warn", ...config });
}

async function buildBenchPage(outDir: string): Promise<void> {
  await viteBuild({
    configFile: false,
    root: uiRoot,
    base: "./",
    publicDir: false,
    oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
    build: {
      outDir,
      emptyOutDir: true,
      target: "es2022",
      rolldownOptions: { input: join(uiRoot, "bench.html") },
    },
  });
}

/** Builds the real app with its own config into `outDir` and sums its JS and CSS. */
export async function measureBundle(outDir: string): Promise<BundleSize> {
  await viteBuild({ configFile: join(uiRoot, "vite.config.ts"), build: { outDir, emptyOutDir: true } });
  const size: BundleSize = { jsBytes: 0, cssBytes: 0, gzipBytes: 0, files: 0 };
  const pending = [outDir];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        pending.push(path);
        continue;
      }
      const ext = extname(entry.name);
      if (ext !== ".js" && ext !== ".css") continue;
      const bytes = readFileSync(path);
      if (ext === ".js") size.jsBytes += bytes.length;
      else size.cssBytes += bytes.length;
      size.gzipBytes += gzipSync(bytes, { level: 9 }).length;
      size.files++;
    }
  }
  return size;
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

function serveStatic(dir: string): Promise<Server> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = normalize(join(dir, decodeURIComponent(url.pathname)));
    if (!path.startsWith(dir) || !statSync(path, { throwIfNoEntry: false })?.isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": CONTENT_TYPES[extname(path)] ?? "application/octet-stream" });
    res.end(readFileSync(path));
  });
  return new Promise((resolveServer) => server.listen(0, "127.0.0.1", () => resolveServer(server)));
}

export async function runUiBench(options: UiBenchOptions = defaultUiBenchOptions): Promise<UiBenchResult> {
  const work = await mkdtemp(join(tmpdir(), "kiln-ui-bench-"));
  const pageDir = join(work, "page");
  let server: Server | undefined;
  const browser = await launchChromium();
  try {
    await buildBenchPage(pageDir);
    let bundle: BundleSize | null = null;
    let bundleError: string | null = null;
    try {
      bundle = await measureBundle(join(work, "app"));
    } catch (error) {
      bundleError = error instanceof Error ? error.message.split("\n")[0]! : String(error);
    }
    server = await serveStatic(pageDir);
    const { port } = server.address() as AddressInfo;
    const context = await browser.newContext({
      viewport: VIEWPORT,
      deviceScaleFactor: options.devicePixelRatio,
    });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(String(error)));
    await page.goto(`http://127.0.0.1:${port}/bench.html`);
    await page.waitForFunction(() => "__kilnBench" in globalThis);
    const pageOptions: BenchOptions = {
      firstRenderNodes: options.firstRenderNodes,
      firstRenderRuns: options.firstRenderRuns,
      interactionNodes: options.interactionNodes,
      hovers: options.hovers,
      zooms: options.zooms,
    };
    const result = await page.evaluate(
      (opts) =>
        (
          globalThis as unknown as { __kilnBench: { run(o: BenchOptions): Promise<BenchResult> } }
        ).__kilnBench.run(opts),
      pageOptions,
    );
    if (errors.length > 0) throw new Error(`the bench page failed: ${errors.join("; ")}`);
    if (result.hoverMs.length < options.hovers || result.zoomMs.length < options.zooms) {
      throw new Error(
        `the bench found too few frames to hover (${result.hoverMs.length}) or zoom (${result.zoomMs.length})`,
      );
    }
    return {
      page: result,
      firstRenderColdMs: result.firstRenderPaintedMs[0]!,
      firstRenderMs: percentile(result.firstRenderPaintedMs, 0.5),
      firstRenderDrawnMs: percentile(result.firstRenderDrawnMs, 0.5),
      rendererOnlyMs: percentile(result.rendererOnlyMs, 0.5),
      hoverMedianMs: percentile(result.hoverMs, 0.5),
      hoverP95Ms: percentile(result.hoverMs, 0.95),
      zoomMedianMs: percentile(result.zoomMs, 0.5),
      zoomP95Ms: percentile(result.zoomMs, 0.95),
      bundle,
      bundleError,
      chromiumVersion: browser.version(),
    };
  } finally {
    await browser.close();
    await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
    rmSync(work, { recursive: true, force: true });
  }
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** The bench's JSON figures (keys as in bench/main.ts). */
export function uiResult(r: UiBenchResult): Record<string, number> {
  return {
    "ui.firstRender10kMs": round(r.firstRenderMs),
    "ui.firstRender10kColdMs": round(r.firstRenderColdMs),
    "ui.firstRender10kDrawnMs": round(r.firstRenderDrawnMs),
    "ui.rendererOnly10kMs": round(r.rendererOnlyMs),
    "ui.hover50kMs": round(r.hoverMedianMs, 2),
    "ui.hover50kP95Ms": round(r.hoverP95Ms, 2),
    "ui.zoom50kMs": round(r.zoomMedianMs, 2),
    "ui.zoom50kP95Ms": round(r.zoomP95Ms, 2),
    "ui.drawnNodes50k": r.page.drawnNodes,
    ...(r.bundle
      ? { "ui.bundleBytes": r.bundle.jsBytes + r.bundle.cssBytes, "ui.bundleGzipBytes": r.bundle.gzipBytes }
      : {}),
  };
}

export function uiRows(r: UiBenchResult): [string, string, string][] {
  const u = uiResult(r);
  const p = r.page;
  return [
    [
      "ui setup",
      `${p.firstRenderNodes} / ${p.interactionNodes}`,
      `nodes; Chromium ${r.chromiumVersion} headless, software rendering, canvas ${p.canvasWidthPx} px at DPR ${p.devicePixelRatio}`,
    ],
    [
      "ui.firstRender10kMs (to next frame)",
      String(u["ui.firstRender10kMs"]),
      `target < 200 ms; median of ${p.firstRenderPaintedMs.length} runs, first (cold) ${u["ui.firstRender10kColdMs"]} ms; draw call done ${u["ui.firstRender10kDrawnMs"]} ms; renderer alone ${u["ui.rendererOnly10kMs"]} ms`,
    ],
    [
      "ui.hover50kMs (median / p95)",
      `${u["ui.hover50kMs"]} / ${u["ui.hover50kP95Ms"]}`,
      `target < 16 ms; ${p.hoverMs.length} hovers; ${p.drawnNodes} of ${p.interactionNodes} nodes drawn at the root`,
    ],
    [
      "ui.zoom50kMs (median / p95)",
      `${u["ui.zoom50kMs"]} / ${u["ui.zoom50kP95Ms"]}`,
      `target < 16 ms; ${p.zoomMs.length} focus changes; renderer alone ${round(percentile(p.rendererZoomMs, 0.5), 2)} ms (drawing calls: layout ${round(p.rendererZoomParts.layoutMs, 2)}, rectangles ${round(p.rendererZoomParts.rectsMs, 2)}, ${p.rendererZoomParts.labels} labels ${round(p.rendererZoomParts.labelsMs, 2)} ms; the rest is rasterising)`,
    ],
    r.bundle
      ? [
          "ui.bundleGzipBytes",
          String(u["ui.bundleGzipBytes"]),
          `${r.bundle.files} JS/CSS files, ${u["ui.bundleBytes"]} bytes raw`,
        ]
      : ["ui.bundleGzipBytes", "n/a", `the app did not build: ${r.bundleError}`],
  ];
}

if (import.meta.main) {
  const dprArg = process.argv.find((a) => a.startsWith("--ui-dpr="));
  const result = await runUiBench({
    ...defaultUiBenchOptions,
    devicePixelRatio: dprArg ? Number(dprArg.slice("--ui-dpr=".length)) : 1,
  });
  if (process.argv.includes("--json")) console.log(JSON.stringify(uiResult(result)));
  else {
    const rows = uiRows(result);
    const w = Math.max(...rows.map((row) => row[0].length));
    const v = Math.max(...rows.map((row) => row[1].length));
    for (const [k, val, base] of rows) console.log(`${k.padEnd(w)}  ${val.padStart(v)}  ${base}`);
  }
}

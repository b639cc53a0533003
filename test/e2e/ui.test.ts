/**
 * The web UI end to end: Debian's Chromium (playwright-core) against a real Kiln server that
 * serves ui/dist and holds real profiles from ../shared/testdata, pushed through /ingest.
 * Each test does what a user does (open a view, drag on the chart, click a frame, type a
 * search, pick a label, export) and checks what the user sees against the query API's own
 * answers and MANIFEST.md. A screenshot of each view goes to test-output/ui/.
 *
 * One server and one browser for the whole file; the tests run in order and share them.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, Download, Page } from "playwright-core";
import { decodePprof } from "../../src/formats/pprof/decode.ts";
import { encodePprof } from "../../src/formats/pprof/encode.ts";
import { readManifest } from "../../src/testing/manifest.ts";
import { spyNameFor, testdata, testdataRoot } from "../../src/testing/testdata.ts";
import { formatChange, formatPoints, formatValue } from "../../ui/src/units.ts";
import { chromiumAvailability, launchBrowser, prepareUi, screenshotPath } from "../helpers/browser.ts";
import { acceptAnyTime, type InProcessKiln, startInProcess } from "../helpers/kiln.ts";
import { type ApiFlameGraph, apiNodes, changedMost, relativeShareChange } from "./flamegraph-api.ts";

/**
 * The page's globals used inside page.evaluate callbacks (they run in the browser; this file
 * is type-checked without the DOM library).
 */
declare const window: {
  __kilnFlamegraph?: { frameRect(name: string): { x: number; y: number; w: number; h: number } | null };
};
declare const document: {
  documentElement: { dataset: Record<string, string | undefined> };
  activeElement: { getAttribute(name: string): string | null } | null;
  querySelector(selector: string): { textContent: string | null } | null;
};
/** The few canvas members the pixel check reads (a canvas element, seen from the test). */
interface CanvasLike {
  width: number;
  getBoundingClientRect(): { width: number };
  getContext(kind: "2d"): {
    getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> };
  };
}

const pprofData = testdata("pprof");
const chromium = chromiumAvailability();

/** Java async-profiler CPU: one sample type, and MANIFEST.md lists its top functions. */
const CHECKOUT_FILE = "pyroscope-java-asyncprofiler-cpu.pb.gz";
/** Go CPU with pprof labels: a second service for the picker, in two versions for the diff. */
const INVENTORY_FILE = "pyroscope-go-cpu-labels.pb.gz";
/** Another Go CPU profile with other hot paths under the same runtime frames. */
const INVENTORY_OTHER_FILE = "pyroscope-go-cpu-span-id.pb.gz";
/**
 * The second service's pushes: v1 runs mostly the second file's code paths, v2 mostly the
 * first's, so the diff has functions that grow, shrink and stay, as between two releases.
 */
const INVENTORY_PUSHES: { file: string; version: string; minutesAgo: number }[] = [
  { file: INVENTORY_FILE, version: "v1", minutesAgo: 40 },
  ...[38, 36, 34].map((minutesAgo) => ({ file: INVENTORY_OTHER_FILE, version: "v1", minutesAgo })),
  ...[20, 18, 16].map((minutesAgo) => ({ file: INVENTORY_FILE, version: "v2", minutesAgo })),
  { file: INVENTORY_OTHER_FILE, version: "v2", minutesAgo: 14 },
];
const CPU_TYPE = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
/** Minutes before the test start at which each checkout profile is stamped; pods alternate. */
const CHECKOUT_PUSH_MINUTES_AGO = [55, 45, 35, 25, 15, 5];
const CHECKOUT = '{service_name="checkout"}';
const INVENTORY = '{service_name="inventory"}';
const MAX_NODES = 16384;

/** `| 1 | \`name\` | value |` of the file's "top 10 by self" table in MANIFEST.md. */
function manifestTopSelf(file: string): { name: string; value: number } {
  const text = readFileSync(join(testdataRoot, "MANIFEST.md"), "utf8");
  const section = text.slice(text.indexOf(`### \`pprof/${file}\``));
  const row = /top 10 by self:[\s\S]*?\| 1 \| `([^`]+)` \| (\d+) \|/.exec(section);
  if (row === null) throw new Error(`no top-self table for ${file} in MANIFEST.md`);
  return { name: row[1]!, value: Number(row[2]) };
}

/** The corpus file with its time set to `atMs`, so it lands in the UI's relative ranges. */
function retimed(file: string, atMs: number): Uint8Array {
  const pprof = decodePprof(readFileSync(join(pprofData.dir!, file)), { maxDecompressedBytes: 64 << 20 });
  pprof.timeNanos = BigInt(atMs) * 1_000_000n;
  return encodePprof(pprof);
}

async function push(kiln: InProcessKiln, file: string, name: string, atMs: number): Promise<void> {
  const query = new URLSearchParams({ name, format: "pprof", spyName: spyNameFor(file) });
  const res = await fetch(`${kiln.url}/ingest?${query}`, { method: "POST", body: retimed(file, atMs) });
  assert.equal(res.status, 200, await res.text());
}

interface FlameGraphJson {
  names?: string[];
  total?: string;
}

async function api<T>(kiln: InProcessKiln, method: string, body: unknown): Promise<T> {
  const res = await fetch(`${kiln.url}/querier.v1.QuerierService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

async function flameTotal(kiln: InProcessKiln, selector: string, startMs: number, endMs: number) {
  const res = await api<{ flamegraph?: FlameGraphJson }>(kiln, "SelectMergeStacktraces", {
    profileTypeID: CPU_TYPE,
    labelSelector: selector,
    start: startMs,
    end: endMs,
    maxNodes: MAX_NODES,
  });
  return { total: Number(res.flamegraph?.total ?? 0), names: res.flamegraph?.names ?? [] };
}

/** from/until of the page's URL, resolved the way the UI does for absolute specs. */
function rangeOf(page: Page): { from: string; until: string } {
  const params = new URL(page.url()).searchParams;
  return { from: params.get("from") ?? "", until: params.get("until") ?? "" };
}

/** The comparison page for CPU time of two selectors over one time range, on `tab` if given. */
function compareUrl(
  kiln: InProcessKiln,
  sides: { tab?: "diff"; left: string; right: string; fromMs: number; untilMs: number },
): string {
  const { left, right, fromMs, untilMs } = sides;
  const params = new URLSearchParams({
    type: CPU_TYPE,
    ...(sides.tab === undefined ? {} : { tab: sides.tab }),
    lquery: left,
    lfrom: String(fromMs),
    luntil: String(untilMs),
    rquery: right,
    rfrom: String(fromMs),
    runtil: String(untilMs),
  });
  return `${kiln.url}/compare?${params}`;
}

/** Opens the export menu, picks the entry `testId` and waits for the file it downloads. */
async function exportDownload(page: Page, testId: string): Promise<Download> {
  await page.getByTestId("export-button").click();
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId(testId).click()]);
  return download;
}

async function textOf(page: Page, testId: string): Promise<string> {
  return (await page.getByTestId(testId).first().textContent())?.trim() ?? "";
}

describe("web UI in Chromium", { skip: pprofData.skip || chromium.skip }, () => {
  let kiln: InProcessKiln;
  let browser: Browser;
  let page: Page;
  const startMs = Date.now();
  const manifest = pprofData.skip ? new Map() : readManifest();
  const perPushTotal = Number(manifest.get(`pprof/${CHECKOUT_FILE}`)?.totals.get("cpu:nanoseconds") ?? 0);
  const checkoutTotal = perPushTotal * CHECKOUT_PUSH_MINUTES_AGO.length;
  const cpuTotalOf = (file: string) =>
    Number(manifest.get(`pprof/${file}`)?.totals.get("cpu:nanoseconds") ?? 0);
  const inventoryTotalOf = (version: string) =>
    INVENTORY_PUSHES.filter((p) => p.version === version).reduce((sum, p) => sum + cpuTotalOf(p.file), 0);
  const inventoryTotal = inventoryTotalOf("v1") + inventoryTotalOf("v2");
  /** SelectMergeStacktraces requests the page sent, as parsed JSON bodies. */
  const flameRequests: { labelSelector: string; start: number; end: number }[] = [];
  const pageErrors: string[] = [];

  before(async () => {
    await prepareUi();
    kiln = await startInProcess({ ...acceptAnyTime });
    await Promise.all([
      ...CHECKOUT_PUSH_MINUTES_AGO.map((minutesAgo, i) =>
        push(
          kiln,
          CHECKOUT_FILE,
          `checkout{env=prod,pod=pod-${i % 2 === 0 ? "a" : "b"}}`,
          startMs - minutesAgo * 60_000,
        ),
      ),
      ...INVENTORY_PUSHES.map(({ file, version, minutesAgo }) =>
        push(kiln, file, `inventory{env=prod,version=${version}}`, startMs - minutesAgo * 60_000),
      ),
    ]);
    // Pushes are answered once flushed; poll until the query side sees all of them.
    for (let attempt = 0; attempt < 100; attempt++) {
      const checkout = await flameTotal(kiln, CHECKOUT, startMs - 3_600_000, startMs + 60_000);
      const inventory = await flameTotal(kiln, INVENTORY, startMs - 3_600_000, startMs + 60_000);
      if (checkout.total === checkoutTotal && inventory.total === inventoryTotal) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    browser = await launchBrowser();
    const context = await browser.newContext({
      viewport: { width: 1440, height: 1000 },
      acceptDownloads: true,
    });
    page = await context.newPage();
    page.on("pageerror", (err) => pageErrors.push(String(err)));
    page.on("request", (req) => {
      if (req.url().endsWith("/SelectMergeStacktraces"))
        flameRequests.push(JSON.parse(req.postData() ?? "{}"));
    });
  });

  after(async () => {
    await browser?.close();
    await kiln?.stop();
  });

  test("Explore opens on the first service and CPU time, with the totals of the pushed profiles", async () => {
    assert.equal(perPushTotal, 5020648123, "MANIFEST.md total of the Java CPU profile");
    await page.goto(`${kiln.url}/`);
    await page.getByTestId("flamegraph-canvas").first().waitFor();
    const url = new URL(page.url());
    assert.equal(url.pathname, "/explore");
    assert.equal(url.searchParams.get("query"), CHECKOUT);
    assert.equal(url.searchParams.get("type"), CPU_TYPE);
    assert.equal(
      await textOf(page, "flamegraph-total"),
      `Total ${formatValue(checkoutTotal, "nanoseconds")}`,
    );

    // The top table's first row (sorted by self) is MANIFEST's top self function, times the pushes.
    const top = manifestTopSelf(CHECKOUT_FILE);
    const firstRow = page.getByTestId("top-table").locator("tbody tr").first();
    assert.equal(await firstRow.getAttribute("data-name"), top.name);
    const cells = await firstRow.locator("td").allTextContents();
    assert.equal(cells[1], formatValue(top.value * CHECKOUT_PUSH_MINUTES_AGO.length, "nanoseconds"));

    // The service picker offers both services.
    const services = await page.getByTestId("service-picker").locator("option").allTextContents();
    assert.deepEqual(services, ["All services", "checkout", "inventory"]);
    await page.screenshot({ path: screenshotPath("explore"), fullPage: true });
  });

  test("dragging on the time series zooms: the URL range narrows and the flame graph is queried again", async () => {
    const overlay = page.getByTestId("timeseries").locator(".u-over");
    const box = await overlay.boundingBox();
    assert.ok(box !== null);
    const requestsBefore = flameRequests.length;
    const y = box.y + box.height / 2;
    await page.mouse.move(box.x + box.width * 0.4, y);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.97, y, { steps: 10 });
    await page.mouse.up();
    await page.waitForURL((u) => /^\d+$/.test(u.searchParams.get("from") ?? ""));
    const { from, until } = rangeOf(page);
    const zoomedStart = Number(from);
    const zoomedEnd = Number(until);
    assert.ok(zoomedEnd - zoomedStart < 3_600_000 * 0.7, `zoomed range ${from}..${until} is narrower`);
    assert.ok(zoomedStart > startMs - 3_600_000 && zoomedEnd <= Date.now() + 60_000);

    // The flame graph was asked for exactly the zoomed range, and shows what the API says for it.
    const expected = await flameTotal(kiln, CHECKOUT, zoomedStart, zoomedEnd);
    assert.ok(expected.total > 0 && expected.total < checkoutTotal, "the zoom cut some profiles out");
    await page.waitForFunction(
      (text) => document.querySelector('[data-testid="flamegraph-total"]')?.textContent?.trim() === text,
      `Total ${formatValue(expected.total, "nanoseconds")}`,
    );
    const zoomRequest = flameRequests.slice(requestsBefore).find((r) => r.start === zoomedStart);
    assert.ok(zoomRequest !== undefined, "a SelectMergeStacktraces request for the zoomed range");
    assert.equal(zoomRequest.end, zoomedEnd);

    // Back returns to the last hour.
    await page.goBack();
    await page.waitForURL((u) => u.searchParams.get("from") === null);
    await page.goForward();
    await page.waitForURL((u) => u.searchParams.get("from") === from);
  });

  test("clicking a frame focuses it: breadcrumbs and URL show the path", async () => {
    const name = "com/example/Something.doSomething";
    const rect = await page.evaluate((frame) => window.__kilnFlamegraph?.frameRect(frame) ?? null, name);
    assert.ok(rect !== null, `${name} is drawn`);
    const canvas = await page.getByTestId("flamegraph-canvas").first().boundingBox();
    assert.ok(canvas !== null);
    await page.mouse.click(canvas.x + rect.x + rect.w / 2, canvas.y + rect.y + rect.h / 2);
    await page.waitForURL((u) => u.searchParams.getAll("focus").includes(name));
    const focusPath = new URL(page.url()).searchParams.getAll("focus");
    assert.equal(focusPath.at(-1), name);
    const breadcrumbs = await textOf(page, "breadcrumbs");
    assert.ok(breadcrumbs.includes(name), breadcrumbs);

    // A reload of the link shows the same focus.
    await page.reload();
    await page.getByTestId("breadcrumbs").waitFor();
    assert.ok((await textOf(page, "breadcrumbs")).includes(name));
  });

  test("search highlights matches and says how many functions and how much of the total", async () => {
    const { from, until } = rangeOf(page);
    const { names } = await flameTotal(kiln, CHECKOUT, Number(from), Number(until));
    const matching = new Set(names.filter((n) => n.toLowerCase().includes("unixfilesystem")));
    assert.ok(matching.size > 1);
    await page.getByTestId("flamegraph-search").fill("UnixFileSystem");
    await page.waitForFunction(() =>
      /match/.test(document.querySelector('[data-testid="search-summary"]')?.textContent ?? ""),
    );
    const summary = await textOf(page, "search-summary");
    assert.match(summary, new RegExp(`^${matching.size} matches · [\\d.]+% of total$`));
    assert.equal(new URL(page.url()).searchParams.get("search"), "UnixFileSystem");
    await page.screenshot({ path: screenshotPath("explore-focus-search"), fullPage: true });
  });

  test("the sandwich view of a function opens from the top table", async () => {
    const top = manifestTopSelf(CHECKOUT_FILE);
    await page.getByTestId("top-table").locator(`tr[data-name="${top.name}"] button`).first().click();
    await page.getByTestId("sandwich").waitFor();
    assert.equal(new URL(page.url()).searchParams.get("sandwich"), top.name);
    assert.ok((await textOf(page, "sandwich")).includes(top.name));
    await page.screenshot({ path: screenshotPath("sandwich"), fullPage: true });
  });

  test("export: pprof (decoded, total as the API's), flame graph JSON and PNG", async () => {
    const { from, until } = rangeOf(page);
    const expected = await flameTotal(kiln, CHECKOUT, Number(from), Number(until));
    const download = await exportDownload(page, "export-pprof");
    assert.equal(download.suggestedFilename(), "profile.pb.gz");
    const bytes = readFileSync((await download.path())!);
    assert.deepEqual([...bytes.subarray(0, 2)], [0x1f, 0x8b], "gzip magic");
    const profile = decodePprof(bytes, { maxDecompressedBytes: 64 << 20 });
    const sum = profile.sampleValues.reduce((a, b) => a + b, 0);
    assert.equal(sum, expected.total);
    assert.equal(profile.strings[profile.sampleTypeStr[0]!], "cpu");

    // The flame graph as JSON: the data on screen, with the API's total.
    const jsonDownload = await exportDownload(page, "export-json");
    assert.equal(jsonDownload.suggestedFilename(), "flamegraph.json");
    const json = JSON.parse(readFileSync((await jsonDownload.path())!, "utf8")) as {
      total: number;
      names: string[];
    };
    assert.equal(json.total, expected.total);
    assert.equal(json.names[0], "total");

    // A PNG image of the flame graph.
    const pngDownload = await exportDownload(page, "export-png");
    assert.equal(pngDownload.suggestedFilename(), "flamegraph.png");
    const png = readFileSync((await pngDownload.path())!);
    assert.deepEqual(
      [...png.subarray(0, 8)],
      [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
      "PNG signature",
    );
    assert.ok(png.byteLength > 1000);
  });

  test("tag explorer: grouping by pod gives one row per value with the API's totals", async () => {
    await page.getByTestId("nav-tags").click();
    await page.getByTestId("tags-view").waitFor();
    await page.getByTestId("group-by").getByRole("button", { name: "pod", exact: true }).click();
    await page.getByTestId("tag-table").waitFor();
    const url = new URL(page.url());
    assert.equal(url.pathname, "/tags");
    assert.equal(url.searchParams.get("groupBy"), "pod");
    const { from, until } = rangeOf(page);

    const series = await api<{
      series?: { labels: { name: string; value: string }[]; points: { value: number }[] }[];
    }>(kiln, "SelectSeries", {
      profileTypeID: CPU_TYPE,
      labelSelector: CHECKOUT,
      start: Number(from),
      end: Number(until),
      step: 15,
      groupBy: ["pod"],
    });
    const apiTotals = new Map(
      (series.series ?? []).map((s) => [
        s.labels.find((l) => l.name === "pod")?.value ?? "",
        s.points.reduce((sum, p) => sum + p.value, 0),
      ]),
    );
    assert.ok(apiTotals.size >= 1);
    const rows = page.getByTestId("tag-table").locator("tbody tr");
    assert.equal(await rows.count(), apiTotals.size);
    const grand = [...apiTotals.values()].reduce((a, b) => a + b, 0);
    for (let i = 0; i < apiTotals.size; i++) {
      const row = rows.nth(i);
      const value = (await row.getAttribute("data-value")) ?? "";
      const cells = await row.locator("td").allTextContents();
      assert.ok(apiTotals.has(value), value);
      assert.equal(Number(await row.getAttribute("data-total")), apiTotals.get(value));
      assert.equal(cells[1], formatValue(apiTotals.get(value)!, "nanoseconds"));
      assert.match(cells[3] ?? "", /%$/);
      assert.ok(grand > 0);
    }
    await page.screenshot({ path: screenshotPath("tag-explorer"), fullPage: true });

    // Clicking a value opens Explore filtered to it.
    const firstValue = (await rows.first().getAttribute("data-value")) ?? "";
    await rows.first().getByRole("button").click();
    await page.getByTestId("explore-view").waitFor();
    const selector = `{service_name="checkout", pod="${firstValue}"}`;
    assert.equal(new URL(page.url()).searchParams.get("query"), selector);
    const expected = await flameTotal(kiln, selector, Number(from), Number(until));
    await page.waitForFunction(
      (text) => document.querySelector('[data-testid="flamegraph-total"]')?.textContent?.trim() === text,
      `Total ${formatValue(expected.total, "nanoseconds")}`,
    );
  });

  test("comparison: two selections side by side with the API's totals", async () => {
    const left = '{service_name="checkout", pod="pod-a"}';
    const right = '{service_name="checkout", pod="pod-b"}';
    const fromMs = startMs - 3_600_000;
    const untilMs = startMs + 60_000;
    await page.goto(compareUrl(kiln, { left, right, fromMs, untilMs }));
    const leftTotal = (await flameTotal(kiln, left, fromMs, untilMs)).total;
    const rightTotal = (await flameTotal(kiln, right, fromMs, untilMs)).total;
    assert.equal(leftTotal + rightTotal, checkoutTotal);
    await page.getByTestId("compare-left-total").waitFor();
    await page.getByTestId("compare-right-total").waitFor();
    assert.equal(await textOf(page, "compare-left-total"), `Total ${formatValue(leftTotal, "nanoseconds")}`);
    assert.equal(
      await textOf(page, "compare-right-total"),
      `Total ${formatValue(rightTotal, "nanoseconds")}`,
    );
    assert.equal(await page.getByTestId("flamegraph-canvas").count(), 2);
    await page.screenshot({ path: screenshotPath("compare-side-by-side"), fullPage: true });
  });

  test("diff of two versions: totals, the function that changed most, red for growth and green for shrinkage", async () => {
    const left = '{service_name="inventory", version="v1"}';
    const right = '{service_name="inventory", version="v2"}';
    const fromMs = startMs - 3_600_000;
    const untilMs = startMs + 60_000;
    const side = (labelSelector: string) => ({
      profileTypeID: CPU_TYPE,
      labelSelector,
      start: fromMs,
      end: untilMs,
      maxNodes: MAX_NODES,
    });
    const diff = await api<{ flamegraph?: ApiFlameGraph }>(kiln, "Diff", {
      left: side(left),
      right: side(right),
    });
    const graph = diff.flamegraph ?? {};
    const leftTicks = Number(graph.leftTicks);
    const rightTicks = Number(graph.rightTicks);
    assert.equal(leftTicks, inventoryTotalOf("v1"));
    assert.equal(rightTicks, inventoryTotalOf("v2"));

    await page.goto(compareUrl(kiln, { tab: "diff", left, right, fromMs, untilMs }));
    await page.getByTestId("diff-table").waitFor();
    assert.equal(
      await textOf(page, "diff-totals"),
      `Left ${formatValue(leftTicks, "nanoseconds")} · Right ${formatValue(rightTicks, "nanoseconds")}`,
    );

    // The table opens sorted by change: its first row is the function whose share of its
    // side's total moved most, by the amount the API's diff flame graph gives.
    const [most] = changedMost(graph);
    assert.ok(most !== undefined && Math.abs(most.change) > 0.05, "the two versions really differ");
    const firstRow = page.getByTestId("diff-table").locator("tbody tr").first();
    assert.equal(await firstRow.getAttribute("data-name"), most.name);
    const cells = await firstRow.locator("td").allTextContents();
    assert.equal(
      cells[3],
      `${formatPoints(most.change)} (${formatChange(relativeShareChange(most.leftShare, most.rightShare))})`,
    );

    // Frame colours: a frame whose share grew by 30% or more is drawn reddish, one that
    // shrank by half or more greenish. Frames are picked where the name occurs once, so the
    // frame on screen is that node.
    const nodes = apiNodes(graph, "diff");
    const occurrences = new Map<string, number>();
    for (const node of nodes) occurrences.set(node.name, (occurrences.get(node.name) ?? 0) + 1);
    const widest = (wanted: (change: number) => boolean) => {
      let best: (typeof nodes)[number] | undefined;
      for (const node of nodes.slice(1)) {
        const change = relativeShareChange(node.leftTotal / leftTicks, node.rightTotal / rightTicks);
        if (occurrences.get(node.name) !== 1 || !wanted(change)) continue;
        if (!best || node.leftTotal + node.rightTotal > best.leftTotal + best.rightTotal) best = node;
      }
      assert.ok(best !== undefined);
      return best.name;
    };
    const grown = widest((change) => change >= 0.3);
    const shrunk = widest((change) => change <= -0.5);
    const pixelOf = async (name: string) =>
      page.evaluate((frame) => {
        const rect = window.__kilnFlamegraph?.frameRect(frame);
        const canvas = document.querySelector('[data-testid="flamegraph-canvas"]') as unknown as CanvasLike;
        if (!rect) return null;
        const dpr = canvas.width / canvas.getBoundingClientRect().width;
        // One pixel in from the frame's top-left corner: inside the box, clear of its label.
        const data = canvas
          .getContext("2d")
          .getImageData(Math.floor((rect.x + 1) * dpr), Math.floor((rect.y + 1) * dpr), 1, 1).data;
        return { r: data[0]!, g: data[1]!, b: data[2]! };
      }, name);
    const red = await pixelOf(grown);
    assert.ok(red !== null, `${grown} is drawn`);
    assert.ok(
      red.r > red.g + 30 && red.r > red.b + 30,
      `${grown} grew and is reddish: ${JSON.stringify(red)}`,
    );
    const green = await pixelOf(shrunk);
    assert.ok(green !== null, `${shrunk} is drawn`);
    assert.ok(
      green.g > green.r + 30 && green.g > green.b + 30,
      `${shrunk} shrank and is greenish: ${JSON.stringify(green)}`,
    );
    await page.screenshot({ path: screenshotPath("compare-diff"), fullPage: true });
  });

  test("empty and error states say what to do next", async () => {
    await page.goto(`${kiln.url}/explore?from=1000&until=2000`);
    await page.getByTestId("empty").waitFor();
    const empty = await textOf(page, "empty");
    assert.match(empty, /No profiles in this time range/);
    assert.ok(
      empty.includes(`curl -X POST --data-binary @cpu.pb.gz '${kiln.url}/ingest?name=my-app'`),
      empty,
    );
    await page.screenshot({ path: screenshotPath("empty"), fullPage: true });

    // A regular expression the server cannot compile: its own message is shown.
    const bad = '{service_name=~"("}';
    const serverMessage = await api(kiln, "SelectMergeStacktraces", {
      profileTypeID: CPU_TYPE,
      labelSelector: bad,
      start: startMs - 3_600_000,
      end: startMs,
    }).then(
      () => assert.fail("the server accepted a broken regex"),
      (err: Error) => (JSON.parse(err.message.replace(/^[^{]*/, "")) as { message: string }).message,
    );
    await page.goto(`${kiln.url}/explore?${new URLSearchParams({ query: bad, type: CPU_TYPE })}`);
    await page.getByTestId("error").first().waitFor();
    assert.ok((await textOf(page, "error")).includes(serverMessage), serverMessage);

    // A selector that does not parse is caught before any query, with the parser's reason.
    await page.goto(
      `${kiln.url}/explore?${new URLSearchParams({ query: '{service_name="checkout"', type: CPU_TYPE })}`,
    );
    await page.getByTestId("empty").waitFor();
    const invalid = await textOf(page, "empty");
    assert.match(invalid, /The label selector is not valid\./);
    assert.match(invalid, /expected "," or "\}"/);
  });

  test("the label selector suggests label names, then the values of the label being typed", async () => {
    await page.goto(`${kiln.url}/explore?query=${encodeURIComponent(CHECKOUT)}&type=${CPU_TYPE}`);
    await page.getByTestId("flamegraph-canvas").first().waitFor();
    const input = page.getByTestId("label-selector");
    await input.click();
    await input.fill('{service_name="checkout", po');
    await input.press("End");
    await page.getByTestId("suggestions").getByRole("option", { name: "pod", exact: true }).waitFor();
    await input.press("ArrowDown");
    await input.press("Enter");
    assert.equal(await input.inputValue(), '{service_name="checkout", pod=""');
    const values = page.getByTestId("suggestions").getByRole("option");
    await values.first().waitFor();
    assert.deepEqual(await values.allTextContents(), ["pod-a", "pod-b"]);
    await page.getByTestId("suggestions").getByRole("option", { name: "pod-b" }).click();
    assert.equal(await input.inputValue(), '{service_name="checkout", pod="pod-b"');
    await input.press("End");
    await input.type("}");
    await input.press("Enter");
    await page.waitForURL((u) => u.searchParams.get("query") === '{service_name="checkout", pod="pod-b"}');
    const expected = await flameTotal(
      kiln,
      '{service_name="checkout", pod="pod-b"}',
      startMs - 3_600_000,
      startMs + 60_000,
    );
    await page.waitForFunction(
      (text) => document.querySelector('[data-testid="flamegraph-total"]')?.textContent?.trim() === text,
      `Total ${formatValue(expected.total, "nanoseconds")}`,
    );
  });

  test("keyboard: arrows pick frames, Enter focuses, Escape resets, / jumps to the search", async () => {
    const fromMs = startMs - 3_600_000;
    const untilMs = startMs + 60_000;
    const params = new URLSearchParams({
      query: CHECKOUT,
      type: CPU_TYPE,
      from: String(fromMs),
      until: String(untilMs),
    });
    await page.goto(`${kiln.url}/explore?${params}`);
    await page.getByTestId("flamegraph-canvas").first().waitFor();

    // The expected path: the root's widest child, then that frame's widest child (API data).
    const res = await api<{ flamegraph?: ApiFlameGraph }>(kiln, "SelectMergeStacktraces", {
      profileTypeID: CPU_TYPE,
      labelSelector: CHECKOUT,
      start: fromMs,
      end: untilMs,
      maxNodes: MAX_NODES,
    });
    const nodes = apiNodes(res.flamegraph ?? {}, "single");
    const widestChild = (parent: number) => {
      let best = -1;
      nodes.forEach((node, i) => {
        if (node.parent === parent && (best < 0 || node.leftTotal > nodes[best]!.leftTotal)) best = i;
      });
      assert.ok(best >= 0);
      return best;
    };
    const first = widestChild(0);
    const second = widestChild(first);
    const focusOf = () => new URL(page.url()).searchParams.getAll("focus");
    const tooltipName = () => page.getByTestId("flamegraph-tooltip").locator(".kfg-tip-name").textContent();

    // Icicle (the default): the first arrow picks the root, ArrowDown goes towards the leaves.
    await page.locator(".kfg-graph").first().focus();
    await page.keyboard.press("ArrowDown");
    assert.equal(await tooltipName(), "total");
    await page.keyboard.press("ArrowDown");
    assert.equal(await tooltipName(), nodes[first]!.name);
    await page.keyboard.press("Enter");
    await page.waitForURL(() => focusOf().length === 1);
    assert.deepEqual(focusOf(), [nodes[first]!.name]);
    assert.ok((await textOf(page, "breadcrumbs")).endsWith(nodes[first]!.name));

    await page.keyboard.press("ArrowDown");
    assert.equal(await tooltipName(), nodes[second]!.name);
    await page.keyboard.press("Enter");
    await page.waitForURL(() => focusOf().length === 2);
    assert.deepEqual(focusOf(), [nodes[first]!.name, nodes[second]!.name]);

    // ArrowUp goes back to the parent; Enter focuses it.
    await page.keyboard.press("ArrowUp");
    assert.equal(await tooltipName(), nodes[first]!.name);
    await page.keyboard.press("Enter");
    await page.waitForURL(() => focusOf().length === 1);

    // Escape resets the focus to the whole graph.
    await page.keyboard.press("Escape");
    await page.waitForURL(() => focusOf().length === 0);
    assert.equal(await textOf(page, "breadcrumbs"), "all");

    // "/" outside a text field puts the cursor in the search box, without typing a slash.
    await page.keyboard.press("/");
    assert.equal(
      await page.evaluate(() => document.activeElement?.getAttribute("data-testid") ?? null),
      "flamegraph-search",
    );
    assert.equal(await page.getByTestId("flamegraph-search").inputValue(), "");
  });

  test("the theme toggle switches to dark and is remembered", async () => {
    await page.goto(`${kiln.url}/explore?query=${encodeURIComponent(CHECKOUT)}&type=${CPU_TYPE}`);
    await page.getByTestId("flamegraph-canvas").first().waitFor();
    const before = await page.evaluate(() => document.documentElement.dataset.theme);
    await page.getByTestId("theme-toggle").click();
    // The theme is applied by an effect after the click's render: wait for it, not a tick.
    await page.waitForFunction((previous) => document.documentElement.dataset.theme !== previous, before);
    const afterToggle = await page.evaluate(() => document.documentElement.dataset.theme);
    assert.notEqual(afterToggle, before);
    await page.reload();
    await page.getByTestId("flamegraph-canvas").first().waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), afterToggle);
    await page.screenshot({ path: screenshotPath(`explore-${afterToggle}`), fullPage: true });
    assert.deepEqual(pageErrors, [], "no uncaught errors in the page");
  });
});

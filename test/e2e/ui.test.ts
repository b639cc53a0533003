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
import type { Browser, Page } from "playwright-core";
import { decodePprof } from "../../src/formats/pprof/decode.ts";
import { encodePprof } from "../../src/formats/pprof/encode.ts";
import { readManifest } from "../../src/testing/manifest.ts";
import { spyNameFor, testdata, testdataRoot } from "../../src/testing/testdata.ts";
import { formatValue } from "../../ui/src/units.ts";
import { chromiumAvailability, launchBrowser, prepareUi, screenshotPath } from "../helpers/browser.ts";
import { acceptAnyTime, type InProcessKiln, startInProcess } from "../helpers/kiln.ts";

/**
 * The page's globals used inside page.evaluate callbacks (they run in the browser; this file
 * is type-checked without the DOM library).
 */
declare const window: {
  __kilnFlamegraph?: { frameRect(name: string): { x: number; y: number; w: number; h: number } | null };
};
declare const document: {
  documentElement: { dataset: Record<string, string | undefined> };
  querySelector(selector: string): { textContent: string | null } | null;
};

const pprofData = testdata("pprof");
const chromium = chromiumAvailability();

/** Java async-profiler CPU: one sample type, and MANIFEST.md lists its top functions. */
const CHECKOUT_FILE = "pyroscope-java-asyncprofiler-cpu.pb.gz";
/** Go CPU with pprof labels: a second service for the picker. */
const INVENTORY_FILE = "pyroscope-go-cpu-labels.pb.gz";
const CPU_TYPE = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
/** Minutes before the test start at which each checkout profile is stamped; pods alternate. */
const CHECKOUT_PUSH_MINUTES_AGO = [55, 45, 35, 25, 15, 5];
const CHECKOUT = '{service_name="checkout"}';
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
      push(kiln, INVENTORY_FILE, "inventory{env=prod}", startMs - 20 * 60_000),
    ]);
    // Pushes are answered once flushed; poll until the query side sees all of them.
    for (let attempt = 0; attempt < 100; attempt++) {
      const { total } = await flameTotal(kiln, CHECKOUT, startMs - 3_600_000, startMs + 60_000);
      if (total === checkoutTotal) break;
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
    await page.getByTestId("export-button").click();
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByTestId("export-pprof").click(),
    ]);
    assert.equal(download.suggestedFilename(), "profile.pb.gz");
    const bytes = readFileSync((await download.path())!);
    assert.deepEqual([...bytes.subarray(0, 2)], [0x1f, 0x8b], "gzip magic");
    const profile = decodePprof(bytes, { maxDecompressedBytes: 64 << 20 });
    const sum = profile.sampleValues.reduce((a, b) => a + b, 0);
    assert.equal(sum, expected.total);
    assert.equal(profile.strings[profile.sampleTypeStr[0]!], "cpu");

    // The flame graph as JSON: the data on screen, with the API's total.
    await page.getByTestId("export-button").click();
    const [jsonDownload] = await Promise.all([
      page.waitForEvent("download"),
      page.getByTestId("export-json").click(),
    ]);
    assert.equal(jsonDownload.suggestedFilename(), "flamegraph.json");
    const json = JSON.parse(readFileSync((await jsonDownload.path())!, "utf8")) as {
      total: number;
      names: string[];
    };
    assert.equal(json.total, expected.total);
    assert.equal(json.names[0], "total");

    // A PNG image of the flame graph.
    await page.getByTestId("export-button").click();
    const [pngDownload] = await Promise.all([
      page.waitForEvent("download"),
      page.getByTestId("export-png").click(),
    ]);
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

  test("comparison: two selections side by side and a diff with the API's totals", async () => {
    const left = '{service_name="checkout", pod="pod-a"}';
    const right = '{service_name="checkout", pod="pod-b"}';
    const fromMs = startMs - 3_600_000;
    const untilMs = startMs + 60_000;
    const params = new URLSearchParams({
      type: CPU_TYPE,
      lquery: left,
      lfrom: String(fromMs),
      luntil: String(untilMs),
      rquery: right,
      rfrom: String(fromMs),
      runtil: String(untilMs),
    });
    await page.goto(`${kiln.url}/compare?${params}`);
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

    await page.getByTestId("tab-diff").click();
    await page.getByTestId("diff-table").waitFor();
    assert.equal(new URL(page.url()).searchParams.get("tab"), "diff");
    const diff = await api<{ flamegraph?: { leftTicks?: string; rightTicks?: string } }>(kiln, "Diff", {
      left: {
        profileTypeID: CPU_TYPE,
        labelSelector: left,
        start: fromMs,
        end: untilMs,
        maxNodes: MAX_NODES,
      },
      right: {
        profileTypeID: CPU_TYPE,
        labelSelector: right,
        start: fromMs,
        end: untilMs,
        maxNodes: MAX_NODES,
      },
    });
    assert.equal(Number(diff.flamegraph?.leftTicks), leftTotal);
    assert.equal(Number(diff.flamegraph?.rightTicks), rightTotal);
    assert.equal(
      await textOf(page, "diff-totals"),
      `Left ${formatValue(leftTotal, "nanoseconds")} · Right ${formatValue(rightTotal, "nanoseconds")}`,
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

  test("the theme toggle switches to dark and is remembered", async () => {
    await page.goto(`${kiln.url}/explore?query=${encodeURIComponent(CHECKOUT)}&type=${CPU_TYPE}`);
    await page.getByTestId("flamegraph-canvas").first().waitFor();
    const before = await page.evaluate(() => document.documentElement.dataset.theme);
    await page.getByTestId("theme-toggle").click();
    const afterToggle = await page.evaluate(() => document.documentElement.dataset.theme);
    assert.notEqual(afterToggle, before);
    await page.reload();
    await page.getByTestId("flamegraph-canvas").first().waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), afterToggle);
    await page.screenshot({ path: screenshotPath(`explore-${afterToggle}`), fullPage: true });
    assert.deepEqual(pageErrors, [], "no uncaught errors in the page");
  });
});

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { KilnError } from "../../model/errors.ts";
import { readManifest } from "../../testing/manifest.ts";
import { testdata } from "../../testing/testdata.ts";
import { parseFolded } from "./folded.ts";
import { parseLines } from "./lines.ts";
import { parseAppName } from "./name.ts";
import type { TextStackLimits } from "./stacks.ts";
import { suffixProfileType, textStacksToPprof } from "./text-pprof.ts";

const limits: TextStackLimits = { maxDecodedBytes: 1 << 20, maxDistinctStacks: 16000, maxStackDepth: 1000 };
const utf8 = (s: string) => new TextEncoder().encode(s);
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

function assertKilnError(fn: () => unknown, reason: string, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof KilnError, `want KilnError, got ${String(err)}`);
    assert.equal(err.reason, reason);
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe("parseFolded", () => {
  it("sums identical stacks, splits the count at the last space", () => {
    const parsed = parseFolded(utf8("a;b c;d 3\na;b c;d 2\na;x 1\n"), limits);
    assert.deepEqual(parsed.stacks, ["a;b c;d", "a;x"]);
    assert.deepEqual(parsed.values, [5, 1]);
  });

  it("skips lines without a space and empty lines, handles CRLF and a missing final newline", () => {
    const parsed = parseFolded(utf8("#comment\r\n\r\na;b 2\r\nnospace\r\na;c 1"), limits);
    assert.deepEqual(parsed.stacks, ["a;b", "a;c"]);
    assert.deepEqual(parsed.values, [2, 1]);
    assert.equal(parsed.skippedLines, 2);
  });

  it("rejects a non-integer count like Pyroscope (no comment syntax)", () => {
    assertKilnError(() => parseFolded(utf8("a;b 1\n# a comment\n"), limits), "malformed_folded", /line 2/);
    assertKilnError(() => parseFolded(utf8("a;b 1.5\n"), limits), "malformed_folded");
    assertKilnError(() => parseFolded(utf8("a;b 1 \n"), limits), "malformed_folded");
    assertKilnError(() => parseFolded(utf8("a;b -1\n"), limits), "malformed_folded");
    assertKilnError(() => parseFolded(utf8("a;b 99999999999999999999\n"), limits), "malformed_folded");
  });

  it("accepts Atoi's optional plus sign and drops zero counts", () => {
    const parsed = parseFolded(utf8("a +4\nb 0\n"), limits);
    assert.deepEqual(parsed.stacks, ["a"]);
    assert.deepEqual(parsed.values, [4]);
  });

  it("decodes UTF-8 BOM and UTF-16 LE/BE with BOM", () => {
    assert.deepEqual(parseFolded(utf8("\ufeffa;b 1\n"), limits).stacks, ["a;b"]);
    const text = "a;é 2\r\n";
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]);
    assert.deepEqual(parseFolded(le, limits).stacks, ["a;é"]);
    const be = Buffer.from(Buffer.from(text, "utf16le")).swap16();
    assert.deepEqual(parseFolded(Buffer.concat([Buffer.from([0xfe, 0xff]), be]), limits).values, [2]);
  });

  it("keeps the root-most frames beyond max depth and caps distinct stacks and size", () => {
    const parsed = parseFolded(utf8("a;b;c;d 1\na;b;c;e 2\n"), { ...limits, maxStackDepth: 2 });
    assert.deepEqual(parsed.stacks, ["a;b"]);
    assert.deepEqual(parsed.values, [3]);
    assertKilnError(
      () => parseFolded(utf8("a 1\nb 1\nc 1\n"), { ...limits, maxDistinctStacks: 2 }),
      "too_many_samples",
    );
    assertKilnError(() => parseFolded(utf8("a 1\n"), { ...limits, maxDecodedBytes: 2 }), "profile_too_large");
  });

  it("skips bad-count lines only in lenient mode", () => {
    const parsed = parseFolded(utf8("x y\na 1\n"), { ...limits, skipInvalidLines: true });
    assert.deepEqual(parsed.values, [1]);
    assert.equal(parsed.skippedLines, 1);
  });
});

describe("collapsed corpus (MANIFEST)", () => {
  const { dir, skip } = testdata("collapsed");
  it("every file parses to the MANIFEST line count and total", { skip }, () => {
    const manifest = readManifest();
    let checked = 0;
    for (const [path, entry] of manifest) {
      if (!path.startsWith("collapsed/") || entry.stackLines === undefined) continue;
      const body = readFileSync(join(dir!, path.slice("collapsed/".length)));
      // with-invalids holds "# comment that …", "// some other comment" and "invalid line":
      // all three contain a space, so Pyroscope reads a non-integer count and rejects the
      // whole upload (422). Kiln does the same on /ingest; the lenient mode skips them.
      const strict = path.endsWith("with-invalids.txt");
      if (strict) assertKilnError(() => parseFolded(body, limits), "malformed_folded", /line 1/);
      const parsed = parseFolded(body, { ...limits, skipInvalidLines: strict });
      assert.ok(parsed.stacks.length <= entry.stackLines, path);
      assert.equal(BigInt(sum(parsed.values)), entry.collapsedTotal, `${path} total`);
      assert.equal(parsed.stackLines, entry.stackLines, `${path} stack lines`);
      if (strict) assert.equal(parsed.skippedLines, 3);
      checked++;
    }
    assert.ok(checked >= 10, `checked ${checked} collapsed files`);
  });

  it("the tall stack and recursion keep their frames in order", { skip }, () => {
    const tall = parseFolded(readFileSync(join(dir!, "speedscope-tall.txt")), limits);
    assert.equal(tall.stacks[0]!.split(";").length, 26);
    const rec = parseFolded(readFileSync(join(dir!, "speedscope-recursion.txt")), limits);
    const pprof = textStacksToPprof(rec, { type: suffixProfileType("app"), sampleRate: 0, timeNanos: 1n });
    assert.equal(pprof.functionCount, 3);
  });
});

describe("parseLines", () => {
  it("counts identical lines, keeps spaces, ignores empty lines", () => {
    const parsed = parseLines(utf8("a;b c\na;b c\r\n\na;d\n"), limits);
    assert.deepEqual(parsed.stacks, ["a;b c", "a;d"]);
    assert.deepEqual(parsed.values, [2, 1]);
  });
});

describe("suffixProfileType", () => {
  it("maps suffixes per §2.6", () => {
    assert.deepEqual(suffixProfileType("myapp"), {
      serviceName: "myapp",
      suffix: "cpu",
      metricName: "process_cpu",
      sampleType: "samples",
      sampleUnit: "count",
    });
    const heap = suffixProfileType("my.app.inuse_space");
    assert.equal(heap.serviceName, "my.app");
    assert.equal(heap.metricName, "memory");
    assert.equal(heap.sampleType, "inuse_space");
    assert.equal(heap.sampleUnit, "bytes");
    assert.equal(suffixProfileType("a.goroutines").metricName, "goroutine");
    assert.equal(suffixProfileType("a.lock_duration").sampleType, "delay");
    assert.equal(suffixProfileType("a.milliseconds").metricName, "wall");
  });

  it("rejects an unknown suffix with 400-class invalid_argument", () => {
    assertKilnError(() => suffixProfileType("my.app"), "unknown_profile_type", /^unknown profile type: app$/);
  });
});

describe("textStacksToPprof", () => {
  it("builds leaf-first samples, one function per frame name, CPU period from sampleRate", () => {
    const parsed = parseFolded(utf8("main;work;leaf 3\nmain;idle 1\n"), limits);
    const p = textStacksToPprof(parsed, {
      type: suffixProfileType("app.cpu"),
      sampleRate: 100,
      timeNanos: 42n,
    });
    assert.equal(p.strings[p.sampleTypeStr[0]!], "cpu");
    assert.equal(p.strings[p.sampleUnitStr[0]!], "nanoseconds");
    assert.equal(p.hasPeriodType, true);
    assert.equal(p.strings[p.periodTypeStr], "cpu");
    assert.equal(p.period, 10_000_000);
    assert.deepEqual([...p.sampleValues], [30_000_000, 10_000_000]);
    assert.equal(p.timeNanos, 42n);
    assert.equal(p.functionCount, 4);
    const names = (s: number) =>
      [...p.sampleLocations.subarray(p.sampleLocationOffsets[s]!, p.sampleLocationOffsets[s + 1]!)].map(
        (loc) => p.strings[p.functionNameStr[p.lineFunctionPlus1[p.locationLineOffsets[loc]!]! - 1]!],
      );
    assert.deepEqual(names(0), ["leaf", "work", "main"]);
    assert.equal(p.mappingCount, 1);
    assert.equal(p.locationMappingPlus1[0], 1);
  });

  it("wall uses wall/nanoseconds, other types have no period type", () => {
    const parsed = parseFolded(utf8("a 1\n"), limits);
    const wall = textStacksToPprof(parsed, {
      type: suffixProfileType("x.wall"),
      sampleRate: 50,
      timeNanos: 0n,
    });
    assert.equal(wall.strings[wall.sampleTypeStr[0]!], "wall");
    assert.equal(wall.sampleValues[0], 20_000_000);
    const heap = textStacksToPprof(parsed, {
      type: suffixProfileType("x.alloc_space"),
      sampleRate: 100,
      timeNanos: 0n,
    });
    assert.equal(heap.hasPeriodType, false);
    assert.equal(heap.sampleValues[0], 1);
    const raw = textStacksToPprof(parsed, { type: suffixProfileType("x.cpu"), sampleRate: 0, timeNanos: 0n });
    assert.equal(raw.strings[raw.sampleTypeStr[0]!], "samples");
    assert.equal(raw.hasPeriodType, false);
  });
});

describe("parseAppName", () => {
  it("parses the app name and tags", () => {
    const { appName, tags } = parseAppName(" my.awesome.app.cpu { env = staging , region=us-west-1}");
    assert.equal(appName, "my.awesome.app.cpu");
    assert.deepEqual(
      [...tags],
      [
        ["__name__", "my.awesome.app.cpu"],
        ["env", "staging"],
        ["region", "us-west-1"],
      ],
    );
  });

  it("follows labelset.Parse's corners", () => {
    assert.equal(parseAppName("myapp{__name__=other}").appName, "other");
    assert.equal(parseAppName("a{k=1,k=2}").tags.get("k"), "2");
    assert.equal(parseAppName("a{}junk").tags.size, 1);
    assert.equal(parseAppName("a{k=v,}x=y}").tags.has("x"), false);
    // A `}` that closes a value returns to key state, so later pairs still count.
    assert.equal(parseAppName("a{k=v}x=y}").tags.get("x"), "y");
    // An unterminated pair is dropped.
    assert.equal(parseAppName("a{k=v").tags.has("k"), false);
    assert.equal(parseAppName("a/b-c_d.e").appName, "a/b-c_d.e");
  });

  it("rejects bad names with invalid_name", () => {
    assertKilnError(() => parseAppName(""), "invalid_name", /^name: service name is required$/);
    assertKilnError(() => parseAppName("my app"), "invalid_name", /character is not allowed: ' '/);
    assertKilnError(() => parseAppName("a{=v}"), "invalid_name", /label name is required/);
    assertKilnError(() => parseAppName("a{k-1=v}"), "invalid_name", /invalid label name: k-1/);
  });
});

/**
 * speedscope, V8 .cpuprofile and `perf script` uploads end to end: POST /ingest through the
 * real server, then the totals the data folder holds (MANIFEST numbers for the corpus files).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { getLabel } from "../src/model/labels.ts";
import { testdata, testdataFile } from "../src/testing/testdata.ts";
import { acceptAnyTime, type InProcessKiln, startInProcess } from "./helpers/kiln.ts";
import { readStored } from "./helpers/stored.ts";

const corpus = testdata();
const skip =
  testdata("speedscope").skip || testdata("chrome-cpuprofile").skip || testdata("perf-script").skip;

describe("speedscope / cpuprofile / perf-script ingest through the server", {
  skip: corpus.skip || skip,
}, () => {
  let kiln: InProcessKiln;
  before(async () => {
    kiln = await startInProcess({ ...acceptAnyTime });
  });
  after(async () => kiln?.stop());

  async function upload(file: string, params: Record<string, string>): Promise<Response> {
    const body = readFileSync(testdataFile(file));
    return fetch(`${kiln.url}/ingest?${new URLSearchParams(params)}`, { method: "POST", body });
  }
  const sorted = (m: Map<string, bigint>) => Object.fromEntries([...m].sort());

  test("speedscope files: totals per MANIFEST (14 units each), profile_name and unit suffixes", async () => {
    const files: [string, string][] = [
      ["speedscope/pyroscope-simple.speedscope.json", "ss-evented"],
      ["speedscope/speedscope-simple-sampled-0.1.2.speedscope.json", "ss-sampled"],
      ["speedscope/speedscope-two-sampled-0.6.0.speedscope.json", "ss-two"],
      ["speedscope/pyroscope-two-sampled-bytes.speedscope.json", "ss-bytes"],
      ["speedscope/pyroscope-duplicates.speedscope.json", "ss-dups"],
    ];
    for (const [file, service] of files) {
      const res = await upload(file, { name: service, format: "speedscope", from: "1700000000" });
      assert.equal(res.status, 200, `${file}: ${await res.text()}`);
    }
    const totals = async (service: string) => sorted((await readStored(kiln.dataDir, { service })).totals);
    // unit none, 14 units → ×100 at 10000 Hz = 0.14 s.
    assert.deepEqual(await totals("ss-evented"), {
      "process_cpu:cpu:nanoseconds:cpu:nanoseconds": 140_000_000n,
    });
    // unit seconds, sum(weights) 14 → 14 s.
    assert.deepEqual(await totals("ss-sampled"), {
      "process_cpu:cpu:nanoseconds:cpu:nanoseconds": 14_000_000_000n,
    });
    // Two profiles "one" and "two" (seconds) → ss-two.seconds → wall, 14 s each.
    assert.deepEqual(await totals("ss-two"), { "wall:wall:nanoseconds:cpu:nanoseconds": 28_000_000_000n });
    const two = await readStored(kiln.dataDir, { service: "ss-two" });
    assert.deepEqual([...new Set(two.series.map((l) => getLabel(l, "profile_name")))].sort(), ["one", "two"]);
    // Two bytes profiles → memory, 14 bytes each.
    assert.deepEqual(await totals("ss-bytes"), { "memory:samples:bytes::": 28n });
    // Three equal (name, type, unit, startValue) profiles merge into one: 3 × 14 s, no suffix.
    assert.deepEqual(await totals("ss-dups"), {
      "process_cpu:cpu:nanoseconds:cpu:nanoseconds": 42_000_000_000n,
    });
  });

  test("the invalid speedscope trace answers 422 with a clear message", async () => {
    const res = await upload("speedscope/speedscope-invalid-incomplete-trace.json", {
      name: "ss-bad",
      format: "speedscope",
    });
    assert.equal(res.status, 422);
    const body = (await res.json()) as { code: string; message: string };
    assert.equal(body.code, "unknown");
    assert.match(body.message, /evented profile ends with 1 frame\(s\) still open/);
  });

  test("cpuprofile files: MANIFEST sample counts, durations in cpu nanoseconds", async () => {
    const files: [string, string, bigint][] = [
      ["chrome-cpuprofile/speedscope-node-example.cpuprofile", "cp-node", 29n],
      ["chrome-cpuprofile/speedscope-chrome65-simple.cpuprofile", "cp-simple", 29n],
      ["chrome-cpuprofile/speedscope-chrome65-sucrase.cpuprofile", "cp-sucrase", 17138n],
    ];
    for (const [file, service, samples] of files) {
      const res = await upload(file, { name: service, format: "cpuprofile", from: "1700000000" });
      assert.equal(res.status, 200, `${file}: ${await res.text()}`);
      const { totals } = await readStored(kiln.dataDir, { service });
      assert.equal(totals.get("process_cpu:samples:count:cpu:nanoseconds"), samples, file);
      assert.ok((totals.get("process_cpu:cpu:nanoseconds:cpu:nanoseconds") ?? 0n) > 0n, file);
    }
    const simple = await readStored(kiln.dataDir, { service: "cp-simple" });
    assert.equal(simple.totals.get("process_cpu:cpu:nanoseconds:cpu:nanoseconds"), 36_317_000n);
  });

  test("perf script files: one sample per MANIFEST header line", async () => {
    const files: [string, string, bigint][] = [
      ["perf-script/speedscope-simple-with-header.linux-perf.txt", "perf-simple", 136n],
      ["perf-script/speedscope-rust-mangled.linux-perf.txt", "perf-rust", 96n],
      ["perf-script/speedscope-forks.linux-perf.txt", "perf-forks", 561n],
    ];
    for (const [file, service, samples] of files) {
      const res = await upload(file, {
        name: service,
        format: "perf-script",
        from: "1700000000",
        spyName: "perf",
      });
      assert.equal(res.status, 200, `${file}: ${await res.text()}`);
      const stored = await readStored(kiln.dataDir, { service });
      // 100 Hz by default: 1e7 ns per sample.
      assert.deepEqual(sorted(stored.totals), {
        "process_cpu:cpu:nanoseconds:cpu:nanoseconds": samples * 10_000_000n,
      });
      for (const labels of stored.series) assert.equal(getLabel(labels, "pyroscope_spy"), "perf");
    }
  });
});

/**
 * JFR uploads end to end: POST /ingest?format=jfr (raw and multipart with a labels part)
 * through the real server, then what the data folder holds.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { getLabel } from "../src/model/labels.ts";
import { testdata, testdataFile } from "../src/testing/testdata.ts";
import { acceptAnyTime, type InProcessKiln, startInProcess } from "./helpers/kiln.ts";
import { readStored } from "./helpers/stored.ts";

const jfrData = testdata("jfr");

describe("JFR ingest through the server", { skip: jfrData.skip }, () => {
  let kiln: InProcessKiln;
  before(async () => {
    kiln = await startInProcess({ ...acceptAnyTime });
  });
  after(async () => kiln?.stop());

  test("raw gzipped JFR (cpu, alloc, lock, park) stores one profile type per sample type", async () => {
    const body = readFileSync(testdataFile("jfr/pyroscope-kafka-cpu-lock0-alloc0.jfr.gz"));
    const query = new URLSearchParams({ name: "jfr-raw{env=test}", format: "jfr", spyName: "javaspy" });
    const res = await fetch(`${kiln.url}/ingest?${query}`, { method: "POST", body });
    assert.equal(res.status, 200, await res.text());
    const stored = await readStored(kiln.dataDir, { service: "jfr-raw" });
    assert.deepEqual(Object.fromEntries([...stored.totals].sort()), {
      "block:contentions:count:block:count": 435n,
      "block:delay:nanoseconds:block:count": 100900692n,
      "memory:alloc_in_new_tlab_bytes:bytes:space:bytes": 1598335640n,
      "memory:alloc_in_new_tlab_objects:count:space:bytes": 7972n,
      "memory:alloc_outside_tlab_bytes:bytes:space:bytes": 43715768n,
      "memory:alloc_outside_tlab_objects:count:space:bytes": 2238n,
      "mutex:contentions:count:mutex:count": 1773n,
      "mutex:delay:nanoseconds:mutex:count": 3908034578n,
      "process_cpu:cpu:nanoseconds:cpu:nanoseconds": 5_820_000_000n,
    });
    for (const labels of stored.series) {
      assert.equal(getLabel(labels, "jfr_event"), "cpu");
      assert.equal(getLabel(labels, "pyroscope_spy"), "javaspy");
      assert.equal(getLabel(labels, "env"), "test");
    }
  });

  test("multipart jfr + labels: context labels become series labels, span ids stay per sample", async () => {
    const form = new FormData();
    form.append("jfr", new Blob([readFileSync(testdataFile("jfr/pyroscope-dump2.jfr.gz"))]), "jfr");
    form.append(
      "labels",
      new Blob([readFileSync(testdataFile("jfr/pyroscope-dump2.labels.pb.gz"))]),
      "labels",
    );
    const query = new URLSearchParams({ name: "jfr-multipart", format: "jfr" });
    const res = await fetch(`${kiln.url}/ingest?${query}`, { method: "POST", body: form });
    assert.equal(res.status, 200, await res.text());
    const stored = await readStored(kiln.dataDir, { service: "jfr-multipart" });
    assert.deepEqual(Object.fromEntries([...stored.totals].sort()), {
      "memory:alloc_in_new_tlab_bytes:bytes:space:bytes": 2097148n,
      "memory:alloc_in_new_tlab_objects:count:space:bytes": 4n,
      "memory:live:count:objects:count": 4n,
      "process_cpu:cpu:nanoseconds:cpu:nanoseconds": 3358n * 10_000_000n,
      "wall:wall:nanoseconds:wall:nanoseconds": 14723n * 10_000_000n,
    });
    const threads = new Set(
      stored.series.map((l) => getLabel(l, "thread_name")).filter((t) => t !== undefined),
    );
    assert.ok(threads.has("pool-2-thread-1"), [...threads].join(","));
    for (const labels of stored.series) {
      assert.equal(getLabel(labels, "profile_id"), undefined);
      assert.equal(getLabel(labels, "span_id"), undefined);
      assert.equal(getLabel(labels, "jfr_event"), "wall");
    }
  });

  test("a corrupt recording answers 422 with a clear message", async () => {
    const jfr = readFileSync(testdataFile("jfr/speedscope-heavy.jfr"));
    const body = jfr.subarray(0, jfr.length - 1000);
    const res = await fetch(`${kiln.url}/ingest?name=jfr-bad&format=jfr`, { method: "POST", body });
    assert.equal(res.status, 422);
    const json = (await res.json()) as { code: string; message: string };
    assert.equal(json.code, "unknown");
    assert.match(json.message, /malformed JFR .*chunk size/);
  });
});

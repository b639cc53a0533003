import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { decodePprof } from "../../formats/pprof/decode.ts";
import { encodePprof } from "../../formats/pprof/encode.ts";
import type { Pprof } from "../../model/pprof.ts";
import { testdata } from "../../testing/testdata.ts";
import { pprofMetricName } from "./metric-name.ts";

const corpus = testdata("pprof");
const load = (file: string): Pprof =>
  decodePprof(new Uint8Array(readFileSync(join(corpus.dir!, file))), {
    maxDecompressedBytes: 32 * 1024 * 1024,
  });

/** A profile whose only content is the given sample type names. */
function withTypes(...types: string[]): Pprof {
  const strings = ["", ...types, "count"];
  const base = decodePprof(new Uint8Array(0), { maxDecompressedBytes: 1 });
  const p: Pprof = {
    ...base,
    strings,
    sampleTypeStr: Uint32Array.from(types, (_, i) => i + 1),
    sampleUnitStr: Uint32Array.from(types, () => strings.length - 1),
  };
  return decodePprof(encodePprof(p), { maxDecompressedBytes: 1 << 20 });
}

describe("pprofMetricName (wire reference §2.5)", () => {
  it("corpus profiles", { skip: corpus.skip }, () => {
    assert.equal(pprofMetricName(load("pyroscope-go-cpu-labels.pb.gz")), "process_cpu");
    assert.equal(pprofMetricName(load("pyroscope-go-heap.pb.gz")), "memory");
    assert.equal(pprofMetricName(load("pyroscope-go-goroutine.pb.gz")), "goroutines");
    assert.equal(pprofMetricName(load("pyroscope-go-mutex.pb.gz")), "mutex");
    assert.equal(pprofMetricName(load("pyroscope-nodejs-wall.pb.gz")), "wall");
    assert.equal(pprofMetricName(load("pyroscope-nodejs-heap-js.pb")), "memory");
    assert.equal(pprofMetricName(load("pyroscope-java-asyncprofiler-cpu.pb.gz")), "process_cpu");
    assert.equal(pprofMetricName(load("pyroscope-dotnet-3.pb")), "process_cpu");
    assert.equal(pprofMetricName(load("parca-go-fgprof.pb.gz")), "process_cpu"); // samples → display name cpu
  });

  it("wall anywhere wins", () => assert.equal(pprofMetricName(withTypes("cpu", "wall")), "wall"));
  it("contains rules", () => {
    assert.equal(pprofMetricName(withTypes("alloc_size")), "memory");
    assert.equal(pprofMetricName(withTypes("space")), "memory");
    assert.equal(pprofMetricName(withTypes("objects")), "memory");
    assert.equal(pprofMetricName(withTypes("exception", "lock_time")), "lock_time");
  });
  it(".NET dashed names: cpu first decides; without it the last raw name", () => {
    assert.equal(pprofMetricName(withTypes("cpu", "alloc-samples", "lock-count")), "process_cpu");
    assert.equal(pprofMetricName(withTypes("alloc-samples", "lock-count")), "lock-count");
  });
  it("sample_type_config display names replace the default table", () => {
    const block = withTypes("contentions", "delay");
    assert.equal(pprofMetricName(block), "mutex");
    const config = {
      contentions: { "display-name": "block_count" },
      delay: { "display-name": "block_duration" },
    };
    assert.equal(pprofMetricName(block, config), "block");
    // With a client config, `samples` is no longer renamed to cpu.
    assert.equal(pprofMetricName(withTypes("samples"), {}), "samples");
    assert.equal(pprofMetricName(withTypes("samples")), "process_cpu");
  });
});

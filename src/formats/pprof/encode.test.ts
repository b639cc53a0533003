import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Profile } from "pprof-format";
import type { Pprof } from "../../model/pprof.ts";
import { testdata } from "../../testing/testdata.ts";
import { decodePprof } from "./decode.ts";
import { encodePprof } from "./encode.ts";

const corpus = testdata("pprof");
const maxDecompressedBytes = 32 * 1024 * 1024;

/** Field-by-field equality, with ids compared as what they must be after re-encoding: index + 1. */
function assertSameProfile(a: Pprof, b: Pprof): void {
  for (const key of Object.keys(a) as (keyof Pprof)[]) {
    if (key === "locationId" || key === "functionId" || key === "mappingId") {
      assert.deepEqual(
        [...b[key]],
        Array.from({ length: a[key].length }, (_, i) => i + 1),
        key,
      );
      continue;
    }
    const va = a[key];
    const vb = b[key];
    if (ArrayBuffer.isView(va)) assert.deepEqual([...(va as Float64Array)], [...(vb as Float64Array)], key);
    else assert.deepEqual(va, vb, key);
  }
}

describe("encodePprof", { skip: corpus.skip }, () => {
  const files = corpus.dir ? readdirSync(corpus.dir).filter((f) => /\.pb(\.gz)?$/.test(f)) : [];
  for (const file of files) {
    it(`round-trips ${file}`, () => {
      const p = decodePprof(new Uint8Array(readFileSync(join(corpus.dir!, file))), { maxDecompressedBytes });
      const bytes = encodePprof(p);
      assertSameProfile(p, decodePprof(bytes, { maxDecompressedBytes }));
      // An independent decoder reads the same thing.
      const ref = Profile.decode(bytes);
      assert.equal(ref.sample.length, p.sampleCount);
      assert.equal(ref.stringTable.strings.length, p.strings.length);
      assert.equal(BigInt(ref.timeNanos), p.timeNanos);
    });
  }
});

/**
 * Every pprof of the shared corpus (decoded by the real decoder, split per sample type) goes
 * through one block: per-type sums read back must equal the manifest's, and the test prints
 * the encoded size per profile for the realistic large CPU profile.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { decodePprof } from "../formats/pprof/decode.ts";
import type { Pprof } from "../model/pprof.ts";
import type { ProfileType } from "../model/profile-type.ts";
import { FsObjectStore } from "../objstore/fs-store.ts";
import { readManifest } from "../testing/manifest.ts";
import { testdata } from "../testing/testdata.ts";
import { openBlock } from "./block-reader.ts";
import { encodeBlock } from "./block-writer.ts";
import { DatasetBuilder } from "./dataset-builder.ts";
import { normalize } from "./test-fixtures.ts";

const corpus = testdata("pprof");
const maxDecompressedBytes = 64 * 1024 * 1024;

function profileTypeOf(pprof: Pprof, typeIndex: number): ProfileType {
  return {
    name: "corpus",
    sampleType: pprof.strings[pprof.sampleTypeStr[typeIndex]!]!,
    sampleUnit: pprof.strings[pprof.sampleUnitStr[typeIndex]!]!,
    periodType: pprof.strings[pprof.periodTypeStr]!,
    periodUnit: pprof.strings[pprof.periodUnitStr]!,
  };
}

/**
 * A later push of the same process: a new Pprof object with the same symbols, about a third of
 * the samples absent and the others' values jittered (seeded), as consecutive profiles differ.
 */
function laterPush(pprof: Pprof, copy: number): Pprof {
  if (copy === 0) return pprof;
  let state = 0x9e3779b9 ^ copy;
  const random = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  const sampleValues = pprof.sampleValues.map((value) =>
    random() < 0.3 ? 0 : Math.round(value * (0.5 + random() * 2)),
  );
  return { ...pprof, strings: [...pprof.strings], sampleValues };
}

function builderFor(file: string, pprof: Pprof, copies: number): DatasetBuilder {
  const builder = new DatasetBuilder("corpus", file);
  for (let copy = 0; copy < copies; copy++) {
    const push = laterPush(pprof, copy);
    for (let t = 0; t < pprof.sampleTypeStr.length; t++) {
      builder.append(
        normalize(push, {
          service: file,
          typeIndex: t,
          profileType: profileTypeOf(pprof, t),
          timeNanos: 1_700_000_000_000_000_000n + BigInt(copy) * 10_000_000_000n,
        }),
      );
    }
  }
  return builder;
}

describe("real pprof corpus", { skip: corpus.skip }, () => {
  it("per-type totals of every corpus file survive a block round trip", async () => {
    const manifest = readManifest();
    const files = readdirSync(corpus.dir!).filter((file) => manifest.has(`pprof/${file}`));
    assert.ok(files.length > 0);
    const builders: DatasetBuilder[] = [];
    for (const file of files) {
      const pprof = decodePprof(readFileSync(join(corpus.dir!, file)), { maxDecompressedBytes });
      builders.push(builderFor(file, pprof, 1));
    }
    const folder = await fsp.mkdtemp(join(tmpdir(), "kiln-block-corpus-"));
    const store = await FsObjectStore.open(folder);
    try {
      await store.put("corpus/block.bin", encodeBlock(builders).bytes);
      const block = await openBlock(store, "corpus/block.bin");
      assert.equal(block.datasets.length, files.length);
      for (const dataset of block.datasets) {
        const [index, profiles] = await Promise.all([block.readIndex(dataset), block.readProfiles(dataset)]);
        const sums = new Map<string, bigint>();
        for (let p = 0; p < profiles.profileCount; p++) {
          const [, sampleType, sampleUnit] = index.seriesProfileType[profiles.seriesIndex[p]!]!.split(":");
          const key = `${sampleType}:${sampleUnit}`;
          sums.set(key, (sums.get(key) ?? 0n) + profiles.totals[p]!);
        }
        const expected = manifest.get(`pprof/${dataset.service}`)!.totals;
        for (const [key, total] of expected) {
          assert.equal(sums.get(key) ?? 0n, total, `${dataset.service} ${key}`);
        }
      }
    } finally {
      await store.close();
      await fsp.rm(folder, { recursive: true, force: true });
    }
  });

  for (const file of ["pyroscope-go-cpu-labels.pb.gz", "gpprof-large-cpu.pb.gz"]) {
    it(`encoded size per profile: ${file}`, (t) => sizeReport(t, file));
  }
});

function sizeReport(t: { diagnostic(message: string): void }, file: string): void {
  {
    const bytes = readFileSync(join(corpus.dir!, file));
    const pprof = decodePprof(bytes, { maxDecompressedBytes });
    const copyCount = 20;
    const builder = builderFor(file, pprof, copyCount);
    const started = performance.now();
    const encoded = encodeBlock([builder]);
    const encodeMs = performance.now() - started;
    const sizes = encoded.datasets[0]!.sections.map((s) => `kind ${s.kind}: ${s.sizeBytes} B`).join(", ");
    const perProfile = Math.round(encoded.bytes.length / builder.profileCount);
    t.diagnostic(
      `${file} (${bytes.length} B gzipped pprof, ${pprof.sampleCount} samples) × ${copyCount}: ` +
        `${builder.profileCount} profiles, block ${encoded.bytes.length} B (${sizes}), ` +
        `${perProfile} B/profile, encode ${encodeMs.toFixed(1)} ms`,
    );
    assert.ok(perProfile < bytes.length, "a repeated profile costs less than its gzipped pprof");
  }
}

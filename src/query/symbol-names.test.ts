/**
 * The long-range query path decodes only what names stack frames (`decodeSymbolNames`); over
 * every pprof of the corpus, each stored location must get exactly the name the full decoder
 * gives it.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DatasetBuilder } from "../block/dataset-builder.ts";
import { SectionKind } from "../block/format.ts";
import { decodeSymbolNames, decodeSymbols } from "../block/symbols.ts";
import { normalize } from "../block/test-fixtures.ts";
import { decodePprof } from "../formats/pprof/decode.ts";
import { readManifest } from "../testing/manifest.ts";
import { testdata } from "../testing/testdata.ts";
import { frameName } from "./tree.ts";

const corpus = testdata("pprof");

describe("decodeSymbolNames", { skip: corpus.skip }, () => {
  it("names every location of every corpus file as decodeSymbols does", () => {
    const manifest = readManifest();
    const files = readdirSync(corpus.dir!).filter((file) => manifest.has(`pprof/${file}`));
    assert.ok(files.length > 10);
    for (const file of files) {
      const pprof = decodePprof(readFileSync(join(corpus.dir!, file)), { maxDecompressedBytes: 64 << 20 });
      const builder = new DatasetBuilder("corpus", file);
      for (let t = 0; t < pprof.sampleTypeStr.length; t++)
        builder.append(normalize(pprof, { service: file, typeIndex: t }));
      const payload = builder.encode().sections.find((s) => s.kind === SectionKind.symbols)!.payload;
      const full = decodeSymbols(payload, file);
      const names = decodeSymbolNames(payload, file);
      assert.deepEqual(names.stacks, full.stacks, file);
      for (const column of [
        "functionNameStr",
        "locationFunctionPlus1",
        "locationAddress",
        "locationMappingPlus1",
        "mappingFilenameStr",
      ] as const) {
        assert.deepEqual(names[column], full[column], `${file} ${column}`);
      }
      for (let location = 0; location < full.locationCount; location++) {
        assert.equal(frameName(names, location), frameName(full, location), `${file} location ${location}`);
      }
    }
  });

  it("refuses a truncated payload", () => {
    const builder = new DatasetBuilder("t", "s");
    const pprof = decodePprof(readFileSync(join(corpus.dir!, "pyroscope-go-cpu-labels.pb.gz")), {
      maxDecompressedBytes: 64 << 20,
    });
    builder.append(normalize(pprof, { service: "s", typeIndex: 0 }));
    const payload = builder.encode().sections.find((s) => s.kind === SectionKind.symbols)!.payload;
    assert.throws(() => decodeSymbolNames(payload.subarray(0, payload.length - 3), "cut"), /cut/);
  });
});

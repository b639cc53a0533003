/**
 * Every real profile of the shared corpus goes through the real server's /ingest, and what
 * the stored blocks hold (read back through the metastore and the block reader) equals the
 * totals MANIFEST.md records for the file.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { readManifest } from "../src/testing/manifest.ts";
import { spyNameFor, testdata } from "../src/testing/testdata.ts";
import { acceptAnyTime, type InProcessKiln, startInProcess } from "./helpers/kiln.ts";
import { readStored } from "./helpers/stored.ts";

const pprofData = testdata("pprof");
const collapsedData = testdata("collapsed");

/** Files Pyroscope refuses, with the status and a fragment of the message it must carry. */
const refused: Record<string, { status: number; message: RegExp }> = {
  "pprof/pyroscope-invalid-utf8.pb.gz": { status: 422, message: /UTF-8/i },
  // 20,430 samples: over Pyroscope's default of 16,000 (stored below with the limit raised).
  "pprof/gpprof-large-cpu.pb.gz": {
    status: 422,
    message: /20430 samples, limit 16000 \(max_profile_samples\)/,
  },
  // Empty sample type names leave the profile without a name, which Pyroscope refuses.
  "pprof/parca-go-no-sampletype-names.pb.gz": { status: 422, message: /__name__/ },
  // Three lines carry a word where the count belongs: Pyroscope fails the whole upload.
  "collapsed/speedscope-simple-with-invalids.txt": { status: 422, message: /count|integer/i },
};

function serviceFor(file: string): string {
  return `corpus-${file.replace(/[^A-Za-z0-9_.\-/]/g, "_")}`;
}

/** MANIFEST keys are `type:unit` as in the pprof; /ingest rewrites `-` to `_` in .NET types. */
function sampleTypeKey(profileTypeId: string): string {
  const [, sampleType, sampleUnit] = profileTypeId.split(":");
  return `${sampleType}:${sampleUnit}`;
}

describe("ingest of the real-profile corpus", { skip: pprofData.skip || collapsedData.skip }, () => {
  let kiln: InProcessKiln;
  const manifest = pprofData.skip ? new Map() : readManifest();

  before(async () => {
    kiln = await startInProcess({ ...acceptAnyTime });
  });
  after(async () => kiln?.stop());

  const pprofFiles = pprofData.dir ? readdirSync(pprofData.dir).filter((f) => /\.pb(\.gz)?$/.test(f)) : [];
  const checkPprof = async (
    server: InProcessKiln,
    file: string,
    expectRefusal: { status: number; message: RegExp } | null = refused[`pprof/${file}`] ?? null,
  ) => {
    const path = `pprof/${file}`;
    const body = readFileSync(join(pprofData.dir!, file));
    const query = new URLSearchParams({ name: serviceFor(file), format: "pprof", spyName: spyNameFor(file) });
    const res = await fetch(`${server.url}/ingest?${query}`, { method: "POST", body });
    const text = await res.text();
    if (expectRefusal) {
      assert.equal(res.status, expectRefusal.status, text);
      assert.match(text, expectRefusal.message);
      return;
    }
    assert.equal(res.status, 200, text);
    const entry = manifest.get(path);
    assert.ok(entry, `${path} is in MANIFEST.md`);
    const stored = await readStored(server.dataDir, { service: serviceFor(file) });
    const got = new Map<string, bigint>();
    for (const [type, total] of stored.totals) got.set(sampleTypeKey(type), total);
    for (const [key, total] of entry.totals) {
      const storedKey = key.replaceAll("-", "_");
      // Sample types whose values are all zero store nothing (zero samples are dropped).
      assert.equal(got.get(storedKey) ?? 0n, total, `${path}: total of ${key}`);
    }
    assert.equal(got.size, [...entry.totals.values()].filter((t) => t !== 0n).length, "no extra types");
  };

  for (const file of pprofFiles.sort()) test(`pprof/${file}`, () => checkPprof(kiln, file));

  test("pprof/gpprof-large-cpu.pb.gz with max_profile_samples raised", async () => {
    const big = await startInProcess({ ...acceptAnyTime, maxProfileSamples: 32_000 });
    try {
      await checkPprof(big, "gpprof-large-cpu.pb.gz", null);
    } finally {
      await big.stop();
    }
  });

  const collapsedFiles = collapsedData.dir ? readdirSync(collapsedData.dir) : [];
  for (const file of collapsedFiles.sort()) {
    const path = `collapsed/${file}`;
    test(path, async () => {
      const body = readFileSync(join(collapsedData.dir!, file));
      const service = serviceFor(file).replaceAll(".", "_");
      const query = new URLSearchParams({ name: service, from: String(Math.floor(Date.now() / 1000)) });
      const res = await fetch(`${kiln.url}/ingest?${query}`, { method: "POST", body });
      const text = await res.text();
      const expectRefusal = refused[path];
      if (expectRefusal) {
        assert.equal(res.status, expectRefusal.status, text);
        assert.match(text, expectRefusal.message);
        return;
      }
      assert.equal(res.status, 200, text);
      const entry = manifest.get(path);
      assert.ok(entry?.collapsedTotal !== undefined, `${path} has a collapsed total in MANIFEST.md`);
      const stored = await readStored(kiln.dataDir, { service });
      // Folded CPU uploads are sample counts at sampleRate 100 Hz: each count is 10 ms of CPU.
      assert.deepEqual(
        [...stored.totals],
        [["process_cpu:cpu:nanoseconds:cpu:nanoseconds", entry.collapsedTotal * 10_000_000n]],
      );
    });
  }
});

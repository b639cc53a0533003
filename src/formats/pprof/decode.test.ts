import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";
import { Profile } from "pprof-format";
import { KilnError } from "../../model/errors.ts";
import type { Pprof } from "../../model/pprof.ts";
import { readManifest } from "../../testing/manifest.ts";
import { testdata } from "../../testing/testdata.ts";
import { decodePprof } from "./decode.ts";
import { WireWriter } from "./wire-writer.ts";

const fourMiB = 4 * 1024 * 1024;
const corpus = testdata("pprof");

/** Exact per-type totals: each value is an exact integer in a double, summed as bigint. */
function totals(p: Pprof): bigint[] {
  const n = p.sampleTypeStr.length;
  const out = new Array<bigint>(n).fill(0n);
  for (let s = 0; s < p.sampleCount; s++)
    for (let t = 0; t < n; t++) out[t]! += BigInt(p.sampleValues[s * n + t]!);
  return out;
}

function expectMalformed(fn: () => unknown, reason = "malformed_pprof"): KilnError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof KilnError, `expected KilnError, got ${String(err)}`);
    assert.equal(err.code, "invalid_argument");
    assert.equal(err.reason, reason);
    return err;
  }
  assert.fail("expected an error");
}

describe("decodePprof on the shared corpus", { skip: corpus.skip }, () => {
  const dir = corpus.dir ?? "";
  const manifest = corpus.dir ? readManifest() : new Map();
  const files = corpus.dir ? readdirSync(dir).filter((f) => /\.pb(\.gz)?$/.test(f)) : [];

  for (const file of files) {
    it(file, () => {
      const bytes = new Uint8Array(readFileSync(join(dir, file)));
      const p = decodePprof(bytes, { maxDecompressedBytes: 8 * fourMiB });
      const entry = manifest.get(`pprof/${file}`);
      assert.ok(entry, `MANIFEST has no entry for pprof/${file}`);
      const got = totals(p);
      const names = [...p.sampleTypeStr].map((t, i) => `${p.strings[t]}:${p.strings[p.sampleUnitStr[i]!]}`);
      assert.deepEqual(names, [...entry.totals.keys()]);
      assert.deepEqual(got, [...entry.totals.values()]);

      // Cross-check entity counts with the generic decoder.
      const raw = bytes[0] === 0x1f ? gunzipSync(bytes) : bytes;
      const ref = Profile.decode(raw);
      assert.equal(p.sampleCount, ref.sample.length);
      assert.equal(p.locationCount, ref.location.length);
      assert.equal(p.functionCount, ref.function.length);
      assert.equal(p.mappingCount, ref.mapping.length);
      assert.equal(p.strings.length, ref.stringTable.strings.length);
      assert.equal(
        p.sampleLocations.length,
        ref.sample.reduce((a, s) => a + s.locationId.length, 0),
      );
      assert.equal(
        p.labelKeyStr.length,
        ref.sample.reduce((a, s) => a + s.label.length, 0),
      );
      // Stacks resolve to the same location ids.
      for (let s = 0; s < Math.min(p.sampleCount, 200); s++) {
        const ids = [];
        for (let i = p.sampleLocationOffsets[s]!; i < p.sampleLocationOffsets[s + 1]!; i++)
          ids.push(p.locationId[p.sampleLocations[i]!]);
        assert.deepEqual(ids, ref.sample[s]!.locationId.map(Number));
      }
      assert.equal(p.timeNanos, BigInt(ref.timeNanos));
    });
  }

  it("invalid UTF-8 decodes with replacement by default and is rejected on request", () => {
    const bytes = new Uint8Array(readFileSync(join(dir, "pyroscope-invalid-utf8.pb.gz")));
    const p = decodePprof(bytes, { maxDecompressedBytes: fourMiB });
    assert.ok(p.strings.some((s) => s.includes("\uFFFD")));
    const err = expectMalformed(() =>
      decodePprof(bytes, { maxDecompressedBytes: fourMiB, invalidUtf8: "reject" }),
    );
    assert.match(err.message, /UTF-8/);
  });

  it(".NET profiles whose function ids are all 0 get the ids of their locations", () => {
    const p = decodePprof(new Uint8Array(readFileSync(join(dir, "pyroscope-dotnet-3.pb"))), {
      maxDecompressedBytes: fourMiB,
    });
    assert.equal(p.functionCount, p.locationCount);
    for (let i = 0; i < p.functionCount; i++) assert.equal(p.functionId[i], p.locationId[i]);
    assert.ok(p.lineFunctionPlus1.every((f) => f > 0));
  });
});

/** A small profile written field by field: 2 sample types, 2 samples, ids not positions. */
function handMade(opts: { packed: boolean; unknownFields: boolean }): Uint8Array {
  const w = new WireWriter();
  const strings = ["", "samples", "count", "cpu", "nanoseconds", "main", "foo", "bar", "thread", "t1"];
  const unknown = (m: WireWriter) => {
    if (!opts.unknownFields) return;
    m.tag(100, 0);
    m.uvarint(12345);
    m.tag(101, 1);
    m.uvarint(0); // 8 bytes of fixed64 follow
    for (let i = 0; i < 7; i++) m.uvarint(1);
    m.tag(102, 5);
    for (let i = 0; i < 4; i++) m.uvarint(2);
    m.stringField(103, "ignored");
  };
  const vt = (t: number, u: number) => {
    const m = new WireWriter();
    m.varintField(1, t);
    m.varintField(2, u);
    unknown(m);
    return m;
  };
  unknown(w);
  w.messageField(1, vt(1, 2));
  w.messageField(1, vt(3, 4));
  const sample = (locIds: number[], values: number[], label?: [number, number]) => {
    const m = new WireWriter();
    unknown(m);
    if (opts.packed) {
      m.packedField(1, locIds);
      m.packedField(2, values);
    } else {
      for (const id of locIds) m.varintField(1, id);
      for (const v of values) {
        m.tag(2, 0);
        m.int64(v);
      }
    }
    if (label) {
      const l = new WireWriter();
      l.varintField(1, label[0]);
      l.varintField(2, label[1]);
      m.messageField(3, l);
    }
    w.messageField(2, m);
  };
  sample([700, 500], [1, 10_000_000], [8, 9]);
  sample([600, 700, 500], [2, -20_000_000]);
  const loc = (id: number, fnId: number, line: number) => {
    const m = new WireWriter();
    m.varintField(1, id);
    const l = new WireWriter();
    l.varintField(1, fnId);
    l.varintField(2, line);
    unknown(l);
    m.messageField(4, l);
    unknown(m);
    w.messageField(4, m);
  };
  loc(500, 30, 1);
  loc(600, 10, 2);
  loc(700, 20, 3);
  const fn = (id: number, name: number) => {
    const m = new WireWriter();
    m.varintField(1, id);
    m.varintField(2, name);
    unknown(m);
    w.messageField(5, m);
  };
  fn(30, 5);
  fn(10, 6);
  fn(20, 7);
  for (const s of strings) w.stringField(6, s);
  w.tag(9, 0);
  w.int64Big(1_700_000_000_123_456_789n);
  w.messageField(11, vt(3, 4));
  w.varintField(12, 10_000_000);
  return w.finish();
}

function stackNames(p: Pprof, s: number): string[] {
  const out = [];
  for (let i = p.sampleLocationOffsets[s]!; i < p.sampleLocationOffsets[s + 1]!; i++) {
    const loc = p.sampleLocations[i]!;
    const fn = p.lineFunctionPlus1[p.locationLineOffsets[loc]!]! - 1;
    out.push(p.strings[p.functionNameStr[fn]!]!);
  }
  return out;
}

describe("decodePprof on hand-made profiles", () => {
  for (const packed of [true, false]) {
    for (const unknownFields of [false, true]) {
      it(`packed=${packed} unknownFields=${unknownFields}`, () => {
        const p = decodePprof(handMade({ packed, unknownFields }), { maxDecompressedBytes: fourMiB });
        assert.equal(p.sampleCount, 2);
        assert.deepEqual([...p.sampleValues], [1, 10_000_000, 2, -20_000_000]);
        assert.deepEqual(stackNames(p, 0), ["bar", "main"]);
        assert.deepEqual(stackNames(p, 1), ["foo", "bar", "main"]);
        assert.deepEqual([...p.locationId], [500, 600, 700]);
        assert.equal(p.timeNanos, 1_700_000_000_123_456_789n);
        assert.equal(p.strings[p.periodTypeStr], "cpu");
        assert.ok(p.hasPeriodType);
        assert.equal(p.period, 10_000_000);
        assert.deepEqual([...p.sampleLabelOffsets], [0, 1, 1]);
        assert.equal(p.strings[p.labelKeyStr[0]!], "thread");
        assert.equal(p.strings[p.labelValueStr[0]!], "t1");
      });
    }
  }

  it("rejects a reference to a missing location id", () => {
    const w = new WireWriter();
    const s = new WireWriter();
    s.packedField(1, [42]);
    w.messageField(2, s);
    w.stringField(6, "");
    const err = expectMalformed(() => decodePprof(w.finish(), { maxDecompressedBytes: fourMiB }));
    assert.match(err.message, /missing location id 42/);
  });

  it("rejects groups and out-of-range string indices", () => {
    const g = new WireWriter();
    g.tag(50, 3);
    expectMalformed(() => decodePprof(g.finish(), { maxDecompressedBytes: fourMiB }));
    const w = new WireWriter();
    const vt = new WireWriter();
    vt.varintField(1, 7);
    w.messageField(1, vt);
    w.stringField(6, "");
    const err = expectMalformed(() => decodePprof(w.finish(), { maxDecompressedBytes: fourMiB }));
    assert.match(err.message, /string index 7 out of range/);
  });

  it("every truncation of a valid profile decodes or throws malformed_pprof", () => {
    const full = handMade({ packed: true, unknownFields: true });
    for (let n = 0; n < full.length; n++) {
      try {
        decodePprof(full.subarray(0, n), { maxDecompressedBytes: fourMiB });
      } catch (err) {
        assert.ok(err instanceof KilnError, `truncation at ${n}: ${String(err)}`);
        assert.equal(err.reason, "malformed_pprof");
        assert.match(err.message, /byte \d+/);
      }
    }
    // Also through gzip: truncated gzip streams are malformed too.
    const gz = gzipSync(full);
    for (let n = 2; n < gz.length; n++) {
      try {
        decodePprof(gz.subarray(0, n), { maxDecompressedBytes: fourMiB });
      } catch (err) {
        assert.ok(err instanceof KilnError, `gzip truncation at ${n}: ${String(err)}`);
        assert.equal(err.reason, "malformed_pprof");
      }
    }
  });

  it("random bytes throw KilnError, never another error", () => {
    let rejected = 0;
    for (let i = 0; i < 2000; i++) {
      const bytes = randomBytes(1 + (i % 200));
      try {
        decodePprof(bytes, { maxDecompressedBytes: fourMiB });
      } catch (err) {
        assert.ok(err instanceof KilnError, `random input ${bytes.toString("hex")}: ${String(err)}`);
        rejected++;
      }
    }
    assert.ok(rejected > 1000, `only ${rejected} of 2000 random inputs were rejected`);
  });

  it("rejects a gzip bomb without inflating it", () => {
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024));
    const before = process.memoryUsage().arrayBuffers;
    const err = expectMalformed(
      () => decodePprof(bomb, { maxDecompressedBytes: fourMiB }),
      "profile_too_large",
    );
    assert.match(err.message, /exceeds 4194304 bytes \(max_profile_size_bytes\)/);
    assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024);
  });

  it("applies the size cap to raw protobuf too", () => {
    const raw = handMade({ packed: true, unknownFields: false });
    const err = expectMalformed(() => decodePprof(raw, { maxDecompressedBytes: 10 }), "profile_too_large");
    assert.match(err.message, new RegExp(`${raw.length} bytes exceeds 10 bytes`));
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { labelsKey } from "../model/labels.ts";
import { DatasetMerger, type MergeInput } from "./block-merge.ts";
import { DatasetBuilder } from "./dataset-builder.ts";
import { decodeIndex } from "./index-section.ts";
import { resolveProfileSamples } from "./inspect.ts";
import { decodeProfiles } from "./profiles-section.ts";
import { decodeSymbols } from "./symbols.ts";
import { buildPprof, type FixtureLocation, normalize } from "./test-fixtures.ts";

const T0 = 1_700_000_000_000_000_000n;
const SECOND = 1_000_000_000n;

const locations: FixtureLocation[] = [
  { address: 0x401000, lines: [{ fn: "main", line: 10 }], mapping: "/bin/app" },
  { address: 0x402000, lines: [{ fn: "serve", line: 20 }], mapping: "/bin/app" },
  { address: 0x403000, lines: [{ fn: "handle", line: 30 }], mapping: "/bin/app" },
  { address: 0x404000, lines: [{ fn: "parse", line: 40 }], mapping: "/bin/app" },
  { address: 0x405000, lines: [{ fn: "gc", line: 50 }], mapping: "/bin/app" },
  { address: 0x406000, lines: [] },
];

/** A pprof with `samples` (stack of location indices leaf first, cpu value). */
function pprof(samples: [number[], number][], order?: number[]): ReturnType<typeof buildPprof> {
  // `order` permutes the location table, so two pprofs of the same stacks have different ids.
  const perm = order ?? locations.map((_, i) => i);
  const inverse = new Map(perm.map((original, at) => [original, at]));
  return buildPprof({
    sampleTypes: [["cpu", "nanoseconds"]],
    locations: perm.map((i) => locations[i]!),
    samples: samples.map(([stack, value]) => ({ stack: stack.map((l) => inverse.get(l)!), values: [value] })),
  });
}

/** Decoded sections of `builder`'s dataset, via a real encode. */
function sectionsOf(builder: DatasetBuilder): MergeInput {
  const encoded = builder.encode();
  const payload = (kind: number) => encoded.sections.find((s) => s.kind === kind)!.payload;
  return {
    symbols: decodeSymbols(payload(1), "test"),
    index: decodeIndex(payload(2), "test"),
    profiles: decodeProfiles(payload(3), "test"),
  };
}

function mergedSections(
  merger: DatasetMerger,
): MergeInput & { stats: ReturnType<DatasetMerger["encode"]>["stats"] } {
  const { dataset, stats } = merger.encode();
  const payload = (kind: number) => dataset.sections.find((s) => s.kind === kind)!.payload;
  return {
    symbols: decodeSymbols(payload(1), "merged"),
    index: decodeIndex(payload(2), "merged"),
    profiles: decodeProfiles(payload(3), "merged"),
    stats,
  };
}

/** (series labels, time, duration, stack, span) → summed value, over every profile of a dataset. */
function flatten(input: MergeInput, into = new Map<string, number>()): Map<string, number> {
  for (let p = 0; p < input.profiles.profileCount; p++) {
    const series = input.index.seriesLabels[input.profiles.seriesIndex[p]!]!;
    const prefix = `${labelsKey(series)}|${input.profiles.timeNanos[p]}|${input.profiles.durationNanos[p]}`;
    for (const sample of resolveProfileSamples(input.symbols, input.profiles, p)) {
      const key = `${prefix}|${sample.stack.join(";")}|${sample.spanId}`;
      into.set(key, (into.get(key) ?? 0) + sample.value);
    }
  }
  return into;
}

function sorted(map: Map<string, number>): [string, number][] {
  return [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

describe("DatasetMerger", () => {
  it("merges datasets with different symbol ids into one stack tree; every sample survives", () => {
    const a = new DatasetBuilder("t1", "web");
    a.append(
      normalize(
        pprof([
          [[2, 1, 0], 100],
          [[3, 1, 0], 50],
          [[5, 0], 7],
        ]),
        { service: "web", timeNanos: T0 },
      ),
    );
    a.append(
      normalize(pprof([[[4, 0], 9]]), {
        service: "web",
        timeNanos: T0 + SECOND,
        extraLabels: [["pod", "a"]],
      }),
    );
    const b = new DatasetBuilder("t1", "web");
    // Same stacks, but the location table is permuted: ids differ between the inputs.
    b.append(
      normalize(
        pprof(
          [
            [[2, 1, 0], 1],
            [[4, 0], 2],
          ],
          [5, 4, 3, 2, 1, 0],
        ),
        {
          service: "web",
          timeNanos: T0 - SECOND,
        },
      ),
    );
    b.append(
      normalize(pprof([[[3, 1, 0], 3]], [1, 0, 2, 3, 4, 5]), {
        service: "web",
        timeNanos: T0 + 2n * SECOND,
        extraLabels: [["pod", "b"]],
      }),
    );
    const inputs = [sectionsOf(a), sectionsOf(b)];
    const merger = new DatasetMerger("t1", "web");
    for (const input of inputs) merger.add(input);
    const merged = mergedSections(merger);

    const expected = new Map<string, number>();
    for (const input of inputs) flatten(input, expected);
    assert.deepEqual(sorted(flatten(merged)), sorted(expected));
    assert.equal(merged.profiles.profileCount, 4);
    assert.equal(merged.stats.duplicateProfiles, 0);
    // Three series: {} (no pod), pod=a, pod=b; sorted and unique.
    assert.equal(merged.index.seriesCount, 3);
    // One tree: main, main;serve, main;serve;handle, main;serve;parse, main;gc, main;0x406000.
    assert.equal(merged.symbols.stacks.nodeCount, 7);
    assert.equal(merged.symbols.functionCount, 5);
    // Rows sorted by (series, time), totals exact.
    for (let p = 1; p < merged.profiles.profileCount; p++) {
      const [s0, s1] = [merged.profiles.seriesIndex[p - 1]!, merged.profiles.seriesIndex[p]!];
      assert.ok(s0 < s1 || (s0 === s1 && merged.profiles.timeNanos[p - 1]! <= merged.profiles.timeNanos[p]!));
    }
    const totals = [...merged.profiles.totals].reduce((x, y) => x + y, 0n);
    assert.equal(totals, 100n + 50n + 7n + 9n + 1n + 2n + 3n);
  });

  it("drops exact duplicates (a retried push), keeps same-time profiles that differ", () => {
    const profile = () =>
      normalize(
        pprof([
          [[2, 1, 0], 10],
          [[4, 0], 5],
        ]),
        { service: "web", timeNanos: T0 },
      );
    const first = new DatasetBuilder("t1", "web");
    first.append(profile());
    const retry = new DatasetBuilder("t1", "web");
    retry.append(profile()); // same content, new random profile id
    retry.append(
      normalize(
        pprof([
          [[2, 1, 0], 10],
          [[4, 0], 6],
        ]),
        { service: "web", timeNanos: T0 },
      ),
    ); // differs
    retry.append(
      normalize(
        pprof([
          [[2, 1, 0], 10],
          [[4, 0], 5],
        ]),
        { service: "web", timeNanos: T0 + SECOND },
      ),
    );
    const other = new DatasetBuilder("t1", "web");
    // Same content and time, other series: not a duplicate.
    other.append(
      normalize(
        pprof([
          [[2, 1, 0], 10],
          [[4, 0], 5],
        ]),
        { service: "web", timeNanos: T0, extraLabels: [["pod", "x"]] },
      ),
    );
    const merger = new DatasetMerger("t1", "web");
    for (const builder of [first, retry, other]) merger.add(sectionsOf(builder));
    const merged = mergedSections(merger);
    assert.equal(merged.stats.inputProfiles, 5);
    assert.equal(merged.stats.duplicateProfiles, 1);
    assert.equal(merged.profiles.profileCount, 4);
    const expected = new Map<string, number>();
    flatten(sectionsOf(first), expected);
    const withoutDuplicate = new DatasetBuilder("t1", "web");
    withoutDuplicate.append(
      normalize(
        pprof([
          [[2, 1, 0], 10],
          [[4, 0], 6],
        ]),
        { service: "web", timeNanos: T0 },
      ),
    );
    withoutDuplicate.append(
      normalize(
        pprof([
          [[2, 1, 0], 10],
          [[4, 0], 5],
        ]),
        { service: "web", timeNanos: T0 + SECOND },
      ),
    );
    flatten(sectionsOf(withoutDuplicate), expected);
    flatten(sectionsOf(other), expected);
    assert.deepEqual(sorted(flatten(merged)), sorted(expected));
  });

  it("span ids are part of the content: same stacks with other spans are kept", () => {
    const spanned = (spans: bigint[]) =>
      normalize(
        pprof([
          [[2, 1, 0], 10],
          [[4, 0], 5],
        ]),
        { service: "web", timeNanos: T0, spanIds: spans },
      );
    const a = new DatasetBuilder("t1", "web");
    a.append(spanned([1n, 2n]));
    const b = new DatasetBuilder("t1", "web");
    b.append(spanned([1n, 3n]));
    b.append(spanned([1n, 2n]));
    const merger = new DatasetMerger("t1", "web");
    merger.add(sectionsOf(a));
    merger.add(sectionsOf(b));
    const merged = mergedSections(merger);
    assert.equal(merged.stats.duplicateProfiles, 1);
    assert.equal(merged.profiles.profileCount, 2);
    assert.ok(merged.profiles.sampleSpanIds !== undefined);
    const spans = new Set([...merged.profiles.sampleSpanIds!]);
    assert.deepEqual([...spans].sort(), [1n, 2n, 3n]);
  });

  it("refuses to encode an empty merge", () => {
    assert.throws(() => new DatasetMerger("t1", "web").encode(), /no profiles/);
  });
});

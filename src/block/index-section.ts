/**
 * The index section: the dataset's series (sorted label sets), the profile type of each, and
 * label name → value → series postings (docs/block-format.md, "Index section").
 */
import type { Label, Labels } from "../model/labels.ts";
import { StringInterner } from "../model/string-interner.ts";
import { ByteReader, ByteWriter, readStringColumn, writeStringColumn } from "./encoding.ts";
import { assert, SECTION_PAYLOAD_BYTES_MAX } from "./format.ts";

/** One series as the writer holds it. */
export interface SeriesEntry {
  labels: Labels;
  /** Profile type ID, `name:sample_type:sample_unit:period_type:period_unit`. */
  profileType: string;
}

export interface IndexSection {
  seriesCount: number;
  /** Label sets sorted by name, in series order (series are sorted by `compareLabelSets`). */
  seriesLabels: Labels[];
  seriesProfileType: string[];
  /** Label name → label value → ascending series indices. Names and values are sorted. */
  postings: Map<string, Map<string, Uint32Array>>;
}

/** Orders label sets pair by pair (name, then value), a prefix before a longer set. */
export function compareLabelSets(a: Labels, b: Labels): number {
  const shared = Math.min(a.length, b.length);
  for (let i = 0; i < shared; i++) {
    const [an, av] = a[i]!;
    const [bn, bv] = b[i]!;
    if (an !== bn) return an < bn ? -1 : 1;
    if (av !== bv) return av < bv ? -1 : 1;
  }
  return a.length - b.length;
}

/** `series` must already be sorted by `compareLabelSets` and distinct. */
export function encodeIndex(series: readonly SeriesEntry[]): Uint8Array {
  for (let i = 1; i < series.length; i++) {
    assert(compareLabelSets(series[i - 1]!.labels, series[i]!.labels) < 0, "index: series not sorted");
  }
  const strings = new StringInterner();
  const postings = new Map<string, Map<string, number[]>>();
  series.forEach((entry, seriesIndex) => {
    for (const [name, value] of entry.labels) {
      let values = postings.get(name);
      if (values === undefined) {
        values = new Map();
        postings.set(name, values);
      }
      const list = values.get(value);
      if (list === undefined) values.set(value, [seriesIndex]);
      else list.push(seriesIndex);
    }
  });
  const body = new ByteWriter(16 * 1024, SECTION_PAYLOAD_BYTES_MAX);
  body.uvarint(series.length);
  for (const entry of series) body.uvarint(entry.labels.length);
  for (const entry of series) {
    for (const [name, value] of entry.labels) {
      body.uvarint(strings.id(name));
      body.uvarint(strings.id(value));
    }
  }
  for (const entry of series) body.uvarint(strings.id(entry.profileType));
  writePostings(body, postings, strings);
  // The string table goes first so a reader can resolve ids in one pass.
  const writer = new ByteWriter(16 * 1024, SECTION_PAYLOAD_BYTES_MAX);
  writer.uvarint(strings.list.length);
  writeStringColumn(writer, strings.list);
  writer.bytes(body.finish());
  return writer.finish();
}

function writePostings(
  writer: ByteWriter,
  postings: Map<string, Map<string, number[]>>,
  strings: StringInterner,
): void {
  const names = [...postings.keys()].sort();
  writer.uvarint(names.length);
  for (const name of names) {
    const values = postings.get(name)!;
    writer.uvarint(strings.id(name));
    writer.uvarint(values.size);
    for (const value of [...values.keys()].sort()) {
      const list = values.get(value)!;
      writer.uvarint(strings.id(value));
      writer.uvarint(list.length);
      // Ascending by construction; gaps from the previous id (the first from 0).
      let previous = 0;
      for (const seriesIndex of list) {
        writer.uvarint(seriesIndex - previous);
        previous = seriesIndex;
      }
    }
  }
}

export function decodeIndex(payload: Uint8Array, where: string): IndexSection {
  const reader = new ByteReader(payload, where);
  const strings = readStringColumn(reader, reader.count("string"));
  const string = (): string => {
    const id = reader.uvarintSafe();
    if (id >= strings.length) reader.fail(`string ${id} out of range (${strings.length})`);
    return strings[id]!;
  };
  const seriesCount = reader.count("series");
  const labelCounts = new Array<number>(seriesCount);
  for (let i = 0; i < seriesCount; i++) labelCounts[i] = reader.count("label", 2);
  const seriesLabels = new Array<Labels>(seriesCount);
  for (let i = 0; i < seriesCount; i++) {
    const labels = new Array<Label>(labelCounts[i]!);
    for (let j = 0; j < labels.length; j++) labels[j] = [string(), string()];
    seriesLabels[i] = labels;
  }
  const seriesProfileType = new Array<string>(seriesCount);
  for (let i = 0; i < seriesCount; i++) seriesProfileType[i] = string();
  const postings = new Map<string, Map<string, Uint32Array>>();
  const nameCount = reader.count("label name", 2);
  for (let n = 0; n < nameCount; n++) {
    const name = string();
    const values = new Map<string, Uint32Array>();
    const valueCount = reader.count("label value", 2);
    for (let v = 0; v < valueCount; v++) {
      const value = string();
      const list = new Uint32Array(reader.count("posting"));
      let seriesIndex = 0;
      for (let i = 0; i < list.length; i++) {
        seriesIndex += reader.uvarintSafe();
        if (seriesIndex >= seriesCount) reader.fail(`posting ${seriesIndex} out of range (${seriesCount})`);
        list[i] = seriesIndex;
      }
      values.set(value, list);
    }
    postings.set(name, values);
  }
  reader.end();
  return { seriesCount, seriesLabels, seriesProfileType, postings };
}

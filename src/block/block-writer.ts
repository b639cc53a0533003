/**
 * Writes a block object: every dataset's sections (framed, compressed, checksummed), then the
 * footer (table of contents) and the fixed-size trailer (docs/block-format.md).
 */

import { crc32 } from "node:zlib";
import type { DatasetMeta, SectionRef } from "../metastore/metastore.ts";
import { nanosToMsFloor } from "../model/time.ts";
import type { DatasetBuilder, EncodedDataset } from "./dataset-builder.ts";
import { ByteWriter } from "./encoding.ts";
import { assert, FOOTER_BYTES_MAX, FORMAT_VERSION, fail, MAGIC, TRAILER_BYTES } from "./format.ts";
import { frameSection, frameSectionAsync } from "./section.ts";

export interface EncodedBlock {
  /** The whole object, ready for `ObjectStore.put`. */
  bytes: Uint8Array;
  /** Table of contents, sorted by (tenant, service); section offsets are absolute. */
  datasets: DatasetMeta[];
  /** Inclusive time range over all datasets, milliseconds since the Unix epoch. */
  minTimeMs: number;
  maxTimeMs: number;
}

/**
 * Encodes the datasets (each with at least one profile, (tenant, service) distinct) as one
 * block object. Datasets are written in (tenant, service) order whatever the input order.
 */
export function encodeBlock(datasets: readonly DatasetBuilder[]): EncodedBlock {
  return assembleBlock(datasets.map((dataset) => dataset.encode()));
}

/**
 * `encodeBlock` with zstd on libuv's thread pool: the same bytes, but the event loop stays
 * free while sections compress. The builders are read synchronously, before this returns (the
 * payloads are built from them first), so appends after the call, even to a shared
 * dictionary, cannot change the block.
 */
export function encodeBlockAsync(datasets: readonly DatasetBuilder[]): Promise<EncodedBlock> {
  let encoded: EncodedDataset[];
  try {
    encoded = datasets.map((dataset) => dataset.encode());
    assert(encoded.length > 0, "a block holds at least one dataset");
  } catch (error) {
    return Promise.reject(error);
  }
  const framed = encoded.map((dataset) =>
    Promise.all(dataset.sections.map(({ kind, payload }) => frameSectionAsync(kind, payload))),
  );
  return Promise.all(framed).then((sections) =>
    layoutBlock(encoded.map((dataset, i) => ({ dataset, framed: sections[i]! }))),
  );
}

/**
 * `assembleBlock` with zstd on libuv's thread pool (the compactor's path: merged datasets are
 * encoded by `DatasetMerger`, not by builders).
 */
export function assembleBlockAsync(encoded: readonly EncodedDataset[]): Promise<EncodedBlock> {
  if (encoded.length === 0) return Promise.reject(new Error("a block holds at least one dataset"));
  const framed = encoded.map((dataset) =>
    Promise.all(dataset.sections.map(({ kind, payload }) => frameSectionAsync(kind, payload))),
  );
  return Promise.all(framed).then((sections) =>
    layoutBlock(encoded.map((dataset, i) => ({ dataset, framed: sections[i]! }))),
  );
}

/**
 * The lower half of `encodeBlock`: lays out already-encoded section payloads. Exposed for
 * writers of other section kinds (the compactor's rollups) and for format tests.
 */
export function assembleBlock(encoded: readonly EncodedDataset[]): EncodedBlock {
  assert(encoded.length > 0, "a block holds at least one dataset");
  return layoutBlock(
    encoded.map((dataset) => ({
      dataset,
      framed: dataset.sections.map(({ kind, payload }) => frameSection(kind, payload)),
    })),
  );
}

/** Datasets with their sections already framed (compressed), in `dataset.sections` order. */
interface FramedDataset {
  dataset: EncodedDataset;
  framed: Uint8Array[];
}

function layoutBlock(input: readonly FramedDataset[]): EncodedBlock {
  assert(input.length > 0, "a block holds at least one dataset");
  const sorted = [...input].sort(
    ({ dataset: a }, { dataset: b }) =>
      compareStrings(a.tenant, b.tenant) || compareStrings(a.service, b.service),
  );
  for (let i = 1; i < sorted.length; i++) {
    const [a, b] = [sorted[i - 1]!.dataset, sorted[i]!.dataset];
    if (!(a.tenant !== b.tenant || a.service !== b.service)) fail(`dataset ${b.tenant}/${b.service} twice`);
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const metas: DatasetMeta[] = sorted.map(({ dataset, framed: framedSections }) => {
    assert(framedSections.length === dataset.sections.length, "one framed section per section");
    const sections: SectionRef[] = dataset.sections.map(({ kind }, i) => {
      const framed = framedSections[i]!;
      chunks.push(framed);
      const ref = { kind, offset, sizeBytes: framed.length };
      offset += framed.length;
      return ref;
    });
    assert(new Set(sections.map((s) => s.kind)).size === sections.length, "section kind twice in a dataset");
    return {
      tenant: dataset.tenant,
      service: dataset.service,
      minTimeMs: nanosToMsFloor(dataset.minTimeNanos),
      maxTimeMs: nanosToMsFloor(dataset.maxTimeNanos),
      profileTypes: dataset.profileTypes,
      labelNames: dataset.labelNames,
      sections,
    };
  });
  const footer = encodeFooter(metas);
  const trailer = encodeTrailer(footer);
  const bytes = new Uint8Array(offset + footer.length + trailer.length);
  let at = 0;
  for (const chunk of [...chunks, footer, trailer]) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  assert(at === bytes.length, "block layout size");
  return {
    bytes,
    datasets: metas,
    minTimeMs: Math.min(...metas.map((m) => m.minTimeMs)),
    maxTimeMs: Math.max(...metas.map((m) => m.maxTimeMs)),
  };
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function encodeFooter(datasets: readonly DatasetMeta[]): Uint8Array {
  const writer = new ByteWriter(4096, FOOTER_BYTES_MAX);
  writer.uvarint(datasets.length);
  for (const dataset of datasets) {
    writer.string(dataset.tenant);
    writer.string(dataset.service);
    writer.varint(dataset.minTimeMs);
    writer.varint(dataset.maxTimeMs);
    writer.uvarint(dataset.profileTypes.length);
    for (const profileType of dataset.profileTypes) writer.string(profileType);
    writer.uvarint(dataset.labelNames.length);
    for (const labelName of dataset.labelNames) writer.string(labelName);
    writer.uvarint(dataset.sections.length);
    for (const section of dataset.sections) {
      writer.uvarint(section.kind);
      writer.uvarint(section.offset);
      writer.uvarint(section.sizeBytes);
    }
  }
  return writer.finish().slice();
}

/** The 16-byte trailer: footer length, footer CRC, version, magic. */
function encodeTrailer(footer: Uint8Array): Uint8Array {
  const trailer = new Uint8Array(TRAILER_BYTES);
  const view = new DataView(trailer.buffer);
  view.setUint32(0, footer.length, true);
  view.setUint32(8, FORMAT_VERSION, true);
  trailer.set(MAGIC, 12);
  view.setUint32(4, footerChecksum(footer, trailer), true);
  return trailer;
}

/** CRC32 of the footer, then the trailer's length and version fields (not its own CRC field). */
export function footerChecksum(footer: Uint8Array, trailer: Uint8Array): number {
  assert(trailer.length === TRAILER_BYTES, "footerChecksum: trailer size");
  return crc32(trailer.subarray(8, 12), crc32(trailer.subarray(0, 4), crc32(footer)));
}

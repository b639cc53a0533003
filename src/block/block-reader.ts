/**
 * Reads block objects with ranged reads: the tail (trailer and footer) on open, then one
 * section per request. Stateless apart from the table of contents, so readers start fast and
 * can be created per query; caching sections is the caller's business.
 */
import type { DatasetMeta, SectionRef } from "../metastore/metastore.ts";
import type { ObjectStore } from "../objstore/object-store.ts";
import { footerChecksum } from "./block-writer.ts";
import { ByteReader } from "./encoding.ts";
import {
  BlockFormatError,
  describeSection,
  FOOTER_BYTES_MAX,
  FORMAT_VERSION,
  MAGIC,
  SectionKind,
  sectionKindName,
  TAIL_READ_BYTES,
  TRAILER_BYTES,
} from "./format.ts";
import { decodeIndex, type IndexSection } from "./index-section.ts";
import { decodeProfiles, type ProfilesSection } from "./profiles-section.ts";
import { decodeRollup, type RollupSection } from "./rollup-section.ts";
import { hex32, unframeSection } from "./section.ts";
import { decodeSymbols, type SymbolsSection } from "./symbols.ts";

export type DecodedSection =
  | { kind: typeof SectionKind.symbols; symbols: SymbolsSection }
  | { kind: typeof SectionKind.index; index: IndexSection }
  | { kind: typeof SectionKind.profiles; profiles: ProfilesSection }
  | { kind: typeof SectionKind.rollupFine | typeof SectionKind.rollupCoarse; rollup: RollupSection };

/** An opened block: its table of contents, and section reads by ranged read. */
export class BlockReader {
  readonly store: ObjectStore;
  readonly objectKey: string;
  readonly sizeBytes: number;
  readonly formatVersion: number;
  /**
   * The table of contents in (tenant, service) order. `sections` lists every section, including
   * kinds this reader does not know (a newer writer's); the read methods ignore those.
   */
  readonly datasets: readonly DatasetMeta[];

  constructor(store: ObjectStore, objectKey: string, sizeBytes: number, datasets: DatasetMeta[]) {
    this.store = store;
    this.objectKey = objectKey;
    this.sizeBytes = sizeBytes;
    this.formatVersion = FORMAT_VERSION;
    this.datasets = datasets;
  }

  readSymbols(dataset: DatasetMeta): Promise<SymbolsSection> {
    return readSymbols(this.store, this.objectKey, dataset);
  }

  readIndex(dataset: DatasetMeta): Promise<IndexSection> {
    return readIndex(this.store, this.objectKey, dataset);
  }

  readProfiles(dataset: DatasetMeta): Promise<ProfilesSection> {
    return readProfiles(this.store, this.objectKey, dataset);
  }
}

/** Opens a block: `store.size`, then one ranged read of the tail (two if the footer is large). */
export async function openBlock(store: ObjectStore, objectKey: string): Promise<BlockReader> {
  const sizeBytes = await store.size(objectKey);
  const fail = (reason: string, what: string): never => {
    throw new BlockFormatError(reason, `block ${objectKey}: ${what}`);
  };
  if (sizeBytes < TRAILER_BYTES) fail("block_corrupt", `${sizeBytes} bytes, too small for a trailer`);
  const tailBytes = Math.min(sizeBytes, TAIL_READ_BYTES);
  const tail = await store.getRange(objectKey, sizeBytes - tailBytes, tailBytes);
  const trailer = tail.subarray(tail.length - TRAILER_BYTES);
  const view = new DataView(trailer.buffer, trailer.byteOffset, TRAILER_BYTES);
  if (!MAGIC.every((byte, i) => trailer[12 + i] === byte))
    fail("block_bad_magic", "bad magic, not a Kiln block");
  // The version is checked before the checksum: a later version may checksum differently.
  const version = view.getUint32(8, true);
  if (version !== FORMAT_VERSION) {
    fail(
      "block_unknown_version",
      `unknown block format version ${version} (this reader knows ${FORMAT_VERSION})`,
    );
  }
  const footerBytes = view.getUint32(0, true);
  if (footerBytes > FOOTER_BYTES_MAX || footerBytes > sizeBytes - TRAILER_BYTES) {
    fail("block_corrupt", `footer length ${footerBytes} out of range`);
  }
  const footerOffset = sizeBytes - TRAILER_BYTES - footerBytes;
  const footer =
    footerBytes + TRAILER_BYTES <= tail.length
      ? tail.subarray(tail.length - TRAILER_BYTES - footerBytes, tail.length - TRAILER_BYTES)
      : await store.getRange(objectKey, footerOffset, footerBytes);
  const storedChecksum = view.getUint32(4, true);
  const checksum = footerChecksum(footer, trailer);
  if (checksum !== storedChecksum) {
    fail(
      "block_checksum_mismatch",
      `footer checksum mismatch (stored ${hex32(storedChecksum)}, computed ${hex32(checksum)})`,
    );
  }
  const datasets = decodeFooter(footer, `block ${objectKey}: footer`, footerOffset);
  return new BlockReader(store, objectKey, sizeBytes, datasets);
}

/** Decodes the table of contents; every section must lie before `sectionsEnd` (the footer). */
export function decodeFooter(footer: Uint8Array, where: string, sectionsEnd: number): DatasetMeta[] {
  const reader = new ByteReader(footer, where);
  // A dataset entry takes at least 2 names + 2 times + 3 counts = 7 bytes.
  const datasetCount = reader.count("dataset", 7);
  const datasets: DatasetMeta[] = [];
  for (let d = 0; d < datasetCount; d++) {
    const tenant = reader.string();
    const service = reader.string();
    const minTimeMs = reader.varint();
    const maxTimeMs = reader.varint();
    const profileTypes = readStrings(reader, "profile type");
    const labelNames = readStrings(reader, "label name");
    const sectionCount = reader.count("section", 3);
    const sections: SectionRef[] = [];
    for (let s = 0; s < sectionCount; s++) {
      const kind = reader.uvarintSafe();
      const offset = reader.uvarintSafe();
      const sizeBytes = reader.uvarintSafe();
      if (offset + sizeBytes > sectionsEnd) {
        reader.fail(`dataset ${tenant}/${service} ${sectionKindName(kind)} range reaches past the sections`);
      }
      sections.push({ kind, offset, sizeBytes });
    }
    if (minTimeMs > maxTimeMs) reader.fail(`dataset ${tenant}/${service}: minTimeMs > maxTimeMs`);
    datasets.push({ tenant, service, minTimeMs, maxTimeMs, profileTypes, labelNames, sections });
  }
  reader.end();
  return datasets;
}

function readStrings(reader: ByteReader, what: string): string[] {
  const count = reader.count(what);
  const strings: string[] = [];
  for (let i = 0; i < count; i++) strings.push(reader.string());
  return strings;
}

/**
 * Reads and decodes one section given only its SectionRef (for example from the metastore),
 * with one ranged read and no footer read. `dataset` ("tenant/service") is only for messages.
 * Throws BlockFormatError for a kind this reader cannot decode.
 */
export async function readSection(
  store: ObjectStore,
  objectKey: string,
  ref: SectionRef,
  dataset = "",
): Promise<DecodedSection> {
  const context = { objectKey, dataset, kind: ref.kind, offset: ref.offset };
  const where = describeSection(context);
  let framed: Uint8Array;
  try {
    framed = await store.getRange(objectKey, ref.offset, ref.sizeBytes);
  } catch (cause) {
    if (!(cause instanceof RangeError)) throw cause;
    throw new BlockFormatError("block_corrupt", `${where}: range reaches past the object end`, { cause });
  }
  const payload = unframeSection(framed, context);
  switch (ref.kind) {
    case SectionKind.symbols:
      return { kind: ref.kind, symbols: decodeSymbols(payload, where) };
    case SectionKind.index:
      return { kind: ref.kind, index: decodeIndex(payload, where) };
    case SectionKind.profiles:
      return { kind: ref.kind, profiles: decodeProfiles(payload, where) };
    case SectionKind.rollupFine:
    case SectionKind.rollupCoarse:
      return { kind: ref.kind, rollup: decodeRollup(payload, where) };
    default:
      throw new BlockFormatError("block_unknown_section", `${where}: this reader cannot decode this kind`);
  }
}

function sectionOf(objectKey: string, dataset: DatasetMeta, kind: number): SectionRef {
  const ref = dataset.sections.find((section) => section.kind === kind);
  if (ref === undefined) {
    throw new BlockFormatError(
      "block_missing_section",
      `block ${objectKey}: dataset ${dataset.tenant}/${dataset.service} has no ${sectionKindName(kind)} section`,
    );
  }
  return ref;
}

/** The symbols section of a dataset (from the footer or the metastore). */
export async function readSymbols(
  store: ObjectStore,
  objectKey: string,
  dataset: DatasetMeta,
): Promise<SymbolsSection> {
  const ref = sectionOf(objectKey, dataset, SectionKind.symbols);
  const decoded = await readSection(store, objectKey, ref, `${dataset.tenant}/${dataset.service}`);
  if (decoded.kind !== SectionKind.symbols) throw new Error("unreachable: section kind");
  return decoded.symbols;
}

/** The index section of a dataset (from the footer or the metastore). */
export async function readIndex(
  store: ObjectStore,
  objectKey: string,
  dataset: DatasetMeta,
): Promise<IndexSection> {
  const ref = sectionOf(objectKey, dataset, SectionKind.index);
  const decoded = await readSection(store, objectKey, ref, `${dataset.tenant}/${dataset.service}`);
  if (decoded.kind !== SectionKind.index) throw new Error("unreachable: section kind");
  return decoded.index;
}

/** The profiles section of a dataset (from the footer or the metastore). */
export async function readProfiles(
  store: ObjectStore,
  objectKey: string,
  dataset: DatasetMeta,
): Promise<ProfilesSection> {
  const ref = sectionOf(objectKey, dataset, SectionKind.profiles);
  const decoded = await readSection(store, objectKey, ref, `${dataset.tenant}/${dataset.service}`);
  if (decoded.kind !== SectionKind.profiles) throw new Error("unreachable: section kind");
  return decoded.profiles;
}

/** A rollup section (kind rollupFine or rollupCoarse) of a dataset. */
export async function readRollup(
  store: ObjectStore,
  objectKey: string,
  dataset: DatasetMeta,
  kind: typeof SectionKind.rollupFine | typeof SectionKind.rollupCoarse,
): Promise<RollupSection> {
  const ref = sectionOf(objectKey, dataset, kind);
  const decoded = await readSection(store, objectKey, ref, `${dataset.tenant}/${dataset.service}`);
  if (decoded.kind !== kind || !("rollup" in decoded)) throw new Error("unreachable: section kind");
  return decoded.rollup;
}

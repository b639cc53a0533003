/**
 * Block format v1: constants, limits and errors shared by the writer and the reader.
 * The byte-level specification is docs/block-format.md; this summary and that page must agree,
 * and a change to the bytes changes both in the same commit.
 *
 * ```
 * object  := section* footer trailer
 * section := header(12 bytes) zstd(payload)           one per (dataset, kind), CRC32-checked
 *   header := kind u8 | codec u8 (1 = zstd) | reserved u16 (0)
 *           | payloadBytes u32 LE (uncompressed) | crc32 u32 LE (header[0..8) ++ compressed bytes)
 * footer  := datasetCount uvarint, then per dataset:
 *            tenant str | service str | minTimeMs uvarint | maxTimeMs uvarint
 *            | profileTypes strList | labelNames strList
 *            | sectionCount uvarint | (kind uvarint, offset uvarint, sizeBytes uvarint)*
 * trailer := footerBytes u32 LE | crc32 u32 LE (footer ++ trailer[0..4) ++ trailer[8..12))
 *          | formatVersion u32 LE | magic "KLNB"          (16 bytes, always the last bytes)
 * ```
 * Section kinds: symbols = 1, index = 2, profiles = 3. A reader skips kinds it does not know.
 * All multi-byte fixed-width integers are little-endian. Inside payloads, integers are
 * LEB128 varints (`uvarint`), signed ones zigzag-encoded first (`varint`).
 */
import { KilnError } from "../model/errors.ts";

/** The only version this code writes and reads. Bump it for any change a v1 reader would misread. */
export const FORMAT_VERSION = 1;
/** Alias of FORMAT_VERSION under the name the segment writer imports. */
export const blockFormatVersion = FORMAT_VERSION;

/** Last four bytes of every block object: "KLNB". */
export const MAGIC = new Uint8Array([0x4b, 0x4c, 0x4e, 0x42]);

/** Persisted section kinds. Values are on disk: append new kinds, never renumber. */
export const SectionKind = {
  symbols: 1,
  index: 2,
  profiles: 3,
  /** Pre-merged profiles per series per bucket, the finer width (rollup-section.ts). */
  rollupFine: 4,
  /** The same at the coarser width (a multiple of the finer one). */
  rollupCoarse: 5,
} as const;
export type KnownSectionKind = (typeof SectionKind)[keyof typeof SectionKind];

export function sectionKindName(kind: number): string {
  if (kind === SectionKind.symbols) return "symbols";
  if (kind === SectionKind.index) return "index";
  if (kind === SectionKind.profiles) return "profiles";
  if (kind === SectionKind.rollupFine) return "rollup (fine)";
  if (kind === SectionKind.rollupCoarse) return "rollup (coarse)";
  return `kind ${kind}`;
}

/** Persisted codec ids in the section header. Only zstd exists in v1. */
export const SectionCodec = { zstd: 1 } as const;

export const SECTION_HEADER_BYTES = 12;
export const TRAILER_BYTES = 16;

/**
 * Largest uncompressed section payload. Sections are decoded whole into memory, so this caps
 * what one corrupt or hostile header can make the reader allocate; a level-0 segment flushes
 * at a few MiB and compaction output is planned far below this.
 */
export const SECTION_PAYLOAD_BYTES_MAX = 512 * 1024 * 1024;

/** Largest footer: a TOC entry is ~100 bytes plus names, so this allows ~100k datasets. */
export const FOOTER_BYTES_MAX = 16 * 1024 * 1024;

/**
 * Bytes fetched from the end of the object on open. One read covers the trailer and, for a
 * typical segment (tens of datasets), the whole footer; larger footers cost a second read.
 */
export const TAIL_READ_BYTES = 64 * 1024;

/**
 * Most stack-tree nodes per dataset. The builder keeps ~20 bytes per node (parent, location,
 * two hash slots), so this bounds a dataset's tree at ~640 MiB before the block is cut.
 */
export const STACK_NODE_COUNT_MAX = 32 * 1024 * 1024;

/** Most entries in any symbol table (strings, mappings, functions, locations) of a dataset. */
export const SYMBOL_COUNT_MAX = 64 * 1024 * 1024;

/** Deepest stack accepted and resolved: deeper stacks are corrupt input, not real programs. */
export const STACK_DEPTH_MAX = 16 * 1024;

/** Profile and trace ids are 16 bytes on disk. */
export const ID_BYTES = 16;

/**
 * A block that does not decode: bad checksum, bad magic, unknown version, truncated bytes.
 * Maps to Connect `data_loss`: the object is damaged or from an unknown writer, not a caller bug.
 */
export class BlockFormatError extends KilnError {
  constructor(reason: string, message: string, options?: { cause?: unknown }) {
    super("data_loss", reason, message, options);
    this.name = "BlockFormatError";
  }
}

/** Thrown for broken invariants of this code: never caught, never retried. */
export class AssertionError extends Error {
  constructor(message: string) {
    super(`assertion failed: ${message}`);
    this.name = "AssertionError";
  }
}

export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/**
 * Throws an AssertionError. Hot paths write `if (!condition) fail(\`…\`)` instead of `assert`
 * so the message template is only built when the check fails.
 */
export function fail(message: string): never {
  throw new AssertionError(message);
}

/** Where a decode failure happened, for error messages a human can act on. */
export interface SectionContext {
  objectKey: string;
  /** "tenant/service", or "" when unknown (for example reading by SectionRef alone). */
  dataset: string;
  kind: number;
  offset: number;
}

export function describeSection(context: SectionContext): string {
  const dataset = context.dataset === "" ? "" : ` of dataset ${context.dataset}`;
  return (
    `block ${context.objectKey}: section ${sectionKindName(context.kind)}${dataset}` +
    ` at offset ${context.offset}`
  );
}

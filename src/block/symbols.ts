/**
 * The symbols section: string table, mappings, functions, locations (one stored location is
 * one frame) and the stack tree of one dataset. `SymbolsBuilder` interns by content across all
 * profiles appended to the dataset; `encodeSymbols`/`decodeSymbols` are the section codec
 * (docs/block-format.md, "Symbols section").
 */
import type { Pprof } from "../model/pprof.ts";
import { ByteReader, ByteWriter, readStringColumn, writeStringColumn } from "./encoding.ts";
import { assert, fail, SECTION_PAYLOAD_BYTES_MAX, SYMBOL_COUNT_MAX } from "./format.ts";
import { type StackTree, StackTreeBuilder } from "./stack-tree.ts";

/** Decoded symbols section. Parallel arrays per table; `*Str` index `strings`, `*Plus1` 0 = none. */
export interface SymbolsSection {
  /** `strings[0] === ""`. */
  strings: string[];
  mappingCount: number;
  mappingStart: Float64Array;
  mappingLimit: Float64Array;
  mappingOffset: Float64Array;
  mappingFilenameStr: Uint32Array;
  mappingBuildIdStr: Uint32Array;
  /** Bit 0 has_functions, 1 has_filenames, 2 has_line_numbers, 3 has_inline_frames (as pprof). */
  mappingFlags: Uint8Array;
  functionCount: number;
  functionNameStr: Uint32Array;
  functionSystemNameStr: Uint32Array;
  functionFilenameStr: Uint32Array;
  functionStartLine: Float64Array;
  /** One location per frame: inlined pprof lines are separate locations with the same address. */
  locationCount: number;
  locationMappingPlus1: Uint32Array;
  locationAddress: Float64Array;
  locationFunctionPlus1: Uint32Array;
  locationLine: Float64Array;
  stacks: StackTree;
}

/** How one pprof's locations map to stored frames, innermost first (cached per Pprof object). */
export interface PprofTranslation {
  /** Length locationCount + 1: frames of pprof location i are `frames[offsets[i]..offsets[i+1])`. */
  frameOffsets: Uint32Array;
  frames: Uint32Array;
}

/** Rough encoded bytes per table row beyond its strings, for `estimatedBytes`. */
const ROW_BYTES_ESTIMATE = 8;

export class SymbolsBuilder {
  readonly strings: string[] = [""];
  readonly #stringIds = new Map<string, number>([["", 0]]);
  readonly mappings: number[][] = [];
  readonly #mappingIds = new Map<string, number>();
  readonly functions: number[][] = [];
  readonly #functionIds = new Map<string, number>();
  /** [mappingPlus1, address, functionPlus1, line] per stored location. */
  readonly locations: number[][] = [];
  readonly #locationIds = new Map<string, number>();
  readonly stacks = new StackTreeBuilder();
  /** Keyed by the Pprof object: profiles split from one pprof share its tables (never mutated). */
  readonly #translations = new WeakMap<Pprof, PprofTranslation>();
  #bytesEstimate = 0;

  get bytesEstimate(): number {
    return this.#bytesEstimate + this.stacks.nodeCount * ROW_BYTES_ESTIMATE;
  }

  translation(pprof: Pprof): PprofTranslation {
    let cached = this.#translations.get(pprof);
    if (cached === undefined) {
      cached = new PprofInterner(this, pprof).translate();
      this.#translations.set(pprof, cached);
    }
    return cached;
  }

  internString(text: string): number {
    let id = this.#stringIds.get(text);
    if (id === undefined) {
      id = this.strings.length;
      if (!(id < SYMBOL_COUNT_MAX)) fail(`symbol strings exceed ${SYMBOL_COUNT_MAX}`);
      this.strings.push(text);
      this.#stringIds.set(text, id);
      this.#bytesEstimate += text.length + 1;
    }
    return id;
  }

  /** Interns a row of `table` by content; `row` is the stored row (ids already translated). */
  internRow(table: "mappings" | "functions" | "locations", row: number[]): number {
    const ids =
      table === "mappings" ? this.#mappingIds : table === "functions" ? this.#functionIds : this.#locationIds;
    const rows = this[table];
    const key = row.join(",");
    let id = ids.get(key);
    if (id === undefined) {
      id = rows.length;
      if (!(id < SYMBOL_COUNT_MAX)) fail(`symbol ${table} exceed ${SYMBOL_COUNT_MAX}`);
      rows.push(row);
      ids.set(key, id);
      this.#bytesEstimate += ROW_BYTES_ESTIMATE;
    }
    return id;
  }
}

/** Translates one Pprof's tables into the builder's, each pprof entry at most once. */
class PprofInterner {
  readonly #builder: SymbolsBuilder;
  readonly #pprof: Pprof;
  readonly #stringIds: Int32Array;
  readonly #mappingIds: Int32Array;
  readonly #functionIds: Int32Array;

  constructor(builder: SymbolsBuilder, pprof: Pprof) {
    this.#builder = builder;
    this.#pprof = pprof;
    this.#stringIds = new Int32Array(pprof.strings.length).fill(-1);
    this.#mappingIds = new Int32Array(pprof.mappingCount).fill(-1);
    this.#functionIds = new Int32Array(pprof.functionCount).fill(-1);
  }

  translate(): PprofTranslation {
    const p = this.#pprof;
    assert(p.locationLineOffsets.length === p.locationCount + 1, "pprof: locationLineOffsets length");
    const frameOffsets = new Uint32Array(p.locationCount + 1);
    const frames: number[] = [];
    for (let loc = 0; loc < p.locationCount; loc++) {
      frameOffsets[loc] = frames.length;
      const mappingPlus1 =
        p.locationMappingPlus1[loc]! === 0 ? 0 : this.#mapping(p.locationMappingPlus1[loc]! - 1) + 1;
      const address = p.locationAddress[loc]!;
      const lineStart = p.locationLineOffsets[loc]!;
      const lineEnd = p.locationLineOffsets[loc + 1]!;
      if (lineStart === lineEnd) {
        frames.push(this.#builder.internRow("locations", [mappingPlus1, address, 0, 0]));
        continue;
      }
      // pprof lists lines innermost (inlined callee) first: that order is kept.
      for (let line = lineStart; line < lineEnd; line++) {
        const fnPlus1 = p.lineFunctionPlus1[line]!;
        const storedFnPlus1 = fnPlus1 === 0 ? 0 : this.#function(fnPlus1 - 1) + 1;
        const row = [mappingPlus1, address, storedFnPlus1, p.lineNumber[line]!];
        frames.push(this.#builder.internRow("locations", row));
      }
    }
    frameOffsets[p.locationCount] = frames.length;
    return { frameOffsets, frames: Uint32Array.from(frames) };
  }

  #string(index: number): number {
    if (!(index < this.#stringIds.length)) fail(`pprof: string index ${index} out of range`);
    let id = this.#stringIds[index]!;
    if (id < 0) {
      id = this.#builder.internString(this.#pprof.strings[index]!);
      this.#stringIds[index] = id;
    }
    return id;
  }

  #mapping(index: number): number {
    if (!(index < this.#mappingIds.length)) fail(`pprof: mapping index ${index} out of range`);
    let id = this.#mappingIds[index]!;
    if (id < 0) {
      const p = this.#pprof;
      const row = [
        p.mappingStart[index]!,
        p.mappingLimit[index]!,
        p.mappingOffset[index]!,
        this.#string(p.mappingFilenameStr[index]!),
        this.#string(p.mappingBuildIdStr[index]!),
        p.mappingFlags[index]!,
      ];
      id = this.#builder.internRow("mappings", row);
      this.#mappingIds[index] = id;
    }
    return id;
  }

  #function(index: number): number {
    if (!(index < this.#functionIds.length)) fail(`pprof: function index ${index} out of range`);
    let id = this.#functionIds[index]!;
    if (id < 0) {
      const p = this.#pprof;
      const row = [
        this.#string(p.functionNameStr[index]!),
        this.#string(p.functionSystemNameStr[index]!),
        this.#string(p.functionFilenameStr[index]!),
        p.functionStartLine[index]!,
      ];
      id = this.#builder.internRow("functions", row);
      this.#functionIds[index] = id;
    }
    return id;
  }
}

/**
 * Columns of each table in payload order, true where the column is a signed (zigzag) varint:
 * line numbers are int64 in pprof and a garbage negative one must not fail ingest.
 */
const MAPPING_COLUMNS_SIGNED = [false, false, false, false, false, false];
const FUNCTION_COLUMNS_SIGNED = [false, false, false, true];
const LOCATION_COLUMNS_SIGNED = [false, false, false, true];

export function encodeSymbols(builder: SymbolsBuilder): Uint8Array {
  const writer = new ByteWriter(64 * 1024, SECTION_PAYLOAD_BYTES_MAX);
  writer.uvarint(builder.strings.length);
  writeStringColumn(writer, builder.strings);
  writeTable(writer, builder.mappings, MAPPING_COLUMNS_SIGNED);
  writeTable(writer, builder.functions, FUNCTION_COLUMNS_SIGNED);
  writeTable(writer, builder.locations, LOCATION_COLUMNS_SIGNED);
  const tree = builder.stacks.snapshot();
  writer.uvarint(tree.nodeCount);
  // Parents as (node - parent) >= 1: small for the common deep-chain case.
  for (let node = 1; node < tree.nodeCount; node++) writer.uvarint(node - tree.parent[node]!);
  for (let node = 1; node < tree.nodeCount; node++) writer.uvarint(tree.location[node]!);
  return writer.finish();
}

/** Column-major: every value of column 0, then of column 1, … */
function writeTable(writer: ByteWriter, rows: readonly number[][], columnsSigned: boolean[]): void {
  writer.uvarint(rows.length);
  for (let column = 0; column < columnsSigned.length; column++) {
    assert(
      rows.every((row) => row.length === columnsSigned.length),
      "symbol table row width",
    );
    if (columnsSigned[column]) for (const row of rows) writer.varint(row[column]!);
    else for (const row of rows) writer.uvarint(row[column]!);
  }
}

function readColumn(reader: ByteReader, count: number): Float64Array {
  const column = new Float64Array(count);
  for (let i = 0; i < count; i++) column[i] = reader.uvarint();
  return column;
}

function readSignedColumn(reader: ByteReader, count: number): Float64Array {
  const column = new Float64Array(count);
  for (let i = 0; i < count; i++) column[i] = reader.varint();
  return column;
}

/** Reads a column of references into a table of `limit` entries (`plus1`: 0 means none). */
function readRefColumn(reader: ByteReader, count: number, limit: number, what: string): Uint32Array {
  const column = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const ref = reader.uvarintSafe();
    if (ref >= limit) reader.fail(`${what} ${ref} out of range (${limit})`);
    column[i] = ref;
  }
  return column;
}

export function decodeSymbols(payload: Uint8Array, where: string): SymbolsSection {
  const reader = new ByteReader(payload, where);
  const stringCount = reader.count("string");
  const strings = readStringColumn(reader, stringCount);
  if (strings[0] !== "") reader.fail("string 0 is not empty");
  const mappingCount = reader.count("mapping", MAPPING_COLUMNS_SIGNED.length);
  const mappingStart = readColumn(reader, mappingCount);
  const mappingLimit = readColumn(reader, mappingCount);
  const mappingOffset = readColumn(reader, mappingCount);
  const mappingFilenameStr = readRefColumn(reader, mappingCount, stringCount, "string");
  const mappingBuildIdStr = readRefColumn(reader, mappingCount, stringCount, "string");
  const mappingFlags = Uint8Array.from(readRefColumn(reader, mappingCount, 256, "mapping flags"));
  const functionCount = reader.count("function", FUNCTION_COLUMNS_SIGNED.length);
  const functionNameStr = readRefColumn(reader, functionCount, stringCount, "string");
  const functionSystemNameStr = readRefColumn(reader, functionCount, stringCount, "string");
  const functionFilenameStr = readRefColumn(reader, functionCount, stringCount, "string");
  const functionStartLine = readSignedColumn(reader, functionCount);
  const locationCount = reader.count("location", LOCATION_COLUMNS_SIGNED.length);
  const locationMappingPlus1 = readRefColumn(reader, locationCount, mappingCount + 1, "mapping");
  const locationAddress = readColumn(reader, locationCount);
  const locationFunctionPlus1 = readRefColumn(reader, locationCount, functionCount + 1, "function");
  const locationLine = readSignedColumn(reader, locationCount);
  const stacks = readStackTree(reader, locationCount);
  reader.end();
  return {
    strings,
    mappingCount,
    mappingStart,
    mappingLimit,
    mappingOffset,
    mappingFilenameStr,
    mappingBuildIdStr,
    mappingFlags,
    functionCount,
    functionNameStr,
    functionSystemNameStr,
    functionFilenameStr,
    functionStartLine,
    locationCount,
    locationMappingPlus1,
    locationAddress,
    locationFunctionPlus1,
    locationLine,
    stacks,
  };
}

function readStackTree(reader: ByteReader, locationCount: number): StackTree {
  const nodeCount = reader.uvarintSafe();
  if (nodeCount < 1 || (nodeCount - 1) * 2 > reader.remaining) reader.fail(`stack node count ${nodeCount}`);
  const parent = new Int32Array(nodeCount);
  const location = new Int32Array(nodeCount);
  parent[0] = -1;
  location[0] = -1;
  for (let node = 1; node < nodeCount; node++) {
    const distance = reader.uvarintSafe();
    // parent < node keeps the tree acyclic, so walks to the root always end.
    if (distance < 1 || distance > node) reader.fail(`stack node ${node}: parent distance ${distance}`);
    parent[node] = node - distance;
  }
  for (let node = 1; node < nodeCount; node++) {
    const ref = reader.uvarintSafe();
    if (ref >= locationCount) reader.fail(`stack node ${node}: location ${ref} out of range`);
    location[node] = ref;
  }
  return { nodeCount, parent, location };
}

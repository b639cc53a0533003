/**
 * The symbols section: string table, mappings, functions, locations (one stored location is
 * one frame) and the stack tree of one dataset. `SymbolsBuilder` interns by content across all
 * profiles appended to the dataset; `encodeSymbols`/`decodeSymbols` are the section codec
 * (docs/block-format.md, "Symbols section").
 */
import type { Pprof } from "../model/pprof.ts";
import { ByteReader, ByteWriter, readStringColumn, writeStringColumn } from "./encoding.ts";
import { assert, fail, SECTION_PAYLOAD_BYTES_MAX, SYMBOL_COUNT_MAX } from "./format.ts";
import { RowTable } from "./row-table.ts";
import { StackCache, sequenceHash } from "./stack-cache.ts";
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

/** Rough encoded bytes per table row beyond its strings, for `estimatedBytes`. */
const ROW_BYTES_ESTIMATE = 8;

/** Table widths; the columns are in payload order (see `encodeSymbols`). */
const MAPPING_WIDTH = 6;
const FUNCTION_WIDTH = 4;
const LOCATION_WIDTH = 4;

export class SymbolsBuilder {
  readonly strings: string[] = [""];
  readonly #stringIds = new Map<string, number>([["", 0]]);
  /** [start, limit, offset, filenameStr, buildIdStr, flags] per mapping. */
  readonly mappings = new RowTable(MAPPING_WIDTH, "mappings", SYMBOL_COUNT_MAX);
  /** [nameStr, systemNameStr, filenameStr, startLine] per function. */
  readonly functions = new RowTable(FUNCTION_WIDTH, "functions", SYMBOL_COUNT_MAX);
  /** [mappingPlus1, address, functionPlus1, line] per stored location. */
  readonly locations = new RowTable(LOCATION_WIDTH, "locations", SYMBOL_COUNT_MAX);
  readonly stacks = new StackTreeBuilder();
  /** Whole stacks already interned (stored frames root first → node). */
  readonly stackCache = new StackCache();
  /** Keyed by the Pprof object: profiles split from one pprof share its tables (never mutated). */
  readonly #translations = new WeakMap<Pprof, PprofTranslation>();
  #stringBytesEstimate = 0;

  get bytesEstimate(): number {
    const rows = this.mappings.count + this.functions.count + this.locations.count;
    return this.#stringBytesEstimate + (rows + this.stacks.nodeCount) * ROW_BYTES_ESTIMATE;
  }

  /** The translation of `pprof`'s tables into this builder's, created on first use. */
  translation(pprof: Pprof): PprofTranslation {
    let cached = this.#translations.get(pprof);
    if (cached === undefined) {
      cached = new PprofTranslation(this, pprof);
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
      this.#stringBytesEstimate += text.length + 1;
    }
    return id;
  }
}

const UNTRANSLATED = -1;

/**
 * How one Pprof's entries map to the builder's, filled lazily: a string, mapping, function or
 * location is translated the first time a stack reaches it, so entries no sample references
 * cost nothing.
 */
export class PprofTranslation {
  readonly #builder: SymbolsBuilder;
  readonly #pprof: Pprof;
  readonly #stringIds: Int32Array;
  readonly #mappingIds: Int32Array;
  readonly #functionIds: Int32Array;
  /** Per pprof location: its frames are `#frames[#frameStart[i]..#frameEnd[i])`, innermost first. */
  readonly #frameStart: Int32Array;
  readonly #frameEnd: Int32Array;
  #frames = new Uint32Array(1024);
  #frameCount = 0;
  /** Scratch: the stored frames of the stack being interned, root first. */
  #sequence: Uint32Array<ArrayBuffer> = new Uint32Array(256);

  constructor(builder: SymbolsBuilder, pprof: Pprof) {
    assert(pprof.locationLineOffsets.length === pprof.locationCount + 1, "pprof: locationLineOffsets length");
    this.#builder = builder;
    this.#pprof = pprof;
    this.#stringIds = new Int32Array(pprof.strings.length).fill(UNTRANSLATED);
    this.#mappingIds = new Int32Array(pprof.mappingCount).fill(UNTRANSLATED);
    this.#functionIds = new Int32Array(pprof.functionCount).fill(UNTRANSLATED);
    this.#frameStart = new Int32Array(pprof.locationCount).fill(UNTRANSLATED);
    this.#frameEnd = new Int32Array(pprof.locationCount);
  }

  /**
   * The stack node of every sample. Stacks are pprof location indices, leaf first, sample i at
   * `locations[offsets[i]..offsets[i+1])`. Each stack is first translated to its stored frames,
   * root first, and looked up whole in the dataset's stack cache; only a stack not seen before
   * walks the tree.
   */
  internStacks(offsets: Uint32Array, locations: Uint32Array, sampleCount: number): Uint32Array {
    const nodes = new Uint32Array(sampleCount);
    const builder = this.#builder;
    const tree = builder.stacks;
    const cache = builder.stackCache;
    // A young tree meeting a big profile will get about one node per frame: size it once.
    if (tree.nodeCount * 2 < locations.length) {
      tree.reserve(tree.nodeCount + locations.length);
      cache.reserve(cache.count + sampleCount, locations.length + (locations.length >>> 2));
    }
    const frameStart = this.#frameStart;
    const frameEnd = this.#frameEnd;
    const locationCount = frameStart.length;
    let sequence = this.#sequence;
    for (let s = 0; s < sampleCount; s++) {
      const start = offsets[s]!;
      let length = 0;
      // Stacks are leaf first, so the root-most pprof location is the last one.
      for (let at = offsets[s + 1]! - 1; at >= start; at--) {
        const location = locations[at]!;
        if (!(location < locationCount)) fail(`sample ${s}: location ${location} out of range`);
        let first = frameStart[location]!;
        if (first === UNTRANSLATED) first = this.#translateLocation(location);
        const end = frameEnd[location]!;
        if (length + end - first > sequence.length) sequence = this.#growSequence(length + end - first);
        // Frames of one location are innermost first: the outermost is entered first.
        const frames = this.#frames;
        for (let frame = end - 1; frame >= first; frame--) sequence[length++] = frames[frame]!;
      }
      const hash = sequenceHash(sequence, length);
      let node = cache.find(sequence, length, hash);
      if (node < 0) {
        node = 0;
        for (let i = 0; i < length; i++) node = tree.intern(node, sequence[i]!);
        cache.add(sequence, length, hash, node);
      }
      nodes[s] = node;
    }
    return nodes;
  }

  #growSequence(needed: number): Uint32Array<ArrayBuffer> {
    const sequence = new Uint32Array(Math.max(needed, this.#sequence.length * 2));
    sequence.set(this.#sequence);
    this.#sequence = sequence;
    return sequence;
  }

  /** Translates pprof location `loc` into stored locations (one per line); returns its first frame. */
  #translateLocation(loc: number): number {
    const p = this.#pprof;
    const table = this.#builder.locations;
    const row = table.row;
    const mappingPlus1 = p.locationMappingPlus1[loc]!;
    const storedMappingPlus1 = mappingPlus1 === 0 ? 0 : this.#mapping(mappingPlus1 - 1) + 1;
    const address = p.locationAddress[loc]!;
    const lineStart = p.locationLineOffsets[loc]!;
    const lineEnd = p.locationLineOffsets[loc + 1]!;
    const first = this.#frameCount;
    this.#reserveFrames(Math.max(1, lineEnd - lineStart));
    if (lineStart === lineEnd) {
      row[0] = storedMappingPlus1;
      row[1] = address;
      row[2] = 0;
      row[3] = 0;
      this.#frames[this.#frameCount++] = table.intern();
    } else {
      // pprof lists lines innermost (inlined callee) first: that order is kept.
      for (let line = lineStart; line < lineEnd; line++) {
        const fnPlus1 = p.lineFunctionPlus1[line]!;
        const storedFnPlus1 = fnPlus1 === 0 ? 0 : this.#function(fnPlus1 - 1) + 1;
        // Set after #function: it must not see a half-filled location row (it fills another table).
        row[0] = storedMappingPlus1;
        row[1] = address;
        row[2] = storedFnPlus1;
        row[3] = p.lineNumber[line]!;
        this.#frames[this.#frameCount++] = table.intern();
      }
    }
    this.#frameStart[loc] = first;
    this.#frameEnd[loc] = this.#frameCount;
    return first;
  }

  #reserveFrames(count: number): void {
    if (this.#frameCount + count <= this.#frames.length) return;
    const frames = new Uint32Array(Math.max(this.#frames.length * 2, this.#frameCount + count));
    frames.set(this.#frames.subarray(0, this.#frameCount));
    this.#frames = frames;
  }

  #string(index: number): number {
    if (!(index < this.#stringIds.length)) fail(`pprof: string index ${index} out of range`);
    let id = this.#stringIds[index]!;
    if (id === UNTRANSLATED) {
      id = this.#builder.internString(this.#pprof.strings[index]!);
      this.#stringIds[index] = id;
    }
    return id;
  }

  #mapping(index: number): number {
    if (!(index < this.#mappingIds.length)) fail(`pprof: mapping index ${index} out of range`);
    let id = this.#mappingIds[index]!;
    if (id === UNTRANSLATED) {
      const p = this.#pprof;
      const filenameStr = this.#string(p.mappingFilenameStr[index]!);
      const buildIdStr = this.#string(p.mappingBuildIdStr[index]!);
      const table = this.#builder.mappings;
      const row = table.row;
      row[0] = p.mappingStart[index]!;
      row[1] = p.mappingLimit[index]!;
      row[2] = p.mappingOffset[index]!;
      row[3] = filenameStr;
      row[4] = buildIdStr;
      row[5] = p.mappingFlags[index]!;
      id = table.intern();
      this.#mappingIds[index] = id;
    }
    return id;
  }

  #function(index: number): number {
    if (!(index < this.#functionIds.length)) fail(`pprof: function index ${index} out of range`);
    let id = this.#functionIds[index]!;
    if (id === UNTRANSLATED) {
      const p = this.#pprof;
      const nameStr = this.#string(p.functionNameStr[index]!);
      const systemNameStr = this.#string(p.functionSystemNameStr[index]!);
      const filenameStr = this.#string(p.functionFilenameStr[index]!);
      const table = this.#builder.functions;
      const row = table.row;
      row[0] = nameStr;
      row[1] = systemNameStr;
      row[2] = filenameStr;
      row[3] = p.functionStartLine[index]!;
      id = table.intern();
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
  const tree = builder.stacks.view();
  const nodeCount = tree.nodeCount;
  writer.uvarint(nodeCount);
  // Parents as (node - parent) >= 1: small for the common deep-chain case.
  const column = new Uint32Array(Math.max(0, nodeCount - 1));
  for (let node = 1; node < nodeCount; node++) column[node - 1] = node - tree.parent[node]!;
  writer.uvarints(column);
  writer.uvarints(tree.location.subarray(1, nodeCount));
  return writer.finish();
}

/** Column-major: every value of column 0, then of column 1, … */
function writeTable(writer: ByteWriter, table: RowTable, columnsSigned: boolean[]): void {
  assert(table.width === columnsSigned.length, "symbol table row width");
  writer.uvarint(table.count);
  for (let column = 0; column < columnsSigned.length; column++) {
    if (columnsSigned[column]) writer.varints(table.column(column));
    else writer.uvarints(table.column(column));
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

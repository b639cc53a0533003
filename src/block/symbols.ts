/**
 * The symbols section: string table, mappings, functions, locations (one stored location is
 * one frame) and the stack tree of one dataset. `SymbolsBuilder` interns by content across all
 * profiles appended to it; it is the dataset's *dictionary* and may outlive one block (the
 * segment writer keeps it from one segment to the next, so a resent stack is a cache hit).
 * Ids in a builder never change: it only grows. `encodeSymbolsSubset` writes the part of it that
 * some stack nodes reference, with compact ids; `decodeSymbols` reads a section back
 * (docs/block-format.md, "Symbols section").
 */
import type { Pprof } from "../model/pprof.ts";
import {
  ByteReader,
  ByteWriter,
  readStringColumn,
  readStringColumnBytes,
  writeStringColumn,
} from "./encoding.ts";
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
/** Heap bytes per interned string beyond its characters: array slot, Map entry, string header. */
const STRING_OVERHEAD_BYTES = 48;

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
  #stringMemoryBytes = 0;
  /**
   * The last object that interned into this dictionary (a `DatasetBuilder`): lets a builder
   * tell that a dictionary holds only its own symbols.
   */
  lastWriter: object | undefined = undefined;
  /** Zeroed scratch arrays of `encodeSymbolsSubset`, indexed by table (see `scratch`). */
  #scratch: Int32Array[] = [];

  /** Roughly the encoded bytes of the whole dictionary (every symbol and node). */
  get bytesEstimate(): number {
    const rows = this.mappings.count + this.functions.count + this.locations.count;
    return this.#stringBytesEstimate + (rows + this.stacks.nodeCount) * ROW_BYTES_ESTIMATE;
  }

  /** Roughly the heap bytes the dictionary holds (typed-array capacities plus strings). */
  get memoryBytes(): number {
    const tables = this.mappings.memoryBytes + this.functions.memoryBytes + this.locations.memoryBytes;
    let scratch = 0;
    for (const array of this.#scratch) scratch += array.byteLength;
    const structures = tables + this.stacks.memoryBytes + this.stackCache.memoryBytes;
    return this.#stringMemoryBytes + structures + scratch;
  }

  /**
   * An all-zero Int32Array of at least `length` entries, kept between calls: the caller must
   * zero every entry it set before it returns, or call `dropScratch` (on an error path).
   */
  scratch(which: number, length: number): Int32Array {
    let array = this.#scratch[which];
    if (array === undefined || array.length < length) {
      array = new Int32Array(Math.max(length, 2 * (array?.length ?? 0), 256));
      this.#scratch[which] = array;
    }
    return array;
  }

  dropScratch(): void {
    this.#scratch = [];
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
      this.#stringMemoryBytes += text.length * 2 + STRING_OVERHEAD_BYTES;
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

/**
 * Every symbol and node of `builder`, ids unchanged. What `encodeSymbolsSubset` writes when
 * every symbol is referenced, without the marking passes: the segment writer's path for a
 * dictionary that only the one dataset builder being encoded has filled.
 */
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
function writeTable(writer: ByteWriter, table: RowTable, columnsSigned: readonly boolean[]): void {
  assert(table.width === columnsSigned.length, "symbol table row width");
  writer.uvarint(table.count);
  for (let column = 0; column < columnsSigned.length; column++) {
    if (columnsSigned[column]) writer.varints(table.column(column));
    else writer.uvarints(table.column(column));
  }
}

/** Scratch array slots of `SymbolsBuilder.scratch`. */
const NODE_SCRATCH = 0;
const LOCATION_SCRATCH = 1;
const FUNCTION_SCRATCH = 2;
const MAPPING_SCRATCH = 3;
const STRING_SCRATCH = 4;

/**
 * Encodes the part of the dictionary that the stack nodes in `nodeLists` need: those nodes,
 * their ancestors, their locations and the functions, mappings and strings these refer to.
 * Everything gets a compact id in the same relative order as in the dictionary (so parents
 * still precede children, and sorted node lists stay sorted), and `nodeLists` come back
 * remapped to the written ids. Reads the builder without changing its contents; when every
 * symbol is used the payload is byte for byte what a builder holding only these would write.
 */
export function encodeSymbolsSubset(
  builder: SymbolsBuilder,
  nodeLists: readonly Uint32Array[],
): { payload: Uint8Array; nodeLists: Uint32Array[] } {
  let done = false;
  try {
    const result = encodeSubset(builder, nodeLists);
    done = true;
    return result;
  } finally {
    // A throw mid-way leaves marks behind: forget the scratch arrays rather than trust them.
    if (!done) builder.dropScratch();
  }
}

function encodeSubset(
  builder: SymbolsBuilder,
  nodeLists: readonly Uint32Array[],
): { payload: Uint8Array; nodeLists: Uint32Array[] } {
  const tree = builder.stacks.view();
  const parent = tree.parent;
  const location = tree.location;
  // Marks: 0 = unused, -1 = used (id not yet assigned), then the written id (nodes: 1.., as the
  // root keeps 0; other tables: id + 1).
  const nodeIds = builder.scratch(NODE_SCRATCH, tree.nodeCount);
  let sampleCount = 0;
  for (const list of nodeLists) sampleCount += list.length;
  const usedNodes = new GrowableU32(Math.min(tree.nodeCount, sampleCount * 4 + 16));
  for (const list of nodeLists) {
    for (let i = 0; i < list.length; i++) {
      let node = list[i]!;
      if (!(node < tree.nodeCount)) fail(`stack node ${node} out of range ${tree.nodeCount}`);
      // Stops at the root or at a node already marked (so are all its ancestors).
      while (node > 0 && nodeIds[node] === 0) {
        nodeIds[node] = -1;
        usedNodes.push(node);
        node = parent[node]!;
      }
    }
  }
  const nodes = usedNodes.sorted(nodeIds, tree.nodeCount);
  if (nodes.length === tree.nodeCount - 1) {
    // Every node is referenced, hence every location (but those a failed append left behind)
    // and every symbol they refer to: the whole dictionary, ids as they are, is the subset.
    for (let i = 0; i < nodes.length; i++) nodeIds[nodes[i]!] = 0;
    return { payload: encodeSymbols(builder), nodeLists: [...nodeLists] };
  }
  for (let i = 0; i < nodes.length; i++) nodeIds[nodes[i]!] = i + 1;

  const locations = builder.locations;
  const locationIds = builder.scratch(LOCATION_SCRATCH, locations.count);
  const usedLocations = new GrowableU32(Math.min(locations.count, nodes.length) + 16);
  for (let i = 0; i < nodes.length; i++) mark(locationIds, location[nodes[i]!]!, usedLocations);
  const locs = assignIds(locationIds, usedLocations, locations.count);

  const functions = builder.functions;
  const mappings = builder.mappings;
  const functionIds = builder.scratch(FUNCTION_SCRATCH, functions.count);
  const mappingIds = builder.scratch(MAPPING_SCRATCH, mappings.count);
  const usedFunctions = new GrowableU32(Math.min(functions.count, locs.length) + 16);
  const usedMappings = new GrowableU32(64);
  for (let i = 0; i < locs.length; i++) {
    const mappingPlus1 = locations.value(locs[i]!, 0);
    if (mappingPlus1 !== 0) mark(mappingIds, mappingPlus1 - 1, usedMappings);
    const functionPlus1 = locations.value(locs[i]!, 2);
    if (functionPlus1 !== 0) mark(functionIds, functionPlus1 - 1, usedFunctions);
  }
  const fns = assignIds(functionIds, usedFunctions, functions.count);
  const maps = assignIds(mappingIds, usedMappings, mappings.count);

  const stringIds = builder.scratch(STRING_SCRATCH, builder.strings.length);
  const usedStrings = new GrowableU32(fns.length * 2 + maps.length + 16);
  // String 0 ("") keeps id 0: marked first, it sorts first.
  mark(stringIds, 0, usedStrings);
  for (let i = 0; i < fns.length; i++) {
    mark(stringIds, functions.value(fns[i]!, 0), usedStrings);
    mark(stringIds, functions.value(fns[i]!, 1), usedStrings);
    mark(stringIds, functions.value(fns[i]!, 2), usedStrings);
  }
  for (let i = 0; i < maps.length; i++) {
    mark(stringIds, mappings.value(maps[i]!, 3), usedStrings);
    mark(stringIds, mappings.value(maps[i]!, 4), usedStrings);
  }
  const strs = assignIds(stringIds, usedStrings, builder.strings.length);

  const writer = new ByteWriter(64 * 1024, SECTION_PAYLOAD_BYTES_MAX);
  writer.uvarint(strs.length);
  const strings = new Array<string>(strs.length);
  for (let i = 0; i < strs.length; i++) strings[i] = builder.strings[strs[i]!]!;
  writeStringColumn(writer, strings);
  // References are written as (new id) or (new id + 1) for the *Plus1 columns.
  writeSubsetTable(
    writer,
    mappings,
    maps,
    [null, null, null, stringIds, stringIds, null],
    MAPPING_COLUMNS_SIGNED,
    false,
  );
  writeSubsetTable(
    writer,
    functions,
    fns,
    [stringIds, stringIds, stringIds, null],
    FUNCTION_COLUMNS_SIGNED,
    false,
  );
  writeSubsetTable(
    writer,
    locations,
    locs,
    [mappingIds, null, functionIds, null],
    LOCATION_COLUMNS_SIGNED,
    true,
  );

  const nodeCount = nodes.length + 1;
  writer.uvarint(nodeCount);
  // Parents as (node - parent) >= 1: small for the common deep-chain case.
  const column = new Uint32Array(nodes.length);
  for (let i = 0; i < nodes.length; i++) {
    const up = parent[nodes[i]!]!;
    column[i] = i + 1 - (up === 0 ? 0 : nodeIds[up]!);
  }
  writer.uvarints(column);
  for (let i = 0; i < nodes.length; i++) column[i] = locationIds[location[nodes[i]!]!]! - 1;
  writer.uvarints(column);

  const remapped = nodeLists.map((list) => {
    const out = new Uint32Array(list.length);
    for (let i = 0; i < list.length; i++) {
      const node = list[i]!;
      out[i] = node === 0 ? 0 : nodeIds[node]!;
    }
    return out;
  });
  const payload = writer.finish();

  // Leave the scratch arrays all zero again (only the entries set above).
  for (const [ids, used] of [
    [nodeIds, nodes],
    [locationIds, locs],
    [functionIds, fns],
    [mappingIds, maps],
    [stringIds, strs],
  ] as const) {
    for (let i = 0; i < used.length; i++) ids[used[i]!] = 0;
  }
  return { payload, nodeLists: remapped };
}

/** Marks `id` used in `ids` (see `encodeSubset`), recording it in `used` the first time. */
function mark(ids: Int32Array, id: number, used: GrowableU32): void {
  if (ids[id] === 0) {
    ids[id] = -1;
    used.push(id);
  }
}

/**
 * Sorts the used ids (of `count` in the table) and stores each one's compact id + 1 in `ids`;
 * returns the sorted ids.
 */
function assignIds(ids: Int32Array, used: GrowableU32, count: number): Uint32Array {
  const sorted = used.sorted(ids, count);
  for (let i = 0; i < sorted.length; i++) ids[sorted[i]!] = i + 1;
  return sorted;
}

/**
 * Writes rows `rows` of `table`, column-major; a column with a remap array holds references
 * (`ids[ref]` is the new id + 1), written as the new id, or `plus1` columns as new id + 1 with
 * 0 kept for none.
 */
function writeSubsetTable(
  writer: ByteWriter,
  table: RowTable,
  rows: Uint32Array,
  remaps: readonly (Int32Array | null)[],
  columnsSigned: readonly boolean[],
  plus1: boolean,
): void {
  assert(
    table.width === columnsSigned.length && remaps.length === columnsSigned.length,
    "symbol table width",
  );
  writer.uvarint(rows.length);
  const column = new Float64Array(rows.length);
  for (let c = 0; c < columnsSigned.length; c++) {
    const ids = remaps[c];
    if (ids === null || ids === undefined) {
      for (let i = 0; i < rows.length; i++) column[i] = table.value(rows[i]!, c);
    } else if (plus1) {
      for (let i = 0; i < rows.length; i++) {
        const refPlus1 = table.value(rows[i]!, c);
        column[i] = refPlus1 === 0 ? 0 : ids[refPlus1 - 1]!;
      }
    } else {
      for (let i = 0; i < rows.length; i++) column[i] = ids[table.value(rows[i]!, c)]! - 1;
    }
    if (columnsSigned[c]) writer.varints(column);
    else writer.uvarints(column);
  }
}

/** An append-only list of uint32 on a doubling typed array. */
class GrowableU32 {
  #values: Uint32Array;
  #length = 0;

  constructor(capacity: number) {
    this.#values = new Uint32Array(Math.max(16, capacity));
  }

  push(value: number): void {
    if (this.#length === this.#values.length) {
      const grown = new Uint32Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[this.#length++] = value;
  }

  /**
   * The values in ascending order (the list's own storage: push no more afterwards). They are
   * the non-zero entries of `marks[0..count)`: when they are a good part of it, one sequential
   * scan of the marks beats a sort.
   */
  sorted(marks: Int32Array, count: number): Uint32Array {
    const values = this.#values.subarray(0, this.#length);
    if (values.length * 16 < count) return values.sort();
    let at = 0;
    for (let id = 0; id < count; id++) if (marks[id] !== 0) values[at++] = id;
    assert(at === values.length, "used ids and marks disagree");
    return values;
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

/** What naming stack frames needs of a symbols section (`decodeSymbolNames`). */
export type SymbolNames = Pick<
  SymbolsSection,
  | "strings"
  | "functionNameStr"
  | "locationCount"
  | "locationFunctionPlus1"
  | "locationAddress"
  | "locationMappingPlus1"
  | "mappingFilenameStr"
  | "stacks"
>;

/**
 * The part of a symbols section that names stack frames: the stack tree, each location's
 * function (or address and mapping), function names and mapping file names. The other
 * columns are only scanned, and only the strings these reference are decoded (`strings` has
 * holes where the others would be): a long-range query resolves hundreds of datasets' stacks
 * to names and needs nothing else. The payload is checked as far as it is read.
 */
export function decodeSymbolNames(payload: Uint8Array, where: string): SymbolNames {
  const reader = new ByteReader(payload, where);
  const stringCount = reader.count("string");
  const column = readStringColumnBytes(reader, stringCount);
  if (stringCount < 1 || column.string(0) !== "") reader.fail("string 0 is not empty");
  const mappingCount = reader.count("mapping", MAPPING_COLUMNS_SIGNED.length);
  skipColumns(reader, 3 * mappingCount);
  const mappingFilenameStr = readRefColumn(reader, mappingCount, stringCount, "string");
  skipColumns(reader, 2 * mappingCount);
  const functionCount = reader.count("function", FUNCTION_COLUMNS_SIGNED.length);
  const functionNameStr = readRefColumn(reader, functionCount, stringCount, "string");
  skipColumns(reader, 3 * functionCount);
  const locationCount = reader.count("location", LOCATION_COLUMNS_SIGNED.length);
  const locationMappingPlus1 = readRefColumn(reader, locationCount, mappingCount + 1, "mapping");
  const locationAddress = readColumn(reader, locationCount);
  const locationFunctionPlus1 = readRefColumn(reader, locationCount, functionCount + 1, "function");
  skipColumns(reader, locationCount);
  const stacks = readStackTree(reader, locationCount);
  reader.end();
  const strings = new Array<string>(stringCount);
  const decode = (i: number) => {
    if (strings[i] === undefined) strings[i] = column.string(i);
  };
  for (const i of functionNameStr) decode(i);
  for (const i of mappingFilenameStr) decode(i);
  return {
    strings,
    functionNameStr,
    locationCount,
    locationFunctionPlus1,
    locationAddress,
    locationMappingPlus1,
    mappingFilenameStr,
    stacks,
  };
}

/** Reads past `count` varints (signed or not: the same bytes). */
function skipColumns(reader: ByteReader, count: number): void {
  for (let i = 0; i < count; i++) reader.uvarint();
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

/**
 * A merged query result as a pprof (SelectMergeProfile, PROFILE_FORMAT_PPROF): one sample type
 * (the profile type's), every distinct stack once with its summed value, and the mappings,
 * functions and locations it uses deduplicated by content across datasets. Built from the
 * per-stack-node sums (not the name tree), so lines, addresses and mappings survive.
 *
 * One stored location is one frame, so a pprof location with inlined lines comes back as one
 * location per line (same mapping and address); the frames of a stack are unchanged.
 */
import { STACK_DEPTH_MAX } from "../block/format.ts";
import type { SymbolsSection } from "../block/symbols.ts";
import { noSampleLabels, type Pprof } from "../model/pprof.ts";
import { parseProfileTypeId } from "../model/profile-type.ts";
import { StringInterner } from "../model/string-interner.ts";

/** Output stack trie keys are parent·2^26 + location: both stay below 2^26 (and the key below 2^52). */
const KEY_FACTOR = 2 ** 26;

export interface PprofOutputOptions {
  /** Profile type ID; gives the sample type/unit and period type/unit. */
  profileType: string;
  timeNanos?: bigint;
  durationNanos?: bigint;
  /** pprof `period`; blocks do not keep it, so 0 unless the caller knows it. */
  period?: number;
}

/** Accumulates datasets' stack sums into one pprof. */
export class PprofBuilder {
  readonly #strings = new StringInterner({ initial: [""] });
  readonly #mappingKeys = new Map<string, number>();
  readonly #mappings: number[][] = [];
  readonly #functionKeys = new Map<string, number>();
  readonly #functions: number[][] = [];
  readonly #locationKeys = new Map<string, number>();
  readonly #locations: number[][] = [];
  /** Output stack trie: node → (parent, location); node 0 is the empty stack. */
  readonly #nodeKeys = new Map<number, number>();
  readonly #nodeParent: number[] = [-1];
  readonly #nodeLocation: number[] = [-1];
  readonly #nodeValue: number[] = [0];

  /** Adds one dataset: `nodeValues[node]` summed per stack node of `symbols.stacks`. */
  add(symbols: SymbolsSection, nodeValues: Float64Array): void {
    const { nodeCount, parent, location } = symbols.stacks;
    const needed = new Uint8Array(nodeCount);
    for (let i = nodeCount - 1; i > 0; i--) {
      if (needed[i] !== 0 || nodeValues[i] !== 0) needed[parent[i]!] = 1;
    }
    const locationOut = new Int32Array(symbols.locationCount).fill(-1);
    const mapped = new Int32Array(nodeCount);
    for (let i = 1; i < nodeCount; i++) {
      const value = nodeValues[i]!;
      if (needed[i] === 0 && value === 0) continue;
      const loc = location[i]!;
      let out = locationOut[loc]!;
      if (out < 0) {
        out = this.#location(symbols, loc);
        locationOut[loc] = out;
      }
      const node = this.#node(mapped[parent[i]!]!, out);
      mapped[i] = node;
      if (value !== 0) this.#nodeValue[node]! += value;
    }
  }

  #node(parent: number, location: number): number {
    if (!(location < KEY_FACTOR && parent < KEY_FACTOR))
      throw new RangeError("pprof output: too many stacks");
    const key = parent * KEY_FACTOR + location;
    let node = this.#nodeKeys.get(key);
    if (node === undefined) {
      node = this.#nodeParent.length;
      this.#nodeParent.push(parent);
      this.#nodeLocation.push(location);
      this.#nodeValue.push(0);
      this.#nodeKeys.set(key, node);
    }
    return node;
  }

  #location(symbols: SymbolsSection, loc: number): number {
    const mappingPlus1 = symbols.locationMappingPlus1[loc]!;
    const mapping = mappingPlus1 === 0 ? -1 : this.#mapping(symbols, mappingPlus1 - 1);
    const functionPlus1 = symbols.locationFunctionPlus1[loc]!;
    const fn = functionPlus1 === 0 ? -1 : this.#function(symbols, functionPlus1 - 1);
    const row = [mapping + 1, symbols.locationAddress[loc]!, fn + 1, symbols.locationLine[loc]!];
    return intern(this.#locationKeys, this.#locations, row);
  }

  #mapping(symbols: SymbolsSection, m: number): number {
    const row = [
      symbols.mappingStart[m]!,
      symbols.mappingLimit[m]!,
      symbols.mappingOffset[m]!,
      this.#strings.id(symbols.strings[symbols.mappingFilenameStr[m]!]!),
      this.#strings.id(symbols.strings[symbols.mappingBuildIdStr[m]!]!),
      symbols.mappingFlags[m]!,
    ];
    return intern(this.#mappingKeys, this.#mappings, row);
  }

  #function(symbols: SymbolsSection, f: number): number {
    const s = symbols.strings;
    const row = [
      this.#strings.id(s[symbols.functionNameStr[f]!]!),
      this.#strings.id(s[symbols.functionSystemNameStr[f]!]!),
      this.#strings.id(s[symbols.functionFilenameStr[f]!]!),
      symbols.functionStartLine[f]!,
    ];
    return intern(this.#functionKeys, this.#functions, row);
  }

  /** The pprof: one sample per distinct stack with a non-zero sum, stacks leaf first. */
  build(options: PprofOutputOptions): Pprof {
    const type = parseProfileTypeId(options.profileType);
    const strings = this.#strings;
    const sampleTypeStr = Uint32Array.of(strings.id(type.sampleType));
    const sampleUnitStr = Uint32Array.of(strings.id(type.sampleUnit));
    const hasPeriodType = type.periodType !== "" || type.periodUnit !== "";
    const periodTypeStr = hasPeriodType ? strings.id(type.periodType) : 0;
    const periodUnitStr = hasPeriodType ? strings.id(type.periodUnit) : 0;

    const sampleNodes: number[] = [];
    let frameCount = 0;
    const depth = new Int32Array(this.#nodeParent.length);
    for (let node = 1; node < this.#nodeParent.length; node++) {
      depth[node] = depth[this.#nodeParent[node]!]! + 1;
      if (!(depth[node]! <= STACK_DEPTH_MAX))
        throw new RangeError(`pprof output: stack deeper than ${STACK_DEPTH_MAX}`);
      if (this.#nodeValue[node] !== 0) {
        sampleNodes.push(node);
        frameCount += depth[node]!;
      }
    }
    const sampleCount = sampleNodes.length;
    const sampleLocationOffsets = new Uint32Array(sampleCount + 1);
    const sampleLocations = new Uint32Array(frameCount);
    const sampleValues = new Float64Array(sampleCount);
    let at = 0;
    sampleNodes.forEach((node, s) => {
      sampleLocationOffsets[s] = at;
      sampleValues[s] = this.#nodeValue[node]!;
      for (let n = node; n > 0; n = this.#nodeParent[n]!) sampleLocations[at++] = this.#nodeLocation[n]!;
    });
    sampleLocationOffsets[sampleCount] = at;

    const locs = this.#locations;
    const lineOffsets = new Uint32Array(locs.length + 1);
    const lineFunctions: number[] = [];
    const lineNumbers: number[] = [];
    locs.forEach((row, i) => {
      lineOffsets[i] = lineFunctions.length;
      if (row[2] !== 0) {
        lineFunctions.push(row[2]!);
        lineNumbers.push(row[3]!);
      }
    });
    lineOffsets[locs.length] = lineFunctions.length;
    const column = (rows: number[][], c: number) => rows.map((row) => row[c]!);
    const fns = this.#functions;
    const maps = this.#mappings;
    return {
      strings: strings.list,
      sampleTypeStr,
      sampleUnitStr,
      periodTypeStr,
      periodUnitStr,
      hasPeriodType,
      period: options.period ?? 0,
      timeNanos: options.timeNanos ?? 0n,
      durationNanos: options.durationNanos ?? 0n,
      defaultSampleTypeStr: 0,
      dropFramesStr: 0,
      keepFramesStr: 0,
      commentStrs: [],
      sampleCount,
      sampleLocationOffsets,
      sampleLocations,
      sampleValues,
      ...noSampleLabels(sampleCount),
      locationCount: locs.length,
      locationId: Float64Array.from(locs, (_, i) => i + 1),
      locationMappingPlus1: Uint32Array.from(column(locs, 0)),
      locationAddress: Float64Array.from(column(locs, 1)),
      locationIsFolded: new Uint8Array(locs.length),
      locationLineOffsets: lineOffsets,
      lineFunctionPlus1: Uint32Array.from(lineFunctions),
      lineNumber: Float64Array.from(lineNumbers),
      functionCount: fns.length,
      functionId: Float64Array.from(fns, (_, i) => i + 1),
      functionNameStr: Uint32Array.from(column(fns, 0)),
      functionSystemNameStr: Uint32Array.from(column(fns, 1)),
      functionFilenameStr: Uint32Array.from(column(fns, 2)),
      functionStartLine: Float64Array.from(column(fns, 3)),
      mappingCount: maps.length,
      mappingId: Float64Array.from(maps, (_, i) => i + 1),
      mappingStart: Float64Array.from(column(maps, 0)),
      mappingLimit: Float64Array.from(column(maps, 1)),
      mappingOffset: Float64Array.from(column(maps, 2)),
      mappingFilenameStr: Uint32Array.from(column(maps, 3)),
      mappingBuildIdStr: Uint32Array.from(column(maps, 4)),
      mappingFlags: Uint8Array.from(column(maps, 5)),
    };
  }
}

function intern(keys: Map<string, number>, rows: number[][], row: number[]): number {
  const key = row.join(",");
  let id = keys.get(key);
  if (id === undefined) {
    id = rows.length;
    rows.push(row);
    keys.set(key, id);
  }
  return id;
}

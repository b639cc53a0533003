/**
 * Hot-path pprof decoder (wire reference §1): gzipped or raw `profile.proto` bytes → the
 * columnar `Pprof` of src/model/pprof.ts, with no generic protobuf library and no object per
 * sample, location or function.
 *
 * Two passes over the message. Pass 1 walks only the top-level fields: it decodes the string
 * table and scalars and records where each Sample, Location, Function and Mapping message
 * starts and ends. Pass 2 decodes those messages straight into typed arrays, mappings and
 * functions first so that locations and samples can resolve their id references to indices
 * as they go (ids are arbitrary keys; see id-index.ts).
 *
 * Accepted: packed and unpacked repeated scalars, unknown fields of every wire type except
 * groups, negative int64 (10-byte varints), profiles without a string table. Rejected as
 * KilnError("invalid_argument", "malformed_pprof") with the byte offset: truncation, bad
 * lengths, string indices out of range, references to missing ids, samples whose value count
 * differs from the number of sample types, and string_table[0] other than "".
 */
import type { Pprof } from "../../model/pprof.ts";
import { IdIndex, type IdKey } from "./id-index.ts";
import { inflateProfile, inflateProfileAsync } from "./inflate.ts";
import { scratchF64, scratchU32, trimScratch } from "./scratch.ts";
import { StringDecoder } from "./string-table.ts";
import { malformedAt, WireReader, WireType } from "./wire-reader.ts";

export interface DecodePprofOptions {
  /** Cap on the decompressed (or raw) protobuf size: max_profile_size_bytes. */
  maxDecompressedBytes: number;
  /**
   * Invalid UTF-8 in string_table: "replace" (default) decodes it with U+FFFD; "reject"
   * fails with malformed_pprof, as Pyroscope's Push path does.
   */
  invalidUtf8?: "replace" | "reject";
}

export function decodePprof(bytes: Uint8Array, opts: DecodePprofOptions): Pprof {
  return decodeInflated(inflateProfile(bytes, opts.maxDecompressedBytes), opts);
}

/** `decodePprof` with the gunzip off the event loop (libuv's thread pool); the parse stays here. */
export async function decodePprofAsync(bytes: Uint8Array, opts: DecodePprofOptions): Promise<Pprof> {
  return decodeInflated(await inflateProfileAsync(bytes, opts.maxDecompressedBytes), opts);
}

function decodeInflated(raw: Uint8Array, opts: DecodePprofOptions): Pprof {
  try {
    return decodePprofMessage(raw, opts.invalidUtf8 === "reject");
  } finally {
    trimScratch();
  }
}

/** Start/end offsets of the sub-messages of one repeated field, in wire order. */
class Spans {
  starts = new Int32Array(64);
  ends = new Int32Array(64);
  count = 0;
  totalBytes = 0;

  push(start: number, end: number): void {
    if (this.count === this.starts.length) {
      const starts = new Int32Array(this.count * 2);
      starts.set(this.starts);
      this.starts = starts;
      const ends = new Int32Array(this.count * 2);
      ends.set(this.ends);
      this.ends = ends;
    }
    this.starts[this.count] = start;
    this.ends[this.count] = end;
    this.count++;
    this.totalBytes += end - start;
  }
}

/** Tags as they appear on the wire: field number << 3 | wire type. */
const tagOf = (field: number, wireType: number): number => field * 8 + wireType;

interface TopLevel {
  strings: string[];
  sampleTypes: number[];
  samples: Spans;
  locations: Spans;
  functions: Spans;
  mappings: Spans;
  periodTypeStr: number;
  periodUnitStr: number;
  hasPeriodType: boolean;
  period: number;
  timeNanos: bigint;
  durationNanos: bigint;
  defaultSampleTypeStr: number;
  dropFramesStr: number;
  keepFramesStr: number;
  commentStrs: number[];
  /** Byte offsets of every string index read at top level, for error messages. */
  stringRefs: number[];
}

function decodePprofMessage(buf: Uint8Array, rejectInvalidUtf8: boolean): Pprof {
  const r = new WireReader(buf);
  const top = readTopLevel(r, new StringDecoder(buf, rejectInvalidUtf8));
  const strings = top.strings;
  if (strings.length === 0) strings.push(""); // An empty table is an empty profile's; index 0 is "" by definition.
  if (strings[0] !== "")
    throw malformedAt(0, `string_table[0] must be "", got ${JSON.stringify(strings[0])}`);
  const nStrings = strings.length;
  for (let i = 0; i < top.stringRefs.length; i += 2) {
    checkStr(top.stringRefs[i + 1]!, nStrings, top.stringRefs[i]!, "profile");
  }

  const sampleTypeCount = top.sampleTypes.length / 2;
  const sampleTypeStr = new Uint32Array(sampleTypeCount);
  const sampleUnitStr = new Uint32Array(sampleTypeCount);
  for (let i = 0; i < sampleTypeCount; i++) {
    sampleTypeStr[i] = top.sampleTypes[2 * i]!;
    sampleUnitStr[i] = top.sampleTypes[2 * i + 1]!;
  }

  const mappings = decodeMappings(r, top.mappings, nStrings);
  const functions = decodeFunctions(r, top.functions, nStrings);
  repairAllZeroFunctionIds(r, functions.index, top.locations);
  const locations = decodeLocations(r, top.locations, mappings.index, functions.index);
  const samples = decodeSamples(r, top.samples, sampleTypeCount, locations.index, nStrings);

  return {
    strings,
    sampleTypeStr,
    sampleUnitStr,
    periodTypeStr: top.periodTypeStr,
    periodUnitStr: top.periodUnitStr,
    hasPeriodType: top.hasPeriodType,
    period: top.period,
    timeNanos: top.timeNanos,
    durationNanos: top.durationNanos,
    defaultSampleTypeStr: top.defaultSampleTypeStr,
    dropFramesStr: top.dropFramesStr,
    keepFramesStr: top.keepFramesStr,
    commentStrs: top.commentStrs,

    sampleCount: top.samples.count,
    sampleLocationOffsets: samples.locationOffsets,
    sampleLocations: samples.locations,
    sampleValues: samples.values,
    sampleLabelOffsets: samples.labelOffsets,
    labelKeyStr: samples.labelKeyStr,
    labelValueStr: samples.labelValueStr,
    labelNum: samples.labelNum,
    labelNumUnitStr: samples.labelNumUnitStr,

    locationCount: top.locations.count,
    locationId: locations.index.ids,
    locationMappingPlus1: locations.mappingPlus1,
    locationAddress: locations.address,
    locationIsFolded: locations.isFolded,
    locationLineOffsets: locations.lineOffsets,
    lineFunctionPlus1: locations.lineFunctionPlus1,
    lineNumber: locations.lineNumber,

    functionCount: top.functions.count,
    functionId: functions.index.ids,
    functionNameStr: functions.nameStr,
    functionSystemNameStr: functions.systemNameStr,
    functionFilenameStr: functions.filenameStr,
    functionStartLine: functions.startLine,

    mappingCount: top.mappings.count,
    mappingId: mappings.index.ids,
    mappingStart: mappings.start,
    mappingLimit: mappings.limit,
    mappingOffset: mappings.offset,
    mappingFilenameStr: mappings.filenameStr,
    mappingBuildIdStr: mappings.buildIdStr,
    mappingFlags: mappings.flags,
  };
}

function checkStr(index: number, nStrings: number, at: number, what: string): number {
  if (!(index >= 0 && index < nStrings)) {
    throw malformedAt(
      at,
      `${what} string index ${index} out of range (string table has ${nStrings} entries)`,
    );
  }
  return index;
}

function expectWireType(wireType: number, want: number, field: number, at: number): void {
  if (wireType !== want) throw malformedAt(at, `field ${field} has wire type ${wireType}, want ${want}`);
}

/** Reads a varint id; ids of 2^53 and above come back as exact decimal strings. */
function readId(r: WireReader): IdKey {
  const at = r.pos;
  const v = r.varint();
  if (!r.lossy) return v;
  r.lossy = false;
  return r.exactKeyAt(at);
}

function readTopLevel(r: WireReader, text: StringDecoder): TopLevel {
  const top: TopLevel = {
    strings: [],
    sampleTypes: [],
    samples: new Spans(),
    locations: new Spans(),
    functions: new Spans(),
    mappings: new Spans(),
    periodTypeStr: 0,
    periodUnitStr: 0,
    hasPeriodType: false,
    period: 0,
    timeNanos: 0n,
    durationNanos: 0n,
    defaultSampleTypeStr: 0,
    dropFramesStr: 0,
    keepFramesStr: 0,
    commentStrs: [],
    stringRefs: [],
  };
  const strRef = (at: number): number => {
    const v = r.int64();
    top.stringRefs.push(at, v);
    return v;
  };
  while (r.pos < r.end) {
    const at = r.pos;
    const tag = r.tag();
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    switch (field) {
      case 0:
        throw malformedAt(at, "field number 0");
      case 1: {
        expectWireType(wireType, WireType.bytes, field, at);
        const [type, unit] = readValueType(r, strRef);
        top.sampleTypes.push(type, unit);
        break;
      }
      case 2:
      case 3:
      case 4:
      case 5: {
        expectWireType(wireType, WireType.bytes, field, at);
        const end = r.lengthEnd();
        const spans =
          field === 2
            ? top.samples
            : field === 3
              ? top.mappings
              : field === 4
                ? top.locations
                : top.functions;
        spans.push(r.pos, end);
        r.pos = end;
        break;
      }
      case 6: {
        expectWireType(wireType, WireType.bytes, field, at);
        const end = r.lengthEnd();
        top.strings.push(text.decode(r.pos, end));
        r.pos = end;
        break;
      }
      case 7:
        expectWireType(wireType, WireType.varint, field, at);
        top.dropFramesStr = strRef(at);
        break;
      case 8:
        expectWireType(wireType, WireType.varint, field, at);
        top.keepFramesStr = strRef(at);
        break;
      case 9:
        expectWireType(wireType, WireType.varint, field, at);
        top.timeNanos = r.int64Big();
        break;
      case 10:
        expectWireType(wireType, WireType.varint, field, at);
        top.durationNanos = r.int64Big();
        break;
      case 11: {
        expectWireType(wireType, WireType.bytes, field, at);
        const [type, unit] = readValueType(r, strRef);
        top.periodTypeStr = type;
        top.periodUnitStr = unit;
        top.hasPeriodType = true;
        break;
      }
      case 12:
        expectWireType(wireType, WireType.varint, field, at);
        top.period = r.int64();
        break;
      case 13:
        if (wireType === WireType.bytes) {
          const end = r.lengthEnd();
          const saved = r.end;
          r.end = end;
          while (r.pos < end) top.commentStrs.push(strRef(r.pos));
          r.end = saved;
        } else {
          expectWireType(wireType, WireType.varint, field, at);
          top.commentStrs.push(strRef(at));
        }
        break;
      case 14:
        expectWireType(wireType, WireType.varint, field, at);
        top.defaultSampleTypeStr = strRef(at);
        break;
      default:
        r.skip(wireType, at);
    }
  }
  return top;
}

/** ValueType { type = 1, unit = 2 } → string indices (checked later against the table). */
function readValueType(r: WireReader, strRef: (at: number) => number): [number, number] {
  const end = r.lengthEnd();
  const saved = r.end;
  r.end = end;
  let type = 0;
  let unit = 0;
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.tag();
    if (tag === tagOf(1, WireType.varint)) type = strRef(at);
    else if (tag === tagOf(2, WireType.varint)) unit = strRef(at);
    else r.skip(tag & 7, at);
  }
  r.end = saved;
  return [type, unit];
}

function decodeMappings(r: WireReader, spans: Spans, nStrings: number) {
  const n = spans.count;
  const out = {
    index: new IdIndex("mapping", n),
    start: new Float64Array(n),
    limit: new Float64Array(n),
    offset: new Float64Array(n),
    filenameStr: new Uint32Array(n),
    buildIdStr: new Uint32Array(n),
    flags: new Uint8Array(n),
  };
  for (let i = 0; i < n; i++) {
    r.pos = spans.starts[i]!;
    r.end = spans.ends[i]!;
    let id: IdKey = 0;
    let flags = 0;
    while (r.pos < r.end) {
      const at = r.pos;
      const tag = r.tag();
      switch (tag) {
        case tagOf(1, WireType.varint):
          id = readId(r);
          break;
        case tagOf(2, WireType.varint):
          out.start[i] = r.varint();
          r.lossy = false;
          break;
        case tagOf(3, WireType.varint):
          out.limit[i] = r.varint();
          r.lossy = false;
          break;
        case tagOf(4, WireType.varint):
          out.offset[i] = r.varint();
          r.lossy = false;
          break;
        case tagOf(5, WireType.varint):
          out.filenameStr[i] = checkStr(r.int64(), nStrings, at, "mapping filename");
          break;
        case tagOf(6, WireType.varint):
          out.buildIdStr[i] = checkStr(r.int64(), nStrings, at, "mapping build_id");
          break;
        case tagOf(7, WireType.varint):
          if (r.varint() !== 0) flags |= 1;
          break;
        case tagOf(8, WireType.varint):
          if (r.varint() !== 0) flags |= 2;
          break;
        case tagOf(9, WireType.varint):
          if (r.varint() !== 0) flags |= 4;
          break;
        case tagOf(10, WireType.varint):
          if (r.varint() !== 0) flags |= 8;
          break;
        default:
          r.skip(tag & 7, at);
      }
      r.lossy = false;
    }
    out.flags[i] = flags;
    out.index.set(i, id);
  }
  out.index.seal();
  return out;
}

function decodeFunctions(r: WireReader, spans: Spans, nStrings: number) {
  const n = spans.count;
  const out = {
    index: new IdIndex("function", n),
    nameStr: new Uint32Array(n),
    systemNameStr: new Uint32Array(n),
    filenameStr: new Uint32Array(n),
    startLine: new Float64Array(n),
  };
  for (let i = 0; i < n; i++) {
    r.pos = spans.starts[i]!;
    r.end = spans.ends[i]!;
    let id: IdKey = 0;
    while (r.pos < r.end) {
      const at = r.pos;
      const tag = r.tag();
      switch (tag) {
        case tagOf(1, WireType.varint):
          id = readId(r);
          break;
        case tagOf(2, WireType.varint):
          out.nameStr[i] = checkStr(r.int64(), nStrings, at, "function name");
          break;
        case tagOf(3, WireType.varint):
          out.systemNameStr[i] = checkStr(r.int64(), nStrings, at, "function system_name");
          break;
        case tagOf(4, WireType.varint):
          out.filenameStr[i] = checkStr(r.int64(), nStrings, at, "function filename");
          break;
        case tagOf(5, WireType.varint):
          out.startLine[i] = r.int64();
          break;
        default:
          r.skip(tag & 7, at);
      }
    }
    // Not sealed yet: repairAllZeroFunctionIds may still assign ids.
    out.index.set(i, id);
  }
  return out;
}

/**
 * Some .NET profilers write every Function.id as 0 while lines reference ids 1..n, with one
 * function per location (testdata pprof/pyroscope-dotnet-3.pb). Pyroscope's /ingest path repairs
 * this by giving function i the id of location i (FixFunctionIDForBrokenDotnet); Kiln does the
 * same here so both ingest paths accept such profiles. Then seals the function index.
 */
function repairAllZeroFunctionIds(r: WireReader, functions: IdIndex, locations: Spans): void {
  const n = functions.ids.length;
  let allZero = n > 0 && n === locations.count && functions.bigKeys === undefined;
  for (let i = 0; allZero && i < n; i++) if (functions.ids[i] !== 0) allZero = false;
  if (allZero) {
    for (let i = 0; i < n; i++) {
      r.pos = locations.starts[i]!;
      r.end = locations.ends[i]!;
      let id: IdKey = 0;
      while (r.pos < r.end) {
        const at = r.pos;
        const tag = r.tag();
        if (tag === tagOf(1, WireType.varint)) id = readId(r);
        else r.skip(tag & 7, at);
      }
      functions.set(i, id);
    }
  }
  functions.seal();
}

function decodeLocations(r: WireReader, spans: Spans, mappings: IdIndex, functions: IdIndex) {
  const n = spans.count;
  const index = new IdIndex("location", n);
  const mappingPlus1 = new Uint32Array(n);
  const address = new Float64Array(n);
  const isFolded = new Uint8Array(n);
  const lineOffsets = new Uint32Array(n + 1);
  // A Line message takes at least 2 bytes (tag + length), which bounds the line count.
  const maxLines = (spans.totalBytes >>> 1) + 1;
  const lineFn = scratchU32(0, maxLines);
  const lineNo = scratchF64(maxLines);
  let nLines = 0;
  for (let i = 0; i < n; i++) {
    r.pos = spans.starts[i]!;
    const locEnd = spans.ends[i]!;
    r.end = locEnd;
    let id: IdKey = 0;
    while (r.pos < locEnd) {
      const at = r.pos;
      const tag = r.tag();
      switch (tag) {
        case tagOf(1, WireType.varint):
          id = readId(r);
          break;
        case tagOf(2, WireType.varint): {
          const m = readId(r);
          mappingPlus1[i] = m === 0 ? 0 : mappings.resolve(m, at) + 1;
          break;
        }
        case tagOf(3, WireType.varint):
          address[i] = r.varint();
          r.lossy = false;
          break;
        case tagOf(4, WireType.bytes): {
          const lineEnd = r.lengthEnd();
          r.end = lineEnd;
          let fnPlus1 = 0;
          let line = 0;
          while (r.pos < lineEnd) {
            const lat = r.pos;
            const ltag = r.tag();
            if (ltag === tagOf(1, WireType.varint)) {
              const f = readId(r);
              fnPlus1 = f === 0 ? 0 : functions.resolve(f, lat) + 1;
            } else if (ltag === tagOf(2, WireType.varint)) {
              line = r.int64();
            } else {
              r.skip(ltag & 7, lat);
            }
          }
          r.end = locEnd;
          lineFn[nLines] = fnPlus1;
          lineNo[nLines] = line;
          nLines++;
          break;
        }
        case tagOf(5, WireType.varint):
          isFolded[i] = r.varint() !== 0 ? 1 : 0;
          r.lossy = false;
          break;
        default:
          r.skip(tag & 7, at);
      }
    }
    index.set(i, id);
    lineOffsets[i + 1] = nLines;
  }
  index.seal();
  return {
    index,
    mappingPlus1,
    address,
    isFolded,
    lineOffsets,
    lineFunctionPlus1: lineFn.slice(0, nLines),
    lineNumber: lineNo.slice(0, nLines),
  };
}

function decodeSamples(
  r: WireReader,
  spans: Spans,
  sampleTypeCount: number,
  locations: IdIndex,
  nStrings: number,
) {
  const n = spans.count;
  const locationOffsets = new Uint32Array(n + 1);
  const labelOffsets = new Uint32Array(n + 1);
  const values = new Float64Array(n * sampleTypeCount);
  // Every location id and every label takes at least one byte of the sample messages.
  const maxEntries = spans.totalBytes + 1;
  const stack = scratchU32(0, maxEntries);
  const labelKey = scratchU32(1, maxEntries);
  const labelStr = scratchU32(2, maxEntries);
  const labelUnit = scratchU32(3, maxEntries);
  const labelNum = scratchF64(maxEntries);
  const locIds = locations.ids;
  const nLoc = locIds.length;
  let nStack = 0;
  let nLabels = 0;

  for (let s = 0; s < n; s++) {
    r.pos = spans.starts[s]!;
    const sampleEnd = spans.ends[s]!;
    r.end = sampleEnd;
    const valueBase = s * sampleTypeCount;
    let nValues = 0;
    while (r.pos < sampleEnd) {
      const at = r.pos;
      const tag = r.tag();
      switch (tag) {
        case tagOf(1, WireType.bytes): {
          const packedEnd = r.lengthEnd();
          r.end = packedEnd;
          while (r.pos < packedEnd) {
            const idAt = r.pos;
            const v = r.varint();
            let li = v - 1;
            // Fast path: id == index + 1 (see id-index.ts); anything else goes through the index.
            if (r.lossy || !(li >= 0 && li < nLoc && locIds[li] === v)) {
              let key: IdKey = v;
              if (r.lossy) {
                r.lossy = false;
                key = r.exactKeyAt(idAt);
              }
              li = locations.resolve(key, idAt);
            }
            stack[nStack++] = li;
          }
          r.end = sampleEnd;
          break;
        }
        case tagOf(1, WireType.varint):
          stack[nStack++] = locations.resolve(readId(r), at);
          break;
        case tagOf(2, WireType.bytes): {
          const packedEnd = r.lengthEnd();
          r.end = packedEnd;
          while (r.pos < packedEnd) {
            if (nValues === sampleTypeCount) throw tooManyValues(r.pos, s, sampleTypeCount);
            values[valueBase + nValues++] = r.int64();
          }
          r.end = sampleEnd;
          break;
        }
        case tagOf(2, WireType.varint):
          if (nValues === sampleTypeCount) throw tooManyValues(at, s, sampleTypeCount);
          values[valueBase + nValues++] = r.int64();
          break;
        case tagOf(3, WireType.bytes): {
          const labelEnd = r.lengthEnd();
          r.end = labelEnd;
          let key = 0;
          let str = 0;
          let num = 0;
          let unit = 0;
          while (r.pos < labelEnd) {
            const lat = r.pos;
            const ltag = r.tag();
            switch (ltag) {
              case tagOf(1, WireType.varint):
                key = checkStr(r.int64(), nStrings, lat, "label key");
                break;
              case tagOf(2, WireType.varint):
                str = checkStr(r.int64(), nStrings, lat, "label str");
                break;
              case tagOf(3, WireType.varint):
                num = r.int64();
                break;
              case tagOf(4, WireType.varint):
                unit = checkStr(r.int64(), nStrings, lat, "label num_unit");
                break;
              default:
                r.skip(ltag & 7, lat);
            }
          }
          r.end = sampleEnd;
          labelKey[nLabels] = key;
          labelStr[nLabels] = str;
          labelNum[nLabels] = num;
          labelUnit[nLabels] = unit;
          nLabels++;
          break;
        }
        default:
          r.skip(tag & 7, at);
      }
    }
    if (nValues !== sampleTypeCount) {
      throw malformedAt(
        spans.starts[s]!,
        `sample ${s} has ${nValues} values but the profile has ${sampleTypeCount} sample types`,
      );
    }
    locationOffsets[s + 1] = nStack;
    labelOffsets[s + 1] = nLabels;
  }
  return {
    locationOffsets,
    locations: stack.slice(0, nStack),
    values,
    labelOffsets,
    labelKeyStr: labelKey.slice(0, nLabels),
    labelValueStr: labelStr.slice(0, nLabels),
    labelNum: labelNum.slice(0, nLabels),
    labelNumUnitStr: labelUnit.slice(0, nLabels),
  };
}

function tooManyValues(at: number, sample: number, sampleTypeCount: number) {
  return malformedAt(at, `sample ${sample} has more values than the ${sampleTypeCount} sample types`);
}

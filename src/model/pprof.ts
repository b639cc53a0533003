/**
 * The in-memory form of one pprof profile (wire reference §1), as produced by the hot-path
 * decoder in src/formats/pprof and by the text-format converters (folded, lines, …).
 *
 * Columnar on purpose: one typed array per field instead of one JS object per sample, so a
 * 16,000-sample profile costs a handful of allocations. Conventions:
 * - Every `*Str` field is an index into `strings` (`strings[0] === ""`).
 * - Entity references (sample → location, location → mapping, line → function) are resolved
 *   from pprof ids to **array indices** by the decoder. For optional references, the
 *   `*Plus1` arrays hold index + 1 and 0 means "none".
 * - 64-bit integers that fit in a double exactly (values, lines, addresses up to 2^53) are
 *   numbers; timestamps are bigint because nanoseconds since 1970 exceed 2^53.
 * - `*Offsets` arrays have length count + 1: the items of entry i are
 *   `[offsets[i], offsets[i + 1])` of the matching flat array.
 */
export interface Pprof {
  strings: string[];

  /** One entry per value column. */
  sampleTypeStr: Uint32Array;
  sampleUnitStr: Uint32Array;
  /** 0 when the profile has no period_type. */
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

  /** Samples. Values are row-major: sample i, type t at `sampleValues[i * sampleTypeCount + t]`. */
  sampleCount: number;
  sampleLocationOffsets: Uint32Array;
  /** Location indices, leaf first (`[0]` is the innermost frame). */
  sampleLocations: Uint32Array;
  sampleValues: Float64Array;
  sampleLabelOffsets: Uint32Array;
  labelKeyStr: Uint32Array;
  /** 0 for a numeric label. */
  labelValueStr: Uint32Array;
  labelNum: Float64Array;
  labelNumUnitStr: Uint32Array;

  /** Locations. */
  locationCount: number;
  locationId: Float64Array;
  locationMappingPlus1: Uint32Array;
  locationAddress: Float64Array;
  locationIsFolded: Uint8Array;
  locationLineOffsets: Uint32Array;
  /** Lines, innermost (inlined callee) first, the last one is the caller it was inlined into. */
  lineFunctionPlus1: Uint32Array;
  lineNumber: Float64Array;

  /** Functions. */
  functionCount: number;
  functionId: Float64Array;
  functionNameStr: Uint32Array;
  functionSystemNameStr: Uint32Array;
  functionFilenameStr: Uint32Array;
  functionStartLine: Float64Array;

  /** Mappings. */
  mappingCount: number;
  mappingId: Float64Array;
  mappingStart: Float64Array;
  mappingLimit: Float64Array;
  mappingOffset: Float64Array;
  mappingFilenameStr: Uint32Array;
  mappingBuildIdStr: Uint32Array;
  /** Bit 0 has_functions, 1 has_filenames, 2 has_line_numbers, 3 has_inline_frames. */
  mappingFlags: Uint8Array;
}

/** The sample-label columns of a pprof whose samples carry no labels. */
export function noSampleLabels(
  sampleCount: number,
): Pick<Pprof, "sampleLabelOffsets" | "labelKeyStr" | "labelValueStr" | "labelNum" | "labelNumUnitStr"> {
  return {
    sampleLabelOffsets: new Uint32Array(sampleCount + 1),
    labelKeyStr: new Uint32Array(0),
    labelValueStr: new Uint32Array(0),
    labelNum: new Float64Array(0),
    labelNumUnitStr: new Uint32Array(0),
  };
}

/**
 * `Pprof` → plain (not gzipped) `profile.proto` bytes (wire reference §1). Used by tests, the
 * golden comparisons and query export. Ids are written as index + 1 (the convention every
 * reader's fast path expects); the decoder's index references become those ids again.
 * Repeated scalars are packed, as proto3 writers do.
 */
import type { Pprof } from "../../model/pprof.ts";
import { WireWriter } from "./wire-writer.ts";

export function encodePprof(p: Pprof): Uint8Array {
  const w = new WireWriter();
  const nTypes = p.sampleTypeStr.length;
  for (let t = 0; t < nTypes; t++) w.messageField(1, valueType(p.sampleTypeStr[t]!, p.sampleUnitStr[t]!));

  for (let s = 0; s < p.sampleCount; s++) {
    const m = new WireWriter();
    const locs = new WireWriter();
    for (let i = p.sampleLocationOffsets[s]!; i < p.sampleLocationOffsets[s + 1]!; i++)
      locs.uvarint(p.sampleLocations[i]! + 1);
    const locBytes = locs.finish();
    if (locBytes.length > 0) m.bytesField(1, locBytes);
    m.packedField(2, p.sampleValues, s * nTypes, (s + 1) * nTypes);
    for (let l = p.sampleLabelOffsets[s]!; l < p.sampleLabelOffsets[s + 1]!; l++) {
      const lm = new WireWriter();
      lm.varintField(1, p.labelKeyStr[l]!);
      lm.varintField(2, p.labelValueStr[l]!);
      lm.varintField(3, p.labelNum[l]!);
      lm.varintField(4, p.labelNumUnitStr[l]!);
      m.messageField(3, lm);
    }
    w.messageField(2, m);
  }

  for (let i = 0; i < p.mappingCount; i++) {
    const m = new WireWriter();
    m.varintField(1, i + 1);
    m.varintField(2, p.mappingStart[i]!);
    m.varintField(3, p.mappingLimit[i]!);
    m.varintField(4, p.mappingOffset[i]!);
    m.varintField(5, p.mappingFilenameStr[i]!);
    m.varintField(6, p.mappingBuildIdStr[i]!);
    const flags = p.mappingFlags[i]!;
    for (let bit = 0; bit < 4; bit++) m.varintField(7 + bit, (flags >> bit) & 1);
    w.messageField(3, m);
  }

  for (let i = 0; i < p.locationCount; i++) {
    const m = new WireWriter();
    m.varintField(1, i + 1);
    m.varintField(2, p.locationMappingPlus1[i]!);
    m.varintField(3, p.locationAddress[i]!);
    for (let l = p.locationLineOffsets[i]!; l < p.locationLineOffsets[i + 1]!; l++) {
      const lm = new WireWriter();
      lm.varintField(1, p.lineFunctionPlus1[l]!);
      lm.varintField(2, p.lineNumber[l]!);
      m.messageField(4, lm);
    }
    m.varintField(5, p.locationIsFolded[i]!);
    w.messageField(4, m);
  }

  for (let i = 0; i < p.functionCount; i++) {
    const m = new WireWriter();
    m.varintField(1, i + 1);
    m.varintField(2, p.functionNameStr[i]!);
    m.varintField(3, p.functionSystemNameStr[i]!);
    m.varintField(4, p.functionFilenameStr[i]!);
    m.varintField(5, p.functionStartLine[i]!);
    w.messageField(5, m);
  }

  for (const s of p.strings) w.stringField(6, s);
  w.varintField(7, p.dropFramesStr);
  w.varintField(8, p.keepFramesStr);
  if (p.timeNanos !== 0n) {
    w.tag(9, 0);
    w.int64Big(p.timeNanos);
  }
  if (p.durationNanos !== 0n) {
    w.tag(10, 0);
    w.int64Big(p.durationNanos);
  }
  if (p.hasPeriodType) w.messageField(11, valueType(p.periodTypeStr, p.periodUnitStr));
  w.varintField(12, p.period);
  w.packedField(13, p.commentStrs);
  w.varintField(14, p.defaultSampleTypeStr);
  return w.finish();
}

function valueType(type: number, unit: number): WireWriter {
  const m = new WireWriter();
  m.varintField(1, type);
  m.varintField(2, unit);
  return m;
}

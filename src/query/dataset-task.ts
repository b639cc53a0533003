/**
 * The per-dataset work a query hands to a worker thread (or runs in-process): decode the
 * dataset's framed profiles (and symbols) sections, summarize the profiles, and optionally sum
 * and resolve the selected series into a partial name tree. Pure: framed bytes in, plain
 * arrays out, so the answer does not depend on where it runs.
 */
import { describeSection, SectionKind } from "../block/format.ts";
import { decodeProfiles } from "../block/profiles-section.ts";
import { unframeSection } from "../block/section.ts";
import { decodeSymbols } from "../block/symbols.ts";
import { buildPartialTree, type PartialTree, type ProfileSummary, summarizeProfiles } from "./aggregate.ts";
import { selectProfileRows } from "./select.ts";

export interface FramedSection {
  offset: number;
  bytes: Uint8Array;
}

export interface DatasetTask {
  objectKey: string;
  /** "tenant/service", for messages. */
  dataset: string;
  profiles: FramedSection;
  /** With `series`: build the partial tree of those series (every profile of them). */
  symbols?: FramedSection;
  series?: Uint32Array;
}

export interface DatasetTaskResult {
  summary: ProfileSummary;
  partial?: PartialTree;
}

/** Every time a profile can have: selecting with it keeps all rows of the series. */
const ALL_TIME_MS = 8.64e15;

export function runDatasetTask(task: DatasetTask): DatasetTaskResult {
  const context = (kind: number, offset: number) => ({
    objectKey: task.objectKey,
    dataset: task.dataset,
    kind,
    offset,
  });
  const profilesContext = context(SectionKind.profiles, task.profiles.offset);
  const profiles = decodeProfiles(
    unframeSection(task.profiles.bytes, profilesContext),
    describeSection(profilesContext),
  );
  const result: DatasetTaskResult = { summary: summarizeProfiles(profiles) };
  if (task.series !== undefined && task.symbols !== undefined) {
    const symbolsContext = context(SectionKind.symbols, task.symbols.offset);
    const symbols = decodeSymbols(
      unframeSection(task.symbols.bytes, symbolsContext),
      describeSection(symbolsContext),
    );
    const rows = selectProfileRows(profiles, task.series, -ALL_TIME_MS, ALL_TIME_MS);
    result.partial = buildPartialTree(symbols, profiles, rows);
  }
  return result;
}

/** The buffers of a result that can be transferred instead of copied. */
export function resultTransferList(result: DatasetTaskResult): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  const s = result.summary;
  for (const a of [s.seriesIndex, s.timeNanos, s.totals, s.profileIds]) out.push(a.buffer as ArrayBuffer);
  const p = result.partial;
  if (p !== undefined) for (const a of [p.parent, p.name, p.self]) out.push(a.buffer as ArrayBuffer);
  return out;
}

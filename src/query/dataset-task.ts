/**
 * The per-dataset work a query hands to a worker thread (or runs in-process): decode the
 * dataset's rows — its profiles section (then also summarized), or a rollup section — and
 * optionally sum the selected series' rows and resolve them to a partial name tree, whose
 * names may be interned into a caller's shared table. Framed bytes in (read by the caller or
 * the worker), plain arrays out, so the answer does not depend on where it runs.
 */
import { describeSection, SectionKind } from "../block/format.ts";
import { decodeProfiles } from "../block/profiles-section.ts";
import { decodeRollup } from "../block/rollup-section.ts";
import { unframeSection } from "../block/section.ts";
import { decodeSymbolNames } from "../block/symbols.ts";
import {
  buildNameTree,
  buildPartialTree,
  type PartialTree,
  type ProfileSummary,
  type SharedNameRenumbering,
  summarizeProfiles,
} from "./aggregate.ts";
import { selectProfileRows } from "./select.ts";
import type { NameTable } from "./tree.ts";

/** A section of the task's object: its framed bytes, or where the worker reads them itself. */
export interface FramedSection {
  offset: number;
  sizeBytes: number;
  bytes?: Uint8Array;
}

function bytesOf(section: FramedSection, what: string): Uint8Array {
  if (section.bytes === undefined) throw new Error(`dataset task: the ${what} section was not read`);
  return section.bytes;
}

export interface DatasetTask {
  objectKey: string;
  /** "tenant/service", for messages. */
  dataset: string;
  /**
   * The rows: the profiles section (summarized, and summed when `series` is set), or a rollup
   * section (summed only: its rows add up to the same samples as every profile of the dataset).
   */
  rows: FramedSection & { kind: number };
  /** With `series`: build the partial tree of those series (every row of them). */
  symbols?: FramedSection;
  series?: Uint32Array;
}

export interface DatasetTaskResult {
  /** Set when the rows were the profiles section. */
  summary?: ProfileSummary;
  partial?: PartialTree;
}

/** Every time a profile can have: selecting with it keeps all rows of the series. */
const ALL_TIME_MS = 8.64e15;

/**
 * Runs a task. With `names` (a worker's shared table), the partial tree's names are interned
 * there and `nameIds` maps the partial's local name i to its id in that table; the partial's
 * own `names` list is then empty.
 */
export function runDatasetTask(
  task: DatasetTask,
  shared?: { names: NameTable; renumbering: SharedNameRenumbering },
): DatasetTaskResult & { nameIds?: Int32Array } {
  const context = (kind: number, offset: number) => ({
    objectKey: task.objectKey,
    dataset: task.dataset,
    kind,
    offset,
  });
  const rowsContext = context(task.rows.kind, task.rows.offset);
  const payload = unframeSection(bytesOf(task.rows, "rows"), rowsContext);
  const raw = task.rows.kind === SectionKind.profiles;
  const profiles = raw
    ? decodeProfiles(payload, describeSection(rowsContext))
    : decodeRollup(payload, describeSection(rowsContext)).rows;
  const result: DatasetTaskResult & { nameIds?: Int32Array } = raw
    ? { summary: summarizeProfiles(profiles) }
    : {};
  if (task.series !== undefined && task.symbols !== undefined) {
    const symbolsContext = context(SectionKind.symbols, task.symbols.offset);
    // Only what names the stack frames is decoded (no line numbers, build ids, file names).
    const symbols = decodeSymbolNames(
      unframeSection(bytesOf(task.symbols, "symbols"), symbolsContext),
      describeSection(symbolsContext),
    );
    const rows = selectProfileRows(profiles, task.series, -ALL_TIME_MS, ALL_TIME_MS);
    if (shared === undefined) {
      result.partial = buildPartialTree(symbols, profiles, rows);
    } else {
      const tree = buildNameTree(symbols, profiles, rows, shared.names);
      const { partial, tableIds } = shared.renumbering.partialTreeOf(tree);
      result.partial = partial;
      result.nameIds = tableIds;
    }
  }
  return result;
}

/** The buffers of a result that can be transferred instead of copied. */
export function resultTransferList(result: DatasetTaskResult): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  const s = result.summary;
  if (s !== undefined)
    for (const a of [s.seriesIndex, s.timeNanos, s.totals, s.profileIds]) out.push(a.buffer as ArrayBuffer);
  const p = result.partial;
  if (p !== undefined) for (const a of [p.parent, p.name, p.self]) out.push(a.buffer as ArrayBuffer);
  return out;
}

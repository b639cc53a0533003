/**
 * Folded ("collapsed", "groups") stacks, the default /ingest text format (wire reference
 * §2.4.4): one line per stack, `root;…;leaf <count>`.
 *
 * Pyroscope's rules (pkg/og/convert ParseGroups), matched here:
 * - the count is what follows the LAST space; a line without any space is skipped;
 * - a count that is not a base-10 integer (Go strconv.Atoi: optional sign, digits only, within
 *   int64) fails the whole request → KilnError invalid_argument "malformed_folded" (422 on
 *   /ingest). There is no comment syntax: `#comment` (no space) is skipped as "no space", but
 *   `# a comment` ends in the non-integer `comment` and fails. Trailing spaces fail too
 *   (`a;b 1 ` has an empty count).
 * - identical stacks are summed; empty lines are skipped (they contain no space).
 * Kiln differences: negative counts are rejected as malformed (Pyroscope wraps them to huge
 * unsigned values), zero counts are dropped (they would become zero-value samples that
 * normalization removes anyway), UTF-8/UTF-16 BOMs are decoded (see stacks.ts).
 *
 * `skipInvalidLines` turns bad-count failures into skipped lines, for offline importers of
 * hand-edited files; /ingest never sets it.
 */
import { KilnError } from "../../model/errors.ts";
import {
  decodeTextBody,
  forEachLine,
  type ParsedStacks,
  StackAccumulator,
  type TextStackLimits,
} from "./stacks.ts";

export interface ParseFoldedOptions extends TextStackLimits {
  skipInvalidLines?: boolean;
}

const int64Max = 9_223_372_036_854_775_807n;
/** Longest count text worth parsing: a sign and 19 digits. */
const maxCountChars = 20;

export function parseFolded(body: Uint8Array, options: ParseFoldedOptions): ParsedStacks {
  const text = decodeTextBody(body, options);
  const stacks = new StackAccumulator(options);
  let skippedLines = 0;
  let stackLines = 0;
  let lineNumber = 0;
  forEachLine(text, (line) => {
    lineNumber++;
    const separator = line.lastIndexOf(" ");
    if (separator === -1) {
      if (line !== "") skippedLines++;
      return;
    }
    const countText = line.slice(separator + 1);
    const count = parseGoInt(countText);
    if (count === undefined || count < 0) {
      if (options.skipInvalidLines) {
        skippedLines++;
        return;
      }
      throw new KilnError(
        "invalid_argument",
        "malformed_folded",
        `folded line ${lineNumber}: count ${JSON.stringify(countText.slice(0, 40))} is not a non-negative integer`,
      );
    }
    stackLines++;
    if (count === 0) return;
    stacks.add(line.slice(0, separator), count);
  });
  return stacks.result(stackLines, skippedLines);
}

/** Go's strconv.Atoi for base 10: `[+-]?[0-9]+` within int64, else undefined. */
export function parseGoInt(text: string): number | undefined {
  if (text.length > maxCountChars || !/^[+-]?\d+$/.test(text)) return undefined;
  const value = BigInt(text);
  if (value > int64Max || value < -int64Max - 1n) return undefined;
  return Number(value);
}

/**
 * The `lines` /ingest format (wire reference §2.4.4, Pyroscope ParseIndividualLines): every
 * line is one observation of a stack (`root;…;leaf`, no count); identical lines are counted.
 * Lines are cut like Go's bufio.ScanLines (a trailing `\r` dropped) and empty lines ignored.
 * Spaces are part of frame names here: nothing is split off the end of a line.
 */
import {
  decodeTextBody,
  forEachLine,
  type ParsedStacks,
  StackAccumulator,
  type TextStackLimits,
} from "./stacks.ts";

export function parseLines(body: Uint8Array, limits: TextStackLimits): ParsedStacks {
  const text = decodeTextBody(body, limits);
  const stacks = new StackAccumulator(limits);
  let stackLines = 0;
  forEachLine(text, (line) => {
    if (line === "") return;
    stackLines++;
    stacks.add(line, 1);
  });
  return stacks.result(stackLines, 0);
}

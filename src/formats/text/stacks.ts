/**
 * Shared pieces of the text stack formats (folded and lines, wire reference §2.4.4): text
 * decoding, line iteration, and the bounded stack → count accumulator both parsers fill.
 */
import { KilnError } from "../../model/errors.ts";

/** Bounds applied while parsing, so a hostile body costs at most these, whatever its shape. */
export interface TextStackLimits {
  /** Cap on the body size in bytes (max_profile_size_bytes: the text is the profile here). */
  maxDecodedBytes: number;
  /** Cap on distinct stacks, i.e. pprof samples (max_profile_samples); 0 = unlimited. */
  maxDistinctStacks: number;
  /**
   * Frames kept per stack (max_stack_depth); 0 = unlimited. Like Pyroscope's validation, the
   * leaf-most frames beyond the limit are dropped and the root-most ones kept.
   */
  maxStackDepth: number;
}

/** Distinct stacks in first-seen order; frames root first, joined by `;` as in the text. */
export interface ParsedStacks {
  stacks: string[];
  values: number[];
  /** Stack lines read (before identical stacks are merged). */
  stackLines: number;
  /** Lines skipped as not parseable (no count separator, or a bad count in lenient mode). */
  skippedLines: number;
}

/**
 * Decodes a text body: UTF-16LE/BE when it starts with the matching BOM, else UTF-8 (a UTF-8
 * BOM is dropped). Pyroscope reads the bytes as they are, so it stores a UTF-8 BOM inside the
 * first frame name and rejects UTF-16 (its count parse fails); decoding them is strictly more
 * permissive and keeps names clean.
 */
export function decodeTextBody(body: Uint8Array, limits: TextStackLimits): string {
  if (body.length > limits.maxDecodedBytes) {
    throw new KilnError(
      "invalid_argument",
      "profile_too_large",
      `text profile of ${body.length} bytes exceeds ${limits.maxDecodedBytes} bytes (max_profile_size_bytes)`,
    );
  }
  if (body.length >= 2 && body[0] === 0xff && body[1] === 0xfe) {
    return new TextDecoder("utf-16le").decode(body.subarray(2));
  }
  if (body.length >= 2 && body[0] === 0xfe && body[1] === 0xff) {
    return new TextDecoder("utf-16be").decode(body.subarray(2));
  }
  // TextDecoder("utf-8") drops a leading BOM by default (ignoreBOM: false).
  return new TextDecoder("utf-8").decode(body);
}

/**
 * Calls `onLine` for each line as Go's bufio.ScanLines cuts them: split on `\n`, one trailing
 * `\r` removed, a last line without a newline included, no empty line after a final `\n`.
 */
export function forEachLine(text: string, onLine: (line: string) => void): void {
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    const next = end === -1 ? text.length : end + 1;
    if (end === -1) end = text.length;
    if (end > start && text.charCodeAt(end - 1) === 13 /* \r */) end--;
    onLine(text.slice(start, end));
    start = next;
  }
}

/** Sums counts per distinct stack, applying the depth cut and the distinct-stack cap. */
export class StackAccumulator {
  readonly #indexOfStack = new Map<string, number>();
  readonly #stacks: string[] = [];
  readonly #values: number[] = [];
  readonly #limits: TextStackLimits;

  constructor(limits: TextStackLimits) {
    this.#limits = limits;
  }

  add(stack: string, value: number): void {
    const key = truncateStack(stack, this.#limits.maxStackDepth);
    const index = this.#indexOfStack.get(key);
    if (index !== undefined) {
      this.#values[index]! += value;
      return;
    }
    const limit = this.#limits.maxDistinctStacks;
    if (limit > 0 && this.#stacks.length >= limit) {
      throw new KilnError(
        "invalid_argument",
        "too_many_samples",
        `profile has more than ${limit} distinct stacks (max_profile_samples)`,
      );
    }
    this.#indexOfStack.set(key, this.#stacks.length);
    this.#stacks.push(key);
    this.#values.push(value);
  }

  result(stackLines: number, skippedLines: number): ParsedStacks {
    return { stacks: this.#stacks, values: this.#values, stackLines, skippedLines };
  }
}

/** Keeps the first `maxDepth` frames (root first); 0 = no limit. */
function truncateStack(stack: string, maxDepth: number): string {
  if (maxDepth <= 0) return stack;
  let at = -1;
  for (let frames = 0; frames < maxDepth; frames++) {
    at = stack.indexOf(";", at + 1);
    if (at === -1) return stack;
  }
  return stack.slice(0, at);
}

/**
 * Stacks of named frames → a text-style `Pprof`, shared by the JSON/script profile formats
 * (speedscope, V8 .cpuprofile, `perf script`).
 *
 * Unlike the folded path these formats hand over frames one at a time and their names may
 * contain `;`, so stacks are kept as a trie of frame ids instead of `;`-joined strings:
 * - `frame(name, file)` interns a frame (same name in different files stay distinct
 *   functions, the file becomes the pprof function's filename);
 * - `child(node, frame)` walks one frame deeper in O(1) (node 0 is the empty stack);
 * - `add(node, value, column)` adds to the stack that ends at `node`.
 * Bounds: nodes and frames ≤ 2^26 each (and never more than the input has frames),
 * `maxStackDepth` frames per stack (root-most kept, leaf-most dropped, as in validation; a
 * hard cap of `hardMaxStackDepth` when the tenant limit is 0), and `maxDistinctStacks`
 * stacks that carry a value (max_profile_samples) → KilnError invalid_argument
 * "too_many_samples".
 *
 * `frameStacksToPprof` reuses the text converter (`textStacksToPprof`, wire reference §2.6)
 * by naming frames with their ids and renaming the functions afterwards, so these formats
 * get exactly the folded path's profile types, period rule and symbol layout.
 */
import { KilnError } from "../../model/errors.ts";
import type { Pprof } from "../../model/pprof.ts";
import type { ParsedStacks } from "../text/stacks.ts";
import { type SuffixProfileType, textStacksToPprof } from "../text/text-pprof.ts";

/** Depth cap used when the tenant's max_stack_depth is 0 (unlimited): bounds the work per stack. */
export const hardMaxStackDepth = 16_384;
const idSpace = 2 ** 26;

export interface FrameStackLimits {
  /** Stacks with a value (pprof samples); 0 = unlimited. */
  maxDistinctStacks: number;
  /** Frames kept per stack; 0 = `hardMaxStackDepth`. */
  maxStackDepth: number;
}

export class FrameStacks {
  readonly frameNames: string[] = [];
  readonly frameFiles: string[] = [];
  readonly #frameIndex = new Map<string, number>();
  readonly #maxDepth: number;
  readonly #maxStacks: number;
  readonly #parent: number[] = [-1];
  readonly #frame: number[] = [-1];
  readonly #depth: number[] = [0];
  readonly #children = new Map<number, number>();
  /** Per column, the value of each node (index = node). */
  readonly #values: number[][];
  /** Nodes that carry a value, in first-seen order. */
  readonly #valued: number[] = [];
  readonly #isValued: boolean[] = [false];

  constructor(limits: FrameStackLimits, columns = 1) {
    this.#maxDepth =
      limits.maxStackDepth > 0 ? Math.min(limits.maxStackDepth, hardMaxStackDepth) : hardMaxStackDepth;
    this.#maxStacks = limits.maxDistinctStacks;
    this.#values = Array.from({ length: columns }, () => [0]);
  }

  get stackCount(): number {
    return this.#valued.length;
  }

  frame(name: string, file = ""): number {
    const key = file === "" ? name : `${name}\u0000${file}`;
    let id = this.#frameIndex.get(key);
    if (id === undefined) {
      id = this.frameNames.length;
      if (id >= idSpace)
        throw new KilnError("invalid_argument", "too_many_frames", `more than ${idSpace} frames`);
      this.frameNames.push(name);
      this.frameFiles.push(file);
      this.#frameIndex.set(key, id);
    }
    return id;
  }

  /** The stack `node` plus `frame` below it; past the depth cap the frame is dropped. */
  child(node: number, frame: number): number {
    if (this.#depth[node]! >= this.#maxDepth) return node;
    const key = node * idSpace + frame;
    let child = this.#children.get(key);
    if (child === undefined) {
      child = this.#parent.length;
      if (child >= idSpace)
        throw new KilnError("invalid_argument", "too_many_frames", `more than ${idSpace} stack nodes`);
      this.#parent.push(node);
      this.#frame.push(frame);
      this.#depth.push(this.#depth[node]! + 1);
      this.#isValued.push(false);
      for (const column of this.#values) column.push(0);
      this.#children.set(key, child);
    }
    return child;
  }

  /** Adds a non-negative value; values on the empty stack and zeros are ignored. */
  add(node: number, value: number, column = 0): void {
    if (node === 0 || !(value > 0)) return;
    if (!this.#isValued[node]) {
      if (this.#maxStacks > 0 && this.#valued.length >= this.#maxStacks) {
        throw new KilnError(
          "invalid_argument",
          "too_many_samples",
          `profile has more than ${this.#maxStacks} distinct stacks (max_profile_samples)`,
        );
      }
      this.#isValued[node] = true;
      this.#valued.push(node);
    }
    this.#values[column]![node]! += value;
  }

  /** Sum of one column over all stacks. */
  total(column = 0): number {
    let sum = 0;
    for (const node of this.#valued) sum += this.#values[column]![node]!;
    return sum;
  }

  /** Frame names root first of every valued stack, with their values (tests, debugging). */
  *entries(column = 0): Generator<[frames: string[], value: number]> {
    for (const node of this.#valued) {
      const frames: string[] = [];
      for (let n = node; n > 0; n = this.#parent[n]!) frames.push(this.frameNames[this.#frame[n]!]!);
      yield [frames.reverse(), this.#values[column]![node]!];
    }
  }

  /**
   * Stacks as `;`-joined frame ids (root first) with `column`'s values mapped by `toValue`;
   * stacks whose mapped values are 0 in every listed column are left out.
   */
  idStacks(toValue: (value: number, column: number) => number, columns: readonly number[]): IdStacks {
    const stacks: string[] = [];
    const values: number[][] = columns.map(() => []);
    const ids: number[] = [];
    for (const node of this.#valued) {
      const mapped = columns.map((c) => toValue(this.#values[c]![node]!, c));
      if (mapped.every((v) => v === 0)) continue;
      ids.length = 0;
      for (let n = node; n > 0; n = this.#parent[n]!) ids.push(this.#frame[n]!);
      stacks.push(ids.reverse().join(";"));
      for (let i = 0; i < mapped.length; i++) values[i]!.push(mapped[i]!);
    }
    return { stacks, values };
  }
}

export interface IdStacks {
  stacks: string[];
  /** One array per requested column, aligned with `stacks`. */
  values: number[][];
}

export interface FrameStacksPprofInput {
  /** From the app-name suffix (§2.6). */
  type: SuffixProfileType;
  /**
   * Hz. For `process_cpu` and `wall` with a rate > 0, each value is `1 / sampleRate` seconds
   * and is stored in nanoseconds, computed exactly (value × 1e9 / rate, rounded) rather than
   * with the folded path's integer period, so rates above 1 GHz (speedscope nanoseconds,
   * 1e11) still give the right durations. The period is ⌊1e9 / rate⌋ ns, at least 1.
   */
  sampleRate: number;
  timeNanos: bigint;
}

const nanosPerSecond = 1e9;

/** One-sample-type pprof of column 0, per the suffix rule (see `FrameStacksPprofInput`). */
export function frameStacksToPprof(stacks: FrameStacks, input: FrameStacksPprofInput): Pprof {
  const timed = input.type.metricName === "process_cpu" || input.type.metricName === "wall";
  const exact = timed && input.sampleRate > 0;
  const toValue = exact
    ? (v: number) => Math.round((v * nanosPerSecond) / input.sampleRate)
    : (v: number) => Math.round(v);
  const id = stacks.idStacks(toValue, [0]);
  const pprof = idStacksToPprof(stacks, id.stacks, id.values[0]!, {
    type: input.type,
    // Values are already nanoseconds: a 1 GHz rate makes the text converter's period 1 ns.
    sampleRate: exact ? nanosPerSecond : input.sampleRate,
    timeNanos: input.timeNanos,
  });
  if (exact) pprof.period = Math.max(1, Math.floor(nanosPerSecond / input.sampleRate));
  return pprof;
}

/**
 * The text converter run on id stacks (from `FrameStacks.idStacks`) with final values, then
 * the frames renamed: `input.sampleRate` applies the text path's integer period rule.
 */
export function idStacksToPprof(
  stacks: FrameStacks,
  idStackList: string[],
  values: number[],
  input: FrameStacksPprofInput,
): Pprof {
  const parsed: ParsedStacks = {
    stacks: idStackList,
    values,
    stackLines: idStackList.length,
    skippedLines: 0,
  };
  const pprof = textStacksToPprof(parsed, input);
  renameFrames(pprof, stacks);
  return pprof;
}

/**
 * Appends a value column to a pprof built by `frameStacksToPprof`-style conversion from the
 * same `IdStacks` order (values aligned with its samples).
 */
export function appendValueColumn(
  pprof: Pprof,
  sampleType: string,
  sampleUnit: string,
  values: readonly number[],
): void {
  const width = pprof.sampleTypeStr.length;
  if (values.length !== pprof.sampleCount) {
    throw new Error(`appendValueColumn: ${values.length} values for ${pprof.sampleCount} samples`);
  }
  const next = new Float64Array(pprof.sampleCount * (width + 1));
  for (let s = 0; s < pprof.sampleCount; s++) {
    for (let t = 0; t < width; t++) next[s * (width + 1) + t] = pprof.sampleValues[s * width + t]!;
    next[s * (width + 1) + width] = values[s]!;
  }
  pprof.sampleValues = next;
  pprof.sampleTypeStr = Uint32Array.of(...pprof.sampleTypeStr, internString(pprof, sampleType));
  pprof.sampleUnitStr = Uint32Array.of(...pprof.sampleUnitStr, internString(pprof, sampleUnit));
}

/** Index of `text` in the pprof string table, appending it when missing. */
export function internString(pprof: Pprof, text: string): number {
  const at = pprof.strings.indexOf(text);
  if (at !== -1) return at;
  pprof.strings.push(text);
  return pprof.strings.length - 1;
}

/**
 * The text converter named each function after a frame id (its string is only used by that
 * function): put the frame's real name there, and its file as the function's filename.
 */
export function renameFrames(pprof: Pprof, stacks: FrameStacks): void {
  const fileStr = new Map<string, number>();
  for (let f = 0; f < pprof.functionCount; f++) {
    const nameStr = pprof.functionNameStr[f]!;
    const frame = Number(pprof.strings[nameStr]);
    pprof.strings[nameStr] = stacks.frameNames[frame]!;
    const file = stacks.frameFiles[frame]!;
    if (file === "") continue;
    let str = fileStr.get(file);
    if (str === undefined) {
      str = pprof.strings.length;
      pprof.strings.push(file);
      fileStr.set(file, str);
    }
    pprof.functionFilenameStr[f] = str;
  }
}

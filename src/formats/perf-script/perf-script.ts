/**
 * Linux `perf script` text (`/ingest?format=perf-script`, a Kiln extension), folded the way
 * Brendan Gregg's stackcollapse-perf.pl folds it with its default options:
 * - lines starting with `#` (perf's header) are skipped;
 * - a sample header line `comm [pid/]tid [cpu] time: [period] event:` starts a sample; the
 *   command name (everything before the tid, spaces turned into `_`) becomes the root frame;
 * - each following frame line `addr symbol (module)` is one frame, innermost first:
 *   a `+0x…` offset is stripped; a symbol starting with `(` is skipped; `a->b` (perf's
 *   inline chains) gives frames `a`, `b_[i]`; `[unknown]` in a known module becomes
 *   `[<module basename>]`; then the "generic tidy": `;` → `:`, everything from the first
 *   `(` dropped (unless the name looks like a Go method `pkg.(*T).M`, or the paren opens
 *   `(anonymous namespace)`), quotes removed; for the command `java`, a leading `L` is
 *   dropped from names containing `/`;
 * - a blank line ends the sample, which counts 1 (the period perf printed is ignored, as
 *   stackcollapse-perf does; the request's `sampleRate` turns counts into time).
 * Kiln differences: a one-character command name is a header too (the script's pattern
 * needs two), a last sample without a trailing blank line is kept (stackcollapse-perf
 * loses it), and blank lines without any sample before them count nothing (stackcollapse-perf
 * would record an empty stack). Other lines are ignored, as the script only warns about them.
 *
 * Bounds: body size (max_profile_size_bytes), stack depth and distinct stacks via
 * FrameStacks. A body with no sample at all is malformed (KilnError "malformed_perf_script").
 */
import { KilnError } from "../../model/errors.ts";
import { FrameStacks } from "../speedscope/frame-stacks.ts";
import { decodeTextBody, forEachLine, type TextStackLimits } from "../text/stacks.ts";

export interface PerfScriptStats {
  /** Sample header lines seen. */
  samples: number;
  frameLines: number;
  ignoredLines: number;
}

const headerRe = /^(\S.*?)\s+(\d+)\/*(\d+)*\s+/;
const frameRe = /^\s*(\w+)\s*(.+) \((\S*)\)/;
const offsetRe = /\+0x[\da-f]+$/;
const goMethodRe = /\.\(.*\)\./;
const parenNoiseRe = /\((?!anonymous namespace\)).*/;

export function parsePerfScript(
  body: Uint8Array,
  limits: TextStackLimits,
  stats?: PerfScriptStats,
): FrameStacks {
  const text = decodeTextBody(body, limits);
  const stacks = new FrameStacks(limits);
  let pname: string | undefined;
  let inSample = false;
  /** The current sample's frames, innermost first, as perf prints them. */
  const frames: string[] = [];
  let samples = 0;
  let frameLines = 0;
  let ignoredLines = 0;
  const depthCap = limits.maxStackDepth > 0 ? limits.maxStackDepth : Number.POSITIVE_INFINITY;

  const flush = (): void => {
    if (inSample || frames.length > 0) {
      let node = stacks.child(0, stacks.frame(pname ?? ""));
      for (let f = frames.length - 1; f >= 0; f--) node = stacks.child(node, stacks.frame(frames[f]!));
      stacks.add(node, 1);
    }
    frames.length = 0;
    pname = undefined;
    inSample = false;
  };

  forEachLine(text, (line) => {
    if (line.startsWith("#")) return;
    if (line === "") {
      flush();
      return;
    }
    const header = headerRe.exec(line);
    if (header) {
      samples++;
      inSample = true;
      pname = header[1]!.replaceAll(" ", "_");
      return;
    }
    const frame = frameRe.exec(line);
    if (!frame) {
      ignoredLines++;
      return;
    }
    frameLines++;
    const raw = frame[2]!.replace(offsetRe, "");
    const module = frame[3]!;
    if (raw.startsWith("(")) return;
    const inline: string[] = [];
    for (const part of raw.split("->")) {
      let func = part;
      if (func === "[unknown]" && module !== "[unknown]") func = `[${module.replace(/.*\//, "")}]`;
      func = func.replaceAll(";", ":");
      if (!goMethodRe.test(func)) func = func.replace(parenNoiseRe, "");
      func = func.replace(/["']/g, "");
      if (pname === "java" && func.includes("/")) func = func.replace(/^L/, "");
      if (inline.length > 0) func += "_[i]";
      inline.push(func);
    }
    // Frames arrive innermost first; the root-most ones are what the depth cut keeps, so the
    // list cannot be cut while reading. It is bounded by the body size, and the sample is
    // folded into the trie at its end.
    // `unshift @stack, @inline`: the chain keeps its order, root-ward of what came before.
    for (let i = inline.length - 1; i >= 0; i--) frames.push(inline[i]!);
    if (frames.length > depthCap * 4 + 1024) {
      // Keep memory per sample proportional to the depth that can be stored: drop the
      // innermost frames beyond what the root-most `depthCap` could ever need.
      frames.splice(0, frames.length - depthCap);
    }
  });
  flush();
  if (stats) Object.assign(stats, { samples, frameLines, ignoredLines });
  if (samples === 0 && stacks.stackCount === 0) {
    throw new KilnError(
      "invalid_argument",
      "malformed_perf_script",
      "perf script: no sample header line found",
    );
  }
  return stacks;
}

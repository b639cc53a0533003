/**
 * Frame colours: stable per package or module (a hash of the package part of the name, so a
 * package keeps its colour across profiles, reloads and users), in a light and a dark
 * palette; and the diff scale from green (decrease) through grey to red (increase).
 */

export type Theme = "light" | "dark";

/**
 * The package/module part of a frame name, by the conventions of the common profilers:
 * - .NET `Assembly!Namespace.Class.Method` → the assembly;
 * - Node.js `./node_modules/express/lib/router.js:handle:12` → `express`; other JS files and
 *   `node:events:emit:532` → the file;
 * - Python/Ruby `path/file.py:12 - func` or `func (path/file.py:12)` → the file;
 * - Go `github.com/org/repo/pkg.(*T).Method` → `github.com/org/repo/pkg`; `runtime.mallocgc`
 *   → `runtime`; Java `java/io/File.open` → `java/io/File`;
 * - Java dotted `com.example.Foo.bar` → `com.example.Foo` (up to the first capitalised
 *   segment before the method);
 * - native `libc.so.6+0x1f00` → `libc.so.6`; anything else → the whole name.
 */
export function packageOf(name: string): string {
  const bang = name.indexOf("!");
  if (bang > 0) return name.slice(0, bang);
  const script = /([^\s:()]+\.(?:py|rb|js|mjs|cjs|ts|php))\b/.exec(name);
  if (script) {
    const file = script[1]!;
    const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
    return modules ? modules[1]! : file;
  }
  if (name.startsWith("node:")) {
    const colon = name.indexOf(":", 5);
    return colon > 0 ? name.slice(0, colon) : name;
  }
  const plus = name.indexOf("+0x");
  if (plus > 0) return name.slice(0, plus);
  // Go and slash-separated Java: cut generics/receivers, then up to the first dot after the last slash.
  const bracket = name.search(/[([ ]/);
  const head = bracket >= 0 ? name.slice(0, bracket) : name;
  const slash = head.lastIndexOf("/");
  if (slash >= 0) {
    const dot = head.indexOf(".", slash + 1);
    return dot > 0 ? head.slice(0, dot) : head;
  }
  const segments = head.split(".");
  if (segments.length <= 1) return name;
  // Dotted: the class is the first capitalised segment before the last (the method).
  for (let i = 0; i < segments.length - 1; i++) {
    if (/^[A-Z]/.test(segments[i]!)) return segments.slice(0, i + 1).join(".");
  }
  return segments[0]!;
}

/** FNV-1a, 32 bits: a fast, well-spread string hash that is the same in every browser. */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The fill colour of a frame: hue from its package's hash; light and dark tones per theme. */
export function frameColor(name: string, theme: Theme): string {
  const hash = hashString(packageOf(name));
  // Warm-to-cool hues with a little saturation/lightness jitter so neighbours differ.
  const hue = hash % 360;
  const saturation = 45 + ((hash >>> 9) % 20);
  const lightness = theme === "light" ? 68 + ((hash >>> 17) % 10) : 34 + ((hash >>> 17) % 10);
  return `hsl(${hue} ${saturation}% ${lightness}%)`;
}

/** Text colour over frames of `theme`. */
export function frameTextColor(theme: Theme): string {
  return theme === "light" ? "#1a1a1a" : "#f0f0f0";
}

// ---- Diff colouring -------------------------------------------------------------------------

/** Relative changes are capped here for the colour scale: ±100% and beyond are fully saturated. */
export const DIFF_CHANGE_CAP = 1;
/** Colour steps on each side of neutral. */
export const DIFF_STEPS = 10;

/**
 * Relative change of a frame's share: (right − left) / left. A frame only on the right is
 * +Infinity, only on the left −1, absent on both sides 0.
 */
export function relativeChange(leftShare: number, rightShare: number): number {
  if (leftShare === 0) return rightShare === 0 ? 0 : Number.POSITIVE_INFINITY;
  return (rightShare - leftShare) / leftShare;
}

/** The step of a change on the scale: −DIFF_STEPS (−100% or less) … 0 (neutral) … +DIFF_STEPS. */
export function diffStep(change: number): number {
  if (Number.isNaN(change) || change === 0) return 0;
  const magnitude = Math.min(Math.abs(change) / DIFF_CHANGE_CAP, 1);
  // Any change at all gets at least the first step, so it is not mistaken for "unchanged".
  const step = Math.max(1, Math.round(magnitude * DIFF_STEPS));
  return change > 0 ? step : -step;
}

interface Rgb {
  r: number;
  g: number;
  b: number;
}

const DIFF_ENDS: Record<Theme, { neutral: Rgb; increase: Rgb; decrease: Rgb }> = {
  light: {
    neutral: { r: 200, g: 200, b: 200 },
    increase: { r: 226, g: 66, b: 56 },
    decrease: { r: 46, g: 160, b: 67 },
  },
  dark: {
    neutral: { r: 90, g: 90, b: 90 },
    increase: { r: 214, g: 55, b: 48 },
    decrease: { r: 40, g: 150, b: 64 },
  },
};

/** The colour of a step: neutral grey at 0, towards red for increases and green for decreases. */
export function diffStepColor(step: number, theme: Theme): string {
  const ends = DIFF_ENDS[theme];
  const t = Math.min(Math.abs(step), DIFF_STEPS) / DIFF_STEPS;
  const to = step > 0 ? ends.increase : ends.decrease;
  const mix = (a: number, b: number) => Math.round(a + (b - a) * t);
  return `rgb(${mix(ends.neutral.r, to.r)}, ${mix(ends.neutral.g, to.g)}, ${mix(ends.neutral.b, to.b)})`;
}

/** The colour of a relative change. */
export function diffColor(change: number, theme: Theme): string {
  return diffStepColor(diffStep(change), theme);
}

/** Legend stops, decrease to increase: [label, colour]. */
export function diffLegend(theme: Theme): [string, string][] {
  const stops = [-1, -0.5, -0.25, 0, 0.25, 0.5, 1];
  return stops.map((change) => [
    change === 0
      ? "0%"
      : `${change > 0 ? "+" : "−"}${Math.abs(change * 100)}%${Math.abs(change) >= DIFF_CHANGE_CAP ? (change > 0 ? " or more" : "") : ""}`,
    diffColor(change, theme),
  ]);
}

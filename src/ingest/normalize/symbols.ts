/**
 * String-table fixes applied before storage: symbols longer than max_symbol_length keep their
 * last bytes (Pyroscope truncates from the front, keeping e.g. the end of a long path), and
 * sample types containing `-` are rejected or rewritten (see NormalizeInput.dashedSampleTypes).
 * The input pprof is never mutated: when something changes, a shallow copy with a new `strings`
 * array is returned.
 */
import { KilnError } from "../../model/errors.ts";
import type { Pprof } from "../../model/pprof.ts";

function truncateFront(s: string, maxBytes: number): string {
  const bytes = Buffer.from(s, "utf8");
  if (bytes.length <= maxBytes) return s;
  // A cut inside a multi-byte character decodes to U+FFFD, keeping the result valid text.
  return bytes.subarray(bytes.length - maxBytes).toString("utf8");
}

export function fixSymbols(
  pprof: Pprof,
  maxSymbolLength: number,
  dashedSampleTypes: "reject" | "replace",
): Pprof {
  let strings: string[] | undefined;
  for (const t of pprof.sampleTypeStr) {
    const name = pprof.strings[t]!;
    if (!name.includes("-")) continue;
    if (dashedSampleTypes === "reject") {
      throw new KilnError(
        "invalid_argument",
        "malformed_pprof",
        `sample type ${JSON.stringify(name)} contains "-"`,
      );
    }
    strings ??= [...pprof.strings];
    strings[t] = name.replaceAll("-", "_");
  }
  if (maxSymbolLength > 0) {
    const src = strings ?? pprof.strings;
    for (let i = 0; i < src.length; i++) {
      const s = src[i]!;
      // UTF-16 length bounds the UTF-8 length from below, so short strings need no encoding.
      if (s.length <= maxSymbolLength / 3) continue;
      const cut = truncateFront(s, maxSymbolLength);
      if (cut === s) continue;
      strings ??= [...pprof.strings];
      strings[i] = cut;
    }
  }
  return strings === undefined ? pprof : { ...pprof, strings };
}

/**
 * Prometheus-style label selectors (wire reference §6.3), hand-written so that errors can name
 * the column and what was expected.
 *
 *   selector   = "{" [ item { "," item } [ "," ] ] "}"
 *   item       = label-name op string          (a matcher)
 *              | string                        (metric name, same as __name__="<string>")
 *   label-name = [A-Za-z_][A-Za-z0-9_]* | string   (quoted UTF-8 names, e.g. "service.name")
 *   op         = "=" | "!=" | "=~" | "!~"
 *   string     = "…" | '…' | `…`                (Go escapes in "…" and '…'; `…` is raw)
 *   query      = [ profile-type-id ] [ selector ] (parseQuery: render API, AnalyzeQuery)
 *
 * Semantics follow Prometheus: regexes are fully anchored and `.` matches newlines
 * (`^(?s:re)$`); a label absent from a series has the value "" (so it matches `a=""`,
 * `a!="x"` and `a!~"x"`, and not `a=~".+"`).
 *
 * Regexes use RE2 syntax upstream. They are translated to an equivalent JavaScript RegExp
 * (flags `su`); RE2 syntax JavaScript cannot express (the `U` flag, negated POSIX classes,
 * `\C`) and JavaScript syntax RE2 rejects (lookaround, backreferences) fail with a message
 * saying so. Known difference: `\S` inside a bracket class keeps the JavaScript meaning
 * (everything but Unicode white space) instead of RE2's `[^\t\n\f\r ]`. JavaScript regexes
 * backtrack, unlike RE2; label values are short (ingest limits), which bounds the cost.
 */
import { KilnError } from "./errors.ts";
import type { Labels } from "./labels.ts";
import { compileRegex, quote } from "./re2.ts";

export type MatchType = "=" | "!=" | "=~" | "!~";

export interface Matcher {
  readonly name: string;
  readonly type: MatchType;
  /** The value as written (for regex matchers, the RE2 source without anchors). */
  readonly value: string;
  /** Whether a label value satisfies the matcher; pass "" for a label the series lacks. */
  matches(v: string): boolean;
}

export interface ParsedQuery {
  /** The leading profile type ID (or the `__name__="…"` matcher it came from), if any. */
  profileTypeId?: string;
  /** Every other matcher, in input order. */
  matchers: Matcher[];
}

/** Longest selector accepted, in UTF-8 bytes. Query strings arrive in URLs and JSON bodies. */
export const MAX_SELECTOR_BYTES = 64 * 1024;
/** Most matchers one selector may hold; each one costs a pass over every candidate series. */
export const MAX_MATCHERS = 1024;
/** RE2's limit on `{n,m}` counts; JavaScript has none, so it is checked here. */

const METRIC_NAME = "__name__";

/** Parses `{…}`. Empty or blank text means no matchers, like `{}`. */
export function parseSelector(text: string): Matcher[] {
  const p = new Parser(text);
  p.skipSpace();
  if (p.atEnd()) return [];
  return p.parseBraces(undefined);
}

/**
 * Parses `<profile_type_id>{…}`, `<profile_type_id>`, or `{…}`. The leading ID is read the
 * way Prometheus reads a metric name, but also accepts `.` and `-`, which profile names may
 * contain. A `__name__="…"` matcher or a bare quoted name inside the braces (`{"id", a="b"}`)
 * is the same thing as a leading ID; giving two of them is an error. The ID is returned as
 * written; validate it with `parseProfileTypeId`.
 */
export function parseQuery(text: string): ParsedQuery {
  const p = new Parser(text);
  p.skipSpace();
  let leadingId: string | undefined;
  if (p.atEnd()) throw p.errorAt(p.pos, `expected profile type ID or "{"`);
  if (p.peek() !== "{") {
    leadingId = p.readProfileTypeId();
    p.skipSpace();
    if (p.atEnd()) return { profileTypeId: leadingId, matchers: [] };
  }
  const parsed = p.parseBraces(leadingId);
  let profileTypeId = leadingId;
  const matchers: Matcher[] = [];
  for (const m of parsed) {
    if (m.name === METRIC_NAME && m.type === "=") {
      if (profileTypeId !== undefined) {
        throw new KilnError(
          "invalid_argument",
          "invalid_selector",
          `profile type set twice: ${quote(profileTypeId)} and ${quote(m.value)}`,
        );
      }
      profileTypeId = m.value;
      continue;
    }
    matchers.push(m);
  }
  return profileTypeId === undefined ? { matchers } : { profileTypeId, matchers };
}

/** Whether a sorted label set satisfies every matcher. Absent labels count as "". */
export function matchLabels(matchers: readonly Matcher[], labels: Labels): boolean {
  for (const m of matchers) {
    if (!m.matches(labelValue(labels, m.name))) return false;
  }
  return true;
}

function labelValue(labels: Labels, name: string): string {
  // Binary search: labels are sorted by name with unique names.
  let lo = 0;
  let hi = labels.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const n = labels[mid]![0];
    if (n === name) return labels[mid]![1];
    if (n < name) lo = mid + 1;
    else hi = mid;
  }
  return "";
}

/**
 * Builds a matcher. Regex matchers compile their pattern here, once; a pattern that is not
 * valid RE2 (or that JavaScript cannot express) throws `KilnError(invalid_argument)`.
 */
export function newMatcher(name: string, type: MatchType, value: string): Matcher {
  switch (type) {
    case "=":
      return { name, type, value, matches: (v) => v === value };
    case "!=":
      return { name, type, value, matches: (v) => v !== value };
    case "=~": {
      const test = compileRegex(value);
      return { name, type, value, matches: test };
    }
    case "!~": {
      const test = compileRegex(value);
      return { name, type, value, matches: (v) => !test(v) };
    }
    default:
      throw new KilnError("invalid_argument", "invalid_selector", `unknown match type ${quote(type)}`);
  }
}

/** Renders matchers as a selector that `parseSelector` reads back to the same matchers. */
export function formatSelector(matchers: readonly Matcher[]): string {
  return `{${matchers.map(formatMatcher).join(", ")}}`;
}

export function formatMatcher(m: Matcher): string {
  const name = IDENT_RE.test(m.name) ? m.name : quote(m.name);
  return `${name}${m.type}${quote(m.value)}`;
}

const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Double-quoted with JSON escapes, which are a subset of the Go escapes the parser reads. */

// ---------------------------------------------------------------------------------------
// Parser

function isIdentStart(c: string): boolean {
  return (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c === "_";
}

function isIdentPart(c: string): boolean {
  return isIdentStart(c) || (c >= "0" && c <= "9");
}

function isProfileTypeIdChar(c: string): boolean {
  return isIdentPart(c) || c === ":" || c === "." || c === "-";
}

function isSpace(c: string): boolean {
  return c === " " || c === "\t" || c === "\n" || c === "\r";
}

const OPERATORS_EXPECTED = `"=", "!=", "=~" or "!~"`;

class Parser {
  readonly text: string;
  pos = 0;

  constructor(text: string) {
    if (text.length > MAX_SELECTOR_BYTES || Buffer.byteLength(text, "utf8") > MAX_SELECTOR_BYTES) {
      throw new KilnError(
        "invalid_argument",
        "invalid_selector",
        `selector too long: ${Buffer.byteLength(text, "utf8")} bytes, limit ${MAX_SELECTOR_BYTES}`,
      );
    }
    this.text = text;
  }

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): string {
    return this.text[this.pos] ?? "";
  }

  skipSpace(): void {
    while (this.pos < this.text.length && isSpace(this.text[this.pos]!)) this.pos++;
  }

  /** Parses `{…}` at the current position, then requires the end of input. */
  parseBraces(leadingName: string | undefined): Matcher[] {
    if (this.peek() !== "{") {
      throw this.errorAt(
        this.pos,
        leadingName === undefined ? `expected "{"` : `expected "{" or end of input`,
      );
    }
    this.pos++;
    const matchers: Matcher[] = [];
    // The metric name given by syntax (leading name or bare quoted string) and by an explicit
    // __name__="…" matcher. Prometheus rejects the first combined with anything else.
    let metricName = leadingName;
    let explicitName: string | undefined;
    for (;;) {
      this.skipSpace();
      const c = this.peek();
      if (c === "}") {
        this.pos++;
        break;
      }
      if (c === "") throw this.errorAt(this.pos, `expected label name or "}"`);
      if (matchers.length >= MAX_MATCHERS) {
        throw this.errorAt(this.pos, `too many matchers: limit ${MAX_MATCHERS}`);
      }
      const itemPos = this.pos;
      let name: string;
      if (c === '"' || c === "'" || c === "`") {
        name = this.readString();
        this.skipSpace();
        const next = this.peek();
        if (next === "," || next === "}") {
          // A bare quoted string is the metric name (Prometheus 3 UTF-8 syntax).
          const earlier = metricName ?? explicitName;
          if (earlier !== undefined) {
            throw this.errorAt(itemPos, `metric name set twice: ${quote(earlier)} and ${quote(name)}`);
          }
          metricName = name;
          matchers.push(newMatcher(METRIC_NAME, "=", name));
          this.finishItem();
          continue;
        }
        if (name === "") throw this.errorAt(itemPos, "label name must not be empty");
      } else if (isIdentStart(c)) {
        const start = this.pos;
        while (this.pos < this.text.length && isIdentPart(this.text[this.pos]!)) this.pos++;
        name = this.text.slice(start, this.pos);
        this.skipSpace();
      } else {
        throw this.errorAt(this.pos, `expected label name or "}"`);
      }
      const opPos = this.pos;
      const type = this.readOperator();
      if (type === undefined) {
        throw this.errorAt(opPos, `expected ${OPERATORS_EXPECTED} after label name ${quote(name)}`);
      }
      this.skipSpace();
      const valuePos = this.pos;
      const q = this.peek();
      if (q !== '"' && q !== "'" && q !== "`") {
        throw this.errorAt(valuePos, `expected quoted string after "${type}"`);
      }
      const value = this.readString();
      let m: Matcher;
      try {
        m = newMatcher(name, type, value);
      } catch (err) {
        if (err instanceof KilnError) {
          throw this.errorAt(valuePos, `${err.message} (in matcher for label ${quote(name)})`);
        }
        throw err;
      }
      if (name === METRIC_NAME && type === "=") {
        if (metricName !== undefined) {
          throw this.errorAt(itemPos, `metric name set twice: ${quote(metricName)} and ${quote(value)}`);
        }
        explicitName ??= value;
      }
      matchers.push(m);
      this.finishItem();
    }
    this.skipSpace();
    if (!this.atEnd()) {
      throw this.errorAt(this.pos, `unexpected ${describeChar(this.text, this.pos)} after "}"`);
    }
    return matchers;
  }

  /** After a matcher: consumes "," (or leaves "}" for the loop). */
  private finishItem(): void {
    this.skipSpace();
    const c = this.peek();
    if (c === ",") {
      this.pos++;
      return;
    }
    if (c === "}") return;
    throw this.errorAt(this.pos, `expected "," or "}" after matcher`);
  }

  private readOperator(): MatchType | undefined {
    const a = this.text[this.pos];
    const b = this.text[this.pos + 1];
    if (a === "=") {
      if (b === "~") {
        this.pos += 2;
        return "=~";
      }
      if (b === "=") return undefined; // "==" is a comparison, not a matcher
      this.pos += 1;
      return "=";
    }
    if (a === "!") {
      if (b === "=") {
        this.pos += 2;
        return "!=";
      }
      if (b === "~") {
        this.pos += 2;
        return "!~";
      }
    }
    return undefined;
  }

  readProfileTypeId(): string {
    const start = this.pos;
    while (this.pos < this.text.length && isProfileTypeIdChar(this.text[this.pos]!)) this.pos++;
    if (this.pos === start) {
      throw this.errorAt(start, `expected profile type ID or "{"`);
    }
    return this.text.slice(start, this.pos);
  }

  /** Reads a quoted string starting at the current position (which holds the quote). */
  readString(): string {
    const text = this.text;
    const open = this.pos;
    const q = text[open]!;
    if (q === "`") {
      const close = text.indexOf("`", open + 1);
      if (close < 0) throw this.errorAt(open, "unterminated quoted string");
      this.pos = close + 1;
      // As in Go, carriage returns inside raw strings are dropped.
      return text.slice(open + 1, close).replaceAll("\r", "");
    }
    let out = "";
    let bytes: number[] | undefined; // pending \x / octal bytes, decoded as UTF-8 together
    let i = open + 1;
    let runStart = i;
    const flushBytes = (at: number): void => {
      if (bytes === undefined) return;
      try {
        out += UTF8.decode(Uint8Array.from(bytes));
      } catch {
        throw this.errorAt(at, "escape sequences do not form valid UTF-8");
      }
      bytes = undefined;
    };
    for (;;) {
      if (i >= text.length) throw this.errorAt(open, "unterminated quoted string");
      const c = text[i]!;
      if (c === q) {
        if (i > runStart) {
          flushBytes(runStart);
          out += text.slice(runStart, i);
        }
        flushBytes(i);
        this.pos = i + 1;
        return out;
      }
      if (c === "\n") throw this.errorAt(open, "unterminated quoted string");
      if (c !== "\\") {
        if (bytes !== undefined) {
          flushBytes(i);
        }
        i++;
        continue;
      }
      // An escape: emit the plain run before it.
      if (i > runStart) {
        flushBytes(runStart);
        out += text.slice(runStart, i);
      }
      const escPos = i;
      const e = text[i + 1];
      if (e === undefined) throw this.errorAt(open, "unterminated quoted string");
      i += 2;
      let simple: string | undefined;
      switch (e) {
        case "a":
          simple = "\x07";
          break;
        case "b":
          simple = "\b";
          break;
        case "f":
          simple = "\f";
          break;
        case "n":
          simple = "\n";
          break;
        case "r":
          simple = "\r";
          break;
        case "t":
          simple = "\t";
          break;
        case "v":
          simple = "\v";
          break;
        case "\\":
          simple = "\\";
          break;
        default:
          if (e === q) simple = q;
      }
      if (simple !== undefined) {
        flushBytes(escPos);
        out += simple;
        runStart = i;
        continue;
      }
      let digits: number;
      let base: number;
      let max: number;
      let start = i;
      if (e >= "0" && e <= "7") {
        digits = 3;
        base = 8;
        max = 255;
        start = i - 1;
      } else if (e === "x") {
        digits = 2;
        base = 16;
        max = 255;
      } else if (e === "u") {
        digits = 4;
        base = 16;
        max = 0x10ffff;
      } else if (e === "U") {
        digits = 8;
        base = 16;
        max = 0x10ffff;
      } else {
        throw this.errorAt(escPos, `unknown escape sequence ${quote(`\\${e}`)}`);
      }
      const hex = text.slice(start, start + digits);
      const re = base === 8 ? /^[0-7]+$/ : /^[0-9A-Fa-f]+$/;
      if (hex.length !== digits || !re.test(hex)) {
        throw this.errorAt(
          escPos,
          `escape sequence ${quote(text.slice(escPos, escPos + 2))} needs ${digits} ${base === 8 ? "octal" : "hex"} digits`,
        );
      }
      const x = Number.parseInt(hex, base);
      if (x > max || (x >= 0xd800 && x < 0xe000)) {
        throw this.errorAt(
          escPos,
          `escape sequence ${quote(text.slice(escPos, start + digits))} is an invalid Unicode code point`,
        );
      }
      i = start + digits;
      runStart = i;
      if (max === 255) {
        bytes ??= [];
        bytes.push(x);
      } else {
        flushBytes(escPos);
        out += String.fromCodePoint(x);
      }
    }
  }

  errorAt(pos: number, what: string): KilnError {
    return new KilnError(
      "invalid_argument",
      "invalid_selector",
      `parse error at ${where(this.text, pos)}: ${what}`,
    );
  }
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** "column C" (1-based, in characters), or "line L, column C" for multi-line input. */
function where(text: string, pos: number): string {
  const before = text.slice(0, pos);
  const lineStart = before.lastIndexOf("\n") + 1;
  const column = [...before.slice(lineStart)].length + 1;
  if (lineStart === 0 && !text.includes("\n")) return `column ${column}`;
  let line = 1;
  for (let k = 0; k < lineStart; k++) if (text[k] === "\n") line++;
  return `line ${line}, column ${column}`;
}

function describeChar(text: string, pos: number): string {
  const cp = text.codePointAt(pos);
  return cp === undefined ? "end of input" : quote(String.fromCodePoint(cp));
}

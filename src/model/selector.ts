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
const MAX_REPEAT = 1000;

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
function quote(s: string): string {
  return JSON.stringify(s);
}

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

// ---------------------------------------------------------------------------------------
// Regexes: RE2 → JavaScript

const REGEX_META = /[\\.+*?()|[\]{}^$]/;

/** Compiles an RE2 pattern, fully anchored, into a predicate. Throws KilnError. */
function compileRegex(pattern: string): (v: string) => boolean {
  // Fast paths for the shapes selectors use most; they agree exactly with the regex.
  if (pattern === ".*") return () => true;
  if (pattern === ".+") return (v) => v !== "";
  if (!REGEX_META.test(pattern)) return (v) => v === pattern;
  const alternatives = pattern.split("|");
  if (alternatives.length > 1 && alternatives.every((a) => !REGEX_META.test(a))) {
    const set = new Set(alternatives);
    return (v) => set.has(v);
  }
  const source = translateRe2(pattern);
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${source})$`, "su");
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    // V8: "Invalid regular expression: /<source>/su: <reason>"; keep only the reason.
    const reason = /\/su: (.*)$/.exec(msg)?.[1] ?? msg;
    throw regexError(pattern, reason);
  }
  return (v) => re.test(v);
}

function regexError(pattern: string, reason: string): KilnError {
  return new KilnError("invalid_argument", "invalid_selector", `invalid regex ${quote(pattern)}: ${reason}`);
}

const GENERAL_CATEGORIES = new Set(
  "C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs Any".split(
    " ",
  ),
);

/** POSIX bracket classes (ASCII), as the inside of a JavaScript character class. */
const POSIX_CLASSES: Readonly<Record<string, string>> = {
  alnum: "0-9A-Za-z",
  alpha: "A-Za-z",
  ascii: "\\x00-\\x7F",
  blank: "\\t ",
  cntrl: "\\x00-\\x1F\\x7F",
  digit: "0-9",
  graph: "\\x21-\\x7E",
  lower: "a-z",
  print: "\\x20-\\x7E",
  punct: "\\x21-\\x2F\\x3A-\\x40\\x5B-\\x60\\x7B-\\x7E",
  space: "\\t\\n\\v\\f\\r ",
  upper: "A-Z",
  word: "0-9A-Za-z_",
  xdigit: "0-9A-Fa-f",
};

const RE2_SPACE = "\\t\\n\\f\\r ";

function isAsciiAlnum(c: string): boolean {
  return (c >= "0" && c <= "9") || (c >= "a" && c <= "z") || (c >= "A" && c <= "Z");
}

function literal(cp: number): string {
  return `\\u{${cp.toString(16)}}`;
}

interface Group {
  /** Inline flag groups `(?i)` opened inside this group: each became `(?i:` awaiting `)`. */
  inlineFlags: string[];
}

/**
 * Rewrites RE2 syntax into JavaScript `u`-mode syntax with the same meaning. Throws a
 * KilnError for syntax that cannot be carried over; ordinary syntax errors are left for the
 * RegExp constructor to report.
 */
function translateRe2(pattern: string): string {
  const fail = (reason: string): never => {
    throw regexError(pattern, reason);
  };
  const cps = [...pattern];
  let i = 0;
  let out = "";
  const groups: Group[] = [{ inlineFlags: [] }];

  const readBraced = (): string => {
    // cps[i] === "{"
    const close = cps.indexOf("}", i);
    if (close < 0) fail("missing closing }");
    const inner = cps.slice(i + 1, close).join("");
    i = close + 1;
    return inner;
  };

  const unicodeClass = (negated: boolean): string => {
    let name: string;
    if (cps[i] === "{") {
      name = readBraced();
    } else {
      const c = cps[i];
      if (c === undefined) return fail("missing Unicode class name after \\p");
      name = c;
      i++;
    }
    if (name.startsWith("^")) {
      negated = !negated;
      name = name.slice(1);
    }
    if (!/^[A-Za-z_]+$/.test(name)) fail(`invalid Unicode class ${quote(name)}`);
    const prop = GENERAL_CATEGORIES.has(name) ? name : `Script=${name}`;
    return `${negated ? "\\P" : "\\p"}{${prop}}`;
  };

  /** Escapes that mean one character, shared by both contexts. Returns undefined if not one. */
  const charEscape = (e: string): string | undefined => {
    switch (e) {
      case "a":
        return "\\x07";
      case "f":
      case "n":
      case "r":
      case "t":
      case "v":
        return `\\${e}`;
      case "x": {
        if (cps[i] === "{") {
          const hex = readBraced();
          if (!/^[0-9A-Fa-f]{1,8}$/.test(hex) || Number.parseInt(hex, 16) > 0x10ffff) {
            fail(`invalid escape \\x{${hex}}`);
          }
          return literal(Number.parseInt(hex, 16));
        }
        const hex = cps.slice(i, i + 2).join("");
        if (!/^[0-9A-Fa-f]{2}$/.test(hex)) fail(`invalid escape \\x${hex}`);
        i += 2;
        return literal(Number.parseInt(hex, 16));
      }
      default:
        break;
    }
    if (e >= "0" && e <= "7") {
      // RE2: \1–\7 alone would be a backreference (unsupported); \0, \12, \123 are octal.
      let digits = e;
      while (digits.length < 3 && cps[i] !== undefined && cps[i]! >= "0" && cps[i]! <= "7") {
        digits += cps[i];
        i++;
      }
      if (digits.length === 1 && e !== "0") fail(`backreference \\${e} is not supported (RE2 syntax)`);
      return literal(Number.parseInt(digits, 8));
    }
    if (e.length === 1 && e.charCodeAt(0) < 0x80 && !isAsciiAlnum(e)) {
      // Escaped ASCII punctuation always means itself in RE2; JS `u` mode allows only some.
      return literal(e.charCodeAt(0));
    }
    return undefined;
  };

  const parseClass = (): void => {
    // cps[i - 1] === "["
    out += "[";
    if (cps[i] === "^") {
      out += "^";
      i++;
    }
    let first = true;
    for (;;) {
      const c = cps[i];
      if (c === undefined) fail("missing closing ]");
      if (c === "]" && !first) {
        out += "]";
        i++;
        return;
      }
      first = false;
      if (c === "[" && cps[i + 1] === ":") {
        const close = cps.indexOf(":", i + 2);
        if (close >= 0 && cps[close + 1] === "]") {
          let name = cps.slice(i + 2, close).join("");
          const negated = name.startsWith("^");
          if (negated) name = name.slice(1);
          const set = POSIX_CLASSES[name];
          if (set === undefined) fail(`invalid POSIX class [:${negated ? "^" : ""}${name}:]`);
          if (negated) fail(`negated POSIX class [:^${name}:] is not supported`);
          out += set;
          i = close + 2;
          continue;
        }
      }
      i++;
      if (c === "\\") {
        const e = cps[i];
        if (e === undefined) fail("trailing backslash");
        i++;
        switch (e) {
          case "d":
          case "D":
          case "w":
          case "W":
          case "S":
            out += `\\${e}`;
            continue;
          case "s":
            out += RE2_SPACE;
            continue;
          case "p":
          case "P":
            out += unicodeClass(e === "P");
            continue;
          default: {
            const ch = charEscape(e!);
            if (ch === undefined) fail(`invalid escape \\${e} in character class`);
            out += ch;
            continue;
          }
        }
      }
      if (c === "[" || c === "]" || c === "{" || c === "}" || c === "(" || c === ")" || c === "|") {
        out += `\\${c}`;
        continue;
      }
      out += c;
    }
  };

  const currentGroup = (): Group => groups[groups.length - 1]!;
  const closeInline = (g: Group): void => {
    out += ")".repeat(g.inlineFlags.length);
  };

  while (i < cps.length) {
    const c = cps[i]!;
    i++;
    switch (c) {
      case "\\": {
        const e = cps[i];
        if (e === undefined) fail("trailing backslash");
        i++;
        switch (e) {
          case "d":
          case "D":
          case "w":
          case "W":
          case "b":
          case "B":
            out += `\\${e}`;
            break;
          case "s":
            out += `[${RE2_SPACE}]`;
            break;
          case "S":
            out += `[^${RE2_SPACE}]`;
            break;
          case "A":
            out += "(?<![\\s\\S])";
            break;
          case "z":
            out += "(?![\\s\\S])";
            break;
          case "p":
          case "P":
            out += unicodeClass(e === "P");
            break;
          case "Q": {
            let end = i;
            while (end < cps.length && !(cps[end] === "\\" && cps[end + 1] === "E")) end++;
            for (let k = i; k < end; k++) {
              const ch = cps[k]!;
              out += isAsciiAlnum(ch) ? ch : literal(ch.codePointAt(0)!);
            }
            i = end < cps.length ? end + 2 : end;
            break;
          }
          case "C":
            fail("\\C (any byte) is not supported");
            break;
          default: {
            const ch = charEscape(e!);
            if (ch === undefined) fail(`invalid escape \\${e}`);
            out += ch;
          }
        }
        break;
      }
      case "[":
        parseClass();
        break;
      case "(": {
        if (cps[i] !== "?") {
          out += "(";
          groups.push({ inlineFlags: [] });
          break;
        }
        i++;
        const rest = cps.slice(i, i + 3).join("");
        if (rest.startsWith("P<") || (rest.startsWith("<") && rest[1] !== "=" && rest[1] !== "!")) {
          i += rest.startsWith("P<") ? 2 : 1;
          const close = cps.indexOf(">", i);
          if (close < 0) fail("missing > in named group");
          const name = cps.slice(i, close).join("");
          if (!/^[A-Za-z0-9_]+$/.test(name)) fail(`invalid group name ${quote(name)}`);
          i = close + 1;
          out += `(?<${name}>`;
          groups.push({ inlineFlags: [] });
          break;
        }
        if (rest.startsWith("=") || rest.startsWith("!") || rest.startsWith("<=") || rest.startsWith("<!")) {
          fail("lookahead and lookbehind are not supported (RE2 syntax)");
        }
        let flags = "";
        while (i < cps.length && /[imsU-]/.test(cps[i]!)) {
          flags += cps[i];
          i++;
        }
        const term = cps[i];
        if (term !== ")" && term !== ":") fail("invalid or unsupported group syntax after (?");
        i++;
        if (flags.includes("U")) fail("flag U (ungreedy) is not supported");
        const letters = flags.replace("-", "");
        const validFlags =
          letters !== "" &&
          !flags.endsWith("-") &&
          flags.indexOf("-") === flags.lastIndexOf("-") &&
          new Set(letters).size === letters.length;
        if (!validFlags && !(flags === "" && term === ":")) fail(`invalid flags (?${flags}${term}`);
        if (term === ":") {
          out += flags === "" ? "(?:" : `(?${flags}:`;
          groups.push({ inlineFlags: [] });
        } else {
          // (?flags) applies to the rest of the enclosing group, alternatives included.
          out += `(?${flags}:`;
          currentGroup().inlineFlags.push(flags);
        }
        break;
      }
      case ")": {
        if (groups.length === 1) fail("unexpected )");
        closeInline(groups.pop()!);
        out += ")";
        break;
      }
      case "|": {
        const g = currentGroup();
        closeInline(g);
        out += "|";
        for (const f of g.inlineFlags) out += `(?${f}:`;
        break;
      }
      case "{": {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(cps.slice(i - 1, i + 24).join(""));
        if (m === null) {
          out += "\\{";
          break;
        }
        const min = Number(m[1]);
        const max = m[3] === undefined || m[3] === "" ? min : Number(m[3]);
        if (min > MAX_REPEAT || max > MAX_REPEAT) fail(`repeat count ${m[0]} exceeds ${MAX_REPEAT}`);
        out += m[0];
        i += m[0].length - 1;
        break;
      }
      case "}":
      case "]":
        out += `\\${c}`;
        break;
      default:
        out += c;
    }
  }
  if (groups.length > 1) fail("missing closing )");
  closeInline(groups[0]!);
  return out;
}

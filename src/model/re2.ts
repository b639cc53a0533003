/**
 * RE2 regular expressions (the syntax of Prometheus and Pyroscope selectors) compiled to
 * JavaScript: fully anchored predicates, with RE2 syntax translated and syntax JavaScript
 * would read differently (or RE2 lacks) refused with a clear error.
 */
import { KilnError } from "./errors.ts";

/** Largest repeat count accepted in `{n,m}`, as RE2's limit. */
const MAX_REPEAT = 1000;

/** Quotes text for an error message. */
export function quote(s: string): string {
  return JSON.stringify(s);
}

const REGEX_META = /[\\.+*?()|[\]{}^$]/;

/** Compiles an RE2 pattern, fully anchored, into a predicate. Throws KilnError. */
export function compileRegex(pattern: string): (v: string) => boolean {
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

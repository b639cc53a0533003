/**
 * Label selectors as the query API takes them (wire reference §6.3):
 * `{name="value", name!="v", name=~"re", name!~"re"}`. The UI edits one selector text; these
 * helpers read the service out of it, set a matcher (the service picker, the tag explorer's
 * "open in Explore"), and tell the autocomplete what is being typed at the cursor.
 */

export type MatchOp = "=" | "!=" | "=~" | "!~";

export interface Matcher {
  name: string;
  op: MatchOp;
  value: string;
}

export const SERVICE_LABEL = "service_name";

const NAME_START = /[A-Za-z_]/;
const NAME_PART = /[A-Za-z0-9_.]/;

/** Parses a selector; throws a SyntaxError saying what is wrong and where. */
export function parseSelector(text: string): Matcher[] {
  const src = text.trim();
  if (src === "") return [];
  let i = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at position ${i + 1} of ${JSON.stringify(src)}`);
  };
  const skipSpace = () => {
    while (i < src.length && /\s/.test(src[i]!)) i++;
  };
  if (src[i] !== "{") fail('expected "{"');
  i++;
  const matchers: Matcher[] = [];
  skipSpace();
  while (src[i] !== "}") {
    if (i >= src.length) fail('expected "}"');
    let name: string;
    if (src[i] === '"') name = readQuoted();
    else {
      const start = i;
      if (!NAME_START.test(src[i] ?? "")) fail("expected a label name");
      while (i < src.length && NAME_PART.test(src[i]!)) i++;
      name = src.slice(start, i);
    }
    skipSpace();
    const op = (["=~", "!~", "!=", "="] as const).find((candidate) => src.startsWith(candidate, i));
    if (op === undefined) fail("expected one of = != =~ !~");
    i += op!.length;
    skipSpace();
    if (src[i] !== '"' && src[i] !== "'" && src[i] !== "`") fail("expected a quoted value");
    matchers.push({ name, op: op!, value: readQuoted() });
    skipSpace();
    if (src[i] === ",") {
      i++;
      skipSpace();
    } else if (src[i] !== "}") fail('expected "," or "}"');
  }
  i++;
  skipSpace();
  if (i < src.length) fail("unexpected text after the selector");
  return matchers;

  function readQuoted(): string {
    const quote = src[i]!;
    i++;
    let value = "";
    while (i < src.length && src[i] !== quote) {
      if (src[i] === "\\" && quote !== "`") {
        const next = src[i + 1];
        value += next === "n" ? "\n" : next === "t" ? "\t" : (next ?? "");
        i += 2;
      } else {
        value += src[i];
        i++;
      }
    }
    if (i >= src.length) fail("unterminated string");
    i++;
    return value;
  }
}

export function formatSelector(matchers: readonly Matcher[]): string {
  const parts = matchers.map((m) => {
    const name = /^[A-Za-z_][A-Za-z0-9_.]*$/.test(m.name) ? m.name : quote(m.name);
    return `${name}${m.op}${quote(m.value)}`;
  });
  return `{${parts.join(", ")}}`;
}

function quote(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

/** The selector with `name="value"` replacing any matcher on `name` (`""` matches "label absent"). */
export function withEqualMatcher(selector: string, name: string, value: string): string {
  const matchers = safeParse(selector).filter((m) => m.name !== name);
  // The service first: it reads best and is what most queries start with.
  const matcher: Matcher = { name, op: "=", value };
  if (name === SERVICE_LABEL) matchers.unshift(matcher);
  else matchers.push(matcher);
  return formatSelector(matchers);
}

/** The selector without any matcher on `name`. */
export function withoutMatcher(selector: string, name: string): string {
  return formatSelector(safeParse(selector).filter((m) => m.name !== name));
}

/** The value of the selector's `service_name="…"` matcher, or "". */
export function serviceOf(selector: string): string {
  return safeParse(selector).find((m) => m.name === SERVICE_LABEL && m.op === "=")?.value ?? "";
}

/** Unparsable selectors read as empty here; the query itself shows the syntax error. */
function safeParse(selector: string): Matcher[] {
  try {
    return parseSelector(selector);
  } catch {
    return [];
  }
}

export function isValidSelector(selector: string): boolean {
  try {
    parseSelector(selector);
    return true;
  } catch {
    return false;
  }
}

/** What the user is typing at the cursor, for the autocomplete. */
export type CompletionContext =
  | { kind: "name"; prefix: string; from: number; to: number }
  | { kind: "value"; name: string; prefix: string; from: number; to: number }
  | { kind: "none" };

/**
 * Reads the selector text up to the cursor: inside a quoted value it is completing that
 * label's value; after `{` or `,` (and a partial name) it is completing a label name.
 * `from`/`to` are the span a chosen completion replaces.
 */
export function completionContextAt(text: string, cursor: number): CompletionContext {
  let i = 0;
  let inString: string | null = null;
  let stringStart = 0;
  let lastName = "";
  let expectName = false;
  let nameStart = -1;
  while (i < cursor) {
    const ch = text[i]!;
    if (inString !== null) {
      if (ch === "\\") i++;
      else if (ch === inString) inString = null;
      i++;
      continue;
    }
    if (ch === '"' || ch === "'" || ch === "`") {
      inString = ch;
      stringStart = i + 1;
      expectName = false;
      nameStart = -1;
    } else if (ch === "{" || ch === ",") {
      expectName = true;
      nameStart = -1;
    } else if (NAME_PART.test(ch) && expectName) {
      if (nameStart === -1) nameStart = i;
    } else if (ch === "=" || ch === "!" || ch === "~") {
      if (nameStart !== -1) lastName = text.slice(nameStart, i).trim();
      expectName = false;
      nameStart = -1;
    } else if (/\s/.test(ch) && nameStart !== -1) {
      lastName = text.slice(nameStart, i);
      expectName = false;
      nameStart = -1;
    }
    i++;
  }
  if (inString !== null) {
    let end = cursor;
    while (end < text.length && text[end] !== inString) end++;
    return {
      kind: "value",
      name: lastName,
      prefix: text.slice(stringStart, cursor),
      from: stringStart,
      to: end,
    };
  }
  if (expectName) {
    const from = nameStart === -1 ? cursor : nameStart;
    let end = cursor;
    while (end < text.length && NAME_PART.test(text[end]!)) end++;
    return { kind: "name", prefix: text.slice(from, cursor), from, to: end };
  }
  return { kind: "none" };
}

/**
 * Applies a completion: a name becomes `name="` with the cursor inside the quotes; a value
 * is written with its closing quote. Returns the new text and cursor.
 */
export function applyCompletion(
  text: string,
  context: Exclude<CompletionContext, { kind: "none" }>,
  completion: string,
): { text: string; cursor: number } {
  if (context.kind === "name") {
    const inserted = `${completion}="`;
    const next = `${text.slice(0, context.from)}${inserted}"${text.slice(context.to)}`;
    return { text: next, cursor: context.from + inserted.length };
  }
  const escaped = completion.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
  let to = context.to;
  // Replace the closing quote too when there is one, and write our own.
  if (text[to] === '"') to++;
  const next = `${text.slice(0, context.from)}${escaped}"${text.slice(to)}`;
  return { text: next, cursor: context.from + escaped.length + 1 };
}

/**
 * The /ingest `name` parameter: `<app name>{k=v,k=v,…}` (wire reference §2.2), parsed with
 * the same state machine as Pyroscope's `labelset.Parse`, including its corners:
 * - the name is everything before the first `{`, trimmed; characters `[A-Za-z0-9_.\-/]`,
 *   non-empty; it is stored as `__name__`;
 * - in the braces, `key=value` pairs end at `,` or `}`; keys and values are trimmed; keys
 *   must be non-empty `[A-Za-z0-9_.]` unless the key is `__name__` (which overrides the app
 *   name, unvalidated); values are not validated and cannot contain `,` or `}`;
 * - later duplicates win;
 * - a `}` outside a value ends parsing (anything after it is ignored); a `}` that closes a
 *   value does not, so `app{a=b}c=d}` also yields c=d, as upstream;
 * - a pair not closed by `,` or `}` (`app{a=b`) is dropped silently.
 * Failures throw KilnError invalid_argument "invalid_name" with upstream's wording.
 */
import { KilnError } from "../../model/errors.ts";

/** Upper bound on the parameter: a URL query value longer than this is not a name. */
export const maxNameParamChars = 64 * 1024;

export interface ParsedName {
  /** `__name__` after overrides: the app name (possibly suffixed with a profile type). */
  appName: string;
  /** Every key=value pair, in first-seen order, including `__name__` when given as a tag. */
  tags: Map<string, string>;
}

const ParserState = { name: 0, key: 1, value: 2, done: 3 } as const;

export function parseAppName(name: string): ParsedName {
  if (name.length > maxNameParamChars) {
    throw invalidName(`name is ${name.length} characters long, limit ${maxNameParamChars}`);
  }
  const tags = new Map<string, string>();
  let state: number = ParserState.name;
  let key = "";
  let value = "";
  let appName = "";
  // Upstream appends "{" so that a name without braces still ends the name state.
  const text = `${name}{`;
  for (const ch of text) {
    if (state === ParserState.done) break;
    if (state === ParserState.name) {
      if (ch === "{") {
        appName = value.trim();
        validateServiceName(appName);
        tags.set("__name__", appName);
        value = "";
        state = ParserState.key;
      } else {
        value += ch;
      }
    } else if (state === ParserState.key) {
      if (ch === "}") state = ParserState.done;
      else if (ch === "=") {
        value = "";
        state = ParserState.value;
      } else key += ch;
    } else if (ch === "," || ch === "}") {
      const k = key.trim();
      if (k !== "__name__") validateLabelName(k);
      tags.set(k, value.trim());
      key = "";
      state = ParserState.key;
    } else {
      value += ch;
    }
  }
  return { appName: tags.get("__name__") ?? appName, tags };
}

function validateServiceName(n: string): void {
  if (n === "") throw invalidName("service name is required");
  for (const ch of n) {
    if (!isLabelNameChar(ch) && ch !== "-" && ch !== "/") {
      throw invalidName(`invalid service name: ${n}: character is not allowed: ${goQuoteRune(ch)}`);
    }
  }
}

function validateLabelName(k: string): void {
  if (k === "") throw invalidName("label name is required");
  for (const ch of k) {
    if (!isLabelNameChar(ch))
      throw invalidName(`invalid label name: ${k}: character is not allowed: ${goQuoteRune(ch)}`);
  }
}

function isLabelNameChar(ch: string): boolean {
  return /^[A-Za-z0-9_.]$/.test(ch);
}

/** Go's %q for a rune, close enough for messages: 'x', or an escape for control characters. */
function goQuoteRune(ch: string): string {
  if (ch === "'") return "'\\''";
  const json = JSON.stringify(ch);
  return `'${json.slice(1, -1)}'`;
}

function invalidName(message: string): KilnError {
  return new KilnError("invalid_argument", "invalid_name", `name: ${message}`);
}

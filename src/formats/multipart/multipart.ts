/**
 * A bounded `multipart/form-data` reader (RFC 7578) for /ingest, written for what Pyroscope
 * accepts through Go's mime/multipart `Reader.ReadForm` (wire reference §2.4.2):
 * - the boundary comes from the Content-Type `boundary` parameter, quoted or not;
 * - a preamble before the first boundary line and an epilogue after the closing one are
 *   ignored; boundary lines may carry trailing spaces/tabs; CRLF and bare LF both work;
 * - a part body ends at `<newline>--boundary` followed by whitespace, a newline or `--`
 *   (or at `--boundary` right at the start of the body, i.e. an empty body);
 * - a part is a *file* when its Content-Disposition is `form-data` with a non-empty
 *   `filename`; file parts are returned by field name (first one wins, as Go's form reader
 *   reads `File[name][0]`); plain values and parts without a name are skipped.
 * A missing closing boundary, a bad header block or a missing boundary parameter throws
 * KilnError invalid_argument "malformed_multipart" (422 on /ingest).
 *
 * Bounds: `maxParts` parts, `maxPartBytes` per part body, 64 KiB per header block. Part bodies
 * are views into `body`, not copies. Content-Transfer-Encoding is not decoded (Go decodes
 * quoted-printable; no profiler sends it).
 */
import { KilnError } from "../../model/errors.ts";

export interface MultipartLimits {
  maxParts: number;
  maxPartBytes: number;
}

/** Header block limit per part; Go's is larger but real form parts use ~150 bytes. */
export const maxPartHeaderBytes = 64 * 1024;

const CR = 13;
const LF = 10;
const DASH = 45;
const SPACE = 32;
const TAB = 9;

export function parseMultipart(
  body: Uint8Array,
  contentType: string,
  limits: MultipartLimits,
): Map<string, Uint8Array> {
  const boundary = multipartBoundary(contentType);
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const dashBoundary = Buffer.from(`--${boundary}`, "latin1");
  const files = new Map<string, Uint8Array>();

  // The first boundary line: "--boundary" at the start of a line, followed by LWSP + newline.
  let lineStart = findBoundaryLine(buf, dashBoundary, 0);
  if (lineStart === -1) throw malformed("no boundary line found");
  let parts = 0;
  for (;;) {
    const after = lineStart + dashBoundary.length;
    if (buf[after] === DASH && buf[after + 1] === DASH) return files; // closing boundary
    const partStart = endOfLine(buf, after);
    if (partStart === -1) throw malformed("boundary line not followed by a newline");
    parts++;
    if (parts > limits.maxParts) throw malformed(`more than ${limits.maxParts} parts`);

    const { headers, bodyStart } = readHeaders(buf, partStart);
    const { bodyEnd, nextLine } = findPartEnd(buf, dashBoundary, bodyStart);
    if (bodyEnd - bodyStart > limits.maxPartBytes) {
      throw malformed(`part of ${bodyEnd - bodyStart} bytes exceeds ${limits.maxPartBytes} bytes`);
    }
    const disposition = parseContentDisposition(headers.get("content-disposition") ?? "");
    if (
      disposition &&
      disposition.name !== "" &&
      disposition.filename !== "" &&
      !files.has(disposition.name)
    ) {
      files.set(disposition.name, body.subarray(bodyStart, bodyEnd));
    }
    lineStart = nextLine;
  }
}

/** The `boundary` parameter of a multipart Content-Type (RFC 2046: 1–70 characters). */
export function multipartBoundary(contentType: string): string {
  const params = parseHeaderParams(contentType);
  if (!params?.type.startsWith("multipart/")) throw malformed(`not a multipart content type: ${contentType}`);
  const boundary = params.params.get("boundary");
  if (boundary === undefined || boundary === "") throw malformed("no boundary parameter in Content-Type");
  if (boundary.length > 70) throw malformed("boundary longer than 70 characters");
  return boundary;
}

function findBoundaryLine(buf: Buffer, dashBoundary: Buffer, from: number): number {
  // Each iteration moves `at` forward by at least one byte, so the loop ends within buf.length.
  let at = from;
  for (;;) {
    const hit = buf.indexOf(dashBoundary, at);
    if (hit === -1) return -1;
    if (hit === 0 || buf[hit - 1] === LF) {
      const after = hit + dashBoundary.length;
      if (buf[after] === DASH && buf[after + 1] === DASH) return hit;
      if (endOfLine(buf, after) !== -1) return hit;
    }
    at = hit + 1;
  }
}

/** After optional spaces/tabs, a CRLF or LF: returns the index past it, else -1. */
function endOfLine(buf: Buffer, at: number): number {
  let i = at;
  while (buf[i] === SPACE || buf[i] === TAB) i++;
  if (buf[i] === CR && buf[i + 1] === LF) return i + 2;
  if (buf[i] === LF) return i + 1;
  return -1;
}

function findPartEnd(
  buf: Buffer,
  dashBoundary: Buffer,
  bodyStart: number,
): { bodyEnd: number; nextLine: number } {
  if (isDelimiterAt(buf, dashBoundary, bodyStart)) return { bodyEnd: bodyStart, nextLine: bodyStart };
  let at = bodyStart;
  for (;;) {
    const hit = buf.indexOf(dashBoundary, at);
    if (hit === -1) throw malformed("missing closing boundary");
    if (hit > bodyStart && buf[hit - 1] === LF && isDelimiterAt(buf, dashBoundary, hit)) {
      const bodyEnd = hit >= bodyStart + 2 && buf[hit - 2] === CR ? hit - 2 : hit - 1;
      const after = hit + dashBoundary.length;
      const closing = buf[after] === DASH && buf[after + 1] === DASH;
      if (!closing && endOfLine(buf, after) === -1) throw malformed("unexpected text after a boundary");
      return { bodyEnd, nextLine: hit };
    }
    at = hit + 1;
  }
}

/** Go's matchAfterPrefix: the delimiter counts when followed by LWSP, a newline or `--`. */
function isDelimiterAt(buf: Buffer, dashBoundary: Buffer, at: number): boolean {
  if (buf.length - at < dashBoundary.length) return false;
  if (buf.compare(dashBoundary, 0, dashBoundary.length, at, at + dashBoundary.length) !== 0) return false;
  const c = buf[at + dashBoundary.length];
  if (c === SPACE || c === TAB || c === CR || c === LF) return true;
  return c === DASH && buf[at + dashBoundary.length + 1] === DASH;
}

function readHeaders(buf: Buffer, start: number): { headers: Map<string, string>; bodyStart: number } {
  const headers = new Map<string, string>();
  let at = start;
  let lastName = "";
  for (;;) {
    const nl = buf.indexOf(LF, at);
    if (nl === -1 || nl - start > maxPartHeaderBytes) {
      throw malformed(
        nl === -1 ? "part headers not terminated" : `part headers exceed ${maxPartHeaderBytes} bytes`,
      );
    }
    const lineEnd = nl > at && buf[nl - 1] === CR ? nl - 1 : nl;
    const line = buf.toString("latin1", at, lineEnd);
    at = nl + 1;
    if (line === "") return { headers, bodyStart: at };
    if ((line[0] === " " || line[0] === "\t") && lastName !== "") {
      headers.set(lastName, `${headers.get(lastName)} ${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) throw malformed(`malformed part header line ${JSON.stringify(line.slice(0, 80))}`);
    lastName = line.slice(0, colon).trim().toLowerCase();
    // Header bytes are UTF-8 in practice (file names); latin1 keeps bytes for the decode below.
    const value = Buffer.from(line.slice(colon + 1).trim(), "latin1").toString("utf8");
    if (!headers.has(lastName)) headers.set(lastName, value);
  }
}

function parseContentDisposition(value: string): { name: string; filename: string } | undefined {
  const parsed = parseHeaderParams(value);
  if (parsed?.type !== "form-data") return undefined;
  const filename = parsed.params.get("filename") ?? "";
  // Go's Part.FileName returns filepath.Base of the parameter.
  const base = filename.split(/[/\\]/).pop() ?? "";
  return { name: parsed.params.get("name") ?? "", filename: base };
}

/**
 * `type; k=v; k="quoted \" value"` → lower-cased type and parameters (lower-cased names).
 * Returns undefined when the syntax is broken.
 */
function parseHeaderParams(value: string): { type: string; params: Map<string, string> } | undefined {
  const semi = value.indexOf(";");
  const type = (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase();
  const params = new Map<string, string>();
  if (type === "") return undefined;
  let i = semi === -1 ? value.length : semi + 1;
  // Each pass consumes at least one character or returns.
  while (i < value.length) {
    while (i < value.length && (value[i] === " " || value[i] === "\t" || value[i] === ";")) i++;
    if (i >= value.length) break;
    const eq = value.indexOf("=", i);
    if (eq === -1) return undefined;
    const name = value.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    let v = "";
    if (value[i] === '"') {
      i++;
      while (i < value.length && value[i] !== '"') {
        if (value[i] === "\\" && i + 1 < value.length) i++;
        v += value[i];
        i++;
      }
      if (value[i] !== '"') return undefined;
      i++;
    } else {
      const end = value.indexOf(";", i);
      v = value.slice(i, end === -1 ? value.length : end).trim();
      i = end === -1 ? value.length : end;
    }
    if (name === "") return undefined;
    if (!params.has(name)) params.set(name, v);
  }
  return { type, params };
}

function malformed(message: string): KilnError {
  return new KilnError("invalid_argument", "malformed_multipart", `malformed multipart body: ${message}`);
}

/**
 * The object store holds all profile data as immutable objects (blocks). Keys are
 * `/`-separated paths such as `segments/01J…/block.bin`. Implementations: the filesystem
 * (src/objstore/fs-store.ts, the default) and S3 (a later issue). Both must pass the
 * contract suite in src/objstore/contract.ts.
 *
 * Contract:
 * - `put` is atomic and durable: once it resolves, a crash (even SIGKILL or power loss for
 *   the filesystem store) leaves either the whole object or, if it never resolved, nothing
 *   visible. An existing key is replaced atomically.
 * - `get`/`getRange` of a missing key reject with `ObjectNotFoundError`.
 * - `getRange(key, offset, length)` returns exactly `length` bytes, or rejects with
 *   `RangeError` when the range reaches past the end of the object.
 * - `list(prefix)` returns every key starting with `prefix` (plain string prefix, not a
 *   folder), sorted ascending, with sizes.
 * - `delete` of a missing key resolves (idempotent).
 * - Keys are checked with `checkObjectKey` (shared by every implementation, so a key valid on
 *   one store is valid on all): a malformed key rejects with `InvalidObjectKeyError` and
 *   touches nothing. `list` prefixes are checked with `checkObjectKeyPrefix`.
 * - `close` waits for operations in flight and is idempotent; any call after it rejects.
 */
export interface ObjectStore {
  put(key: string, data: Uint8Array): Promise<void>;
  get(key: string): Promise<Uint8Array>;
  getRange(key: string, offset: number, length: number): Promise<Uint8Array>;
  /** Object size in bytes; rejects with ObjectNotFoundError when missing. */
  size(key: string): Promise<number>;
  list(prefix: string): Promise<ObjectInfo[]>;
  delete(key: string): Promise<void>;
  close(): Promise<void>;
}

export interface ObjectInfo {
  key: string;
  sizeBytes: number;
}

export class ObjectNotFoundError extends Error {
  readonly key: string;
  constructor(key: string) {
    super(`object not found: ${key}`);
    this.name = "ObjectNotFoundError";
    this.key = key;
  }
}

/** A key that is not a well-formed object key (see `checkObjectKey`). A caller bug, never retried. */
export class InvalidObjectKeyError extends Error {
  readonly key: string;
  constructor(key: string, why: string) {
    super(`invalid object key ${JSON.stringify(key)}: ${why}`);
    this.name = "InvalidObjectKeyError";
    this.key = key;
  }
}

/** S3 caps keys at 1024 UTF-8 bytes; the same cap everywhere keeps stores interchangeable. */
export const MAX_OBJECT_KEY_BYTES = 1024;

// Control characters (NUL ends a path in the OS) and backslash (a separator on Windows) would
// make the same key mean different things on different stores.
const FORBIDDEN_KEY_CHARS = /[\u0000-\u001f\u007f\\]/;

/**
 * Throws `InvalidObjectKeyError` unless `key` is a relative `/`-separated path of non-empty
 * segments, none of which is `.` or `..`, with no control characters or backslashes, and at most
 * MAX_OBJECT_KEY_BYTES long. These rules are what keep the filesystem store inside its root.
 */
export function checkObjectKey(key: string): void {
  if (typeof key !== "string" || key.length === 0) throw new InvalidObjectKeyError(String(key), "empty");
  checkKeyText(key, key);
  for (const segment of key.split("/")) checkSegment(key, segment);
}

/**
 * Like `checkObjectKey` for a `list` prefix, which may be empty and may end in the middle of a
 * segment or with `/`: every complete segment must be valid.
 */
export function checkObjectKeyPrefix(prefix: string): void {
  if (typeof prefix !== "string") throw new InvalidObjectKeyError(String(prefix), "prefix is not a string");
  if (prefix.length === 0) return;
  checkKeyText(prefix, prefix);
  const segments = prefix.split("/");
  // The last piece is a partial segment: "seg" may match "segments/…", ".." may match "..x".
  for (let i = 0; i < segments.length - 1; i++) checkSegment(prefix, segments[i]!);
}

function checkKeyText(key: string, text: string): void {
  if (Buffer.byteLength(text, "utf8") > MAX_OBJECT_KEY_BYTES) {
    throw new InvalidObjectKeyError(key, `longer than ${MAX_OBJECT_KEY_BYTES} bytes`);
  }
  if (FORBIDDEN_KEY_CHARS.test(text)) {
    throw new InvalidObjectKeyError(key, "contains a control character or a backslash");
  }
  if (!text.isWellFormed()) throw new InvalidObjectKeyError(key, "contains a lone UTF-16 surrogate");
  if (text.startsWith("/")) throw new InvalidObjectKeyError(key, "absolute (starts with /)");
}

function checkSegment(key: string, segment: string): void {
  if (segment.length === 0) throw new InvalidObjectKeyError(key, "empty path segment (// or trailing /)");
  if (segment === "." || segment === "..") throw new InvalidObjectKeyError(key, `"${segment}" segment`);
}

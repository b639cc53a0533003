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

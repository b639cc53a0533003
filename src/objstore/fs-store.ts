/**
 * FsObjectStore: the object store as a folder on local disk (the embedded default), e.g.
 * `<data-dir>/objects`. Key `a/b/c.bin` is the file `<root>/a/b/c.bin`.
 *
 * Durability of `put` (the segment writer acknowledges pushes once it resolves, so it must
 * survive SIGKILL and power loss):
 *   1. make the key's parent folders; a folder entry is only durable once the folder that holds
 *      it is fsynced, so the parent of every folder on the path is fsynced unless this process
 *      already knows it durable (see `durableDirs`);
 *   2. write the bytes to a temp file with a unique name in the key's own folder (same
 *      filesystem, so the rename below is atomic) and fsync it;
 *   3. rename the temp file over the key path: readers see the old object or the new one,
 *      never a mix;
 *   4. fsync the key's folder so the rename itself survives power loss.
 *
 * Temp files are named `.kiln-tmp-<hex>`; keys may not contain a segment with that prefix, so
 * `list` and `get` never see one. A crash can leave temp files behind; `open` deletes those
 * older than `staleTempAgeMs` (default 15 min). The age guard exists because another process
 * (the compactor) may share the folder and be mid-put when this one opens.
 *
 * `delete` unlinks the file, fsyncs its folder, and removes folders it leaves empty (up to the
 * root) so that deleted blocks do not leave thousands of empty folders; `put` retries when such
 * a removal races with it.
 *
 * Limitation of a filesystem: a key cannot also be the folder of another key (`a` and `a/b`);
 * putting the second one fails with the OS error. Kiln's key layout never does that.
 *
 * The set of folders known durable is per process: if another process removes a folder and
 * makes it again while this one still trusts it, a put into it could resolve before the new
 * folder entry is synced. Kiln's writers never reuse a deleted block's folder (keys carry ULIDs).
 *
 * `getRange` keeps the read handles of the last `readHandlesMax` objects open (a query reads
 * three or four sections of each block, and open + fstat + close cost more than a small read).
 * `put` and `delete` drop the handle of their key, so this process always reads what it last
 * wrote. Another process replacing an object under the same key is not seen while the handle
 * is cached; Kiln never does that (block keys carry ULIDs, objects are immutable), and an object
 * another process deleted stays readable through a cached handle until it is evicted.
 * `close` waits for calls in flight and closes the handles.
 */
import { randomBytes } from "node:crypto";
import { closeSync, type Dirent, fstatSync, openSync, readSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import * as fsp from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import {
  checkObjectKey,
  checkObjectKeyPrefix,
  InvalidObjectKeyError,
  type ObjectInfo,
  ObjectNotFoundError,
  type ObjectStore,
} from "./object-store.ts";

export interface FsObjectStoreOptions {
  /** Temp files older than this are deleted at open; younger ones may belong to a live writer. */
  staleTempAgeMs?: number;
  /** Read handles `getRange` keeps open (default 256; 0 = open and close per call). */
  readHandlesMax?: number;
}

/** An open read handle shared by concurrent `getRange` calls of one key. */
interface ReadHandle {
  opened: Promise<{ fh: FileHandle; size: number }>;
  users: number;
  /** Dropped from the cache: close once the last user is done. */
  retired: boolean;
  lastUsedMs: number;
}

const DEFAULT_READ_HANDLES_MAX = 256;
/**
 * Cached read handles unused this long are closed, so the files of objects another process
 * deleted (the compactor's, after its grace period) do not stay on disk behind them.
 */
const READ_HANDLE_IDLE_MS = 30_000;

const TEMP_PREFIX = ".kiln-tmp-";
const DEFAULT_STALE_TEMP_AGE_MS = 15 * 60 * 1000;
/** A folder removed by a concurrent `delete` between mkdir and the temp-file create is retried this often. */
const MAX_PUT_ATTEMPTS = 5;
/**
 * Bound on the set of folders known to be durable. Clearing it when full only costs a few extra
 * fsyncs on the next puts, never correctness.
 */
const MAX_DURABLE_DIRS = 10_000;
/** Keys are at most 1024 bytes, so a tree deeper than this holds no objects; stops symlink-free loops early. */
const MAX_WALK_DEPTH = 512;

export class FsObjectStore implements ObjectStore {
  readonly root: string;
  /**
   * Folders (absolute paths) whose entry in their parent is known to be on disk, so puts into
   * them need not fsync the parent again. The root is durable once `open` returns.
   */
  private readonly durableDirs = new Set<string>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;
  /** getRange's open handles by key, least recently used first. */
  private readonly readHandles = new Map<string, ReadHandle>();
  private readonly readHandlesMax: number;
  private idleSweep: NodeJS.Timeout | undefined;

  private constructor(root: string, readHandlesMax: number) {
    this.root = root;
    this.readHandlesMax = readHandlesMax;
  }

  /** Opens (creating if needed) the store rooted at `rootDir` and deletes stale temp files. */
  static async open(rootDir: string, options: FsObjectStoreOptions = {}): Promise<FsObjectStore> {
    const root = resolve(rootDir);
    const created = await fsp.mkdir(root, { recursive: true });
    if (created !== undefined) {
      // mkdir returned the top-most folder it made; its parent and every new folder below it
      // must be synced for the root to survive power loss.
      for (let dir = root; ; dir = dirname(dir)) {
        await syncDir(dirname(dir));
        if (dir === created || dirname(dir) === dir) break;
      }
    }
    const readHandlesMax = options.readHandlesMax ?? DEFAULT_READ_HANDLES_MAX;
    if (!(Number.isSafeInteger(readHandlesMax) && readHandlesMax >= 0))
      throw new RangeError(`readHandlesMax ${readHandlesMax} is not a non-negative integer`);
    const store = new FsObjectStore(root, readHandlesMax);
    await store.removeStaleTemps(options.staleTempAgeMs ?? DEFAULT_STALE_TEMP_AGE_MS);
    return store;
  }

  put(key: string, data: Uint8Array): Promise<void> {
    return this.track(async () => {
      checkFsKey(key);
      const path = this.pathOf(key);
      const dir = dirname(path);
      for (let attempt = 1; ; attempt++) {
        await this.ensureDir(dir);
        try {
          await writeDurably(dir, path, data);
          this.forgetReadHandle(key);
          return;
        } catch (err) {
          // The rename may have happened before the failure: never read the old version.
          this.forgetReadHandle(key);
          // ENOENT here means a concurrent delete removed the (then empty) folder after we made
          // it; make it again. Anything else is a real failure.
          if (errCode(err) !== "ENOENT" || attempt >= MAX_PUT_ATTEMPTS) throw err;
          this.forgetDurable(dir);
        }
      }
    });
  }

  get(key: string): Promise<Uint8Array> {
    return this.track(async () => {
      checkFsKey(key);
      const { fh, size } = await this.openObject(key);
      try {
        return await readExactly(fh, 0, size, key);
      } finally {
        await fh.close();
      }
    });
  }

  getRange(key: string, offset: number, length: number): Promise<Uint8Array> {
    return this.track(async () => {
      checkFsKey(key);
      if (!Number.isSafeInteger(offset) || offset < 0) {
        throw new RangeError(`getRange ${key}: offset ${offset} is not a non-negative integer`);
      }
      if (!Number.isSafeInteger(length) || length < 0) {
        throw new RangeError(`getRange ${key}: length ${length} is not a non-negative integer`);
      }
      const handle = this.acquireReadHandle(key);
      try {
        const { fh, size } = await handle.opened;
        if (offset + length > size) {
          throw new RangeError(
            `getRange ${key}: range [${offset}, ${offset + length}) reaches past the end (${size} bytes)`,
          );
        }
        return await readExactly(fh, offset, length, key);
      } finally {
        this.releaseReadHandle(handle);
      }
    });
  }

  /** The cached read handle of `key` (opened now if none), counted as used until released. */
  private acquireReadHandle(key: string): ReadHandle {
    let handle = this.readHandles.get(key);
    if (handle === undefined) {
      const opened = this.openObject(key);
      // Counted as used from the start, so the eviction below cannot close it.
      handle = { opened, users: 1, retired: false, lastUsedMs: Date.now() };
      if (this.readHandlesMax > 0) {
        this.readHandles.set(key, handle);
        this.startIdleSweep();
        // A failed open (a missing object) is not cached.
        opened.catch(() => this.forgetReadHandle(key, handle!));
        this.evictReadHandles();
      } else {
        handle.retired = true;
      }
      return handle;
    }
    // Most recently used last.
    this.readHandles.delete(key);
    this.readHandles.set(key, handle);
    handle.users++;
    return handle;
  }

  private releaseReadHandle(handle: ReadHandle): void {
    handle.users--;
    handle.lastUsedMs = Date.now();
    if (handle.users === 0 && handle.retired) closeReadHandle(handle);
    else if (handle.users === 0) this.evictReadHandles();
  }

  /** Drops the cached handle of `key` (the object was replaced or deleted). */
  private forgetReadHandle(key: string, only?: ReadHandle): void {
    const handle = this.readHandles.get(key);
    if (handle === undefined || (only !== undefined && handle !== only)) return;
    this.readHandles.delete(key);
    handle.retired = true;
    if (handle.users === 0) closeReadHandle(handle);
  }

  /** Closes cached handles idle for READ_HANDLE_IDLE_MS, every so often while any is cached. */
  private startIdleSweep(): void {
    if (this.idleSweep !== undefined) return;
    this.idleSweep = setInterval(() => {
      const cutoffMs = Date.now() - READ_HANDLE_IDLE_MS;
      for (const [key, handle] of this.readHandles) {
        if (handle.users === 0 && handle.lastUsedMs < cutoffMs) this.forgetReadHandle(key);
      }
      if (this.readHandles.size === 0) this.stopIdleSweep();
    }, READ_HANDLE_IDLE_MS);
    this.idleSweep.unref();
  }

  private stopIdleSweep(): void {
    clearInterval(this.idleSweep);
    this.idleSweep = undefined;
  }

  /** Closes unused handles, least recently used first, down to the bound. */
  private evictReadHandles(): void {
    for (const [key, handle] of this.readHandles) {
      if (this.readHandles.size <= this.readHandlesMax) return;
      if (handle.users === 0) this.forgetReadHandle(key);
    }
  }

  size(key: string): Promise<number> {
    return this.track(async () => {
      checkFsKey(key);
      const { fh, size } = await this.openObject(key);
      await fh.close();
      return size;
    });
  }

  list(prefix: string): Promise<ObjectInfo[]> {
    return this.track(async () => {
      checkObjectKeyPrefix(prefix);
      // Only the folder named by the prefix's complete segments can hold matches.
      const slash = prefix.lastIndexOf("/");
      const baseKey = slash < 0 ? "" : prefix.slice(0, slash);
      const found: ObjectInfo[] = [];
      await this.walk(baseKey, async (key, entry, dirPath) => {
        if (!key.startsWith(prefix)) return;
        try {
          const st = await fsp.stat(join(dirPath, entry.name));
          if (st.isFile()) found.push({ key, sizeBytes: st.size });
        } catch (err) {
          // Deleted between readdir and stat: it is simply not there any more.
          if (errCode(err) !== "ENOENT") throw err;
        }
      });
      // Byte order of UTF-8, which is how S3 sorts, so both stores list in the same order.
      return found.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
    });
  }

  delete(key: string): Promise<void> {
    return this.track(async () => {
      checkFsKey(key);
      const path = this.pathOf(key);
      try {
        await fsp.unlink(path);
        this.forgetReadHandle(key);
      } catch (err) {
        // Also when another process deleted it first: never read it through a cached handle.
        this.forgetReadHandle(key);
        const code = errCode(err);
        // Missing (or a parent is a file): nothing to delete. EISDIR/EPERM: the key names a
        // folder, which is not an object either.
        if (code === "ENOENT" || code === "ENOTDIR") return;
        if ((code === "EISDIR" || code === "EPERM") && (await isDirectory(path))) return;
        throw err;
      }
      await syncDir(dirname(path));
      await this.removeEmptyParents(dirname(path));
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
    for (const key of [...this.readHandles.keys()]) this.forgetReadHandle(key);
    this.stopIdleSweep();
  }

  private track<T>(op: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`object store ${this.root} is closed`));
    const p = op();
    this.inFlight.add(p);
    const done = () => this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  private pathOf(key: string): string {
    return objectPath(this.root, key);
  }

  /** Opens an object for reading, with its size. */
  private async openObject(key: string): Promise<{ fh: FileHandle; size: number }> {
    let fh: FileHandle;
    try {
      fh = await fsp.open(this.pathOf(key), "r");
    } catch (err) {
      const code = errCode(err);
      if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") throw new ObjectNotFoundError(key);
      throw err;
    }
    // On Linux a folder opens fine; a folder is not an object.
    let stat: Awaited<ReturnType<FileHandle["stat"]>>;
    try {
      stat = await fh.stat();
    } catch (err) {
      await fh.close();
      throw err;
    }
    if (!stat.isFile()) {
      await fh.close();
      throw new ObjectNotFoundError(key);
    }
    return { fh, size: stat.size };
  }

  /** Makes `dir` and its missing ancestors, and makes their entries durable. */
  private async ensureDir(dir: string): Promise<void> {
    if (this.durableDirs.has(dir)) return;
    const chain: string[] = [];
    for (let d = dir; d !== this.root; d = dirname(d)) {
      if (this.durableDirs.has(d)) break;
      chain.push(d);
    }
    chain.reverse();
    for (const d of chain) {
      try {
        await fsp.mkdir(d);
      } catch (err) {
        // Made earlier, by us or another writer: still sync its parent, as that writer may
        // not have yet and our put must not depend on its progress.
        if (errCode(err) !== "EEXIST") throw err;
      }
      await syncDir(dirname(d));
      this.rememberDurable(d);
    }
  }

  private rememberDurable(dir: string): void {
    if (this.durableDirs.size >= MAX_DURABLE_DIRS) this.durableDirs.clear();
    this.durableDirs.add(dir);
  }

  private forgetDurable(dir: string): void {
    for (let d = dir; d !== this.root && d.startsWith(this.root); d = dirname(d)) this.durableDirs.delete(d);
  }

  private async removeEmptyParents(dir: string): Promise<void> {
    for (let d = dir; d !== this.root && d.startsWith(this.root + sep); d = dirname(d)) {
      try {
        await fsp.rmdir(d);
      } catch (err) {
        const code = errCode(err);
        // Not empty (or already gone): stop; folders above hold something too.
        if (code === "ENOTEMPTY" || code === "EEXIST" || code === "ENOENT") return;
        throw err;
      }
      this.forgetDurable(d);
      await syncDir(dirname(d));
    }
  }

  /**
   * Visits every entry below the folder of `baseKey` that could be an object (files and
   * folders' contents; temp files skipped), iteratively with an explicit stack.
   */
  private async walk(
    baseKey: string,
    visit: (key: string, entry: Dirent, dirPath: string) => Promise<void>,
    visitTemp?: (entry: Dirent, dirPath: string) => Promise<void>,
  ): Promise<void> {
    const stack: { dirPath: string; keyPrefix: string; depth: number }[] = [
      {
        dirPath: baseKey === "" ? this.root : this.pathOf(baseKey),
        keyPrefix: baseKey === "" ? "" : `${baseKey}/`,
        depth: 0,
      },
    ];
    while (stack.length > 0) {
      const { dirPath, keyPrefix, depth } = stack.pop()!;
      let entries: Dirent[];
      try {
        entries = await fsp.readdir(dirPath, { withFileTypes: true });
      } catch (err) {
        // The prefix names no folder, or a concurrent delete removed it.
        const code = errCode(err);
        if (code === "ENOENT" || code === "ENOTDIR") continue;
        throw err;
      }
      for (const entry of entries) {
        if (entry.name.startsWith(TEMP_PREFIX)) {
          if (visitTemp !== undefined) await visitTemp(entry, dirPath);
          continue;
        }
        const key = keyPrefix + entry.name;
        if (entry.isDirectory()) {
          if (depth + 1 < MAX_WALK_DEPTH)
            stack.push({ dirPath: join(dirPath, entry.name), keyPrefix: `${key}/`, depth: depth + 1 });
        } else if (entry.isFile()) {
          await visit(key, entry, dirPath);
        }
        // Symlinks and other special files are never written by the store: not objects.
      }
    }
  }

  private async removeStaleTemps(staleTempAgeMs: number): Promise<void> {
    const cutoffMs = Date.now() - staleTempAgeMs;
    await this.walk(
      "",
      async () => {},
      async (entry, dirPath) => {
        const path = join(dirPath, entry.name);
        try {
          if ((await fsp.stat(path)).mtimeMs <= cutoffMs) await fsp.unlink(path);
        } catch (err) {
          if (errCode(err) !== "ENOENT") throw err;
        }
      },
    );
  }
}

/** The file of `key` under `root` (an absolute, resolved folder). */
function objectPath(root: string, key: string): string {
  checkFsKey(key);
  const path = join(root, ...key.split("/"));
  // checkObjectKey already rules out escapes; this is the last line of defence.
  if (!path.startsWith(root + sep)) throw new InvalidObjectKeyError(key, "resolves outside the root");
  return path;
}

/**
 * Blocking ranged reads of a filesystem store's objects, for worker threads (the query pool's
 * workers read the sections of their tasks themselves: a worker has nothing else to do while
 * it waits, and the main thread's event loop stays free). Keeps the descriptors of the last
 * `handlesMax` objects open (objects are immutable); a descriptor whose file was deleted is
 * dropped when next used, and descriptors idle for READ_HANDLE_IDLE_MS are closed, so
 * deleted objects do not stay on disk behind them.
 */
export class FsRangeReaderSync {
  readonly root: string;
  readonly #handles = new Map<string, { fd: number; size: number; lastUsedMs: number }>();
  readonly #handlesMax: number;
  readonly #idleSweep: NodeJS.Timeout;

  constructor(root: string, handlesMax = 64) {
    this.root = resolve(root);
    this.#handlesMax = Math.max(1, handlesMax);
    this.#idleSweep = setInterval(() => {
      const cutoffMs = Date.now() - READ_HANDLE_IDLE_MS;
      for (const [key, handle] of this.#handles) {
        if (handle.lastUsedMs >= cutoffMs) continue;
        closeSync(handle.fd);
        this.#handles.delete(key);
      }
    }, READ_HANDLE_IDLE_MS);
    this.#idleSweep.unref();
  }

  read(key: string, offset: number, length: number): Uint8Array {
    if (!(Number.isSafeInteger(offset) && offset >= 0 && Number.isSafeInteger(length) && length >= 0))
      throw new RangeError(`read ${key}: bad range ${offset}+${length}`);
    const { fd, size } = this.#open(key);
    if (offset + length > size)
      throw new RangeError(
        `read ${key}: range [${offset}, ${offset + length}) reaches past the end (${size} bytes)`,
      );
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const n = readSync(fd, out, filled, length - filled, offset + filled);
      if (n === 0) throw new Error(`object ${key} ended after ${offset + filled} bytes while reading`);
      filled += n;
    }
    return out;
  }

  close(): void {
    clearInterval(this.#idleSweep);
    for (const { fd } of this.#handles.values()) closeSync(fd);
    this.#handles.clear();
  }

  #open(key: string): { fd: number; size: number; lastUsedMs: number } {
    const cached = this.#handles.get(key);
    this.#handles.delete(key);
    if (cached !== undefined) {
      // A deleted object (nlink 0) is read again by path: missing now, or replaced.
      if (fstatSync(cached.fd).nlink > 0) {
        cached.lastUsedMs = Date.now();
        this.#handles.set(key, cached);
        return cached;
      }
      closeSync(cached.fd);
    }
    let fd: number;
    try {
      fd = openSync(objectPath(this.root, key), "r");
    } catch (err) {
      const code = errCode(err);
      if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") throw new ObjectNotFoundError(key);
      throw err;
    }
    let stat: ReturnType<typeof fstatSync>;
    try {
      stat = fstatSync(fd);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    if (!stat.isFile()) {
      closeSync(fd);
      throw new ObjectNotFoundError(key);
    }
    const handle = { fd, size: stat.size, lastUsedMs: Date.now() };
    this.#handles.set(key, handle);
    for (const [oldKey, old] of this.#handles) {
      if (this.#handles.size <= this.#handlesMax) break;
      closeSync(old.fd);
      this.#handles.delete(oldKey);
    }
    return handle;
  }
}

/** `checkObjectKey` plus the fs store's own reservation: segments may not look like temp files. */
function checkFsKey(key: string): void {
  checkObjectKey(key);
  for (const segment of key.split("/")) {
    if (segment.startsWith(TEMP_PREFIX)) {
      throw new InvalidObjectKeyError(
        key,
        `segments starting with ${TEMP_PREFIX} are reserved for temp files`,
      );
    }
  }
}

async function writeDurably(dir: string, path: string, data: Uint8Array): Promise<void> {
  const tempPath = join(dir, TEMP_PREFIX + randomBytes(12).toString("hex"));
  // "wx": fail rather than share a file if the random name ever collides.
  const fh = await fsp.open(tempPath, "wx");
  let renamed = false;
  try {
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tempPath, path);
    renamed = true;
    await syncDir(dir);
  } finally {
    if (!renamed) await fsp.unlink(tempPath).catch(() => {});
  }
}

function closeReadHandle(handle: ReadHandle): void {
  handle.opened.then(({ fh }) => fh.close()).catch(() => {});
}

async function readExactly(fh: FileHandle, offset: number, length: number, key: string): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await fh.read(out, filled, length - filled, offset + filled);
    // The file shrank under us; objects are replaced by rename, never truncated, so only a
    // foreign writer can cause this.
    if (bytesRead === 0) throw new Error(`object ${key} ended after ${offset + filled} bytes while reading`);
    filled += bytesRead;
  }
  return out;
}

async function syncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await fsp.stat(path)).isDirectory();
  } catch {
    return false;
  }
}

function errCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err ? String(err.code) : undefined;
}

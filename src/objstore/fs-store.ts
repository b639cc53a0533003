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
 * The store holds no open handles between calls; `close` waits for calls in flight.
 */
import { randomBytes } from "node:crypto";
import type { Dirent } from "node:fs";
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
}

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

  private constructor(root: string) {
    this.root = root;
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
    const store = new FsObjectStore(root);
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
          return;
        } catch (err) {
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
      const fh = await this.openObject(key);
      try {
        const { size } = await fh.stat();
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
      const fh = await this.openObject(key);
      try {
        const { size } = await fh.stat();
        if (offset + length > size) {
          throw new RangeError(
            `getRange ${key}: range [${offset}, ${offset + length}) reaches past the end (${size} bytes)`,
          );
        }
        return await readExactly(fh, offset, length, key);
      } finally {
        await fh.close();
      }
    });
  }

  size(key: string): Promise<number> {
    return this.track(async () => {
      checkFsKey(key);
      const fh = await this.openObject(key);
      try {
        return (await fh.stat()).size;
      } finally {
        await fh.close();
      }
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
      } catch (err) {
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
    const path = join(this.root, ...key.split("/"));
    // checkObjectKey already rules out escapes; this is the last line of defence.
    if (!path.startsWith(this.root + sep)) throw new InvalidObjectKeyError(key, "resolves outside the root");
    return path;
  }

  private async openObject(key: string): Promise<FileHandle> {
    let fh: FileHandle;
    try {
      fh = await fsp.open(this.pathOf(key), "r");
    } catch (err) {
      const code = errCode(err);
      if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") throw new ObjectNotFoundError(key);
      throw err;
    }
    // On Linux a folder opens fine; a folder is not an object.
    if (!(await fh.stat()).isFile()) {
      await fh.close();
      throw new ObjectNotFoundError(key);
    }
    return fh;
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

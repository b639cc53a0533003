/**
 * The segment writer: group commit of pushes into one block object per flush window.
 *
 * Profiles of all tenants accumulate in one in-memory segment (one DatasetBuilder per
 * (tenant, service)). Every `flushIntervalMs`, or as soon as the segment's estimated size
 * reaches `segmentBytesMax`, the segment is encoded as ONE block, uploaded to the object
 * store and registered in the metastore. Only then do the pushes of that window resolve:
 * a push is acknowledged exactly when its profiles are durable and findable. If the upload
 * or the registration fails, every push of that window rejects with `unavailable` (a
 * retryable 503), and nothing of it is claimed stored.
 *
 * Bounds: at most `maxFlushesInFlight` segments are being written at once. While that many
 * are in flight, the open segment keeps filling; once it holds `segmentBytesMax` × 2, new
 * pushes are refused with `resource_exhausted` instead of growing memory without bound.
 *
 * Dictionaries: each (tenant, service) keeps its symbols and stack tree from one segment to
 * the next (`DictionaryCache`, bounded by `dictionaryBytesMax` in total, LRU, and by
 * `datasetDictionaryBytesMax` each), since agents resend the same stacks every 10-15 s. Each
 * block still holds only what its own profiles reference. A flush builds the block's payloads
 * synchronously when the segment is cut, before any later push can touch a dictionary, then
 * compresses them on the thread pool while new pushes fill the next segment.
 */

import { encodeBlockAsync } from "../block/block-writer.ts";
import { DatasetBuilder } from "../block/dataset-builder.ts";
import { DictionaryCache, type DictionaryCacheStats } from "../block/dictionary-cache.ts";
import { blockFormatVersion } from "../block/format.ts";
import type { BlockMeta, Metastore } from "../metastore/metastore.ts";
import { KilnError } from "../model/errors.ts";
import { getLabel, LabelName, unknownServiceName } from "../model/labels.ts";
import type { NormalizedProfile } from "../model/profile.ts";
import { ulid } from "../model/ulid.ts";
import type { ObjectStore } from "../objstore/object-store.ts";

export interface SegmentWriterOptions {
  store: ObjectStore;
  metastore: Metastore;
  flushIntervalMs: number;
  segmentBytesMax: number;
  maxFlushesInFlight?: number;
  /** Memory budget of all per-dataset dictionaries kept between segments; 0 = keep none. */
  dictionaryBytesMax?: number;
  /** A dataset's dictionary past this size starts over at its next segment. */
  datasetDictionaryBytesMax?: number;
  /** Called after each flush attempt; used for metrics and logs. */
  onFlush?: (report: FlushReport) => void;
  now?: () => number;
}

export interface FlushReport {
  blockId: string;
  ok: boolean;
  error?: unknown;
  durationMs: number;
  encodeMs: number;
  sizeBytes: number;
  profiles: number;
  pushes: number;
  datasets: number;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

/** Defaults of the dictionary budgets (see `SegmentWriterOptions`). */
export const DICTIONARY_BYTES_MAX_DEFAULT = 256 * 1024 * 1024;
export const DATASET_DICTIONARY_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;

class Segment {
  readonly datasets = new Map<string, DatasetBuilder>();
  readonly waiters: Waiter[] = [];
  readonly #dictionaries: DictionaryCache;
  profiles = 0;
  estimatedBytes = 0;

  constructor(dictionaries: DictionaryCache) {
    this.#dictionaries = dictionaries;
  }

  append(tenant: string, profile: NormalizedProfile): void {
    const service = getLabel(profile.seriesLabels, LabelName.serviceName) ?? unknownServiceName;
    const key = `${tenant}\u0000${service}`;
    let builder = this.datasets.get(key);
    if (!builder) {
      builder = new DatasetBuilder(tenant, service, this.#dictionaries.get(tenant, service));
      this.datasets.set(key, builder);
    }
    const before = builder.estimatedBytes();
    builder.append(profile);
    this.estimatedBytes += builder.estimatedBytes() - before;
    this.profiles++;
  }
}

export class SegmentWriter {
  readonly #opts: Required<Omit<SegmentWriterOptions, "onFlush">> & Pick<SegmentWriterOptions, "onFlush">;
  readonly #dictionaries: DictionaryCache;
  #segment: Segment;
  #inFlight = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(opts: SegmentWriterOptions) {
    if (!(opts.flushIntervalMs > 0)) throw new RangeError("flushIntervalMs must be > 0");
    if (!(opts.segmentBytesMax > 0)) throw new RangeError("segmentBytesMax must be > 0");
    this.#opts = {
      maxFlushesInFlight: 2,
      now: Date.now,
      dictionaryBytesMax: DICTIONARY_BYTES_MAX_DEFAULT,
      datasetDictionaryBytesMax: DATASET_DICTIONARY_BYTES_MAX_DEFAULT,
      ...opts,
    };
    if (!(this.#opts.dictionaryBytesMax >= 0)) throw new RangeError("dictionaryBytesMax must be >= 0");
    if (!(this.#opts.datasetDictionaryBytesMax >= 0)) {
      throw new RangeError("datasetDictionaryBytesMax must be >= 0");
    }
    this.#dictionaries = new DictionaryCache({
      bytesMax: this.#opts.dictionaryBytesMax,
      datasetBytesMax: this.#opts.datasetDictionaryBytesMax,
    });
    this.#segment = new Segment(this.#dictionaries);
    this.#timer = setInterval(() => this.#tick(), opts.flushIntervalMs);
    this.#timer.unref();
  }

  /**
   * Adds the profiles of one push to the open segment and resolves once they are durable.
   * All profiles of a push land in the same segment, so a push is all-or-nothing.
   */
  push(tenant: string, profiles: readonly NormalizedProfile[]): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new KilnError("unavailable", "shutting_down", "server is shutting down"));
    }
    if (profiles.length === 0) return Promise.resolve();
    if (this.#segment.estimatedBytes >= this.#opts.segmentBytesMax * 2) {
      return Promise.reject(
        new KilnError(
          "resource_exhausted",
          "ingest_backlog",
          `ingest backlog: ${this.#inFlight.size} segment flushes in flight and the open segment holds ` +
            `${this.#segment.estimatedBytes} bytes (2 × segment_bytes_max); retry later`,
        ),
      );
    }
    const segment = this.#segment;
    for (const p of profiles) segment.append(tenant, p);
    const done = new Promise<void>((resolve, reject) => segment.waiters.push({ resolve, reject }));
    if (segment.estimatedBytes >= this.#opts.segmentBytesMax) this.#rotate();
    return done;
  }

  /** Stops accepting pushes, flushes the open segment and waits for every flush in flight. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    // Flush even past the in-flight bound: on shutdown every accepted push must be answered.
    this.#rotate(true);
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Number of profiles waiting in the open segment (for tests and metrics). */
  get pendingProfiles(): number {
    return this.#segment.profiles;
  }

  /** The dictionaries kept between segments (for tests and metrics). */
  dictionaryStats(): DictionaryCacheStats {
    return this.#dictionaries.stats();
  }

  #tick(): void {
    if (this.#segment.waiters.length > 0) this.#rotate();
  }

  #rotate(force = false): void {
    const segment = this.#segment;
    if (segment.waiters.length === 0) return;
    if (!force && this.#inFlight.size >= this.#opts.maxFlushesInFlight) return;
    this.#segment = new Segment(this.#dictionaries);
    // Between segments: the closed one keeps the dictionaries it used even if evicted here.
    this.#dictionaries.enforceBudget();
    const flush = this.#flush(segment).finally(() => {
      this.#inFlight.delete(flush);
      // A segment may have filled up while the flush slots were busy.
      if (!this.#closed && this.#segment.estimatedBytes >= this.#opts.segmentBytesMax) this.#rotate();
    });
    this.#inFlight.add(flush);
  }

  async #flush(segment: Segment): Promise<void> {
    const now = this.#opts.now;
    const started = now();
    const blockId = ulid(started);
    let sizeBytes = 0;
    let encodeMs = 0;
    try {
      const builders = [...segment.datasets.values()];
      // Reads the builders (and their dictionaries) before returning; only zstd is deferred.
      const encoded = await encodeBlockAsync(builders);
      encodeMs = now() - started;
      sizeBytes = encoded.bytes.byteLength;
      const tenants = new Set(builders.map((b) => b.tenant));
      const objectKey = `segments/${blockId}/block.bin`;
      const meta: BlockMeta = {
        id: blockId,
        objectKey,
        formatVersion: blockFormatVersion,
        level: 0,
        tenant: tenants.size === 1 ? [...tenants][0]! : "",
        minTimeMs: encoded.minTimeMs,
        maxTimeMs: encoded.maxTimeMs,
        sizeBytes,
        createdAtMs: started,
        datasets: encoded.datasets,
      };
      await this.#opts.store.put(objectKey, encoded.bytes);
      await this.#opts.metastore.addBlock(meta);
    } catch (error) {
      const err = new KilnError(
        "unavailable",
        "flush_failed",
        `could not store the profiles durably (block ${blockId}); nothing of this push was stored, retry it`,
        { cause: error },
      );
      for (const w of segment.waiters) w.reject(err);
      this.#report(segment, { blockId, ok: false, error, durationMs: now() - started, encodeMs, sizeBytes });
      return;
    }
    for (const w of segment.waiters) w.resolve();
    this.#report(segment, { blockId, ok: true, durationMs: now() - started, encodeMs, sizeBytes });
  }

  #report(
    segment: Segment,
    r: Pick<FlushReport, "blockId" | "ok" | "error" | "durationMs" | "encodeMs" | "sizeBytes">,
  ): void {
    this.#opts.onFlush?.({
      ...r,
      profiles: segment.profiles,
      pushes: segment.waiters.length,
      datasets: segment.datasets.size,
    });
  }
}

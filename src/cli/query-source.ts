/**
 * Where `kiln query` reads from: a running server over its public query API (querier.v1 over
 * Connect or gRPC, so any Pyroscope-compatible server answers), or a Kiln data folder read in
 * this process through the query engine. Both give the same answers in the same shapes.
 *
 * Over the API, top tables and folded stacks come from the merged pprof (SelectMergeProfile),
 * which holds every distinct stack with its sum: nothing is folded into `other` as a flame
 * graph's node cap would. Its frames are named as the engine names stored frames (function
 * name, else `<mapping basename>+0x<address>`), so both sources build the same name tree.
 */
import { basename, join } from "node:path";
import { toBinary } from "@bufbuild/protobuf";
import { type Client, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { decodePprof } from "../formats/pprof/decode.ts";
import { encodePprof } from "../formats/pprof/encode.ts";
import { ProfileSchema } from "../gen/google/v1/profile_pb.js";
import { QuerierService } from "../gen/querier/v1/querier_pb.js";
import { TimeSeriesAggregationType } from "../gen/types/v1/types_pb.js";
import type { Label } from "../model/labels.ts";
import type { Pprof } from "../model/pprof.ts";
import { QueryEngine, type SeriesResult, type TimeRange } from "../query/engine.ts";
import { NameTree } from "../query/tree.ts";

/** The tenant of a request that names none (Kiln's single-tenant mode). */
export const DEFAULT_TENANT = "anonymous";
/** Largest merged pprof accepted from a server, decompressed. */
const MAX_PPROF_BYTES = 1024 * 1024 * 1024;

export type Protocol = "connect" | "connect-json" | "grpc";

/** What selects samples: a profile type, a `{…}` selector and a time range (ms, inclusive). */
export interface StackSelection extends TimeRange {
  profileType: string;
  selector: string;
}

export interface SeriesSelection extends StackSelection {
  stepMs: number;
  groupBy: readonly string[];
  aggregation: "sum" | "average";
  /** Top-N series by total; 0 = all. */
  limit: number;
}

export interface QuerySource {
  /** Human-readable place the answers come from, for messages. */
  readonly description: string;
  profileTypes(range: TimeRange): Promise<string[]>;
  labelNames(selectors: readonly string[], range: TimeRange): Promise<string[]>;
  labelValues(name: string, selectors: readonly string[], range: TimeRange): Promise<string[]>;
  /** The merged function-name tree (root-first paths of function names, summed values). */
  mergeTree(selection: StackSelection): Promise<NameTree>;
  /** The merged profile as plain (not gzipped) profile.proto bytes. */
  mergePprofBytes(selection: StackSelection): Promise<Uint8Array>;
  selectSeries(selection: SeriesSelection): Promise<SeriesResult[]>;
  close(): Promise<void>;
}

/**
 * The frame names of a pprof location, innermost (leaf-most) first: one per line (inlined
 * functions are frames of their own); a location without lines or function is named by its
 * mapping file and address, as the engine names unsymbolized stored frames.
 */
export function locationFrames(p: Pprof, location: number): string[] {
  const names: string[] = [];
  for (let l = p.locationLineOffsets[location]!; l < p.locationLineOffsets[location + 1]!; l++) {
    const functionPlus1 = p.lineFunctionPlus1[l]!;
    if (functionPlus1 !== 0) names.push(p.strings[p.functionNameStr[functionPlus1 - 1]!]!);
  }
  if (names.length > 0) return names;
  const address = `0x${p.locationAddress[location]!.toString(16)}`;
  const mappingPlus1 = p.locationMappingPlus1[location]!;
  const file = mappingPlus1 === 0 ? "" : p.strings[p.mappingFilenameStr[mappingPlus1 - 1]!]!;
  return [file === "" ? address : `${basename(file)}+${address}`];
}

/** The name tree of a merged pprof, from its first (or default) sample type. */
export function treeFromPprof(p: Pprof): NameTree {
  const tree = new NameTree();
  const types = p.sampleTypeStr.length;
  if (types === 0) return tree;
  let column = 0;
  if (p.defaultSampleTypeStr !== 0) {
    const at = p.sampleTypeStr.indexOf(p.defaultSampleTypeStr);
    if (at >= 0) column = at;
  }
  const frames: (string[] | undefined)[] = new Array(p.locationCount);
  const stack: string[] = [];
  for (let s = 0; s < p.sampleCount; s++) {
    const value = p.sampleValues[s * types + column]!;
    if (value === 0) continue;
    stack.length = 0;
    // Locations are leaf first; the tree wants root first.
    for (let i = p.sampleLocationOffsets[s + 1]! - 1; i >= p.sampleLocationOffsets[s]!; i--) {
      const location = p.sampleLocations[i]!;
      let names = frames[location];
      if (names === undefined) {
        names = locationFrames(p, location);
        frames[location] = names;
      }
      for (let n = names.length - 1; n >= 0; n--) stack.push(names[n]!);
    }
    tree.addStack(stack, value);
  }
  return tree;
}

export interface RemoteSourceOptions {
  url: string;
  /** Sent as X-Scope-OrgID; absent = no header (single-tenant servers). */
  tenant?: string;
  protocol: Protocol;
  /** Per-call deadline. */
  timeoutMs: number;
}

/** A running server's querier.v1 API. */
export class RemoteSource implements QuerySource {
  readonly description: string;
  readonly #client: Client<typeof QuerierService>;
  readonly #timeoutMs: number;

  constructor(options: RemoteSourceOptions) {
    this.description = options.url;
    this.#timeoutMs = options.timeoutMs;
    const interceptors: Interceptor[] = [];
    const tenant = options.tenant;
    if (tenant !== undefined) {
      interceptors.push((next) => (req) => {
        req.header.set("X-Scope-OrgID", tenant);
        return next(req);
      });
    }
    // Merged profiles of long ranges are large; the defaults would refuse them.
    const readMaxBytes = 0x7fffffff;
    let transport: Transport;
    if (options.protocol === "grpc") {
      transport = createGrpcTransport({ baseUrl: options.url, interceptors, readMaxBytes });
    } else {
      transport = createConnectTransport({
        baseUrl: options.url,
        httpVersion: "1.1",
        useBinaryFormat: options.protocol === "connect",
        interceptors,
        readMaxBytes,
      });
    }
    this.#client = createClient(QuerierService, transport);
  }

  get #call() {
    return { timeoutMs: this.#timeoutMs };
  }

  async profileTypes(range: TimeRange): Promise<string[]> {
    const res = await this.#client.profileTypes(
      { start: BigInt(range.startMs), end: BigInt(range.endMs) },
      this.#call,
    );
    return res.profileTypes.map((t) => t.ID).sort();
  }

  async labelNames(selectors: readonly string[], range: TimeRange): Promise<string[]> {
    const res = await this.#client.labelNames(
      { matchers: [...selectors], start: BigInt(range.startMs), end: BigInt(range.endMs) },
      this.#call,
    );
    return res.names;
  }

  async labelValues(name: string, selectors: readonly string[], range: TimeRange): Promise<string[]> {
    const res = await this.#client.labelValues(
      { name, matchers: [...selectors], start: BigInt(range.startMs), end: BigInt(range.endMs) },
      this.#call,
    );
    return res.names;
  }

  async mergePprofBytes(selection: StackSelection): Promise<Uint8Array> {
    const profile = await this.#client.selectMergeProfile(
      {
        profileTypeID: selection.profileType,
        labelSelector: selection.selector,
        start: BigInt(selection.startMs),
        end: BigInt(selection.endMs),
      },
      this.#call,
    );
    return toBinary(ProfileSchema, profile);
  }

  async mergeTree(selection: StackSelection): Promise<NameTree> {
    const bytes = await this.mergePprofBytes(selection);
    return treeFromPprof(decodePprof(bytes, { maxDecompressedBytes: MAX_PPROF_BYTES }));
  }

  async selectSeries(selection: SeriesSelection): Promise<SeriesResult[]> {
    const res = await this.#client.selectSeries(
      {
        profileTypeID: selection.profileType,
        labelSelector: selection.selector,
        start: BigInt(selection.startMs),
        end: BigInt(selection.endMs),
        step: selection.stepMs / 1000,
        groupBy: [...selection.groupBy],
        aggregation:
          selection.aggregation === "average"
            ? TimeSeriesAggregationType.AVERAGE
            : TimeSeriesAggregationType.SUM,
        ...(selection.limit > 0 ? { limit: BigInt(selection.limit) } : {}),
      },
      this.#call,
    );
    return res.series.map((s) => ({
      labels: s.labels.map((l): Label => [l.name, l.value]),
      points: s.points.map((p) => ({ timestamp: Number(p.timestamp), value: p.value })),
    }));
  }

  async close(): Promise<void> {}
}

/** A Kiln data folder (object store + SQLite metastore), read in this process. */
export class LocalSource implements QuerySource {
  readonly description: string;
  readonly #engine: QueryEngine;
  readonly #tenant: string;
  readonly #close: () => Promise<void>;

  private constructor(description: string, engine: QueryEngine, tenant: string, close: () => Promise<void>) {
    this.description = description;
    this.#engine = engine;
    this.#tenant = tenant;
    this.#close = close;
  }

  static async open(dataDir: string, tenant: string | undefined): Promise<LocalSource> {
    const { FsObjectStore } = await import("../objstore/fs-store.ts");
    const { SqliteMetastore } = await import("../metastore/sqlite.ts");
    const store = await FsObjectStore.open(join(dataDir, "objects"));
    let metastore: Awaited<ReturnType<typeof SqliteMetastore.open>>;
    try {
      metastore = await SqliteMetastore.open(dataDir);
    } catch (err) {
      await store.close();
      throw err;
    }
    const engine = new QueryEngine({ store, metastore });
    return new LocalSource(dataDir, engine, tenant ?? DEFAULT_TENANT, async () => {
      await metastore.close();
      await store.close();
    });
  }

  profileTypes(range: TimeRange): Promise<string[]> {
    return this.#engine.profileTypes(this.#tenant, range);
  }

  labelNames(selectors: readonly string[], range: TimeRange): Promise<string[]> {
    return this.#engine.labelNames(this.#tenant, selectors, range);
  }

  labelValues(name: string, selectors: readonly string[], range: TimeRange): Promise<string[]> {
    return this.#engine.labelValues(this.#tenant, name, selectors, range);
  }

  mergeTree(selection: StackSelection): Promise<NameTree> {
    return this.#engine.mergeTree(this.#stackQuery(selection));
  }

  async mergePprofBytes(selection: StackSelection): Promise<Uint8Array> {
    return encodePprof(await this.#engine.mergePprof(this.#stackQuery(selection)));
  }

  selectSeries(selection: SeriesSelection): Promise<SeriesResult[]> {
    return this.#engine.selectSeries({
      ...this.#stackQuery(selection),
      stepMs: selection.stepMs,
      groupBy: selection.groupBy,
      aggregation: selection.aggregation,
      limit: selection.limit,
    });
  }

  close(): Promise<void> {
    return this.#close();
  }

  #stackQuery(selection: StackSelection) {
    return {
      tenant: this.#tenant,
      profileType: selection.profileType,
      selector: selection.selector,
      startMs: selection.startMs,
      endMs: selection.endMs,
    };
  }
}

/**
 * JFR recording reader: chunks → metadata → constant pools → events.
 *
 * A recording is one or more chunks, back to back. Each chunk starts with a 68-byte
 * big-endian header:
 *
 * | offset | field |
 * |---|---|
 * | 0 | magic `FLR\0` |
 * | 4 | major, minor (u16 each; 1.x and 2.x are read) |
 * | 8 | chunk size in bytes, header included |
 * | 16 | offset of the last constant-pool (checkpoint) event |
 * | 24 | offset of the metadata event |
 * | 32 | start, nanoseconds since the epoch |
 * | 40 | duration, nanoseconds |
 * | 48 | start ticks |
 * | 56 | ticks per second |
 * | 64 | file state, flags (4 bytes) |
 *
 * followed by events until the chunk's end. Every event is `int size` (of the whole
 * event), `long typeId`, payload. Type 0 is metadata (metadata.ts), type 1 a checkpoint of
 * constant pools: `long startTime`, `long duration`, `long delta` (to the previous
 * checkpoint), `byte/int flags`, `int poolCount`, then per pool `long classId`,
 * `int count`, count × (`long id`, value of that class). Ids are local to their chunk.
 *
 * `parseJfr` reads each chunk in three steps: the metadata at the header's offset, every
 * checkpoint event (a linear scan, so chained checkpoints and several per chunk work), then
 * every other event in file order; the ones the visitor asked for are decoded and handed
 * over with the chunk's pools. All sizes and counts are checked against the bytes present
 * before anything is allocated for them.
 */
import { type JfrClass, type JfrMetadata, readMetadataBody } from "./metadata.ts";
import { type JfrLong, JfrReader, malformedJfr } from "./reader.ts";
import { defaultMaxStringLength, isStringRef, type JfrString } from "./strings.ts";
import { type JfrValue, ValueCodec } from "./values.ts";

export const chunkHeaderSize = 68;
const magic = [0x46, 0x4c, 0x52, 0x00];

export interface JfrLimits {
  /** Input bytes (after decompression). */
  maxBytes: number;
  maxChunks: number;
  /** Constant-pool entries per chunk. */
  maxConstantsPerChunk: number;
  /** Classes per metadata event. */
  maxClasses: number;
  /** Nesting of metadata elements and of inline values. */
  maxDepth: number;
  maxStringLength: number;
}

export const defaultJfrLimits: Readonly<JfrLimits> = Object.freeze({
  maxBytes: 256 * 1024 * 1024,
  maxChunks: 4096,
  maxConstantsPerChunk: 4_000_000,
  maxClasses: 10_000,
  maxDepth: 32,
  maxStringLength: defaultMaxStringLength,
});

export interface JfrChunkHeader {
  /** Byte offset of the chunk in the recording. */
  offset: number;
  major: number;
  minor: number;
  size: number;
  constantPoolOffset: number;
  metadataOffset: number;
  startNanos: bigint;
  durationNanos: bigint;
  startTicks: number;
  ticksPerSecond: number;
  features: number;
}

/** One chunk's type system and constant pools, as handed to the visitor. */
export class JfrChunk {
  readonly header: JfrChunkHeader;
  readonly metadata: JfrMetadata;
  /** Class id → (constant id → value), only for the pools the visitor asked to keep. */
  readonly pools = new Map<number, Map<JfrLong, JfrValue>>();
  private readonly stringPool: Map<JfrLong, JfrValue> | undefined;

  constructor(header: JfrChunkHeader, metadata: JfrMetadata) {
    this.header = header;
    this.metadata = metadata;
    const stringClass = metadata.byName.get("java.lang.String");
    if (stringClass) {
      this.stringPool = new Map();
      this.pools.set(stringClass.id, this.stringPool);
    }
  }

  pool(className: string): Map<JfrLong, JfrValue> | undefined {
    const cls = this.metadata.byName.get(className);
    return cls ? this.pools.get(cls.id) : undefined;
  }

  /** A decoded string field as text: pool references resolved (one level), null → "". */
  string(v: JfrValue | undefined): string {
    if (typeof v === "string") return v;
    if (isStringRef(v)) {
      const target = this.stringPool?.get(v.stringRef);
      return typeof target === "string" ? target : "";
    }
    return "";
  }
}

export interface JfrVisitor {
  /** Class names whose constant pools must be decoded and kept (others are skipped). */
  readonly poolClasses: ReadonlySet<string>;
  /**
   * Called once per chunk, after its metadata and constant pools are read. Returns the
   * event classes whose events the visitor wants; the others are skipped unread.
   */
  beginChunk(chunk: JfrChunk): ReadonlySet<JfrClass>;
  /** One wanted event, in file order. `value` is the event's struct (fields by position). */
  event(chunk: JfrChunk, cls: JfrClass, value: JfrValue[]): void;
}

export function parseJfr(bytes: Uint8Array, visitor: JfrVisitor, limits: Partial<JfrLimits> = {}): void {
  const lim: JfrLimits = { ...defaultJfrLimits, ...limits };
  if (bytes.length > lim.maxBytes) {
    throw malformedJfr(`recording of ${bytes.length} bytes exceeds the limit of ${lim.maxBytes}`);
  }
  if (bytes.length < chunkHeaderSize) {
    throw malformedJfr(`${bytes.length} bytes is too short for a JFR chunk header`);
  }
  let offset = 0;
  let chunks = 0;
  while (offset < bytes.length) {
    if (++chunks > lim.maxChunks) throw malformedJfr(`more than ${lim.maxChunks} chunks`, offset);
    const header = readChunkHeader(bytes, offset);
    parseChunk(bytes, header, visitor, lim);
    offset += header.size;
  }
}

export function readChunkHeader(bytes: Uint8Array, offset: number): JfrChunkHeader {
  const left = bytes.length - offset;
  if (left < chunkHeaderSize) throw malformedJfr(`truncated chunk header (${left} bytes)`, offset);
  for (let i = 0; i < 4; i++) {
    if (bytes[offset + i] !== magic[i]) throw malformedJfr("not a JFR chunk (bad magic)", offset);
  }
  const r = new JfrReader(bytes, offset + 4, offset + chunkHeaderSize);
  const major = r.rawU16();
  const minor = r.rawU16();
  if (major !== 1 && major !== 2) throw malformedJfr(`unsupported JFR version ${major}.${minor}`, offset);
  const size = r.rawI64();
  const constantPoolOffset = r.rawI64();
  const metadataOffset = r.rawI64();
  const startNanos = r.rawI64Big();
  const durationNanos = r.rawI64Big();
  const startTicks = r.rawI64();
  const ticksPerSecond = r.rawI64();
  const features = r.rawI32();
  if (size < chunkHeaderSize || size > left) {
    throw malformedJfr(
      size === 0
        ? "chunk size 0 (recording still in progress?)"
        : `chunk size ${size} outside [${chunkHeaderSize}, ${left}] (truncated recording?)`,
      offset,
    );
  }
  if (metadataOffset < chunkHeaderSize || metadataOffset >= size) {
    throw malformedJfr(`metadata offset ${metadataOffset} outside the chunk of ${size} bytes`, offset);
  }
  if (constantPoolOffset !== 0 && (constantPoolOffset < chunkHeaderSize || constantPoolOffset >= size)) {
    throw malformedJfr(
      `constant pool offset ${constantPoolOffset} outside the chunk of ${size} bytes`,
      offset,
    );
  }
  return {
    offset,
    major,
    minor,
    size,
    constantPoolOffset,
    metadataOffset,
    startNanos,
    durationNanos,
    startTicks,
    ticksPerSecond,
    features,
  };
}

interface EventFrame {
  start: number;
  end: number;
  type: JfrLong;
  /** Position after the size and type fields. */
  payload: number;
}

/** Reads the size and type of the event at `r.pos`; leaves `r.pos` at the payload. */
function readEventFrame(r: JfrReader, chunkEnd: number): EventFrame {
  const start = r.pos;
  const size = r.varInt();
  if (size <= 0 || size > chunkEnd - start) {
    throw malformedJfr(`event size ${size} outside [1, ${chunkEnd - start}]`, start);
  }
  const end = start + size;
  r.end = end;
  const type = r.varLong();
  return { start, end, type, payload: r.pos };
}

function parseChunk(bytes: Uint8Array, header: JfrChunkHeader, visitor: JfrVisitor, lim: JfrLimits): void {
  const chunkStart = header.offset;
  const chunkEnd = chunkStart + header.size;

  // 1. Metadata.
  const mr = new JfrReader(bytes, chunkStart + header.metadataOffset, chunkEnd);
  const mf = readEventFrame(mr, chunkEnd);
  if (mf.type !== 0) throw malformedJfr(`expected the metadata event, found type ${mf.type}`, mf.start);
  mr.skipVarint(); // start time
  mr.skipVarint(); // duration
  mr.skipVarint(); // metadata id
  const metadata = readMetadataBody(mr, { maxClasses: lim.maxClasses, maxDepth: lim.maxDepth });
  const codec = new ValueCodec(metadata, { maxDepth: lim.maxDepth, maxStringLength: lim.maxStringLength });
  const chunk = new JfrChunk(header, metadata);
  const keep = new Set<number>(chunk.pools.keys());
  for (const name of visitor.poolClasses) {
    const cls = metadata.byName.get(name);
    if (cls) keep.add(cls.id);
  }

  // 2. Constant pools.
  const r = new JfrReader(bytes, chunkStart + chunkHeaderSize, chunkEnd);
  let constants = 0;
  while (r.pos < chunkEnd) {
    r.end = chunkEnd;
    const f = readEventFrame(r, chunkEnd);
    if (f.type === 1) constants = readCheckpoint(r, chunk, codec, keep, constants, lim.maxConstantsPerChunk);
    r.pos = f.end;
  }

  // 3. Events.
  const wanted = visitor.beginChunk(chunk);
  const wantedById = new Map<JfrLong, JfrClass>();
  for (const cls of wanted) wantedById.set(cls.id, cls);
  if (wantedById.size === 0) return;
  r.pos = chunkStart + chunkHeaderSize;
  while (r.pos < chunkEnd) {
    r.end = chunkEnd;
    const f = readEventFrame(r, chunkEnd);
    const cls = wantedById.get(f.type);
    if (cls) {
      const value = codec.read(r, cls);
      visitor.event(chunk, cls, value as JfrValue[]);
    }
    r.pos = f.end;
  }
}

function readCheckpoint(
  r: JfrReader,
  chunk: JfrChunk,
  codec: ValueCodec,
  keep: ReadonlySet<number>,
  constantsSoFar: number,
  maxConstants: number,
): number {
  r.skipVarint(); // start time
  r.skipVarint(); // duration
  r.skipVarint(); // delta to the previous checkpoint
  r.skipVarint(); // checkpoint type / flush flag
  const poolCount = r.count("constant pool count");
  let constants = constantsSoFar;
  for (let p = 0; p < poolCount; p++) {
    const at = r.pos;
    const classId = r.varLong();
    const cls = typeof classId === "number" ? chunk.metadata.byId.get(classId) : undefined;
    if (!cls) throw malformedJfr(`constant pool of unknown class id ${classId}`, at);
    const n = r.count(`constant count of pool ${cls.name}`);
    constants += n;
    if (constants > maxConstants) {
      throw malformedJfr(`more than ${maxConstants} constants in one chunk`, at);
    }
    if (keep.has(cls.id)) {
      let pool = chunk.pools.get(cls.id);
      if (!pool) {
        pool = new Map();
        chunk.pools.set(cls.id, pool);
      }
      for (let i = 0; i < n; i++) {
        const id = r.varLong();
        pool.set(id, codec.read(r, cls));
      }
    } else {
      for (let i = 0; i < n; i++) {
        r.skipVarint();
        codec.skip(r, cls);
      }
    }
  }
  return constants;
}

/** Field `name` of a decoded struct of class `cls`, or undefined when the class lacks it. */
export function field(cls: JfrClass, value: JfrValue[], name: string): JfrValue | undefined {
  const i = cls.fieldIndex.get(name);
  return i === undefined ? undefined : value[i];
}

export type { JfrString };

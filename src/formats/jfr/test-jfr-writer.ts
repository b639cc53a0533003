/**
 * A small JFR writer for tests: builds recordings with hand-chosen metadata, constant pools
 * and events, so the reader can be exercised on every encoding (string kinds, padded
 * varints, multi-chunk files, nested and array values) and on precise truncations.
 * Not used by the server.
 */

export type FieldSpec = [name: string, typeId: number, flags?: "cp" | "array" | "cp-array"];

export interface ClassSpec {
  id: number;
  name: string;
  superType?: string;
  fields?: FieldSpec[];
}

export class JfrBytes {
  readonly out: number[] = [];

  u8(v: number): this {
    this.out.push(v & 0xff);
    return this;
  }

  /** Compressed integer (LEB128, 9th byte full), accepts negative values as int64. */
  varint(value: number | bigint): this {
    let v = BigInt.asUintN(64, BigInt(value));
    for (let i = 0; i < 8; i++) {
      if (v < 0x80n) {
        this.out.push(Number(v));
        return this;
      }
      this.out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.out.push(Number(v & 0xffn));
    return this;
  }

  /** A 4-byte padded varint, as the JDK writes event sizes. */
  padded4(v: number): this {
    this.out.push(
      (v & 0x7f) | 0x80,
      ((v >>> 7) & 0x7f) | 0x80,
      ((v >>> 14) & 0x7f) | 0x80,
      (v >>> 21) & 0x7f,
    );
    return this;
  }

  bytes(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.out.push(b[i]!);
    return this;
  }

  /** String in the given JFR encoding (3 UTF-8, 4 char array, 5 Latin-1; null → 0). */
  string(s: string | null, encoding: 3 | 4 | 5 = 3): this {
    if (s === null) return this.u8(0);
    if (s === "") return this.u8(1);
    this.u8(encoding);
    if (encoding === 3) {
      const b = new TextEncoder().encode(s);
      return this.varint(b.length).bytes(b);
    }
    if (encoding === 4) {
      this.varint(s.length);
      for (let i = 0; i < s.length; i++) this.varint(s.charCodeAt(i));
      return this;
    }
    this.varint(s.length);
    for (let i = 0; i < s.length; i++) this.u8(s.charCodeAt(i));
    return this;
  }

  stringRef(id: number): this {
    return this.u8(2).varint(id);
  }
}

export interface ChunkSpec {
  classes: ClassSpec[];
  /** Checkpoint contents: class id → entries of [constant id, encoded value]. */
  pools: [classId: number, entries: [id: number, value: (w: JfrBytes) => void][]][];
  /** Events in file order: [type id, encoded payload]. */
  events: [typeId: number, payload: (w: JfrBytes) => void][];
  ticksPerSecond?: number;
  startNanos?: bigint;
  /** Declared number of pools in the checkpoint, instead of `pools.length` (for hostile input). */
  poolCount?: number;
}

function event(typeId: number, payload: (w: JfrBytes) => void): number[] {
  const body = new JfrBytes().varint(typeId);
  payload(body);
  const size = body.out.length + 4;
  return new JfrBytes().padded4(size).bytes(body.out).out;
}

function metadataPayload(classes: ClassSpec[]): (w: JfrBytes) => void {
  const strings: string[] = [];
  const index = new Map<string, number>();
  const s = (t: string): number => {
    let i = index.get(t);
    if (i === undefined) {
      i = strings.length;
      strings.push(t);
      index.set(t, i);
    }
    return i;
  };
  const tree = new JfrBytes();
  const element = (name: string, attrs: [string, string][], children: number): void => {
    tree.varint(s(name)).varint(attrs.length);
    for (const [k, v] of attrs) tree.varint(s(k)).varint(s(v));
    tree.varint(children);
  };
  element("root", [], 2);
  element("metadata", [], classes.length);
  for (const c of classes) {
    const attrs: [string, string][] = [
      ["id", String(c.id)],
      ["name", c.name],
    ];
    if (c.superType) attrs.push(["superType", c.superType]);
    const fields = c.fields ?? [];
    element("class", attrs, fields.length);
    for (const [name, typeId, flags] of fields) {
      const fa: [string, string][] = [
        ["name", name],
        ["class", String(typeId)],
      ];
      if (flags === "cp" || flags === "cp-array") fa.push(["constantPool", "true"]);
      if (flags === "array" || flags === "cp-array") fa.push(["dimension", "1"]);
      // An annotation child, which readers must skip.
      element("field", fa, 1);
      element("annotation", [["class", "200"]], 0);
    }
  }
  element("region", [["locale", "en_US"]], 0);
  return (w) => {
    w.varint(0).varint(0).varint(1); // start, duration, metadata id
    w.varint(strings.length);
    for (const t of strings) w.string(t);
    w.bytes(tree.out);
  };
}

export function writeChunk(spec: ChunkSpec): number[] {
  const body: number[] = [];
  for (const [typeId, payload] of spec.events) body.push(...event(typeId, payload));
  const cpOffset = 68 + body.length;
  body.push(
    ...event(1, (w) => {
      w.varint(0)
        .varint(0)
        .varint(0)
        .varint(1)
        .varint(spec.poolCount ?? spec.pools.length);
      for (const [classId, entries] of spec.pools) {
        w.varint(classId).varint(entries.length);
        for (const [id, value] of entries) {
          w.varint(id);
          value(w);
        }
      }
    }),
  );
  const metaOffset = 68 + body.length;
  body.push(...event(0, metadataPayload(spec.classes)));
  const header = new Uint8Array(68);
  const view = new DataView(header.buffer);
  header.set([0x46, 0x4c, 0x52, 0x00]);
  view.setUint16(4, 2);
  view.setUint16(6, 1);
  view.setBigInt64(8, BigInt(68 + body.length));
  view.setBigInt64(16, BigInt(cpOffset));
  view.setBigInt64(24, BigInt(metaOffset));
  view.setBigInt64(32, spec.startNanos ?? 1_700_000_000_000_000_000n);
  view.setBigInt64(40, 1_000_000_000n);
  view.setBigInt64(48, 0n);
  view.setBigInt64(56, BigInt(spec.ticksPerSecond ?? 1_000_000_000));
  view.setInt32(64, 1);
  return [...header, ...body];
}

export function writeJfr(chunks: ChunkSpec[]): Uint8Array {
  const all: number[] = [];
  for (const c of chunks) all.push(...writeChunk(c));
  return Uint8Array.from(all);
}

/** Type ids of the sample recording below (JDK-like numbering). */
export const T = {
  boolean: 4,
  char: 5,
  float: 6,
  double: 7,
  byte: 8,
  short: 9,
  int: 10,
  long: 11,
  string: 20,
  class: 21,
  thread: 22,
  frameType: 24,
  threadState: 25,
  stackTrace: 26,
  stackFrame: 27,
  method: 28,
  symbol: 30,
  executionSample: 101,
  allocInNewTlab: 102,
  allocOutsideTlab: 103,
  monitorEnter: 104,
  threadPark: 105,
  activeSetting: 108,
  liveObject: 115,
  wallClockSample: 118,
  malloc: 119,
  allocSample: 209,
  custom: 300,
  pair: 301,
} as const;

export const sampleClasses: ClassSpec[] = [
  { id: T.boolean, name: "boolean" },
  { id: T.char, name: "char" },
  { id: T.float, name: "float" },
  { id: T.double, name: "double" },
  { id: T.byte, name: "byte" },
  { id: T.short, name: "short" },
  { id: T.int, name: "int" },
  { id: T.long, name: "long" },
  { id: T.string, name: "java.lang.String" },
  { id: T.symbol, name: "jdk.types.Symbol", fields: [["string", T.string]] },
  {
    id: T.class,
    name: "java.lang.Class",
    fields: [
      ["name", T.symbol, "cp"],
      ["modifiers", T.int],
    ],
  },
  {
    id: T.thread,
    name: "java.lang.Thread",
    fields: [
      ["javaName", T.string],
      ["javaThreadId", T.long],
    ],
  },
  { id: T.frameType, name: "jdk.types.FrameType", fields: [["description", T.string]] },
  { id: T.threadState, name: "jdk.types.ThreadState", fields: [["name", T.string]] },
  {
    id: T.method,
    name: "jdk.types.Method",
    fields: [
      ["type", T.class, "cp"],
      ["name", T.symbol, "cp"],
      ["descriptor", T.symbol, "cp"],
      ["modifiers", T.int],
      ["hidden", T.boolean],
    ],
  },
  {
    id: T.stackFrame,
    name: "jdk.types.StackFrame",
    fields: [
      ["method", T.method, "cp"],
      ["lineNumber", T.int],
      ["bytecodeIndex", T.int],
      ["type", T.frameType, "cp"],
    ],
  },
  {
    id: T.stackTrace,
    name: "jdk.types.StackTrace",
    fields: [
      ["truncated", T.boolean],
      ["frames", T.stackFrame, "array"],
    ],
  },
  {
    id: T.executionSample,
    name: "jdk.ExecutionSample",
    superType: "jdk.jfr.Event",
    fields: [
      ["startTime", T.long],
      ["sampledThread", T.thread, "cp"],
      ["stackTrace", T.stackTrace, "cp"],
      ["state", T.threadState, "cp"],
      ["contextId", T.long],
      ["spanId", T.long],
    ],
  },
  {
    id: T.activeSetting,
    name: "jdk.ActiveSetting",
    superType: "jdk.jfr.Event",
    fields: [
      ["startTime", T.long],
      ["id", T.long],
      ["name", T.string],
      ["value", T.string],
    ],
  },
  {
    id: T.wallClockSample,
    name: "profiler.WallClockSample",
    superType: "jdk.jfr.Event",
    fields: [
      ["startTime", T.long],
      ["stackTrace", T.stackTrace, "cp"],
      ["samples", T.int],
    ],
  },
  ...(
    [
      [T.allocInNewTlab, "jdk.ObjectAllocationInNewTLAB", "tlabSize"],
      [T.allocOutsideTlab, "jdk.ObjectAllocationOutsideTLAB", "allocationSize"],
      [T.allocSample, "jdk.ObjectAllocationSample", "weight"],
      [T.malloc, "profiler.Malloc", "size"],
      [T.monitorEnter, "jdk.JavaMonitorEnter", "duration"],
      [T.threadPark, "jdk.ThreadPark", "duration"],
      [T.liveObject, "profiler.LiveObject", "age"],
    ] as const
  ).map(
    ([id, name, valueField]): ClassSpec => ({
      id,
      name,
      superType: "jdk.jfr.Event",
      fields: [
        ["startTime", T.long],
        ["stackTrace", T.stackTrace, "cp"],
        [valueField, T.long],
        ["contextId", T.long],
      ],
    }),
  ),
  {
    id: T.pair,
    name: "test.Pair",
    fields: [
      ["a", T.short],
      ["b", T.char],
    ],
  },
  {
    id: T.custom,
    name: "test.Custom",
    superType: "jdk.jfr.Event",
    fields: [
      ["startTime", T.long],
      ["f", T.float],
      ["d", T.double],
      ["b", T.byte],
      ["pairs", T.pair, "array"],
      ["threads", T.thread, "cp-array"],
      ["text", T.string],
    ],
  },
];

/** Frames by constant id: [method id, class name, method name, line]. */
export const sampleMethods: [number, string, string][] = [
  [1, "com/example/Main", "main"],
  [2, "com/example/Worker", "work"],
  [3, "com/example/Worker$$Lambda$12/0x0000000800c01234", "run"],
  [4, "libc.so.6", "memcpy"],
];

export interface SampleChunkOptions {
  event?: string;
  startNanos?: bigint;
}

/**
 * One chunk exercising every event kind: symbols in each string encoding (one through the
 * String pool), stack traces 1 = [work, main] and 2 = [memcpy, lambda run, main] (leaf
 * first), thread states 1 RUNNABLE / 2 SLEEPING.
 */
export function sampleChunk(options: SampleChunkOptions = {}): ChunkSpec {
  const symbols: [number, (w: JfrBytes) => void][] = [];
  const names = new Map<string, number>();
  let nextSymbol = 1;
  const symbol = (s: string): number => {
    let id = names.get(s);
    if (id === undefined) {
      id = nextSymbol++;
      names.set(s, id);
      const enc = ([3, 4, 5, 2] as const)[id % 4]!;
      symbols.push([
        id,
        enc === 2
          ? (w) => w.stringRef(id! + 1000)
          : (w) => w.string(s, enc === 5 && /[^\x00-\xff]/.test(s) ? 3 : enc),
      ]);
    }
    return id;
  };
  const classes = new Map<string, number>();
  const methods: [number, (w: JfrBytes) => void][] = [];
  for (const [id, cls, name] of sampleMethods) {
    if (!classes.has(cls)) classes.set(cls, classes.size + 1);
    const c = classes.get(cls)!;
    const n = symbol(name);
    const d = symbol("()V");
    methods.push([id, (w) => w.varint(c).varint(n).varint(d).varint(1).u8(0)]);
  }
  const classEntries: [number, (w: JfrBytes) => void][] = [...classes].map(([name, id]) => {
    const sym = symbol(name);
    return [id, (w) => w.varint(sym).varint(1)];
  });
  const stringPool: [number, (w: JfrBytes) => void][] = [...names]
    .filter(([, id]) => id % 4 === 3)
    .map(([s, id]) => [id + 1000, (w) => w.string(s)]);
  const frame = (method: number, line: number) => (w: JfrBytes) =>
    w.varint(method).varint(line).varint(7).varint(1);
  const trace =
    (...frames: ((w: JfrBytes) => void)[]) =>
    (w: JfrBytes) => {
      w.u8(0).varint(frames.length);
      for (const f of frames) f(w);
    };
  const pools: ChunkSpec["pools"] = [
    [T.string, stringPool],
    [T.symbol, symbols],
    [T.class, classEntries],
    [T.method, methods],
    [T.frameType, [[1, (w) => w.string("Interpreted")]]],
    [
      T.threadState,
      [
        [1, (w) => w.string("STATE_RUNNABLE")],
        [2, (w) => w.string("STATE_SLEEPING")],
      ],
    ],
    [
      T.thread,
      [
        [1, (w) => w.string("main").varint(1)],
        [2, (w) => w.string("worker-ü", 4).varint(2)],
      ],
    ],
    [
      T.stackTrace,
      [
        [1, trace(frame(2, 42), frame(1, 10))],
        [2, trace(frame(4, 0), frame(3, 5), frame(1, 11))],
        [3, trace(frame(99, 1), frame(1, 12))], // unknown method 99: frame dropped
      ],
    ],
  ];
  const exec = (stack: number, state: number, contextId: number, spanId: bigint) => (w: JfrBytes) =>
    w.varint(1).varint(1).varint(stack).varint(state).varint(contextId).varint(spanId);
  const counted =
    (stack: number, value: number, contextId = 0) =>
    (w: JfrBytes) =>
      w.varint(2).varint(stack).varint(value).varint(contextId);
  const events: ChunkSpec["events"] = [];
  if (options.event !== undefined) {
    events.push([T.activeSetting, (w) => w.varint(1).varint(9).string("event").string(options.event!, 5)]);
  }
  events.push(
    [T.executionSample, exec(1, 1, 0, 0n)],
    [T.executionSample, exec(1, 1, 0, 0n)],
    [T.executionSample, exec(2, 2, 0, 0n)], // sleeping: wall only
    [T.executionSample, exec(2, 1, 7, 0xfedcba9876543210n)],
    [T.executionSample, exec(3, 1, 0, 0n)],
    [T.executionSample, exec(404, 1, 0, 0n)], // unknown stack: dropped
    [T.wallClockSample, (w) => w.varint(3).varint(1).varint(3)],
    [T.allocInNewTlab, counted(1, 4096, 7)],
    [T.allocInNewTlab, counted(1, 1024)],
    [T.allocOutsideTlab, counted(2, 100000)],
    [T.allocSample, counted(2, 512)],
    [T.malloc, counted(2, 64)],
    [T.monitorEnter, counted(1, 2_000_000)],
    [T.threadPark, counted(2, 5_000_000)],
    [T.liveObject, counted(1, 3)],
    [
      T.custom,
      (w) =>
        w
          .varint(5)
          .bytes([0x3f, 0x80, 0, 0])
          .bytes([0x40, 0, 0, 0, 0, 0, 0, 0])
          .u8(0xff)
          .varint(2)
          .varint(-3)
          .varint(65)
          .varint(300)
          .varint(66)
          .varint(2)
          .varint(1)
          .varint(2)
          .string("x", 4),
    ],
  );
  return {
    classes: sampleClasses,
    pools,
    events,
    ...(options.startNanos !== undefined ? { startNanos: options.startNanos } : {}),
  };
}

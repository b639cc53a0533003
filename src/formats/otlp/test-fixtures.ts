/**
 * OTLP profiles requests built in code for tests (src/formats/otlp/*.test.ts, test/otlp.test.ts).
 * `richRequest` exercises every dictionary table, every attribute value type, key and value
 * string indices, links, timestamps-only samples, multi-value samples and the per-sample
 * `service.name` split; `richExpected` states what Kiln must make of it.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import {
  type ExportProfilesServiceRequest,
  ExportProfilesServiceRequestSchema,
} from "../../gen/opentelemetry/proto/collector/profiles/v1development/profiles_service_pb.js";
import type { AnyValueSchema } from "../../gen/opentelemetry/proto/common/v1/common_pb.js";

type AnyValueInit = MessageInitShape<typeof AnyValueSchema>;

export const traceIdHex = "0102030405060708090a0b0c0d0e0f10";
export const spanIdHex = "1112131415161718";
export const cpuPeriod = 10_000_000n;

const str = (value: string): AnyValueInit => ({ value: { case: "stringValue", value } });

/** A string table with get-or-add. */
export class StringTable {
  readonly strings: string[] = [""];
  readonly #index = new Map<string, number>([["", 0]]);
  id(s: string): number {
    let i = this.#index.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.#index.set(s, i);
    }
    return i;
  }
}

/** Attribute table indices of `richRequest`, by name. */
export const attr = {
  buildId: 1,
  frameType: 2,
  threadName: 3,
  threadId: 4,
  flag: 5,
  ratio: 6,
  oneElementArray: 7,
  twoElementArray: 8,
  viaStrindex: 9,
  serviceCheckout: 10,
  serviceCartStrindex: 11,
  bytes: 12,
  kvlist: 13,
} as const;

export function richRequest(timeUnixNano: bigint): ExportProfilesServiceRequest {
  const s = new StringTable();
  const attributeTable = [
    {},
    { keyStrindex: s.id("process.executable.build_id.gnu"), value: str("b00c1d") },
    { keyStrindex: s.id("profile.frame.type"), value: str("native") },
    { keyStrindex: s.id("thread.name"), value: str("worker-1") },
    { keyStrindex: s.id("thread.id"), value: { value: { case: "intValue" as const, value: 42n } } },
    { keyStrindex: s.id("flag"), value: { value: { case: "boolValue" as const, value: true } } },
    { keyStrindex: s.id("ratio"), value: { value: { case: "doubleValue" as const, value: 0.5 } } },
    {
      keyStrindex: s.id("tags"),
      value: { value: { case: "arrayValue" as const, value: { values: [str("one")] } } },
    },
    {
      keyStrindex: s.id("multi"),
      value: { value: { case: "arrayValue" as const, value: { values: [str("a"), str("b")] } } },
    },
    {
      keyStrindex: s.id("via_strindex"),
      value: { value: { case: "stringValueStrindex" as const, value: s.id("resolved-value") } },
    },
    { keyStrindex: s.id("service.name"), value: str("checkout") },
    {
      keyStrindex: s.id("service.name"),
      value: { value: { case: "stringValueStrindex" as const, value: s.id("cart") } },
    },
    {
      keyStrindex: s.id("blob"),
      value: { value: { case: "bytesValue" as const, value: Uint8Array.of(1, 2) } },
    },
    {
      keyStrindex: s.id("nested"),
      value: { value: { case: "kvlistValue" as const, value: { values: [{ key: "k", value: str("v") }] } } },
    },
  ];
  const functionTable = [
    {},
    {
      nameStrindex: s.id("main"),
      systemNameStrindex: s.id("_main"),
      filenameStrindex: s.id("main.go"),
      startLine: 10n,
    },
    {
      nameStrindex: s.id("foo"),
      systemNameStrindex: s.id("_foo"),
      filenameStrindex: s.id("foo.go"),
      startLine: 20n,
    },
    { nameStrindex: s.id("bar"), filenameStrindex: s.id("foo.go"), startLine: 30n },
  ];
  const mappingTable = [
    {},
    {
      memoryStart: 0x1000n,
      memoryLimit: 0x9000n,
      fileOffset: 0x10n,
      filenameStrindex: s.id("libfoo.so"),
      attributeIndices: [attr.buildId],
    },
  ];
  const locationTable = [
    {},
    // bar inlined into foo; column is dropped.
    {
      mappingIndex: 1,
      address: 0x1100n,
      lines: [
        { functionIndex: 3, line: 31n, column: 7n },
        { functionIndex: 2, line: 22n },
      ],
      attributeIndices: [attr.frameType],
    },
    { mappingIndex: 1, address: 0x1200n, lines: [{ functionIndex: 1, line: 12n }] },
    // Unsymbolized, no mapping.
    { mappingIndex: 0, address: 0x5000n },
  ];
  const stackTable = [{}, { locationIndices: [1, 2] }, { locationIndices: [3, 2] }];
  const linkTable = [{}, { traceId: Buffer.from(traceIdHex, "hex"), spanId: Buffer.from(spanIdHex, "hex") }];
  const cpu = {
    sampleType: { typeStrindex: s.id("samples"), unitStrindex: s.id("count") },
    periodType: { typeStrindex: s.id("cpu"), unitStrindex: s.id("nanoseconds") },
    period: cpuPeriod,
    timeUnixNano,
    durationNano: 0n,
    samples: [
      {
        stackIndex: 1,
        attributeIndices: [
          attr.threadName,
          attr.threadId,
          attr.flag,
          attr.ratio,
          attr.oneElementArray,
          attr.twoElementArray,
          attr.viaStrindex,
          attr.bytes,
          attr.kvlist,
        ],
        values: [2n],
      },
      { stackIndex: 2, attributeIndices: [attr.threadName], linkIndex: 1, values: [1n, 3n] },
      { stackIndex: 1, timestampsUnixNano: [timeUnixNano, timeUnixNano + 1n, timeUnixNano + 2n] },
      { stackIndex: 2, attributeIndices: [attr.serviceCheckout], values: [5n] },
      { stackIndex: 1, attributeIndices: [attr.serviceCartStrindex], timestampsUnixNano: [timeUnixNano] },
    ],
  };
  const offCpu = {
    sampleType: { typeStrindex: s.id("off_cpu"), unitStrindex: s.id("nanoseconds") },
    periodType: {},
    timeUnixNano,
    durationNano: 5_000_000_000n,
    samples: [{ stackIndex: 1, values: [100n, 200n], timestampsUnixNano: [timeUnixNano, timeUnixNano] }],
  };
  const alloc = {
    sampleType: { typeStrindex: s.id("alloc_space"), unitStrindex: s.id("bytes") },
    periodType: { typeStrindex: s.id("space"), unitStrindex: s.id("bytes") },
    period: 512n,
    timeUnixNano: 0n, // → now
    samples: [{ stackIndex: 2, values: [4096n] }],
  };
  return create(ExportProfilesServiceRequestSchema, {
    resourceProfiles: [
      {
        resource: {
          attributes: [
            { key: "service.name", value: str("shop") },
            // Key and value through the string table.
            {
              keyStrindex: s.id("team"),
              value: { value: { case: "stringValueStrindex", value: s.id("platform") } },
            },
            { key: "host.cpu", value: { value: { case: "doubleValue", value: 1.5 } } },
            { key: "k8s.pod.index", value: { value: { case: "intValue", value: 7n } } },
          ],
          entityRefs: [{ type: "service", idKeys: ["service.name"] }],
        },
        scopeProfiles: [
          {
            scope: {
              name: "test-profiler",
              version: "1.0",
              attributes: [
                { key: "scope.attr", value: str("x") },
                { key: "team", value: str("ignored: the resource has it") },
              ],
            },
            profiles: [cpu, offCpu, alloc],
          },
        ],
      },
    ],
    dictionary: {
      mappingTable,
      locationTable,
      functionTable,
      linkTable,
      stringTable: s.strings,
      attributeTable,
      stackTable,
    },
  });
}

/** Series labels every output of `richRequest` shares (besides __name__ and service_name). */
export const richCommonLabels: readonly (readonly [string, string])[] = [
  ["k8s.pod.index", "7"],
  ["scope.attr", "x"],
  ["team", "platform"],
];

/** Total per (service, profile type ID) that `richRequest` must store. */
export const richExpectedTotals: ReadonlyMap<string, number> = new Map([
  ["shop process_cpu:cpu:nanoseconds:cpu:nanoseconds", (2 + 4 + 3) * Number(cpuPeriod)],
  ["checkout process_cpu:cpu:nanoseconds:cpu:nanoseconds", 5 * Number(cpuPeriod)],
  ["cart process_cpu:cpu:nanoseconds:cpu:nanoseconds", 1 * Number(cpuPeriod)],
  ["shop off_cpu:off_cpu:nanoseconds::", 300],
  ["shop space:alloc_space:bytes:space:bytes", 4096],
]);

export interface LegacySample {
  stackIndex: number;
  /** Written as v1.9 field 2 (packed int64). */
  values: bigint[];
  /** Written as v1.9 field 3 (packed int32). */
  attributeIndices: number[];
}

/**
 * A request whose samples use the v1.9 layout (#2 values, #3 attribute_indices), with a
 * valid v1.10 dictionary: string table ["", "off_cpu", "nanoseconds", "k"], an attribute
 * table of 2, one location, stacks [{}, {[1]}].
 */
export function legacyRequestBytes(samples: readonly LegacySample[]): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, WireType.LengthDelimited).fork(); // resource_profiles
  w.tag(2, WireType.LengthDelimited).fork(); // scope_profiles
  w.tag(2, WireType.LengthDelimited).fork(); // profiles
  w.tag(1, WireType.LengthDelimited)
    .fork()
    .tag(1, WireType.Varint)
    .int32(1)
    .tag(2, WireType.Varint)
    .int32(2)
    .join();
  for (const sample of samples) {
    w.tag(2, WireType.LengthDelimited).fork();
    w.tag(1, WireType.Varint).int32(sample.stackIndex);
    if (sample.values.length > 0) {
      w.tag(2, WireType.LengthDelimited).fork();
      for (const v of sample.values) w.int64(v);
      w.join();
    }
    if (sample.attributeIndices.length > 0) {
      w.tag(3, WireType.LengthDelimited).fork();
      for (const a of sample.attributeIndices) w.int32(a);
      w.join();
    }
    w.join();
  }
  w.join().join().join();
  w.tag(2, WireType.LengthDelimited).fork(); // dictionary
  w.tag(2, WireType.LengthDelimited).fork().join(); // location_table[0]
  w.tag(2, WireType.LengthDelimited).fork().join(); // location_table[1]
  for (const text of ["", "off_cpu", "nanoseconds", "k"]) w.tag(5, WireType.LengthDelimited).string(text);
  w.tag(6, WireType.LengthDelimited).fork().join();
  w.tag(6, WireType.LengthDelimited).fork().tag(1, WireType.Varint).int32(3).join();
  w.tag(7, WireType.LengthDelimited).fork().join();
  w.tag(7, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).fork().int32(1).join().join();
  w.join();
  return w.finish();
}

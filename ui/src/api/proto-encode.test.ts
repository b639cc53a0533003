import assert from "node:assert/strict";
import { test } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { SelectMergeProfileRequestSchema } from "../../../src/gen/querier/v1/querier_pb.js";
import { encodeSelectMergeProfileRequest, writeVarint } from "./proto-encode.ts";

test("the hand-encoded request decodes with the server's generated schema", () => {
  const bytes = encodeSelectMergeProfileRequest({
    profileTypeId: "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
    labelSelector: '{service_name="ünïcode-app", env=~"prod|dev"}',
    startMs: 1_700_000_000_123,
    endMs: 1_700_003_600_456,
    maxNodes: 16384,
  });
  const decoded = fromBinary(SelectMergeProfileRequestSchema, bytes);
  assert.equal(decoded.profileTypeID, "process_cpu:cpu:nanoseconds:cpu:nanoseconds");
  assert.equal(decoded.labelSelector, '{service_name="ünïcode-app", env=~"prod|dev"}');
  assert.equal(decoded.start, 1_700_000_000_123n);
  assert.equal(decoded.end, 1_700_003_600_456n);
  assert.equal(decoded.maxNodes, 16384n);
});

test("max nodes is left unset when not given", () => {
  const bytes = encodeSelectMergeProfileRequest({
    profileTypeId: "a:b:c:d:e",
    labelSelector: "{}",
    startMs: 1,
    endMs: 2,
  });
  assert.equal(fromBinary(SelectMergeProfileRequestSchema, bytes).maxNodes, undefined);
});

test("varints past 32 bits", () => {
  const out: number[] = [];
  writeVarint(out, 2 ** 40 + 5);
  assert.deepEqual(out, [0x85, 0x80, 0x80, 0x80, 0x80, 0x20]);
  const small: number[] = [];
  writeVarint(small, 300);
  assert.deepEqual(small, [0xac, 0x02]);
});

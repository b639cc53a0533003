import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ByteReader, ByteWriter, readStringColumn, writeStringColumn } from "./encoding.ts";
import { BlockFormatError } from "./format.ts";

function roundTrip(write: (w: ByteWriter) => void, read: (r: ByteReader) => unknown): unknown {
  const writer = new ByteWriter(1, 1024);
  write(writer);
  const reader = new ByteReader(writer.finish(), "test");
  const value = read(reader);
  reader.end();
  return value;
}

describe("varints", () => {
  it("unsigned round trip, including 64-bit addresses above 2^53", () => {
    const values = [
      0,
      1,
      127,
      128,
      300,
      2 ** 31 - 1,
      2 ** 31,
      2 ** 32 + 5,
      2 ** 53 - 1,
      0xffffffff81000000,
      2 ** 64 - 2048,
      2 ** 64,
    ];
    for (const value of values) {
      assert.equal(
        roundTrip(
          (w) => w.uvarint(value),
          (r) => r.uvarint(),
        ),
        value,
      );
    }
  });

  it("LEB128 byte layout", () => {
    const writer = new ByteWriter(16, 16);
    writer.uvarint(300);
    writer.varint(-1);
    writer.varint(1);
    assert.deepEqual([...writer.finish()], [0xac, 0x02, 0x01, 0x02]);
  });

  it("signed zigzag round trip, including integer doubles beyond 2^53", () => {
    const values = [
      0,
      -1,
      1,
      -64,
      64,
      -(2 ** 31),
      2 ** 31,
      2 ** 40 + 3,
      -(2 ** 52) - 3,
      2 ** 53 - 1,
      -(2 ** 53 - 1),
      2 ** 60 + 2 ** 10,
      -(2 ** 62),
    ];
    for (const value of values) {
      assert.equal(
        roundTrip(
          (w) => w.varint(value),
          (r) => r.varint(),
        ),
        value,
      );
    }
  });

  it("bigint round trip at the int64 extremes", () => {
    for (const value of [0n, -1n, 1_700_000_000_123_456_789n, -(2n ** 63n), 2n ** 63n - 1n]) {
      assert.equal(
        roundTrip(
          (w) => w.varintBig(value),
          (r) => r.varintBig(),
        ),
        value,
      );
    }
    assert.equal(
      roundTrip(
        (w) => w.uvarintBig(2n ** 64n - 1n),
        (r) => r.uvarintBig(),
      ),
      2n ** 64n - 1n,
    );
  });

  it("refuses values it cannot encode exactly", () => {
    const writer = new ByteWriter(16, 16);
    assert.throws(() => writer.uvarint(-1), /uvarint out of range/);
    assert.throws(() => writer.uvarint(2 ** 65), /uvarint out of range/);
    assert.throws(() => writer.uvarint(1.5), /uvarint out of range/);
    assert.throws(() => writer.varint(2 ** 63), /varint out of range/);
    assert.throws(() => writer.varint(-0.5), /varint out of range/);
  });

  it("truncated input is a BlockFormatError naming the place", () => {
    const reader = new ByteReader(new Uint8Array([0x80, 0x80]), "block k: section index");
    assert.throws(
      () => reader.uvarint(),
      (error: unknown) =>
        error instanceof BlockFormatError && /^block k: section index: truncated varint/.test(error.message),
    );
  });
});

describe("strings", () => {
  it("string columns and length-prefixed strings keep UTF-8 exactly", () => {
    const strings = ["", "main", "héllo wörld", "日本語", "a".repeat(300)];
    const writer = new ByteWriter(1, 4096);
    writeStringColumn(writer, strings);
    writer.string("ünïcode");
    const reader = new ByteReader(writer.finish(), "test");
    assert.deepEqual(readStringColumn(reader, strings.length), strings);
    assert.equal(reader.string(), "ünïcode");
    reader.end();
  });

  it("the writer refuses to grow past its limit", () => {
    const writer = new ByteWriter(4, 8);
    assert.throws(() => writer.bytes(new Uint8Array(9)), /exceeds the limit 8/);
  });
});

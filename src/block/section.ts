/**
 * Section framing: a 12-byte header (kind, codec, uncompressed size, CRC32) before the
 * zstd-compressed payload. Framing is the same for every kind, so a reader can verify and
 * skip a section whose payload it does not understand.
 */
import { constants, crc32, zstdCompress, zstdCompressSync, zstdDecompressSync } from "node:zlib";
import {
  assert,
  BlockFormatError,
  describeSection,
  SECTION_HEADER_BYTES,
  SECTION_PAYLOAD_BYTES_MAX,
  SectionCodec,
  type SectionContext,
  sectionKindName,
} from "./format.ts";

/**
 * zstd level 1. Measured on the real-pprof corpus (sections of one segment, 3-4 MB raw):
 * level 1 writes 2.5% more bytes than level 3 (2.56x vs 2.62x) for 35-45% less CPU (~600 vs
 * ~430 MB/s per core). Sections are compressed on the ingest path for every segment, and
 * server CPU per profile is the scarcer resource; compaction may recompress harder later.
 * Stated explicitly so a library default change cannot alter the bytes we write.
 */
const ZSTD_LEVEL = 1;

/** zlib's smallest chunk, and the largest single output chunk allocated up front. */
const DECOMPRESS_CHUNK_BYTES_MIN = 64;
const DECOMPRESS_CHUNK_BYTES_MAX = 64 * 1024 * 1024;

/**
 * Options for a payload of `bytes` bytes. The size is pledged so the frame header records it
 * in both the sync and the async (streaming) API: the two then write the same bytes.
 */
function zstdOptions(bytes: number) {
  return {
    pledgedSrcSize: bytes,
    params: {
      [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL,
      [constants.ZSTD_c_checksumFlag]: 0,
    },
  };
}

/** Compresses `payload` and prepends the header. The result is what goes into the object. */
export function frameSection(kind: number, payload: Uint8Array): Uint8Array {
  checkSection(kind, payload);
  return frameCompressed(kind, payload.length, zstdCompressSync(payload, zstdOptions(payload.length)));
}

/**
 * `frameSection` with the compression on libuv's thread pool, so the event loop keeps running
 * meanwhile. Same bytes. `payload` must not change until the promise settles.
 */
export function frameSectionAsync(kind: number, payload: Uint8Array): Promise<Uint8Array> {
  checkSection(kind, payload);
  return new Promise((resolve, reject) => {
    zstdCompress(payload, zstdOptions(payload.length), (error, compressed) => {
      if (error) reject(error);
      else resolve(frameCompressed(kind, payload.length, compressed));
    });
  });
}

function checkSection(kind: number, payload: Uint8Array): void {
  assert(Number.isInteger(kind) && kind > 0 && kind <= 0xff, `section kind out of range: ${kind}`);
  assert(payload.length <= SECTION_PAYLOAD_BYTES_MAX, `section payload of ${payload.length} bytes`);
}

function frameCompressed(kind: number, payloadBytes: number, compressed: Uint8Array): Uint8Array {
  const framed = new Uint8Array(SECTION_HEADER_BYTES + compressed.length);
  const view = new DataView(framed.buffer);
  view.setUint8(0, kind);
  view.setUint8(1, SectionCodec.zstd);
  view.setUint16(2, 0, true);
  view.setUint32(4, payloadBytes, true);
  framed.set(compressed, SECTION_HEADER_BYTES);
  const checksum = crc32(framed.subarray(SECTION_HEADER_BYTES), crc32(framed.subarray(0, 8)));
  view.setUint32(8, checksum, true);
  return framed;
}

/**
 * Verifies a framed section read from the object and returns its decompressed payload.
 * Throws BlockFormatError naming object, dataset, section and offset on any mismatch.
 */
export function unframeSection(framed: Uint8Array, context: SectionContext): Uint8Array {
  const where = describeSection(context);
  if (framed.length < SECTION_HEADER_BYTES) {
    throw new BlockFormatError("block_corrupt", `${where}: ${framed.length} bytes, shorter than a header`);
  }
  const view = new DataView(framed.buffer, framed.byteOffset, framed.byteLength);
  const storedChecksum = view.getUint32(8, true);
  const checksum = crc32(framed.subarray(SECTION_HEADER_BYTES), crc32(framed.subarray(0, 8)));
  if (checksum !== storedChecksum) {
    throw new BlockFormatError(
      "block_checksum_mismatch",
      `${where}: checksum mismatch (stored ${hex32(storedChecksum)}, computed ${hex32(checksum)})`,
    );
  }
  const kind = view.getUint8(0);
  if (kind !== context.kind) {
    throw new BlockFormatError(
      "block_corrupt",
      `${where}: header says ${sectionKindName(kind)}, the table of contents says ${sectionKindName(context.kind)}`,
    );
  }
  const codec = view.getUint8(1);
  if (codec !== SectionCodec.zstd) {
    throw new BlockFormatError("block_unknown_codec", `${where}: unknown codec ${codec}`);
  }
  const payloadBytes = view.getUint32(4, true);
  if (payloadBytes > SECTION_PAYLOAD_BYTES_MAX) {
    throw new BlockFormatError(
      "block_corrupt",
      `${where}: payload of ${payloadBytes} bytes exceeds the limit ${SECTION_PAYLOAD_BYTES_MAX}`,
    );
  }
  return decompress(framed.subarray(SECTION_HEADER_BYTES), payloadBytes, where);
}

function decompress(compressed: Uint8Array, payloadBytes: number, where: string): Uint8Array {
  let payload: Uint8Array;
  try {
    // maxOutputLength bounds memory even if the header lies about the size. One output chunk
    // of the announced size (up to a cap) spares zlib's copy of its chunks into one buffer:
    // that copy was half the decompression time of large sections.
    payload = zstdDecompressSync(compressed, {
      maxOutputLength: Math.max(1, payloadBytes),
      chunkSize: Math.min(Math.max(DECOMPRESS_CHUNK_BYTES_MIN, payloadBytes), DECOMPRESS_CHUNK_BYTES_MAX),
    });
  } catch (cause) {
    throw new BlockFormatError("block_corrupt", `${where}: zstd decompression failed`, { cause });
  }
  if (payload.length !== payloadBytes) {
    throw new BlockFormatError(
      "block_corrupt",
      `${where}: decompressed to ${payload.length} bytes, header says ${payloadBytes}`,
    );
  }
  return payload;
}

export function hex32(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}

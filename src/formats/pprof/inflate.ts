/**
 * gzip sniffing and bounded decompression for pprof payloads (wire reference §1.2).
 *
 * Every pprof Kiln receives may be gzipped or raw. The decompressed size is capped: zlib stops
 * as soon as its output would exceed the cap (`maxOutputLength`), so a gzip bomb costs at most
 * the cap in memory, never its full expansion.
 */
import { promisify } from "node:util";
import { constants, gunzip, gunzipSync } from "node:zlib";
import { KilnError } from "../../model/errors.ts";

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

export function profileTooLarge(sizeDescription: string, maxBytes: number): KilnError {
  return new KilnError(
    "invalid_argument",
    "profile_too_large",
    `${sizeDescription} exceeds ${maxBytes} bytes (max_profile_size_bytes)`,
  );
}

/**
 * Returns the protobuf bytes of a pprof payload: gunzipped if it starts with the gzip magic,
 * else the input itself. Throws profile_too_large beyond `maxDecompressedBytes`, and
 * malformed_pprof for a corrupt gzip stream.
 */
export function inflateProfile(bytes: Uint8Array, maxDecompressedBytes: number): Uint8Array {
  if (!isGzip(bytes)) {
    if (bytes.length > maxDecompressedBytes) {
      throw profileTooLarge(`profile of ${bytes.length} bytes`, maxDecompressedBytes);
    }
    return bytes;
  }
  try {
    // maxOutputLength must be >= 1; a cap of 0 means nothing may be accepted at all.
    const out = gunzipSync(bytes, { maxOutputLength: Math.max(1, maxDecompressedBytes) });
    return checkedOutput(out, maxDecompressedBytes);
  } catch (err) {
    throw inflateError(err, maxDecompressedBytes);
  }
}

const gunzipAsync = promisify(gunzip);

/**
 * `inflateProfile` with the gunzip on libuv's thread pool, so the event loop keeps serving
 * other requests while a large profile decompresses. Same bounds, same errors.
 */
export async function inflateProfileAsync(
  bytes: Uint8Array,
  maxDecompressedBytes: number,
): Promise<Uint8Array> {
  if (!isGzip(bytes)) return inflateProfile(bytes, maxDecompressedBytes);
  try {
    const out = await gunzipAsync(bytes, { maxOutputLength: Math.max(1, maxDecompressedBytes) });
    return checkedOutput(out, maxDecompressedBytes);
  } catch (err) {
    throw inflateError(err, maxDecompressedBytes);
  }
}

function checkedOutput(out: Buffer, maxDecompressedBytes: number): Uint8Array {
  if (out.length > maxDecompressedBytes) {
    throw profileTooLarge(`decompressed profile of ${out.length} bytes`, maxDecompressedBytes);
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** The KilnError for a failed gunzip: over the cap, or a corrupt or truncated stream. */
function inflateError(err: unknown, maxDecompressedBytes: number): KilnError {
  if (err instanceof KilnError) return err;
  {
    const code = (err as { code?: unknown }).code;
    if (
      code === "ERR_BUFFER_TOO_LARGE" ||
      (err instanceof RangeError && /maxOutputLength|too large/i.test(err.message))
    ) {
      return profileTooLarge("decompressed profile", maxDecompressedBytes);
    }
    const detail = err instanceof Error ? err.message : String(err);
    const errno = (err as { errno?: unknown }).errno;
    const hint = errno === constants.Z_BUF_ERROR ? " (truncated gzip stream)" : "";
    return new KilnError("invalid_argument", "malformed_pprof", `invalid gzip data${hint}: ${detail}`, {
      cause: err,
    });
  }
}

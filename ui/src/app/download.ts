/** Saving exports: a Blob to a file through a temporary link, and gzip in the browser. */

const REVOKE_DELAY_MS = 60_000;

export function saveBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  // Browsers may read the blob after click() returns; a later revoke keeps it readable.
  setTimeout(() => URL.revokeObjectURL(url), REVOKE_DELAY_MS);
}

/** gzip with the browser's CompressionStream (what `go tool pprof` expects of a .pb.gz). */
export async function gzipBytes(bytes: Uint8Array<ArrayBuffer>): Promise<Blob> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Response(stream).blob();
}

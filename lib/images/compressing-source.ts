/**
 * A layer made from a tar file on disk (import, commit): the unpacker reads
 * the tar while the same bytes are gzipped into the layer blob on a worker
 * thread, so the two use separate cores.
 */
import { closeSync, createReadStream, openSync, writeSync } from "node:fs";
import { Digester } from "../digest.ts";
import { SkiffError } from "../errors.ts";
import { passThrough } from "../streams.ts";
import type { LocalBlob } from "./archive/blobs.ts";
import { GzipWorker } from "./gzip-worker.ts";
import type { LayerSource } from "./layers.ts";

const CHUNK = 1 << 20;
const GZIP_LEVEL = 6;

/** A file that hashes what is written to it. */
export function hashingFile(path: string): { write(chunk: Uint8Array): void; close(): LocalBlob } {
  const h = new Digester("sha256");
  const fd = openSync(path, "w", 0o600);
  let open = true;
  return {
    write(chunk) {
      h.update(chunk);
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
    },
    close() {
      if (open) closeSync(fd);
      open = false;
      return { path, digest: h.digest(), size: h.size };
    },
  };
}

/**
 * Pass 2: the unpacker reads the tar file while the same bytes are gzipped
 * into `gzPath` on a worker thread, so the two use separate cores.
 */
export function compressingSource(tarPath: string, gzPath: string): { source: LayerSource; blob(): Promise<LocalBlob> } {
  let gzip: GzipWorker | undefined;
  let out: ReturnType<typeof hashingFile> | undefined;
  let result: LocalBlob | undefined;
  function start(): GzipWorker {
    const file = hashingFile(gzPath);
    out = file;
    gzip = new GzipWorker({ level: GZIP_LEVEL, onData: (c) => file.write(c) });
    return gzip;
  }
  async function finish(): Promise<LocalBlob> {
    await gzip?.end();
    result = out?.close();
    if (!result) throw new SkiffError("Internal", "import: layer was never compressed");
    return result;
  }
  const source: LayerSource = {
    async open() {
      const z = start();
      return passThrough(createReadStream(tarPath, { highWaterMark: CHUNK }) as AsyncIterable<Uint8Array>, (c) => z.write(c));
    },
    async finish() {
      await finish();
    },
    async abort() {
      gzip?.destroy();
      out?.close();
    },
  };
  return {
    source,
    // When the snapshot already existed nothing was read: compress on its own.
    async blob() {
      if (result) return result;
      const z = start();
      for await (const chunk of createReadStream(tarPath, { highWaterMark: CHUNK }) as AsyncIterable<Uint8Array>) await z.write(chunk);
      return finish();
    },
  };
}


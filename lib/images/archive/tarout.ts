/**
 * Writing a tar as a stream (tar-stream's pack) to a Node or web writable,
 * with backpressure both ways and no temp copies: each entry's content is
 * pulled from its source only as fast as the output takes it, and may be
 * checked against a digest as it passes. A failing entry or output ends the
 * whole archive with that error.
 */
import { writeTarEntry } from "../../tar-entry.ts";
import tar from "tar-stream";
import { Digester, type Digest } from "../../digest.ts";
import { SkiffError, toSkiffError } from "../../errors.ts";

export type ArchiveOutput = NodeJS.WritableStream | WritableStream<Uint8Array>;

export interface TarItem {
  /** Entry name; directories end with "/". */
  name: string;
  /** Content size, needed before the content (the header comes first). */
  size: number;
  mtime: Date;
  /** Bytes, or a function that opens the content stream. */
  body?: Uint8Array | (() => Promise<AsyncIterable<Uint8Array>>);
  /** When set, the content must hash to this (else the archive fails). */
  verify?: { digest: Digest; what: string };
}

export function dirItem(name: string, mtime: Date): TarItem {
  return { name: name.endsWith("/") ? name : `${name}/`, size: 0, mtime };
}

function isWebWritable(out: ArchiveOutput): out is WritableStream<Uint8Array> {
  return typeof (out as WritableStream<Uint8Array>).getWriter === "function";
}

/**
 * Copies the pack to the output. Iterates by hand: leaving a for-await loop
 * would destroy the pack with a generic error before the output's own error
 * (EPIPE…) could be reported.
 */
async function pump(pack: AsyncIterable<Uint8Array>, out: ArchiveOutput): Promise<void> {
  const it = pack[Symbol.asyncIterator]();
  if (isWebWritable(out)) {
    const writer = out.getWriter();
    try {
      for (let r = await it.next(); !r.done; r = await it.next()) await writer.write(r.value);
    } finally {
      writer.releaseLock();
    }
    return;
  }
  let failed: unknown;
  const onError = (e: unknown): void => {
    failed ??= e;
  };
  out.on("error", onError);
  try {
    for (let r = await it.next(); !r.done; r = await it.next()) {
      if (failed !== undefined) throw failed;
      if (!out.write(r.value)) {
        await new Promise<void>((resolve, reject) => {
          const done = (): void => {
            out.off("drain", done);
            out.off("close", closed);
            out.off("error", closed);
            resolve();
          };
          const closed = (): void => {
            out.off("drain", done);
            out.off("close", closed);
            out.off("error", closed);
            reject(failed ?? new Error("output closed"));
          };
          out.on("drain", done);
          out.on("close", closed);
          out.on("error", closed);
        });
      }
    }
    if (failed !== undefined) throw failed;
  } catch (e) {
    throw toSkiffError(e, "write archive");
  } finally {
    out.off("error", onError);
  }
}

async function writeItem(pack: tar.Pack, item: TarItem, failure: () => unknown): Promise<void> {
  const dir = item.name.endsWith("/");
  const header = { name: item.name, size: item.size, mode: dir ? 0o755 : 0o644, mtime: item.mtime, uid: 0, gid: 0, type: dir ? "directory" : "file" } as const;
  await writeTarEntry(
    pack,
    header,
    dir
      ? undefined
      : async (sink) => {
          const body = item.body;
          if (body === undefined || body instanceof Uint8Array) {
            if (body && body.length > 0) await sink.write(Buffer.from(body.buffer, body.byteOffset, body.length));
            sink.end();
            return;
          }
          const hash = item.verify ? new Digester("sha256") : undefined;
          for await (const chunk of await body()) {
            const f = failure();
            if (f !== undefined) throw f;
            hash?.update(chunk);
            await sink.write(chunk);
          }
          if (hash && item.verify && hash.digest() !== item.verify.digest) {
            throw new SkiffError("Internal", `${item.verify.what}: content has digest ${hash.digest()}, expected ${item.verify.digest}; the store is damaged`);
          }
          if (hash && hash.size !== item.size) {
            throw new SkiffError("Internal", `${item.verify?.what ?? item.name}: ${hash.size} bytes, expected ${item.size}`);
          }
          sink.end();
        },
  );
}

/** Streams `items` as a tar to `out`. Does not end `out`. */
export async function writeTar(items: Iterable<TarItem>, out: ArchiveOutput): Promise<void> {
  const pack = tar.pack();
  // Failures are reported by writeTar's result; an 'error' event nobody listens to would crash the process.
  pack.on("error", () => undefined);
  let failure: unknown;
  const fail = (e: unknown): void => {
    if (failure !== undefined) return;
    failure = e ?? new Error("archive failed");
    pack.destroy(failure instanceof Error ? failure : new Error(String(failure)));
  };
  const pumping = pump(pack as unknown as AsyncIterable<Uint8Array>, out).catch(fail);
  try {
    for (const item of items) {
      if (failure !== undefined) break;
      await writeItem(pack, item, () => failure);
    }
    if (failure === undefined) pack.finalize();
  } catch (e) {
    fail(e);
  }
  await pumping;
  if (failure !== undefined) throw failure;
}

/**
 * Turns a (possibly compressed) layer blob stream into the tar byte stream,
 * counting the bytes read from the input. Compression is sniffed from magic
 * bytes when asked to ("auto"). Backpressure is end to end: the input is
 * only pulled as fast as the consumer iterates the returned stream.
 */
import { SkiffError } from "../errors.ts";

export type Compression = "gzip" | "zstd" | "none";

export interface Decompressed {
  compression: Compression;
  /** Uncompressed tar bytes. Stopping the iteration early cancels the input. */
  chunks: AsyncIterable<Uint8Array>;
  /** Bytes read from the input so far. */
  compressedSize(): number;
}

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const SNIFF_BYTES = 6;

/** Recognises gzip and zstd by their magic numbers; anything else is "none". */
export function sniffCompression(head: Uint8Array): Compression | "xz" {
  const starts = (magic: number[]) => head.length >= magic.length && magic.every((b, i) => head[i] === b);
  if (starts(GZIP_MAGIC)) return "gzip";
  if (starts(ZSTD_MAGIC)) return "zstd";
  if (starts(XZ_MAGIC)) return "xz";
  return "none";
}

export function toAsyncIterable(
  input: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
): AsyncIterable<Uint8Array> {
  if (Symbol.asyncIterator in input) return input as AsyncIterable<Uint8Array>;
  return readerIterable(input);
}

async function* readerIterable(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  let done = false;
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      yield r.value;
    }
    done = true;
  } finally {
    if (!done) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

/**
 * @example
 * const d = await decompress(response.body, "auto");
 * for await (const chunk of d.chunks) hash.update(chunk);
 */
export async function decompress(
  input: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  mode: Compression | "auto",
  opts: { what?: string } = {},
): Promise<Decompressed> {
  const what = opts.what ?? "layer";
  const it = toAsyncIterable(input)[Symbol.asyncIterator]();
  let read = 0;
  let sourceError: unknown;

  // Pull until the magic bytes are known (or the input ends).
  const head: Uint8Array[] = [];
  let headLength = 0;
  let ended = false;
  try {
    while (headLength < SNIFF_BYTES) {
      const r = await it.next();
      if (r.done) {
        ended = true;
        break;
      }
      read += r.value.length;
      head.push(r.value);
      headLength += r.value.length;
    }
  } catch (e) {
    await it.return?.().catch(() => undefined);
    throw e;
  }

  let compression: Compression;
  if (mode === "auto") {
    const sniffed = sniffCompression(Buffer.concat(head));
    if (sniffed === "xz") {
      await it.return?.().catch(() => undefined);
      throw new SkiffError("InvalidArgument", `${what}: xz compression is not supported (gzip, zstd or none)`);
    }
    compression = sniffed;
  } else {
    compression = mode;
  }

  async function* raw(): AsyncGenerator<Uint8Array> {
    let finished = ended;
    try {
      yield* head;
      head.length = 0;
      while (!finished) {
        let r: IteratorResult<Uint8Array>;
        try {
          r = await it.next();
        } catch (e) {
          sourceError = e;
          finished = true;
          throw e;
        }
        if (r.done) {
          finished = true;
          break;
        }
        read += r.value.length;
        yield r.value;
      }
    } finally {
      if (!finished) await it.return?.().catch(() => undefined);
    }
  }

  const chunks = compression === "none" ? raw() : inflate(raw(), compression, what, () => sourceError);
  return { compression, chunks, compressedSize: () => read };
}

async function* inflate(
  src: AsyncIterable<Uint8Array>,
  compression: "gzip" | "zstd",
  what: string,
  sourceError: () => unknown,
): AsyncGenerator<Uint8Array> {
  // The web DecompressionStream (Bun's native zlib and zstd) over node:zlib's
  // stream: measured 2-4x faster on gzip layers and 2x on zstd, for the same
  // bytes. Like Go's readers (Docker, containerd), it takes concatenated gzip
  // members and refuses anything else after the last one.
  const it = src[Symbol.asyncIterator]();
  const input = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const r = await it.next();
        if (r.done) controller.close();
        else controller.enqueue(r.value);
      },
      async cancel() {
        await it.return?.();
      },
    },
    { highWaterMark: 0 },
  );
  // "zstd" is Bun's, beyond the formats the DOM typings list; bytes in, bytes out.
  const inflater = new DecompressionStream(compression as "gzip") as unknown as ReadableWritablePair<Uint8Array, Uint8Array>;
  const out = input.pipeThrough(inflater);
  const reader = out.getReader();
  let done = false;
  try {
    for (;;) {
      let r: Awaited<ReturnType<typeof reader.read>>;
      try {
        r = await reader.read();
      } catch (e) {
        done = true;
        const from = sourceError();
        if (from !== undefined) throw from;
        const msg = e instanceof Error ? e.message : String(e);
        throw new SkiffError("InvalidArgument", `${what}: ${compression} decompression failed: ${msg}`, { cause: e });
      }
      if (r.done) {
        done = true;
        return;
      }
      yield r.value;
    }
  } finally {
    // Stopping early cancels the input, as far as the source.
    if (!done) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

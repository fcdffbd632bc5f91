/**
 * Stream plumbing shared by pull, load, import and commit.
 */

/**
 * A stream of `source`'s chunks, each handed to `side` (hashing, writing a
 * copy) before it goes on. Pulled only as fast as the reader reads, so
 * memory stays flat.
 */
export function passThrough(source: AsyncIterable<Uint8Array>, side: (chunk: Uint8Array) => Promise<void> | void): ReadableStream<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const r = await it.next();
        if (r.done) {
          controller.close();
          return;
        }
        await side(r.value);
        controller.enqueue(r.value);
      },
      async cancel() {
        await it.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * Reads a whole body into memory, refusing more than `max` bytes: the
 * stream is cancelled as soon as it goes over and `tooBig()` is thrown.
 */
export async function readAllCapped(body: ReadableStream<Uint8Array>, max: number, tooBig: () => Error): Promise<Uint8Array> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > max) {
        await reader.cancel().catch(() => {});
        throw tooBig();
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** Resolves on 'drain' or when the writer (a tar entry, the whole pack) is closed or destroyed. */
export function drained(sink: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      sink.off("drain", done);
      sink.off("close", done);
      resolve();
    };
    sink.on("drain", done);
    sink.on("close", done);
  });
}

/**
 * Tar entries as skiff writes them: one entry added to tar-stream's pack,
 * its body streamed in with backpressure (`save`, lib/images/archive/tarout.ts;
 * `cp` out of a container, lib/containers/cp-pack.ts), and the pieces every
 * archiver of a file tree needs (`commit`'s layer, lib/images/commit-layer.ts,
 * too): a file's content in chunks, a device's numbers.
 */
import { readSync } from "node:fs";
import type tar from "tar-stream";
import { drained } from "./streams.ts";

const CHUNK = 256 * 1024;

/**
 * The `size` bytes of the open file `fd` (whose header, with that size, is
 * already out), in chunks; padded with zeros if the file shrank meanwhile.
 */
export function* fileChunks(fd: number, size: number): Generator<Uint8Array> {
  let left = size;
  while (left > 0) {
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, left));
    let n = readSync(fd, buf, 0, buf.length, null);
    if (n === 0) {
      buf.fill(0);
      n = buf.length;
    }
    left -= n;
    yield new Uint8Array(buf.buffer, buf.byteOffset, n);
  }
}

/** Linux's encoding of dev_t (glibc gnu_dev_major/minor). */
export function devNumbers(rdev: number): { major: number; minor: number } {
  const hi = Math.floor(rdev / 2 ** 32);
  const lo = rdev >>> 0;
  return { major: ((lo >>> 8) & 0xfff) | ((hi & 0xfffff000) >>> 0), minor: (lo & 0xff) | ((lo >>> 12) & 0xfff00) };
}

/** An entry's header: its name, and tar-stream's defaults for the rest. */
export type TarHeader = Partial<tar.Header> & { name: string };

/** Where an entry's body goes: write chunks, and end once all are written. */
export interface TarEntryBody {
  /** Waits while the pack holds more than it wants (backpressure). */
  write(chunk: Uint8Array): Promise<void>;
  end(): void;
}

interface EntrySink extends NodeJS.EventEmitter {
  write(chunk: Uint8Array): boolean;
  end(): void;
  destroy(e?: Error): void;
}

/**
 * Adds an entry to `pack`; `fill` writes its body and ends it (none for an
 * entry without one, such as a directory). Resolves once the pack has taken
 * the entry; when `fill` throws, the entry is destroyed and this rejects
 * with that error.
 */
export function writeTarEntry(pack: tar.Pack, header: TarHeader, fill?: (body: TarEntryBody) => Promise<void>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    // A streamx Writable: end() takes no callback (the entry callback says when it is written).
    const sink = pack.entry(header, (err) => (err ? reject(err) : resolve())) as unknown as EntrySink;
    // Destroyed with a failure, the entry also emits it as 'error': unheard,
    // that event would end the process with a stack trace (about one damaged
    // save in thirty did), while the failure is reported through `reject`.
    sink.on("error", () => undefined);
    if (!fill) return;
    const body: TarEntryBody = {
      write: async (chunk) => {
        if (!sink.write(chunk)) await drained(sink);
      },
      end: () => sink.end(),
    };
    fill(body).catch((e: unknown) => {
      reject(e);
      sink.destroy(e instanceof Error ? e : new Error(String(e)));
    });
  });
}

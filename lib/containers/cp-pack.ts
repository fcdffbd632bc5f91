/**
 * The source side of `cp`: a file, symlink or directory tree as a tar stream
 * (tar-stream's pack) whose entries start with a given name — the source's
 * base name, or `.` for a directory's contents. Symlinks are archived as
 * links, never followed; hardlinked files become tar hardlinks; owners and
 * modes are recorded as found; sockets are skipped (tar cannot hold them).
 * Content is read as the output takes it, so large trees stream in constant
 * memory.
 */
import { drained } from "../streams.ts";
import { closeSync, constants, lstatSync, openSync, readdirSync, readlinkSync, readSync, type Stats } from "node:fs";
import tar from "tar-stream";
import { errnoCode } from "../errors.ts";

const CHUNK = 256 * 1024;

/** The header fields we set; tar-stream fills in the rest. */
type EntryHeader = Partial<tar.Header> & { name: string };

export interface PackStats {
  /** Bytes of regular file content archived. */
  contentBytes: number;
}

interface EntrySink extends NodeJS.EventEmitter {
  write(chunk: Uint8Array): boolean;
  end(): void;
  destroy(e?: Error): void;
}


/** Linux's encoding of dev_t (glibc gnu_dev_major/minor). */
export function devNumbers(rdev: number): { major: number; minor: number } {
  const hi = Math.floor(rdev / 2 ** 32);
  const lo = rdev >>> 0;
  return { major: ((lo >>> 8) & 0xfff) | ((hi & 0xfffff000) >>> 0), minor: (lo & 0xff) | ((lo >>> 12) & 0xfff00) };
}

function childPath(dir: string, name: string): string {
  return dir.endsWith("/") ? `${dir}${name}` : `${dir}/${name}`;
}

function entryName(parent: string, child: string): string {
  return `${parent}/${child}`;
}

export interface PackOptions {
  /** Directories archived empty, without descending (a live container's /proc, /sys, /dev). */
  prune?: (path: string) => boolean;
}

class Packer {
  readonly #pack: tar.Pack;
  readonly #opts: PackOptions;
  readonly #links = new Map<string, string>();
  contentBytes = 0;

  constructor(pack: tar.Pack, opts: PackOptions) {
    this.#pack = pack;
    this.#opts = opts;
  }

  #put(header: EntryHeader): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pack.entry(header as tar.Header, (err) => (err ? reject(err) : resolve()));
    });
  }

  async add(path: string, name: string, st: Stats): Promise<void> {
    const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
    if (st.isDirectory()) {
      await this.#put({ ...base, name: `${name}/`, type: "directory" });
      if (this.#opts.prune?.(path)) return;
      for (const child of readdirSync(path).sort()) {
        const p = childPath(path, child);
        let cst: Stats;
        try {
          cst = lstatSync(p);
        } catch (e) {
          if (errnoCode(e) === "ENOENT") continue; // removed while we walk
          throw e;
        }
        await this.add(p, entryName(name, child), cst);
      }
      return;
    }
    if (st.isSymbolicLink()) {
      await this.#put({ ...base, name, type: "symlink", linkname: readlinkSync(path) });
      return;
    }
    if (st.isFile()) {
      if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        const first = this.#links.get(key);
        if (first !== undefined) {
          await this.#put({ ...base, name, type: "link", linkname: first, size: 0 });
          return;
        }
        this.#links.set(key, name);
      }
      await this.#file(path, { ...base, name, type: "file", size: st.size });
      return;
    }
    const type = st.isCharacterDevice() ? "character-device" : st.isBlockDevice() ? "block-device" : st.isFIFO() ? "fifo" : undefined;
    if (!type) return; // a socket
    const { major, minor } = devNumbers(st.rdev);
    await this.#put({ ...base, name, type, devmajor: major, devminor: minor });
  }

  async #file(path: string, header: EntryHeader): Promise<void> {
    const size = header.size ?? 0;
    const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      await new Promise<void>((resolve, reject) => {
        const sink = this.#pack.entry(header as tar.Header, (err) => (err ? reject(err) : resolve())) as unknown as EntrySink;
        void (async () => {
          let left = size;
          while (left > 0) {
            const buf = Buffer.allocUnsafe(Math.min(CHUNK, left));
            let n = readSync(fd, buf, 0, buf.length, null);
            // A file that shrank while we read it: pad, the header is already out.
            if (n === 0) {
              buf.fill(0);
              n = buf.length;
            }
            left -= n;
            if (!sink.write(buf.subarray(0, n))) await drained(sink);
          }
          sink.end();
        })().catch((e: unknown) => {
          reject(e);
          sink.destroy(e instanceof Error ? e : new Error(String(e)));
        });
      });
      this.contentBytes += size;
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * Archives `path` as entries named `name`, `name/child`... (`./child` for
 * name "."). Read `stream` to drive it; `done` settles when the archive is
 * complete (or rejects with the first failure, which also ends the stream).
 * @example const { stream } = packPath("/etc", "etc"); for await (const c of stream) out.write(c);
 */
export function packPath(path: string, name: string, opts: PackOptions = {}): { stream: AsyncIterable<Uint8Array>; done: Promise<PackStats> } {
  const pack = tar.pack();
  const packer = new Packer(pack, opts);
  const done = (async () => {
    await packer.add(path, name, lstatSync(path));
    pack.finalize();
    return { contentBytes: packer.contentBytes };
  })();
  done.catch((e: unknown) => pack.destroy(e instanceof Error ? e : new Error(String(e))));
  return { stream: pack as unknown as AsyncIterable<Uint8Array>, done };
}

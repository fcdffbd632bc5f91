/**
 * The source side of `cp`: a file, symlink or directory tree as a tar stream
 * (tar-stream's pack) whose entries start with a given name — the source's
 * base name, or `.` for a directory's contents. Symlinks are archived as
 * links, never followed; hardlinked files become tar hardlinks; owners and
 * modes are recorded as found; sockets are skipped (tar cannot hold them).
 * Content is read as the output takes it, so large trees stream in constant
 * memory.
 */
import { devNumbers, fileChunks, writeTarEntry, type TarHeader } from "../tar-entry.ts";
import { closeSync, constants, lstatSync, openSync, readdirSync, readlinkSync, type Stats } from "node:fs";
import tar from "tar-stream";
import { errnoCode } from "../errors.ts";

export interface PackStats {
  /** Bytes of regular file content archived. */
  contentBytes: number;
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

  #put(header: TarHeader): Promise<void> {
    return writeTarEntry(this.#pack, header);
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

  async #file(path: string, header: TarHeader): Promise<void> {
    const size = header.size ?? 0;
    const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      await writeTarEntry(this.#pack, header, async (sink) => {
        for (const chunk of fileChunks(fd, size)) await sink.write(chunk);
        sink.end();
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

/**
 * The destination side of `cp`: extracts a tar stream into an existing
 * directory, with Docker's rules: an existing directory is never replaced by
 * a non-directory nor the other way round, other existing entries are
 * replaced, modes and times are kept, owners only on request (`cp -a`).
 *
 * Two ways to walk to an entry's parent:
 * - in scope (`scopeRoot`, used inside the container, where the helper is
 *   chrooted): symlinks on the way are followed within the root, as Docker
 *   does in the container (a tar's `bin/x` lands in `/usr/bin/x` when /bin
 *   is a link);
 * - on the host (no scopeRoot): every parent must be a real directory below
 *   `dest`; a symlink on the way is refused, so an archive can never write
 *   through a link it planted (`a -> /etc`, then `a/passwd`).
 * The final component is never followed: it is removed and created afresh.
 */
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeSync,
  type Stats,
} from "node:fs";
import { errnoCode, SkiffError } from "../errors.ts";
import { baseOf, parentOf, parseEntryName } from "../layers/paths.ts";
import { readTar, type ContentSink, type TarEntry } from "../layers/tar.ts";
import { makedev, mknod, S_IFBLK, S_IFCHR, S_IFIFO } from "../sys/libc.ts";
import { renameEntry, type CopyPlan } from "./cp-paths.ts";
import { hostPathOf, resolveInScope } from "./scope.ts";

export interface ExtractOptions {
  /** Existing directory the entries land in: a host path, or an in-scope path when scopeRoot is set. */
  dest: string;
  /** Resolve parents within this root, following symlinks in scope. */
  scopeRoot?: string;
  rename?: CopyPlan["rename"];
  /** Give entries the archive's uid/gid (cp -a); otherwise they belong to whoever writes them. */
  keepOwner?: boolean;
  warn?: (message: string) => void;
}

export interface ExtractStats {
  contentBytes: number;
}

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = constants;

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT") return undefined;
    throw e;
  }
}

function join(dir: string, name: string): string {
  return dir.endsWith("/") ? `${dir}${name}` : `${dir}/${name}`;
}

interface DirFix {
  path: string;
  mode: number;
  mtime?: Date;
}

class Extractor {
  readonly #o: ExtractOptions;
  /** Host paths verified (or made) as real directories below dest. */
  readonly #dirs = new Set<string>();
  readonly #dirFixes: DirFix[] = [];
  contentBytes = 0;

  constructor(opts: ExtractOptions) {
    this.#o = opts;
  }

  /** Host path of the directory holding `rel` (relative to dest), created when missing. */
  #parent(rel: string, create: boolean): string {
    const parentRel = parentOf(rel);
    const { dest, scopeRoot } = this.#o;
    if (scopeRoot !== undefined) {
      const inner = resolveInScope(scopeRoot, parentRel === "" ? dest : join(dest, parentRel));
      const host = hostPathOf(scopeRoot, inner);
      const st = lstatOrUndefined(host);
      if (st?.isDirectory()) return host;
      if (st || !create) throw new SkiffError("InvalidArgument", `cannot extract ${rel}: ${inner} is not a directory`);
      mkdirSync(host, { recursive: true, mode: 0o755 });
      return host;
    }
    let cur = dest;
    for (const part of parentRel === "" ? [] : parentRel.split("/")) {
      cur = join(cur, part);
      if (this.#dirs.has(cur)) continue;
      const st = lstatOrUndefined(cur);
      if (!st) {
        if (!create) throw new SkiffError("NotFound", `cannot extract ${rel}: ${cur} does not exist`);
        mkdirSync(cur, { mode: 0o755 });
      } else if (!st.isDirectory()) {
        throw new SkiffError("InvalidArgument", `cannot extract ${rel}: ${cur} is not a directory`);
      }
      this.#dirs.add(cur);
    }
    return cur;
  }

  #chown(path: string, e: TarEntry, fd?: number): void {
    if (!this.#o.keepOwner) return;
    const uid = e.header.uid ?? 0;
    const gid = e.header.gid ?? 0;
    try {
      if (fd !== undefined) fchownSync(fd, uid, gid);
      else lchownSync(path, uid, gid);
    } catch (err) {
      const code = errnoCode(err);
      if (code === "EINVAL" || code === "EPERM") {
        throw new SkiffError("InvalidArgument", `cannot give ${path} the owner ${uid}:${gid}: the id is not mapped here`);
      }
      throw err;
    }
  }

  /** Clears the way for a non-directory at `path`; refuses to replace a directory. */
  #replace(path: string, rel: string): void {
    const st = lstatOrUndefined(path);
    if (!st) return;
    if (st.isDirectory()) throw new SkiffError("Conflict", `cannot overwrite directory ${path} with non-directory ${rel}`);
    unlinkSync(path);
  }

  entry(e: TarEntry): ContentSink | undefined {
    const h = e.header;
    const parsed = parseEntryName(h.name);
    if (!parsed.ok) throw new SkiffError("InvalidArgument", `invalid archive entry ${JSON.stringify(h.name)}: ${parsed.reason}`);
    const rel = renameEntry(parsed.rel, this.#o.rename);
    if (rel === undefined) throw new SkiffError("InvalidArgument", `invalid copy source content: unexpected entry ${h.name}`);
    const mode = (h.mode ?? 0o644) & 0o7777;
    if (rel === "") {
      // The archive's root is the destination directory itself.
      if (h.type !== "directory") throw new SkiffError("InvalidArgument", `invalid archive entry ${h.name}: the root must be a directory`);
      const path = this.#o.scopeRoot !== undefined ? hostPathOf(this.#o.scopeRoot, resolveInScope(this.#o.scopeRoot, this.#o.dest)) : this.#o.dest;
      this.#chown(path, e);
      this.#dirFixes.push({ path, mode, ...(h.mtime ? { mtime: h.mtime } : {}) });
      return undefined;
    }
    const path = join(this.#parent(rel, true), baseOf(rel));
    switch (h.type) {
      case "directory": {
        const st = lstatOrUndefined(path);
        if (st && !st.isDirectory()) throw new SkiffError("Conflict", `cannot overwrite non-directory ${path} with directory ${rel}`);
        // Owner-writable until the end, so children can be created whatever the final mode.
        if (!st) mkdirSync(path, { mode: 0o700 });
        chmodSync(path, mode | 0o700);
        this.#dirs.add(path);
        this.#chown(path, e);
        this.#dirFixes.push({ path, mode, ...(h.mtime ? { mtime: h.mtime } : {}) });
        return undefined;
      }
      case "file":
      case "contiguous-file":
        return this.#file(path, rel, e, mode);
      case "symlink":
        this.#replace(path, rel);
        symlinkSync(h.linkname ?? "", path);
        this.#chown(path, e);
        if (h.mtime) lutimesSync(path, h.mtime, h.mtime);
        return undefined;
      case "link": {
        const target = this.#linkTarget(h.linkname ?? "", rel);
        this.#replace(path, rel);
        linkSync(target, path);
        return undefined;
      }
      case "character-device":
      case "block-device":
      case "fifo":
        this.#special(path, rel, e, mode);
        return undefined;
      default:
        this.#o.warn?.(`skipping ${rel}: unsupported archive entry type ${h.type}`);
        return undefined;
    }
  }

  #linkTarget(linkname: string, rel: string): string {
    const parsed = parseEntryName(linkname);
    const target = parsed.ok ? renameEntry(parsed.rel, this.#o.rename) : undefined;
    if (target === undefined || target === "") throw new SkiffError("InvalidArgument", `invalid hardlink ${rel} -> ${linkname}`);
    const path = join(this.#parent(target, false), baseOf(target));
    const st = lstatOrUndefined(path);
    if (!st || st.isDirectory()) throw new SkiffError("InvalidArgument", `invalid hardlink ${rel} -> ${linkname}: no such file in the archive`);
    return path;
  }

  #special(path: string, rel: string, e: TarEntry, mode: number): void {
    const h = e.header;
    const kind = h.type === "fifo" ? S_IFIFO : h.type === "block-device" ? S_IFBLK : S_IFCHR;
    this.#replace(path, rel);
    try {
      mknod(path, kind | mode, h.type === "fifo" ? 0n : makedev(h.devmajor ?? 0, h.devminor ?? 0));
    } catch (err) {
      if (errnoCode(err) !== "EPERM") throw err;
      this.#o.warn?.(`skipping device ${rel}: not permitted here`);
      return;
    }
    this.#chown(path, e);
    chmodSync(path, mode);
  }

  #file(path: string, rel: string, e: TarEntry, mode: number): ContentSink {
    this.#replace(path, rel);
    const fd = openSync(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    try {
      this.#chown(path, e, fd);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    const mtime = e.header.mtime;
    return {
      write: (chunk) => {
        let off = 0;
        while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
        this.contentBytes += chunk.length;
      },
      end: () => {
        try {
          // After chown, which clears set-id bits.
          fchmodSync(fd, mode);
          if (mtime) futimesSync(fd, mtime, mtime);
        } finally {
          closeSync(fd);
        }
      },
    };
  }

  /** Directory modes and times, deepest first, once their children exist. */
  finish(): void {
    for (const d of [...this.#dirFixes].reverse()) {
      chmodSync(d.path, d.mode);
      if (d.mtime) utimesSync(d.path, d.mtime, d.mtime);
    }
  }
}

/**
 * Extracts a tar stream into `opts.dest`.
 * @example await extractArchive(helper.stdout, { dest: "/tmp/out", rename: { from: "etc", to: "etc-copy" } });
 */
export async function extractArchive(chunks: AsyncIterable<Uint8Array>, opts: ExtractOptions): Promise<ExtractStats> {
  const x = new Extractor(opts);
  try {
    await readTar(chunks, (e) => x.entry(e));
  } catch (e) {
    // The tar parser's own complaints ("Unexpected end of data") say the input is no archive.
    if (e instanceof Error && !(e instanceof SkiffError) && errnoCode(e) === undefined) {
      throw new SkiffError("InvalidArgument", `invalid tar archive: ${e.message.charAt(0).toLowerCase()}${e.message.slice(1)}`, { cause: e });
    }
    throw e;
  }
  x.finish();
  return { contentBytes: x.contentBytes };
}

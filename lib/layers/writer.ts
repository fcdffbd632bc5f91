/**
 * Writes the entries of one layer into its own directory, in overlayfs
 * format. Every path handed in is already normalised (paths.ts); this file
 * makes sure nothing is ever created, changed or followed outside `dest`:
 *
 * - parent components are walked with lstat (results cached per layer) and
 *   must be real directories; a symlink on the way is refused, never followed;
 * - the final component is never followed: files are opened with
 *   O_CREAT|O_EXCL|O_NOFOLLOW after removing whatever was there, metadata is
 *   set through an fd or with l* calls (lchown, lutimes, lsetxattr);
 * - anything a later entry replaces is dropped from the caches.
 *
 * The threat is the layer's content, not a concurrent local process: the
 * snapshot directory is private to skiff while it is being unpacked.
 */
import {
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
  readdirSync,
  readlinkSync,
  rmSync,
  type Stats,
  symlinkSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { errnoCode, SkiffError } from "../errors.ts";
import { makedev, mknod, S_IFCHR, S_IFIFO } from "../sys/libc.ts";
import { ancestorsOf, isWithin, parentOf, parseEntryName, whiteoutOf } from "./paths.ts";
import type { PendingFixups } from "./pending.ts";
import type { ContentSink } from "./tar.ts";
import { applyXattrs, setOpaque, type Xattr, type XattrProblem } from "./xattrs.ts";

export interface EntryMeta {
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch (fractional from PAX); NaN leaves times alone. */
  mtime: number;
  atime: number;
  xattrs: Xattr[];
}

export interface WriterOptions {
  dest: string;
  chown: boolean;
  maxId?: number;
  /** Non-fatal problems, keyed by kind so the caller can report each once. */
  warn: (kind: string, message: string) => void;
}

interface DirMeta {
  mode: number;
  mtime?: number;
  atime?: number;
}

const { O_WRONLY, O_RDONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = constants;
const CREATE_FLAGS = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;
/** Where the root of the layer appears in PendingFixups.implicitDirs. */
export const ROOT_REL = ".";

function refuse(reason: string): SkiffError {
  return new SkiffError("InvalidArgument", reason);
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw e;
  }
}

export class LayerWriter {
  readonly #dest: string;
  readonly #chown: boolean;
  readonly #maxId: number | undefined;
  readonly #warn: (kind: string, message: string) => void;
  /** Paths known to be real directories in dest ("" is dest itself). */
  readonly #dirs = new Set<string>([""]);
  /** Parents created without an entry of their own: real metadata is in a lower layer. */
  readonly #implicit = new Set<string>();
  /** Directory mode and times, applied at the end (children change mtimes; modes may deny writes). */
  readonly #dirMeta = new Map<string, DirMeta>();
  /** Hardlinks whose target is not in this layer: path → target. */
  readonly #lowerLinks = new Map<string, string>();
  #rootSeen = false;
  #openFd: number | undefined;

  constructor(opts: WriterOptions) {
    this.#dest = opts.dest;
    this.#chown = opts.chown;
    this.#maxId = opts.maxId;
    this.#warn = opts.warn;
    const st = lstatOrUndefined(opts.dest);
    if (!st?.isDirectory()) throw new SkiffError("InvalidArgument", `${opts.dest} is not a directory`);
  }

  #abs(rel: string): string {
    return rel === "" ? this.#dest : `${this.#dest}/${rel}`;
  }

  // ---- entries -------------------------------------------------------------

  directory(rel: string, meta: EntryMeta): void {
    if (rel === "") {
      this.#rootSeen = true;
    } else {
      this.#ensureDir(parentOf(rel));
      const was = this.#clear(rel, true);
      if (was !== "dir") {
        mkdirSync(this.#abs(rel), 0o700);
        // A directory where this layer had put a non-directory starts empty:
        // the lower one was replaced (as on a merged tree), so hide it.
        if (was === "other") setOpaque(this.#abs(rel));
      }
      this.#implicit.delete(rel);
      this.#dirs.add(rel);
    }
    const path = this.#abs(rel);
    this.#own(path, meta, lchownSync);
    this.#xattrs(path, meta.xattrs);
    this.#dirMeta.set(rel, { mode: meta.mode & 0o7777, mtime: meta.mtime, atime: meta.atime });
  }

  file(rel: string, meta: EntryMeta): ContentSink {
    this.#ensureDir(parentOf(rel));
    const path = this.#abs(rel);
    this.#lowerLinks.delete(rel);
    let fd: number;
    try {
      fd = openSync(path, CREATE_FLAGS, 0o600);
    } catch (e) {
      if (errnoCode(e) !== "EEXIST") throw e;
      this.#clear(rel, false);
      fd = openSync(path, CREATE_FLAGS, 0o600);
    }
    this.#openFd = fd;
    return {
      write: (chunk) => {
        let off = 0;
        while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
      },
      end: () => {
        this.#finishFd(fd, meta);
        this.#xattrs(path, meta.xattrs);
      },
    };
  }

  symlink(rel: string, target: string, meta: EntryMeta): void {
    if (target === "") throw refuse("symlink has an empty target");
    this.#ensureDir(parentOf(rel));
    this.#clear(rel, false);
    const path = this.#abs(rel);
    symlinkSync(target, path);
    this.#own(path, meta, lchownSync);
    this.#xattrs(path, meta.xattrs);
    if (!Number.isNaN(meta.mtime)) lutimesSync(path, meta.atime, meta.mtime);
  }

  fifo(rel: string, meta: EntryMeta): void {
    this.#ensureDir(parentOf(rel));
    this.#clear(rel, false);
    const path = this.#abs(rel);
    mknod(path, S_IFIFO | 0o600, 0n);
    // A FIFO opened non-blocking for reading does not wait for a writer.
    this.#openFd = openSync(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW);
    this.#finishFd(this.#openFd, meta);
    this.#xattrs(path, meta.xattrs);
  }

  /**
   * A hardlink to `linkname`, which must be a non-directory earlier in this
   * layer; otherwise it is recorded for applyPending (its target is below).
   * Link entries carry no metadata of their own: they share the target's inode.
   */
  hardlink(rel: string, linkname: string): void {
    const parsed = parseEntryName(linkname);
    if (!parsed.ok) throw refuse(`hardlink target ${JSON.stringify(linkname)}: ${parsed.reason}`);
    const target = parsed.rel;
    if (target === "") throw refuse("hardlink target is the layer root");
    if (whiteoutOf(target).kind !== "none") throw refuse(`hardlink target ${target} is a whiteout name`);
    if (target === rel) return;
    if (isWithin(target, rel)) throw refuse(`hardlink target ${target} lies inside the entry it replaces`);
    const st = this.#locate(target);
    this.#ensureDir(parentOf(rel));
    if (st === undefined) {
      this.#clear(rel, false);
      this.#lowerLinks.set(rel, this.#lowerLinks.get(target) ?? target);
      return;
    }
    if (st.isDirectory()) throw refuse(`hardlink target ${target} is a directory`);
    if (st.isCharacterDevice()) throw refuse(`hardlink target ${target} was whited out`);
    this.#clear(rel, false);
    const path = this.#abs(rel);
    if (st.isSymbolicLink()) {
      // link(2) on Linux would not follow it either, but a copy leaves nothing to chance.
      symlinkSync(readlinkSync(this.#abs(target)), path);
      if (this.#chown) lchownSync(path, st.uid, st.gid);
      lutimesSync(path, st.atime, st.mtime);
      return;
    }
    linkSync(this.#abs(target), path);
  }

  /** `.wh.name`: a 0/0 character device (created by this layer, it replaces whatever was there). */
  whiteout(rel: string): void {
    this.#ensureDir(parentOf(rel));
    this.#clear(rel, false);
    mknod(this.#abs(rel), S_IFCHR, makedev(0, 0));
  }

  /** `.wh..wh..opq` in `dir`: lower layers' children of `dir` are hidden. */
  opaque(dir: string): void {
    this.#ensureDir(dir);
    setOpaque(this.#abs(dir));
  }

  device(rel: string): void {
    this.#warn("device", `device node ${rel} skipped (and any others): containers get /dev from the runtime`);
  }

  // ---- end of layer ----------------------------------------------------------

  /** Applies deferred directory metadata and returns the work left for applyPending. */
  finish(): PendingFixups {
    if (!this.#rootSeen) {
      // Like any implicit parent: 0755 root-owned now, real metadata from below later.
      if (this.#chown) lchownSync(this.#dest, 0, 0);
      this.#dirMeta.set("", { mode: 0o755 });
    }
    for (const [rel, m] of this.#dirMeta) {
      let fd: number;
      try {
        fd = openSync(this.#abs(rel), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      } catch (e) {
        const code = errnoCode(e);
        if (code === "ENOENT" || code === "ENOTDIR" || code === "ELOOP") continue;
        throw e;
      }
      try {
        fchmodSync(fd, m.mode);
        if (m.mtime !== undefined && !Number.isNaN(m.mtime)) futimesSync(fd, m.atime ?? m.mtime, m.mtime);
      } finally {
        closeSync(fd);
      }
    }
    const implicitDirs = [...this.#implicit];
    if (!this.#rootSeen) implicitDirs.unshift(ROOT_REL);
    const lowerLinks = [...this.#lowerLinks].map(([path, target]) => ({ path, target }));
    return { implicitDirs, lowerLinks };
  }

  /** Releases an fd left open by a failed entry. */
  abort(): void {
    if (this.#openFd !== undefined) {
      try {
        closeSync(this.#openFd);
      } catch {
        // already closed
      }
      this.#openFd = undefined;
    }
  }

  // ---- helpers -----------------------------------------------------------------

  #finishFd(fd: number, meta: EntryMeta): void {
    try {
      // chown first: it clears setuid/setgid (and file capabilities).
      this.#own(fd, meta, fchownSync);
      fchmodSync(fd, meta.mode & 0o7777);
      if (!Number.isNaN(meta.mtime)) futimesSync(fd, meta.atime, meta.mtime);
    } finally {
      closeSync(fd);
      this.#openFd = undefined;
    }
  }

  #own<T extends string | number>(target: T, meta: EntryMeta, chown: (t: T, uid: number, gid: number) => void): void {
    if (!this.#chown) return;
    const max = this.#maxId;
    if (max !== undefined) {
      for (const [kind, id, file] of [["uid", meta.uid, "subuid"], ["gid", meta.gid, "subgid"]] as const) {
        if (id > max) {
          throw refuse(
            `layer needs ${kind} ${id} but only 0-${max} are mapped: add a larger range to /etc/${file} (usermod --add-sub${kind}s)`,
          );
        }
      }
    }
    chown(target, meta.uid, meta.gid);
  }

  #xattrs(path: string, xattrs: readonly Xattr[]): void {
    if (xattrs.length === 0) return;
    const report = (p: XattrProblem): void => {
      if (p.kind === "forged") this.#warn("xattr-overlay", `overlayfs xattr ${p.name} dropped (layers may not set it)`);
      else this.#warn("xattr", `xattr ${p.name} not set on ${path} (${p.code}); later failures not reported`);
    };
    applyXattrs(path, xattrs, { report });
  }

  /** Makes `rel` and its ancestors real directories, creating missing ones as implicit. */
  #ensureDir(rel: string): void {
    if (this.#dirs.has(rel)) return;
    for (const dir of [...ancestorsOf(rel), rel]) {
      if (this.#dirs.has(dir)) continue;
      const path = this.#abs(dir);
      const st = lstatOrUndefined(path);
      if (st?.isDirectory()) {
        this.#dirs.add(dir);
        continue;
      }
      if (st?.isSymbolicLink()) throw refuse(`${dir} is a symlink: refusing to write through it`);
      let opaque = false;
      if (st !== undefined) {
        // Only whiteouts (0/0 char devices this layer made) give way to a directory.
        if (!st.isCharacterDevice()) throw refuse(`${dir} is not a directory`);
        unlinkSync(path);
        opaque = true;
      } else if (this.#lowerLinks.delete(dir)) {
        opaque = true;
      }
      mkdirSync(path, 0o700);
      if (this.#chown) lchownSync(path, 0, 0);
      if (opaque) setOpaque(path);
      else this.#implicit.add(dir);
      this.#dirMeta.set(dir, { mode: 0o755 });
      this.#dirs.add(dir);
    }
  }

  /**
   * Lstat of a hardlink target inside this layer, refusing symlinks on the
   * way; undefined when it is not in this layer (then it is in a lower one).
   */
  #locate(rel: string): Stats | undefined {
    for (const dir of ancestorsOf(rel)) {
      if (this.#dirs.has(dir)) continue;
      const st = lstatOrUndefined(this.#abs(dir));
      if (st === undefined) return undefined;
      if (st.isDirectory()) {
        this.#dirs.add(dir);
        continue;
      }
      if (st.isSymbolicLink()) throw refuse(`hardlink target ${rel}: ${dir} is a symlink`);
      if (st.isCharacterDevice()) throw refuse(`hardlink target ${rel} was whited out`);
      throw refuse(`hardlink target ${rel}: ${dir} is not a directory`);
    }
    return lstatOrUndefined(this.#abs(rel));
  }

  /**
   * Removes what is at `rel` (a directory only when `keepDir` is false) and
   * forgets what the caches knew about it. Returns what was there:
   * "other" also covers a pending lower hardlink, which has no file yet.
   */
  #clear(rel: string, keepDir: boolean): "dir" | "other" | "none" {
    const wasLowerLink = this.#lowerLinks.delete(rel);
    const path = this.#abs(rel);
    const st = lstatOrUndefined(path);
    if (st === undefined) return wasLowerLink ? "other" : "none";
    if (!st.isDirectory()) {
      unlinkSync(path);
      return "other";
    }
    if (keepDir) return "dir";
    const hadChildren = readdirSync(path).length > 0;
    rmSync(path, { recursive: true, force: true });
    this.#forget(rel, hadChildren);
    return "other";
  }

  #forget(rel: string, descendants: boolean): void {
    this.#dirs.delete(rel);
    this.#implicit.delete(rel);
    this.#dirMeta.delete(rel);
    // Pending lower links have no file on disk, so look for them even under an empty dir.
    for (const p of this.#lowerLinks.keys()) if (isWithin(p, rel)) this.#lowerLinks.delete(p);
    if (!descendants) return;
    for (const p of this.#dirs) if (isWithin(p, rel)) this.#dirs.delete(p);
    for (const p of this.#implicit) if (isWithin(p, rel)) this.#implicit.delete(p);
    for (const p of this.#dirMeta.keys()) if (isWithin(p, rel)) this.#dirMeta.delete(p);
  }
}

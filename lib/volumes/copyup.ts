/**
 * Docker's copy-up: when an empty volume is first mounted at a path that
 * holds a directory in the image, the directory's content is copied into
 * the volume (files, directories, symlinks, fifos, hardlinks, modes,
 * owners, xattrs, times), and the volume's root takes the directory's
 * owner and mode, so a container user that owns the directory in the image
 * owns it in the volume too. The source is the merged view of the layer
 * directories (layered.ts), so whiteouts and opaque directories hide what
 * they hide in the container.
 *
 * Runs where files can get container owners: in-process as root, inside
 * the user namespace rootless (`skiff __ns copyup`). Everything is created
 * afresh with exclusive creates; nothing at the destination is followed.
 */
import { chmodSync, constants, copyFileSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, readdirSync, readlinkSync, rmSync, symlinkSync, utimesSync, type Stats } from "node:fs";
import { join } from "node:path";
import { SkiffError } from "../errors.ts";
import { copyXattrs, type XattrProblem } from "../layers/xattrs.ts";
import { mknod, S_IFIFO } from "../sys/libc.ts";
import { listNames, lookupChild, resolveLayered, type LayeredEntry } from "./layered.ts";

export interface CopyUpRequest {
  /** Layer directories, top-most first: the container's upper dir, then the image's snapshots. */
  layers: string[];
  /** Absolute path in the container where the volume is mounted. */
  target: string;
  /** The volume's directory (its `_data`); must exist. */
  dest: string;
  /** A previous copy-up was interrupted: empty `dest` first. */
  clearFirst?: boolean;
  /** Keep the volume root's owner (the volume's options chose it). */
  keepRootOwner?: boolean;
}

export interface CopyUpResult {
  /**
   * copied: the image had a directory there (possibly empty), now in the volume;
   * not-empty: the volume already had content, nothing changed;
   * absent / not-a-directory: nothing to copy.
   */
  status: "copied" | "not-empty" | "absent" | "not-a-directory";
  /** Entries created in the volume. */
  entries: number;
}

export interface CopyUpOptions {
  /** Give entries their owners (false only in unprivileged unit tests). */
  chown: boolean;
  onWarning?: (message: string) => void;
}

type Dir = Extract<LayeredEntry, { kind: "dir" }>;

class Copier {
  entries = 0;
  readonly #opts: CopyUpOptions;
  readonly #links = new Map<string, string>();
  readonly #warned = new Set<string>();

  constructor(opts: CopyUpOptions) {
    this.#opts = opts;
  }

  warnOnce(kind: string, message: string): void {
    if (this.#warned.has(kind)) return;
    this.#warned.add(kind);
    this.#opts.onWarning?.(message);
  }

  #xattrReport = (p: XattrProblem): void => {
    if (p.kind === "failed") this.warnOnce("xattr", `copy-up: xattr ${p.name} not copied (${p.code}); later failures not reported`);
  };

  #meta(src: string, dst: string, st: Stats): void {
    if (this.#opts.chown) lchownSync(dst, st.uid, st.gid);
    if (st.isSymbolicLink()) {
      lutimesSync(dst, st.atime, st.mtime);
      return;
    }
    // After chown, which clears set-id bits and security.capability.
    chmodSync(dst, st.mode & 0o7777);
    copyXattrs(src, dst, { report: this.#xattrReport });
    utimesSync(dst, st.atime, st.mtime);
  }

  dir(src: Dir, dst: string): void {
    for (const name of listNames(src)) {
      const child = lookupChild(src, name);
      if (child) this.entry(child, join(dst, name));
    }
  }

  entry(e: LayeredEntry, dst: string): void {
    if (e.kind === "dir") {
      mkdirSync(dst, { mode: 0o700 });
      this.entries++;
      this.dir(e, dst);
      this.#meta(e.dirs[0] as string, dst, e.st);
      return;
    }
    const { path: src, st } = e;
    if (st.nlink > 1 && !st.isSymbolicLink()) {
      const key = `${st.dev}:${st.ino}`;
      const first = this.#links.get(key);
      if (first !== undefined) {
        linkSync(first, dst);
        this.entries++;
        return;
      }
      this.#links.set(key, dst);
    }
    if (st.isFile()) {
      copyFileSync(src, dst, constants.COPYFILE_EXCL);
    } else if (st.isSymbolicLink()) {
      symlinkSync(readlinkSync(src), dst);
    } else if (st.isFIFO()) {
      mknod(dst, S_IFIFO | (st.mode & 0o7777), 0n);
    } else {
      this.warnOnce("special", `copy-up: ${dst} skipped (and any other device nodes or sockets)`);
      return;
    }
    this.entries++;
    this.#meta(src, dst, st);
  }
}

function isEmptyDir(dir: string): boolean {
  return readdirSync(dir).length === 0;
}

/**
 * Copies the image's content at `req.target` into the empty volume `req.dest`.
 * @example copyUp({ layers: [upper, ...snapshots], target: "/var/lib/app", dest: "/…/volumes/v/_data" }, { chown: true })
 */
export function copyUp(req: CopyUpRequest, opts: CopyUpOptions): CopyUpResult {
  const destSt = lstatSync(req.dest);
  if (!destSt.isDirectory()) throw new SkiffError("FailedPrecondition", `copy-up: ${req.dest} is not a directory`);
  if (req.clearFirst) {
    for (const name of readdirSync(req.dest)) rmSync(join(req.dest, name), { recursive: true, force: true });
  }
  if (!isEmptyDir(req.dest)) return { status: "not-empty", entries: 0 };
  const found = resolveLayered(req.layers, req.target);
  if (!found) return { status: "absent", entries: 0 };
  if (found.entry.kind !== "dir") return { status: "not-a-directory", entries: 0 };
  const copier = new Copier(opts);
  copier.dir(found.entry, req.dest);
  const st = found.entry.st;
  if (!req.keepRootOwner) {
    if (opts.chown) lchownSync(req.dest, st.uid, st.gid);
    chmodSync(req.dest, st.mode & 0o7777);
  }
  return { status: "copied", entries: copier.entries };
}

/**
 * Work an unpacked layer leaves for when its lower layers are known. A layer
 * is unpacked into its own directory without looking at the layers below,
 * but two things in a tar refer to them:
 *
 * - implicit parents: `a/b/c` with no entry for `a/b` creates `a/b` 0755
 *   root-owned; in overlayfs the upper directory's metadata wins, so it must
 *   get the metadata `a/b` has below (this includes the layer root, "."),
 * - hardlinks to a file that is not in this layer: overlayfs cannot link
 *   across layers, so they become copies of the lower file.
 */
import {
  closeSync,
  constants,
  copyFileSync,
  fchmodSync,
  fchownSync,
  futimesSync,
  linkSync,
  lstatSync,
  lutimesSync,
  openSync,
  type Stats,
  unlinkSync,
} from "node:fs";
import { errnoCode, SkiffError } from "../errors.ts";
import { ancestorsOf, parentOf, parseEntryName } from "./paths.ts";
import { copyXattrs, isOpaque, type XattrProblem } from "./xattrs.ts";

export interface PendingFixups {
  /** Relative paths ("." for the layer root), parents before children. */
  implicitDirs: string[];
  /** Hardlinks whose target is in a lower layer. */
  lowerLinks: { path: string; target: string }[];
}

export interface ApplyPendingOptions {
  /** Copy ownership too (default true; false for unit tests as non-root). */
  chown?: boolean;
  onWarning?: (message: string) => void;
}

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = constants;

export function hasPending(p: PendingFixups): boolean {
  return p.implicitDirs.length > 0 || p.lowerLinks.length > 0;
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw e;
  }
}

function at(root: string, rel: string): string {
  return rel === "" ? root : `${root}/${rel}`;
}

/** Validates a recorded path again (pending work may have been stored on disk). */
function checkedRel(p: string, what: string): string {
  if (p === ".") return "";
  const parsed = parseEntryName(p);
  if (!parsed.ok || parsed.rel === "") {
    throw new SkiffError("InvalidArgument", `pending ${what} ${JSON.stringify(p)}: ${parsed.ok ? "names the root" : parsed.reason}`);
  }
  return parsed.rel;
}

/** True when every ancestor of `rel` under `root` is a real directory (never a symlink). */
function parentsAreDirs(root: string, rel: string): boolean {
  return ancestorsOf(rel).every((d) => lstatOrUndefined(at(root, d))?.isDirectory() === true);
}

/**
 * Finds `rel` as overlayfs would, top-most lower first: a layer where an
 * ancestor is a non-directory (a whiteout, a file, a symlink) hides `rel`
 * and everything below it; an opaque ancestor hides the layers below it.
 * `upper`, when given, is consulted for opaque ancestors only (they must exist).
 */
function findBelow(upper: string | undefined, lowers: readonly string[], rel: string): { path: string; st: Stats } | undefined {
  const ancestors = rel === "" ? [] : ["", ...ancestorsOf(rel)];
  if (upper !== undefined && ancestors.some((d) => isOpaque(at(upper, d)))) return undefined;
  for (const lower of lowers) {
    let present = true;
    let opaque = false;
    for (const d of ancestors) {
      const st = lstatOrUndefined(at(lower, d));
      if (st === undefined) {
        present = false;
        break;
      }
      if (!st.isDirectory()) return undefined;
      if (isOpaque(at(lower, d))) opaque = true;
    }
    if (present) {
      const path = at(lower, rel);
      const st = lstatOrUndefined(path);
      if (st !== undefined) return { path, st };
    }
    if (opaque) return undefined;
  }
  return undefined;
}

/**
 * Applies fixups using the lower layers' directories (top-most first, overlay
 * format): implicit dirs copy mode/uid/gid/mtime/xattrs (not user.overlay.*)
 * of the first lower dir that has that path as a directory (stopping at a
 * whiteout or an opaque parent); lowerLinks become copies (content +
 * metadata) of the first lower regular file at target.
 * @example if (hasPending(r.pending)) applyPending(dest, [parentFs, grandparentFs], r.pending);
 */
export function applyPending(
  dest: string,
  lowers: string[],
  pending: PendingFixups,
  opts: ApplyPendingOptions = {},
): void {
  const chown = opts.chown ?? true;
  let warned = false;
  const report = (p: XattrProblem): void => {
    if (warned || p.kind !== "failed") return;
    warned = true;
    opts.onWarning?.(`${dest}: xattr ${p.name} not copied from a lower layer (${p.code}); later failures not reported`);
  };

  // Links first: creating files changes their parents' mtimes, so each
  // parent's times are put back, and implicit dirs are fixed afterwards.
  const copies = new Map<string, string>();
  for (const link of pending.lowerLinks) {
    const rel = checkedRel(link.path, "hardlink");
    const target = checkedRel(link.target, "hardlink target");
    if (!parentsAreDirs(dest, rel)) {
      throw new SkiffError("InvalidArgument", `hardlink ${rel}: parent is not a directory in ${dest}`);
    }
    const dst = at(dest, rel);
    const existing = lstatOrUndefined(dst);
    if (existing?.isDirectory()) throw new SkiffError("Conflict", `hardlink ${rel}: a directory is in the way in ${dest}`);
    if (existing !== undefined) unlinkSync(dst);
    const parent = at(dest, parentOf(rel));
    const parentSt = lstatSync(parent);

    const first = copies.get(target);
    if (first !== undefined) {
      linkSync(first, dst);
    } else {
      // The target is a file of the layers below as they were (whatever this layer did later).
      const found = findBelow(undefined, lowers, target);
      if (!found?.st.isFile()) {
        throw new SkiffError("InvalidArgument", `hardlink ${rel}: target ${target} is not a regular file in this layer or below`);
      }
      // found.path was reached through real directories only and is a regular file.
      copyFileSync(found.path, dst, constants.COPYFILE_EXCL);
      const fd = openSync(dst, constants.O_WRONLY | O_NOFOLLOW);
      try {
        if (chown) fchownSync(fd, found.st.uid, found.st.gid);
        fchmodSync(fd, found.st.mode & 0o7777);
      } finally {
        closeSync(fd);
      }
      copyXattrs(found.path, dst, { report });
      lutimesSync(dst, found.st.atime, found.st.mtime);
      copies.set(target, dst);
    }
    lutimesSync(parent, parentSt.atime, parentSt.mtime);
  }

  for (const p of pending.implicitDirs) {
    const rel = checkedRel(p, "directory");
    const path = at(dest, rel);
    if (!parentsAreDirs(dest, rel) || lstatOrUndefined(path)?.isDirectory() !== true) continue;
    const found = findBelow(dest, lowers, rel);
    if (!found?.st.isDirectory()) continue;
    copyXattrs(found.path, path, { report });
    const fd = openSync(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    try {
      if (chown) fchownSync(fd, found.st.uid, found.st.gid);
      fchmodSync(fd, found.st.mode & 0o7777);
      futimesSync(fd, found.st.atime, found.st.mtime);
    } finally {
      closeSync(fd);
    }
  }
}

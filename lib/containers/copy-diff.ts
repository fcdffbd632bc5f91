/**
 * With the copy storage driver a container's upper directory holds its whole
 * root filesystem (a full copy of the image made at create), not overlay's
 * difference. `diff` and `commit` need the difference, so it is recovered
 * by comparing the copy with the image's merged layers, as Docker's vfs
 * driver does: an entry is unchanged when its type, mode, owner, size (not
 * for directories), modification time (to the millisecond, what the copy
 * keeps), link target and device number all match; a name the image has
 * and the copy lacks was deleted.
 */
import { readdirSync, readlinkSync, type Stats } from "node:fs";
import { errnoCode } from "../errors.ts";
import { lstatIfExists } from "../fsutil.ts";
import { layeredRoot, listNames, lookupChild, type LayeredEntry } from "../volumes/layered.ts";

export type CopyChange = "same" | "modified" | "added";

/** One step of the walk, in sorted depth-first order (a directory before its children). */
export type CopyDiffStep =
  /** A directory of the copy; its children's steps follow, then its `end`. */
  | { kind: "dir"; rel: string; path: string; st: Stats; change: CopyChange }
  | { kind: "end"; rel: string }
  /** A changed or added non-directory (unchanged ones are not reported). */
  | { kind: "entry"; rel: string; path: string; st: Stats; change: Exclude<CopyChange, "same"> }
  /** In the image, not in the copy. */
  | { kind: "deleted"; rel: string };

type Dir = Extract<LayeredEntry, { kind: "dir" }>;

const S_IFMT = 0o170000;

function unchanged(path: string, st: Stats, before: LayeredEntry): boolean {
  const old = before.st;
  if ((st.mode & S_IFMT) !== (old.mode & S_IFMT) || (st.mode & 0o7777) !== (old.mode & 0o7777)) return false;
  if (st.uid !== old.uid || st.gid !== old.gid) return false;
  if (Math.floor(st.mtimeMs) !== Math.floor(old.mtimeMs)) return false;
  if (st.isDirectory()) return true;
  if (st.size !== old.size || st.rdev !== old.rdev) return false;
  return !st.isSymbolicLink() || (before.kind === "other" && readlinkSync(before.path) === readlinkSync(path));
}

function* walk(dir: string, rel: string, image: Dir | undefined): Generator<CopyDiffStep> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return;
    throw e;
  }
  const present = new Set(names);
  const all = image ? [...new Set([...names, ...listNames(image)])].sort() : names.sort();
  for (const name of all) {
    const childRel = rel ? `${rel}/${name}` : name;
    const before = image ? lookupChild(image, name) : undefined;
    if (!present.has(name)) {
      // listNames also lists the image's own whiteouts: only a visible name was deleted.
      if (before) yield { kind: "deleted", rel: childRel };
      continue;
    }
    const path = `${dir}/${name}`;
    const st = lstatIfExists(path);
    if (!st) continue;
    const change: CopyChange = !before ? "added" : unchanged(path, st, before) ? "same" : "modified";
    if (st.isDirectory()) {
      yield { kind: "dir", rel: childRel, path, st, change };
      yield* walk(path, childRel, before?.kind === "dir" ? before : undefined);
      yield { kind: "end", rel: childRel };
    } else if (change !== "same") {
      yield { kind: "entry", rel: childRel, path, st, change };
    }
  }
}

/**
 * The differences between a copy-driver container's `upper` (its whole root
 * filesystem) and the image's layer directories `lowers` (top-most first).
 * @example [...copyDiff("/…/containers/ID/upper", ["/…/snapshots/ab12/fs"])]
 */
export function* copyDiff(upper: string, lowers: readonly string[]): Generator<CopyDiffStep> {
  const root = layeredRoot(lowers);
  yield* walk(upper.replace(/\/+$/, ""), "", root?.kind === "dir" ? root : undefined);
}

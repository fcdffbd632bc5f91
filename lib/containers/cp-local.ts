/**
 * The host side of `cp`'s path rules: what a local source is and where a
 * local destination really is, as Docker's client finds them
 * (CopyInfoSourcePath, CopyInfoDestinationPath, ValidateOutputPath).
 */
import { lstatSync, readlinkSync, realpathSync, statSync, type Stats } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { errnoCode, SkiffError, toSkiffError } from "../errors.ts";
import { hasTrailingSeparator, preserveTrailingDotOrSeparator, splitPathDirEntry, type DestInfo, type SourceInfo } from "./cp-paths.ts";

const MAX_DEST_LINKS = 10;

/** An absolute local path that keeps the user's trailing `/` or `/.`. */
export function absoluteLocalPath(path: string): string {
  return preserveTrailingDotOrSeparator(resolve(path), path);
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw toSkiffError(e, `lstat ${path}`);
  }
}

function missing(path: string, e: unknown): SkiffError {
  const code = errnoCode(e);
  if (code === "ENOENT") return new SkiffError("NotFound", `lstat ${path}: no such file or directory`);
  if (code === "ENOTDIR") return new SkiffError("InvalidArgument", `lstat ${path}: not a directory`);
  return toSkiffError(e, `lstat ${path}`);
}

/**
 * A local source: symlinks in its parents are followed, the last component
 * only with -L (or a trailing `/`, `/.`); the archive keeps the name the
 * user gave.
 */
export function localSource(path: string, followLink: boolean): { path: string; info: SourceInfo } {
  const abs = absoluteLocalPath(path);
  const { dir, base } = splitPathDirEntry(abs);
  let resolved: string;
  try {
    if (followLink || base === "." || hasTrailingSeparator(abs)) resolved = realpathSync(abs);
    else resolved = join(realpathSync(dir), base);
    const st = lstatSync(resolved);
    return { path: resolved, info: { isDir: st.isDirectory(), base } };
  } catch (e) {
    throw missing(path, e);
  }
}

/**
 * A local destination: a symlink in the last component is followed (the
 * copy lands on its target); a missing destination needs an existing parent.
 */
export function localDestination(path: string): DestInfo {
  let p = absoluteLocalPath(path);
  const parent = dirname(resolve(path));
  if (!statOrUndefined(parent)) {
    throw new SkiffError("NotFound", `invalid output path: directory "${parent}" does not exist`);
  }
  for (let n = 0; ; n++) {
    const st = lstatOrUndefined(p);
    if (!st) break;
    if (!st.isSymbolicLink()) {
      if (!st.isDirectory() && !st.isFile()) throw new SkiffError("InvalidArgument", `invalid output path: "${p}" must be a directory or a regular file`);
      return { path: p, exists: true, isDir: st.isDirectory() };
    }
    if (n >= MAX_DEST_LINKS) throw new SkiffError("InvalidArgument", `too many symlinks in ${path}`);
    const target = readlinkSync(p);
    p = isAbsolute(target) ? target : join(splitPathDirEntry(p).dir, target);
  }
  const dir = splitPathDirEntry(p).dir;
  const st = statOrUndefined(dir);
  if (!st) throw new SkiffError("NotFound", `invalid output path: directory "${dir}" does not exist`);
  if (!st.isDirectory()) throw new SkiffError("InvalidArgument", `invalid output path: ${dir} is not a directory`);
  return { path: p, exists: false, isDir: false };
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

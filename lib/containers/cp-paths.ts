/**
 * `cp`'s path rules, as Docker has them (docker cp(1), moby's archive/copy.go),
 * as pure functions:
 *
 * - `CONTAINER:PATH` vs a local path (`./a:b` and `/a:b` are local);
 * - a source copies as one archive whose entries start with its base name,
 *   or with `.` when the path ends in `/.` (the directory's contents);
 * - the destination decides where that archive is extracted and whether its
 *   top entry is renamed (planCopy):
 *     dest is a directory            → extract into it, names kept
 *     dest is a file, source a dir   → error: cannot copy a directory to a file
 *     dest is a file                 → replace it (rename to its name)
 *     dest missing, source a dir     → create it (rename to its name)
 *     dest missing, ends in / or /.  → error: the directory must exist
 *     dest missing                   → create the file (rename to its name)
 */
import { posix } from "node:path";
import { SkiffError } from "../errors.ts";

export type CpArg = { container: string; path: string } | { container?: undefined; path: string };

/**
 * Splits a `cp` argument like Docker's splitCpArg.
 * @example parseCpArg("web:/etc/hosts") // { container: "web", path: "/etc/hosts" }
 * @example parseCpArg("./a:b")           // { path: "./a:b" }
 */
export function parseCpArg(arg: string): CpArg {
  if (arg.startsWith("/")) return { path: arg };
  const i = arg.indexOf(":");
  if (i < 0 || arg.startsWith(".")) return { path: arg };
  return { container: arg.slice(0, i), path: arg.slice(i + 1) };
}

/** True for `.`, `x/.`: the path names a directory's contents. */
export function specifiesCurrentDir(path: string): boolean {
  return path === "." || path.endsWith("/.");
}

export function hasTrailingSeparator(path: string): boolean {
  return path.length > 1 && path.endsWith("/");
}

/** The path must be a directory: it ends in `/` or `/.`. */
export function assertsDirectory(path: string): boolean {
  return hasTrailingSeparator(path) || specifiesCurrentDir(path);
}

/** Re-adds the trailing `/.` or `/` of `original` that cleaning removed from `cleaned`. */
export function preserveTrailingDotOrSeparator(cleaned: string, original: string): string {
  if (specifiesCurrentDir(original) && !specifiesCurrentDir(cleaned)) {
    return cleaned === "/" ? "/." : `${cleaned}/.`;
  }
  if (hasTrailingSeparator(original) && !cleaned.endsWith("/")) return `${cleaned}/`;
  return cleaned;
}

/**
 * Directory and entry of a path; `x/.` is ("x", "."), `/` is ("/", ".").
 * @example splitPathDirEntry("/a/b/") // { dir: "/a", base: "b" }
 */
export function splitPathDirEntry(path: string): { dir: string; base: string } {
  let cleaned = posix.normalize(path);
  if (cleaned.length > 1 && cleaned.endsWith("/")) cleaned = cleaned.slice(0, -1);
  if (cleaned === "/") return { dir: "/", base: "." };
  if (specifiesCurrentDir(path) && cleaned !== ".") cleaned = `${cleaned}/.`;
  return { dir: posix.dirname(cleaned), base: posix.basename(cleaned) };
}

/**
 * A container path made absolute (Docker takes `tmp/x` as `/tmp/x`), keeping
 * a trailing `/.` or `/`.
 * @example containerAbsPath("tmp/dir/.") // "/tmp/dir/."
 */
export function containerAbsPath(path: string): string {
  let cleaned = posix.normalize(`/${path}`);
  if (cleaned.length > 1 && cleaned.endsWith("/")) cleaned = cleaned.slice(0, -1);
  return preserveTrailingDotOrSeparator(cleaned, path);
}

/** The name of a source's top archive entry: its base name, `.` for contents (and for `/`). */
export function archiveBase(path: string): string {
  return splitPathDirEntry(path).base;
}

/** What is being copied: a directory or not, and the name its archive entries start with. */
export interface SourceInfo {
  isDir: boolean;
  /** `.` when the directory's contents are copied. */
  base: string;
}

/** The destination as found (symlinks already followed). */
export interface DestInfo {
  /** Absolute, with the user's trailing `/` or `/.` kept. */
  path: string;
  exists: boolean;
  isDir: boolean;
}

export interface CopyPlan {
  /** Existing directory to extract into. */
  dir: string;
  /** Rename the archive's top entry (and everything below it). */
  rename?: { from: string; to: string };
}

/**
 * Where and how to extract a source archive for a destination (moby's
 * PrepareArchiveCopy). Throws InvalidArgument/NotFound for Docker's error cases.
 */
export function planCopy(src: SourceInfo, dst: DestInfo): CopyPlan {
  const { dir, base } = splitPathDirEntry(dst.path);
  if (dst.exists && dst.isDir) return { dir: dst.path };
  if (dst.exists && src.isDir) throw new SkiffError("InvalidArgument", `cannot copy a directory to a file: ${dst.path} exists and is not a directory`);
  if (!dst.exists && !src.isDir && assertsDirectory(dst.path)) {
    throw new SkiffError("NotFound", `no such directory: ${dst.path}: the destination directory must exist to copy a file into it`);
  }
  return { dir, rename: { from: src.base, to: base } };
}

/**
 * Applies a plan's rename to an archive entry path (normalised, relative,
 * "" for the archive root). Undefined when the entry is not under the
 * renamed top entry.
 * @example renameEntry("dir/a/b", { from: "dir", to: "copy" }) // "copy/a/b"
 * @example renameEntry("a", { from: ".", to: "copy" })         // "copy/a"
 */
export function renameEntry(rel: string, rename: CopyPlan["rename"]): string | undefined {
  if (!rename) return rel;
  if (rename.from === ".") return rel === "" ? rename.to : `${rename.to}/${rel}`;
  if (rel === rename.from) return rename.to;
  if (rel.startsWith(`${rename.from}/`)) return `${rename.to}${rel.slice(rename.from.length)}`;
  return undefined;
}

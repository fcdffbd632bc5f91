/**
 * Resolving a path inside a container's root filesystem the way a process
 * chrooted there would: every symlink met on the way is read and followed
 * *within* the root, so an absolute link `/a -> /etc` leads to the
 * container's /etc, and `..` never climbs above the root. Missing components
 * are kept lexically (the caller may be about to create them).
 *
 * `cp` uses this inside its chrooted helper (where root is "/", so the kernel
 * enforces the scope too) and its unit tests use it on temp trees.
 */
import { lstatSync, readlinkSync } from "node:fs";
import { errnoCode, SkiffError } from "../errors.ts";

/** Linux gives up after 40 links in one lookup (MAXSYMLINKS). */
export const MAX_SYMLINKS = 40;

export interface ScopeOptions {
  /** Follow a symlink in the last component too (default true). */
  followFinal?: boolean;
}

function components(path: string): string[] {
  return path.split("/").filter((c) => c !== "" && c !== ".");
}

/**
 * Lexically cleans a path taken as absolute inside the container:
 * `a/../b/` → `/b`, `../../x` → `/x`.
 * @example cleanInScope("etc/../tmp//x") // "/tmp/x"
 */
export function cleanInScope(path: string): string {
  const out: string[] = [];
  for (const c of components(path)) {
    if (c === "..") out.pop();
    else out.push(c);
  }
  return `/${out.join("/")}`;
}

/** The host path of an in-container path under `root`. */
export function hostPathOf(root: string, inner: string): string {
  const base = root.endsWith("/") ? root.slice(0, -1) : root;
  return inner === "/" ? base || "/" : `${base}${inner}`;
}

/**
 * Resolves `path` (taken as absolute inside `root`) to the in-container
 * absolute path it designates, following symlinks within `root`.
 * @example resolveInScope("/ctr/rootfs", "/a/passwd") // "/etc/passwd" when /ctr/rootfs/a -> /etc
 */
export function resolveInScope(root: string, path: string, opts: ScopeOptions = {}): string {
  const followFinal = opts.followFinal ?? true;
  const rest = components(path);
  const done: string[] = [];
  let links = 0;
  while (rest.length > 0) {
    const part = rest.shift() as string;
    if (part === "..") {
      done.pop();
      continue;
    }
    const inner = `/${[...done, part].join("/")}`;
    if (rest.length === 0 && !followFinal) {
      done.push(part);
      break;
    }
    let isLink = false;
    try {
      isLink = lstatSync(hostPathOf(root, inner)).isSymbolicLink();
    } catch (e) {
      const code = errnoCode(e);
      if (code !== "ENOENT" && code !== "ENOTDIR") throw e;
      // Nothing here: what follows is resolved lexically.
      return cleanInScope([...done, part, ...rest].join("/"));
    }
    if (!isLink) {
      done.push(part);
      continue;
    }
    if (++links > MAX_SYMLINKS) {
      throw new SkiffError("InvalidArgument", `too many levels of symbolic links in ${path}`);
    }
    const target = readlinkSync(hostPathOf(root, inner));
    if (target.startsWith("/")) done.length = 0;
    rest.unshift(...components(target));
  }
  return `/${done.join("/")}`;
}

/**
 * A read-only view of a container's root filesystem as overlayfs would
 * merge its layer directories (top-most first: the container's upper dir,
 * then the image's snapshots), without mounting anything:
 *
 * - a name is taken from the top-most layer that has it; a whiteout there
 *   (a 0/0 character device, or a legacy `.wh.<name>` file beside it)
 *   hides it and everything below;
 * - a directory merges with the directories of the same name below it,
 *   down to one that is opaque (`user.overlay.opaque` or `trusted.overlay.opaque`
 *   set to "y", or holding `.wh..wh..opq`) or until a layer has a
 *   non-directory there.
 */
import { lstatSync, readdirSync, readlinkSync, type Stats } from "node:fs";
import { join } from "node:path";
import { lgetxattr } from "../sys/libc.ts";

const WH_PREFIX = ".wh.";
const WH_OPAQUE = ".wh..wh..opq";
export const MAX_SYMLINKS = 40;

export type LayeredEntry =
  /** `dirs`: the directory in each contributing layer, top-most first (metadata from the first). */
  | { kind: "dir"; dirs: string[]; st: Stats }
  /** Anything else: taken whole from one layer. */
  | { kind: "other"; path: string; st: Stats };

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

export function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

function xattrIsY(path: string, name: string): boolean {
  try {
    const v = lgetxattr(path, name);
    return v !== undefined && v.length === 1 && v[0] === 0x79;
  } catch {
    return false;
  }
}

export function isOpaqueDir(path: string): boolean {
  return xattrIsY(path, "user.overlay.opaque") || xattrIsY(path, "trusted.overlay.opaque") || lstatOrUndefined(join(path, WH_OPAQUE)) !== undefined;
}

/** The merged root: every layer directory that exists. */
export function layeredRoot(layers: readonly string[]): LayeredEntry | undefined {
  const dirs = layers.filter((l) => lstatOrUndefined(l)?.isDirectory());
  const first = dirs[0];
  if (first === undefined) return undefined;
  return { kind: "dir", dirs, st: lstatSync(first) };
}

/** `name` inside a merged directory; undefined when absent or whited out. */
export function lookupChild(parent: Extract<LayeredEntry, { kind: "dir" }>, name: string): LayeredEntry | undefined {
  const dirs: string[] = [];
  let top: Stats | undefined;
  for (const p of parent.dirs) {
    const path = join(p, name);
    const st = lstatOrUndefined(path);
    if (st === undefined) {
      if (lstatOrUndefined(join(p, WH_PREFIX + name)) !== undefined) break;
      continue;
    }
    if (isWhiteout(st)) break;
    if (!st.isDirectory()) {
      if (dirs.length === 0) return { kind: "other", path, st };
      break;
    }
    dirs.push(path);
    top ??= st;
    if (isOpaqueDir(path)) break;
  }
  return top === undefined ? undefined : { kind: "dir", dirs, st: top };
}

/** Names in a merged directory, sorted; whiteout markers are not names. */
export function listNames(dir: Extract<LayeredEntry, { kind: "dir" }>): string[] {
  const names = new Set<string>();
  for (const d of dir.dirs) {
    let entries: string[];
    try {
      entries = readdirSync(d);
    } catch {
      continue;
    }
    for (const n of entries) if (!n.startsWith(WH_PREFIX)) names.add(n);
  }
  return [...names].sort();
}

/**
 * Finds an absolute in-container path in the merged view, following
 * symlinks inside the root as the kernel would in a chroot (`..` stops at
 * the root, absolute links restart from it), the last component included.
 * Undefined when it does not exist (or a loop is met).
 * @example resolveLayered(["/ctr/upper", "/snap/a/fs"], "/var/lib/data")
 */
export function resolveLayered(layers: readonly string[], path: string): { entry: LayeredEntry; path: string } | undefined {
  const root = layeredRoot(layers);
  if (!root) return undefined;
  let resolved: string[] = [];
  let pending = path.split("/").filter((c) => c !== "" && c !== ".");
  let hops = 0;
  const walk = (parts: string[]): LayeredEntry | undefined => {
    let cur: LayeredEntry | undefined = root;
    for (const part of parts) {
      if (cur === undefined || cur.kind !== "dir") return undefined;
      cur = lookupChild(cur, part);
    }
    return cur;
  };
  let current: LayeredEntry | undefined = root;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === "..") {
      resolved.pop();
      current = walk(resolved);
      continue;
    }
    if (current === undefined || current.kind !== "dir") return undefined;
    const next = lookupChild(current, part);
    if (next === undefined) return undefined;
    if (next.kind === "other" && next.st.isSymbolicLink()) {
      if (++hops > MAX_SYMLINKS) return undefined;
      const target = readlinkSync(next.path);
      const parts = target.split("/").filter((c) => c !== "" && c !== ".");
      if (target.startsWith("/")) resolved = [];
      pending = [...parts, ...pending];
      current = walk(resolved);
      continue;
    }
    resolved.push(part);
    current = next;
  }
  return current === undefined ? undefined : { entry: current, path: `/${resolved.join("/")}` };
}

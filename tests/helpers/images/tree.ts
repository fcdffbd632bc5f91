/**
 * readTree reads a real directory into the same shape as expectedTree;
 * compareTrees lists the differences in words. Run as a script
 * (`bun tree.ts DIR [IGNORE_JSON]`) it prints the tree as JSON: readTreeInUserns
 * uses that to read a rootless tree from inside a user namespace.
 */
import { dlopen, FFIType } from "bun:ffi";
import { createHash } from "node:crypto";
import { closeSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import type { IdMap, IdRange, Tree, TreeNode, TreeNodeType } from "./types.ts";

let xattrLib: ReturnType<typeof openXattrLib> | undefined;

function openXattrLib() {
  return dlopen("libc.so.6", {
    llistxattr: { args: [FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
    lgetxattr: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  }).symbols;
}

function cstr(s: string): Buffer {
  return Buffer.from(`${s}\0`);
}

/** user.* xattrs of a path (user.overlay.* left out), without following symlinks. */
export function readUserXattrs(path: string): Record<string, string> | undefined {
  xattrLib ??= openXattrLib();
  const p = cstr(path);
  const names = Buffer.alloc(65536);
  const n = Number(xattrLib.llistxattr(p, names, names.length));
  if (n <= 0) return undefined;
  const out: Record<string, string> = {};
  for (const name of names.subarray(0, n).toString("utf8").split("\0").sort()) {
    if (!name.startsWith("user.") || name.startsWith("user.overlay.")) continue;
    const value = Buffer.alloc(65536);
    const m = Number(xattrLib.lgetxattr(p, cstr(name), value, value.length));
    if (m >= 0) out[name] = value.subarray(0, m).toString("utf8");
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function fileSha256(path: string): string {
  const h = createHash("sha256");
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(1 << 20);
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return `sha256:${h.digest("hex")}`;
}

function mapId(id: number, ranges: IdRange[] | undefined): number {
  if (ranges === undefined) return id;
  for (const r of ranges) if (id >= r.hostId && id < r.hostId + r.size) return r.containerId + (id - r.hostId);
  return 65534; // the kernel's overflow id for an unmapped host id
}

function typeOf(mode: number): TreeNodeType {
  switch (mode & 0o170000) {
    case 0o100000:
      return "file";
    case 0o040000:
      return "dir";
    case 0o120000:
      return "symlink";
    case 0o010000:
      return "fifo";
    case 0o020000:
      return "chardev";
    case 0o060000:
      return "blockdev";
    default:
      return "socket";
  }
}

function ignored(key: string, ignore: string[]): boolean {
  return ignore.some((i) => key === i || key.startsWith(i === "/" ? "/" : `${i}/`));
}

export interface ReadTreeOptions {
  /** Paths ("/proc") left out with everything below them. */
  ignore?: string[];
  /** Host ids back to container ids (unmapped ids read as 65534). */
  idMap?: IdMap;
}

/** Reads `dir` with lstat (no symlink is followed), keyed "/path"; the root itself is left out. */
export function readTree(dir: string, opts: ReadTreeOptions = {}): Tree {
  const ignore = opts.ignore ?? [];
  const out: Tree = new Map();
  const inodes = new Map<string, string[]>();
  function walk(rel: string): void {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const key = `${rel}/${name}`;
      if (ignored(key, ignore)) continue;
      const full = join(dir, key);
      const st = lstatSync(full);
      const type = typeOf(st.mode);
      const node: TreeNode = {
        type,
        mode: st.mode & 0o7777,
        uid: mapId(st.uid, opts.idMap?.uid),
        gid: mapId(st.gid, opts.idMap?.gid),
      };
      if (type === "symlink") node.target = readlinkSync(full);
      if (type === "file") {
        node.sha256 = fileSha256(full);
        node.size = st.size;
        const id = `${st.dev}:${st.ino}`;
        inodes.set(id, [...(inodes.get(id) ?? []), key]);
      }
      if (type === "file" || type === "dir") {
        const x = readUserXattrs(full);
        if (x) node.xattrs = x;
      }
      out.set(key, node);
      if (type === "dir") walk(key);
    }
  }
  walk("");
  for (const names of inodes.values()) {
    if (names.length < 2) continue;
    const first = [...names].sort()[0];
    for (const n of names) {
      const node = out.get(n);
      if (node) node.hardlink = first;
    }
  }
  return new Map([...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Reads a tree owned by subordinate ids from inside a user namespace
 * (`unshare --map-root-user --map-auto`, container ids as seen by the container).
 * As root it is readTree.
 */
export async function readTreeInUserns(dir: string, opts: { ignore?: string[] } = {}): Promise<Tree> {
  if (process.getuid?.() === 0) return readTree(dir, opts);
  const argv = ["unshare", "--user", "--map-root-user", "--map-auto", "--", process.execPath, import.meta.path, dir];
  const proc = Bun.spawn([...argv, JSON.stringify(opts.ignore ?? [])], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`read tree ${dir} in a user namespace: exit ${code}: ${err.trim()}`);
  return new Map(JSON.parse(out) as [string, TreeNode][]);
}

/** The rootless mapping of a user (default: the current one): 0 → the user, 1.. → its /etc/subuid range. */
export function rootlessIdMap(opts: { name?: string; uid?: number; gid?: number } = {}): IdMap {
  const me = userInfo();
  const user = { name: opts.name ?? me.username, uid: opts.uid ?? me.uid, gid: opts.gid ?? me.gid };
  function ranges(file: string, id: number): IdRange[] {
    const out: IdRange[] = [{ containerId: 0, hostId: id, size: 1 }];
    let next = 1;
    for (const line of readFileSync(file, "utf8").split("\n")) {
      const [who, start, count] = line.trim().split(":");
      if (who !== user.name && who !== String(user.uid)) continue;
      out.push({ containerId: next, hostId: Number(start), size: Number(count) });
      next += Number(count);
    }
    if (out.length === 1) throw new Error(`rootless id map ${user.name}: no range in ${file}`);
    return out;
  }
  return { uid: ranges("/etc/subuid", user.uid), gid: ranges("/etc/subgid", user.gid) };
}

function fmt(field: string, v: unknown): string {
  if (v === undefined) return "none";
  if (field === "mode" && typeof v === "number") return `0${v.toString(8)}`;
  return typeof v === "string" ? v : JSON.stringify(v);
}

export interface CompareOptions {
  /** Paths left out on both sides with everything below them. */
  ignore?: string[];
  /** Compare hardlink groups (default true). */
  hardlinks?: boolean;
  /** Compare user.* xattrs (default true). */
  xattrs?: boolean;
}

/** Human-readable differences, one line each; empty when the trees agree. */
export function compareTrees(expected: Tree, actual: Tree, opts: CompareOptions = {}): string[] {
  const ignore = opts.ignore ?? [];
  const diffs: string[] = [];
  const fields: (keyof TreeNode)[] = ["type", "mode", "uid", "gid", "target", "size", "sha256"];
  if (opts.xattrs !== false) fields.push("xattrs");
  if (opts.hardlinks !== false) fields.push("hardlink");
  for (const [path, want] of expected) {
    if (ignored(path, ignore)) continue;
    const got = actual.get(path);
    if (got === undefined) {
      diffs.push(`${path}: missing (want ${want.type})`);
      continue;
    }
    if (got.type !== want.type) {
      diffs.push(`${path}: type ${got.type}, want ${want.type}`);
      continue;
    }
    for (const f of fields) {
      if (f === "mode" && want.type === "symlink") continue;
      const a = fmt(f, got[f]);
      const b = fmt(f, want[f]);
      if (a !== b) diffs.push(`${path}: ${f} ${a}, want ${b}`);
    }
  }
  for (const [path, got] of actual) {
    if (!expected.has(path) && !ignored(path, ignore)) diffs.push(`${path}: unexpected ${got.type}`);
  }
  return diffs;
}

if (import.meta.main) {
  const [dir, ignore] = process.argv.slice(2);
  if (dir === undefined) throw new Error("usage: tree.ts DIR [IGNORE_JSON]");
  const tree = readTree(dir, { ignore: ignore ? (JSON.parse(ignore) as string[]) : [] });
  process.stdout.write(JSON.stringify([...tree.entries()]));
}

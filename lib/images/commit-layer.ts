/**
 * A container's writable layer as an OCI layer tar, for `commit`. The upper
 * directory is in overlayfs format; the tar is in the image format:
 *
 *   whiteout (0/0 character device) `a/b`  →  empty file `a/.wh.b`
 *   opaque directory `a` (user.overlay.opaque=y)  →  `a/` then `a/.wh..wh..opq`
 *
 * overlayfs' own xattrs are dropped; other xattrs (security.capability...)
 * are kept as PAX `SCHILY.xattr.*` records; hardlinks inside the layer
 * become tar links. Entries are written in sorted depth-first order.
 *
 * It runs as `skiff __ns commit-layer <json>` (runtime/ns-helper.ts): in the
 * container's user namespace when rootless, so every file is readable and
 * owners read as container ids; the tar goes to stdout, the outcome as one
 * JSON line on stderr.
 */
import { closeSync, constants, openSync, readdirSync, readlinkSync, writeSync, type Stats } from "node:fs";
import { errnoCode, toSkiffError, type ErrorKind } from "../errors.ts";
import { isOverlayXattr, OPAQUE_XATTR } from "../layers/xattrs.ts";
import { lgetxattr, llistxattr } from "../sys/libc.ts";
import { lstatIfExists } from "../fsutil.ts";
import { copyDiff } from "../containers/copy-diff.ts";
import { devNumbers, fileChunks } from "../tar-entry.ts";

export type CommitLayerMessage = { ok: true; entries: number } | { ok: false; kind: ErrorKind; message: string };

const enc = new TextEncoder();

export interface TarHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  /** ustar typeflag. */
  type: "0" | "1" | "2" | "3" | "4" | "5" | "6";
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: { name: string; value: Uint8Array }[];
}

function octalField(buf: Uint8Array, off: number, len: number, value: number): boolean {
  const s = Math.max(0, Math.floor(value)).toString(8);
  if (s.length > len - 1) return false;
  buf.set(enc.encode(s.padStart(len - 1, "0")), off);
  buf[off + len - 1] = 0;
  return true;
}

function paxRecord(key: string, value: Uint8Array): Uint8Array {
  const body = new Uint8Array([...enc.encode(` ${key}=`), ...value, 10]);
  let len = body.length + 1;
  while (String(len).length + body.length > len) len += 1;
  const out = new Uint8Array(String(len).length + body.length);
  out.set(enc.encode(String(len)), 0);
  out.set(body, String(len).length);
  return out;
}

function pad(size: number): Uint8Array {
  const n = (512 - (size % 512)) % 512;
  return new Uint8Array(n);
}

function rawHeader(h: TarHeader, name: string, linkname: string): { block: Uint8Array; fits: boolean } {
  const b = new Uint8Array(512);
  const nameBytes = enc.encode(name);
  const linkBytes = enc.encode(linkname);
  let fits = nameBytes.length <= 100 && linkBytes.length <= 100;
  b.set(nameBytes.subarray(0, 100), 0);
  fits = octalField(b, 100, 8, h.mode & 0o7777) && fits;
  fits = octalField(b, 108, 8, h.uid) && fits;
  fits = octalField(b, 116, 8, h.gid) && fits;
  fits = octalField(b, 124, 12, h.size) && fits;
  octalField(b, 136, 12, h.mtime);
  b[156] = h.type.charCodeAt(0);
  b.set(linkBytes.subarray(0, 100), 157);
  b.set(enc.encode("ustar\u000000"), 257);
  octalField(b, 329, 8, h.devmajor ?? 0);
  octalField(b, 337, 8, h.devminor ?? 0);
  b.fill(32, 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  b.set(enc.encode(`${sum.toString(8).padStart(6, "0")}\u0000 `), 148);
  return { block: b, fits };
}

/** One entry's header blocks (a PAX header first when needed). */
export function encodeHeader(h: TarHeader): Uint8Array[] {
  const linkname = h.linkname ?? "";
  const plain = rawHeader(h, h.name, linkname);
  const xattrs = h.xattrs ?? [];
  if (plain.fits && xattrs.length === 0) return [plain.block];
  const records: Uint8Array[] = [];
  if (enc.encode(h.name).length > 100) records.push(paxRecord("path", enc.encode(h.name)));
  if (enc.encode(linkname).length > 100) records.push(paxRecord("linkpath", enc.encode(linkname)));
  if (h.uid > 0o7777777) records.push(paxRecord("uid", enc.encode(String(h.uid))));
  if (h.gid > 0o7777777) records.push(paxRecord("gid", enc.encode(String(h.gid))));
  if (h.size > 0o77777777777) records.push(paxRecord("size", enc.encode(String(h.size))));
  for (const x of xattrs) records.push(paxRecord(`SCHILY.xattr.${x.name}`, x.value));
  const data = new Uint8Array(records.reduce((n, r) => n + r.length, 0));
  let at = 0;
  for (const r of records) {
    data.set(r, at);
    at += r.length;
  }
  const base = h.name.replace(/\/$/, "").split("/").pop() ?? "entry";
  const paxHead = rawHeader({ name: "", mode: 0o644, uid: 0, gid: 0, size: data.length, mtime: h.mtime, type: "0" }, `PaxHeaders.0/${base}`.slice(0, 99), "");
  paxHead.block[156] = "x".charCodeAt(0);
  // Recompute the checksum after changing the typeflag.
  paxHead.block.fill(32, 148, 156);
  let sum = 0;
  for (const x of paxHead.block) sum += x;
  paxHead.block.set(enc.encode(`${sum.toString(8).padStart(6, "0")}\u0000 `), 148);
  const shortName = h.name.length > 100 ? h.name.slice(0, 99) : h.name;
  const shortLink = linkname.length > 100 ? linkname.slice(0, 99) : linkname;
  const main = rawHeader({ ...h, uid: Math.min(h.uid, 0o7777777), gid: Math.min(h.gid, 0o7777777), size: Math.min(h.size, 0o77777777777) }, shortName, shortLink);
  return [paxHead.block, data, pad(data.length), main.block];
}

function xattrsOf(path: string): { name: string; value: Uint8Array }[] {
  let names: string[];
  try {
    names = llistxattr(path);
  } catch {
    return [];
  }
  const out: { name: string; value: Uint8Array }[] = [];
  for (const name of names.sort()) {
    if (isOverlayXattr(name)) continue;
    const value = lgetxattr(path, name);
    if (value !== undefined) out.push({ name, value: new Uint8Array(value) });
  }
  return out;
}

function isOpaqueDir(path: string): boolean {
  try {
    const v = lgetxattr(path, OPAQUE_XATTR) ?? lgetxattr(path, "trusted.overlay.opaque");
    return v !== undefined && v.length === 1 && v[0] === 0x79;
  } catch {
    return false;
  }
}

function* fileContent(path: string, size: number): Generator<Uint8Array> {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    yield* fileChunks(fd, size);
  } finally {
    closeSync(fd);
  }
}

/** Hardlinks already written, by dev:ino, for one tar. */
type LinkMap = Map<string, string>;

/** One non-whiteout entry of the upper dir (a directory's header only) as tar blocks; false for a socket. */
function* entryTar(path: string, name: string, st: Stats, links: LinkMap): Generator<Uint8Array, boolean> {
  const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000), size: 0 };
  if (st.isDirectory()) {
    yield* encodeHeader({ ...base, name: `${name}/`, type: "5", xattrs: xattrsOf(path) });
    return true;
  }
  if (st.isSymbolicLink()) {
    yield* encodeHeader({ ...base, name, type: "2", linkname: readlinkSync(path), xattrs: xattrsOf(path) });
    return true;
  }
  if (st.isFile()) {
    if (st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      const first = links.get(key);
      if (first !== undefined) {
        yield* encodeHeader({ ...base, name, type: "1", linkname: first });
        return true;
      }
      links.set(key, name);
    }
    yield* encodeHeader({ ...base, name, type: "0", size: st.size, xattrs: xattrsOf(path) });
    yield* fileContent(path, st.size);
    yield pad(st.size);
    return true;
  }
  const type = st.isCharacterDevice() ? "3" : st.isBlockDevice() ? "4" : st.isFIFO() ? "6" : undefined;
  if (!type) return false; // a socket: tar cannot hold it
  const { major, minor } = devNumbers(st.rdev);
  yield* encodeHeader({ ...base, name, type, devmajor: major, devminor: minor });
  return true;
}

function whiteoutName(rel: string): string {
  const slash = rel.lastIndexOf("/");
  return slash < 0 ? `.wh.${rel}` : `${rel.slice(0, slash)}/.wh.${rel.slice(slash + 1)}`;
}

/**
 * The layer tar of `upper` as chunks; `stats.entries` counts entries (0:
 * the container changed nothing).
 */
export function* layerTar(upper: string, stats: { entries: number } = { entries: 0 }): Generator<Uint8Array> {
  const links: LinkMap = new Map();
  function* walk(dir: string, rel: string): Generator<Uint8Array> {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return;
      throw e;
    }
    for (const n of names) {
      const path = `${dir}/${n}`;
      const name = rel ? `${rel}/${n}` : n;
      const st = lstatIfExists(path);
      if (!st) continue;
      if (st.isCharacterDevice() && st.rdev === 0) {
        stats.entries += 1;
        yield* encodeHeader({ mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000), size: 0, name: whiteoutName(name), type: "0" });
        continue;
      }
      if (yield* entryTar(path, name, st, links)) stats.entries += 1;
      if (st.isDirectory()) {
        if (isOpaqueDir(path)) yield* encodeHeader({ mode: 0o644, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000), size: 0, name: `${name}/.wh..wh..opq`, type: "0" });
        yield* walk(path, name);
      }
    }
  }
  yield* walk(upper.replace(/\/+$/, ""), "");
  yield new Uint8Array(1024);
}

/**
 * The layer tar of a copy-driver container: what its `upper` (the whole
 * root filesystem) changed over the image's layers `lowers` (copy-diff.ts).
 * An unchanged directory's header is written only when something below it
 * changed, as overlayfs copies up the parents of a changed entry.
 */
export function* copyLayerTar(upper: string, lowers: readonly string[], stats: { entries: number } = { entries: 0 }): Generator<Uint8Array> {
  const links: LinkMap = new Map();
  // Unchanged directories entered but not yet written, outermost first.
  const pending: { rel: string; path: string; st: Stats }[] = [];
  function* flush(): Generator<Uint8Array> {
    for (const d of pending.splice(0)) if (yield* entryTar(d.path, d.rel, d.st, links)) stats.entries += 1;
  }
  for (const step of copyDiff(upper, lowers)) {
    switch (step.kind) {
      case "dir":
        if (step.change === "same") {
          pending.push(step);
          break;
        }
        yield* flush();
        if (yield* entryTar(step.path, step.rel, step.st, links)) stats.entries += 1;
        break;
      case "end":
        if (pending.at(-1)?.rel === step.rel) pending.pop();
        break;
      case "entry":
        yield* flush();
        if (yield* entryTar(step.path, step.rel, step.st, links)) stats.entries += 1;
        break;
      case "deleted":
        yield* flush();
        stats.entries += 1;
        yield* encodeHeader({ mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 0, name: whiteoutName(step.rel), type: "0" });
        break;
    }
  }
  yield new Uint8Array(1024);
}

function writeAll(fd: number, chunk: Uint8Array): void {
  let off = 0;
  while (off < chunk.length) {
    try {
      off += writeSync(fd, chunk, off, chunk.length - off);
    } catch (e) {
      if (errnoCode(e) !== "EAGAIN") throw e;
      Bun.sleepSync(1);
    }
  }
}

function report(msg: CommitLayerMessage): void {
  writeAll(2, enc.encode(`${JSON.stringify(msg)}\n`));
}

/**
 * `skiff __ns commit-layer {"upper": DIR}`: the tar on stdout, the outcome
 * on stderr. With `lowers` (the image's layer directories), `upper` is a
 * copy-driver container's whole root filesystem.
 */
export function commitLayerMain(args: { upper: string; lowers?: string[] }): number {
  try {
    const stats = { entries: 0 };
    const tar = args.lowers ? copyLayerTar(args.upper, args.lowers, stats) : layerTar(args.upper, stats);
    for (const chunk of tar) writeAll(1, chunk);
    report({ ok: true, entries: stats.entries });
    return 0;
  } catch (e) {
    const err = toSkiffError(e, "commit: read the container's changes");
    report({ ok: false, kind: err.kind, message: err.message });
    return 1;
  }
}

/**
 * Layer tars from a LayerSpec, written with tar-stream (not skiff's code) so
 * they are an independent reference. Same spec, same bytes.
 */
import zlib from "node:zlib";
import tar from "tar-stream";
import { concatBytes, FIXED_MTIME, randomBytes, sha256, utf8 } from "./bytes.ts";
import type { BuiltLayer, Compression, FileEntry, FixtureEntry, LayerSpec, TarHeader } from "./types.ts";

export const MEDIA_TYPES = {
  oci: {
    gzip: "application/vnd.oci.image.layer.v1.tar+gzip",
    zstd: "application/vnd.oci.image.layer.v1.tar+zstd",
    none: "application/vnd.oci.image.layer.v1.tar",
  },
  docker: {
    gzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
    zstd: "application/vnd.docker.image.rootfs.diff.tar.zstd",
    none: "application/vnd.docker.image.rootfs.diff.tar",
  },
} as const;

/** "/a/b/" and "./a/b" → "a/b"; the root is "". */
export function normPath(p: string): string {
  return p
    .split("/")
    .filter((s) => s !== "" && s !== ".")
    .join("/");
}

function parentOf(p: string): string {
  const i = p.lastIndexOf("/");
  return i < 0 ? "" : p.slice(0, i);
}

function baseOf(p: string): string {
  return p.slice(p.lastIndexOf("/") + 1);
}

/**
 * The entries exactly as written to the tar, in order, paths normalised:
 * the spec's entries plus the parent directories added by `parents: "auto"`.
 */
export function layerEntries(spec: LayerSpec): FixtureEntry[] {
  const out: FixtureEntry[] = [];
  const seen = new Set<string>();
  const auto = (spec.parents ?? "auto") === "auto";
  function ensureDir(dir: string): void {
    if (dir === "" || seen.has(dir)) return;
    ensureDir(parentOf(dir));
    out.push({ type: "dir", path: dir });
    seen.add(dir);
  }
  for (const e of spec.entries) {
    if (e.type === "raw") {
      out.push(e);
      continue;
    }
    const path = normPath(e.path);
    if (path === "") throw new Error(`layer entry ${JSON.stringify(e.path)}: the root cannot be an entry`);
    if (auto) ensureDir(e.type === "opaque" ? path : parentOf(path));
    const n = { ...e, path } as FixtureEntry;
    if (n.type === "hardlink") n.target = normPath(n.target);
    out.push(n);
    if (n.type === "dir") seen.add(path);
  }
  return out;
}

export function fileContent(e: FileEntry): Uint8Array {
  if (typeof e.content === "string") return utf8(e.content);
  if (e.content !== undefined) return e.content;
  return randomBytes(normPath(e.path), e.size ?? 0);
}

function xattrPax(x: Record<string, string> | undefined): Record<string, string> | undefined {
  if (x === undefined || Object.keys(x).length === 0) return undefined;
  const pax: Record<string, string> = {};
  for (const k of Object.keys(x).sort()) pax[`SCHILY.xattr.${k}`] = x[k] ?? "";
  return pax;
}

/** One entry through its own tar-stream pack, without the end-of-archive blocks (mode 0 kept). */
export async function encodeEntry(header: TarHeader, content?: Uint8Array): Promise<Uint8Array> {
  const pack = tar.pack();
  const h = { mtime: new Date(FIXED_MTIME * 1000), ...header };
  if (content !== undefined) pack.entry(h, content);
  else pack.entry(h);
  pack.finalize();
  const chunks: Uint8Array[] = [];
  for await (const c of pack) chunks.push(c as Uint8Array);
  const all = concatBytes(chunks);
  const body = all.subarray(0, all.length - 1024);
  // tar-stream turns mode 0 into its default; a mode-0 entry is patched afterwards.
  if (header.mode === 0) {
    const size = content?.length ?? 0;
    setField(body, body.length - Math.ceil(size / 512) * 512 - 512, { mode: 0 });
  }
  return body;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, "0") + "\0";
}

/** Rewrites fields of the 512-byte header at `off` and its checksum. */
function setField(buf: Uint8Array, off: number, f: { mode?: number; typeflag?: string; gnuMagic?: boolean }): void {
  const h = buf.subarray(off, off + 512);
  if (f.mode !== undefined) h.set(utf8(octal(f.mode, 8)), 100);
  if (f.typeflag !== undefined) h[156] = f.typeflag.charCodeAt(0);
  if (f.gnuMagic) h.set(utf8("ustar  \0"), 257);
  h.set(utf8("        "), 148);
  let sum = 0;
  for (const b of h) sum += b;
  h.set(utf8(octal(sum, 7) + " "), 148);
}

/** GNU long name: a `././@LongLink` record holding the name, then a GNU header with the name cut to 100 bytes. */
async function encodeGnuLongName(header: TarHeader, content: Uint8Array): Promise<Uint8Array> {
  const name = utf8(header.name);
  if (name.length <= 100) return encodeEntry(header, content);
  const link = await encodeEntry(
    { name: "././@LongLink", type: "file", mode: 0o644, mtime: new Date(0) },
    concatBytes([name, new Uint8Array(1)]),
  );
  setField(link, 0, { typeflag: "L", gnuMagic: true });
  if (name.length !== header.name.length) throw new Error(`gnu long name ${header.name}: only ASCII names are supported`);
  const real = await encodeEntry({ ...header, name: header.name.slice(0, 100) }, content);
  setField(real, 0, { gnuMagic: true });
  return concatBytes([link, real]);
}

function entryHeader(e: Exclude<FixtureEntry, { type: "raw" }>): { header: TarHeader; content?: Uint8Array } {
  const mtime = new Date(("mtime" in e && e.mtime !== undefined ? e.mtime : FIXED_MTIME) * 1000);
  switch (e.type) {
    case "file": {
      const content = fileContent(e);
      const pax = xattrPax(e.xattrs);
      const header: TarHeader = { name: e.path, type: "file", mode: e.mode ?? 0o644, uid: e.uid ?? 0, gid: e.gid ?? 0, mtime };
      if (pax) header.pax = pax;
      return { header, content };
    }
    case "dir": {
      const header: TarHeader = { name: e.path, type: "directory", mode: e.mode ?? 0o755, uid: e.uid ?? 0, gid: e.gid ?? 0, mtime };
      const pax = xattrPax(e.xattrs);
      if (pax) header.pax = pax;
      return { header };
    }
    case "symlink":
      return { header: { name: e.path, type: "symlink", linkname: e.target, mode: 0o777, uid: e.uid ?? 0, gid: e.gid ?? 0, mtime } };
    case "hardlink":
      return { header: { name: e.path, type: "link", linkname: e.target, mode: 0o644, mtime } };
    case "whiteout": {
      const dir = parentOf(e.path);
      return { header: { name: `${dir ? `${dir}/` : ""}.wh.${baseOf(e.path)}`, type: "file", mode: 0o644, mtime }, content: new Uint8Array() };
    }
    case "opaque":
      return { header: { name: `${e.path}/.wh..wh..opq`, type: "file", mode: 0o644, mtime }, content: new Uint8Array() };
    case "fifo":
      return { header: { name: e.path, type: "fifo", mode: e.mode ?? 0o644, uid: e.uid ?? 0, gid: e.gid ?? 0, mtime } };
    case "chardev":
    case "blockdev":
      return {
        header: {
          name: e.path,
          type: e.type === "chardev" ? "character-device" : "block-device",
          mode: e.mode ?? 0o666,
          uid: e.uid ?? 0,
          gid: e.gid ?? 0,
          devmajor: e.major ?? 0,
          devminor: e.minor ?? 0,
          mtime,
        },
      };
  }
}

/** The uncompressed tar of a layer. */
export async function layerTar(spec: LayerSpec): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (const e of layerEntries(spec)) {
    if (e.type === "raw") {
      const header = { name: "raw", ...e.header } as TarHeader;
      if (e.content !== undefined) header.size = e.content.length;
      parts.push(await encodeEntry(header, e.content));
      continue;
    }
    const { header, content } = entryHeader(e);
    if (e.type === "file" && e.longName === "gnu") parts.push(await encodeGnuLongName(header, content ?? new Uint8Array()));
    else parts.push(await encodeEntry(header, content));
  }
  parts.push(new Uint8Array(1024));
  return concatBytes(parts);
}

export function compress(data: Uint8Array, how: Compression): Uint8Array {
  if (how === "gzip") return new Uint8Array(zlib.gzipSync(data));
  if (how === "zstd") return new Uint8Array(zlib.zstdCompressSync(data));
  return data;
}

/** Built layers of frozen specs (such as busyboxLayer()), which cannot change. */
const frozenBuilt = new WeakMap<LayerSpec, Promise<BuiltLayer>>();

/** A layer as a registry stores it. Frozen specs are built once per process. */
export async function buildLayer(spec: LayerSpec, opts: { mediaTypes?: "oci" | "docker" } = {}): Promise<BuiltLayer> {
  const mediaType = MEDIA_TYPES[opts.mediaTypes ?? "oci"][spec.compression];
  if (!Object.isFrozen(spec)) return { ...(await build(spec)), mediaType };
  let p = frozenBuilt.get(spec);
  if (p === undefined) {
    p = build(spec);
    frozenBuilt.set(spec, p);
  }
  return { ...(await p), mediaType };
}

async function build(spec: LayerSpec): Promise<BuiltLayer> {
  const t = await layerTar(spec);
  const blob = compress(t, spec.compression);
  return {
    tar: t,
    blob,
    diffId: sha256(t),
    digest: sha256(blob),
    mediaType: MEDIA_TYPES.oci[spec.compression],
  };
}

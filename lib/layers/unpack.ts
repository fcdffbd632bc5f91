/**
 * Unpacks one image layer (a tar, gzip/zstd/none) into its own directory in
 * overlayfs format, while it streams in:
 *
 *   input ─▶ count ─▶ decompress ─▶ sha256 (diff id) ─▶ tar-stream ─▶ LayerWriter
 *
 * OCI whiteouts become what overlayfs (mounted with `userxattr`) reads:
 * `dir/.wh.name` → a 0/0 character device `dir/name`; `dir/.wh..wh..opq` →
 * xattr `user.overlay.opaque=y` on `dir`. The `.wh.*` files are never created.
 *
 * Order within one layer (image-spec layer.md says a whiteout applies to the
 * layers below; we follow Docker's reading of a layer as changes applied in
 * tar order, the result of which is the same for well-formed layers):
 * - a whiteout for a name this layer already created removes it, then puts
 *   the whiteout (the name ends up absent, as on a merged tree);
 * - a later entry replaces an earlier one with the same name; a directory
 *   over a directory only updates its metadata; a directory created where
 *   this layer had put a non-directory (a whiteout, a file) is made opaque,
 *   because on a merged tree the lower directory would be gone;
 * - an opaque marker hides lower layers only: this layer's own children of
 *   the directory stay, whatever their position in the tar.
 *
 * Device nodes are never created (a warning, once per layer): containers get
 * /dev from the runtime. Hardlink entries carry no metadata of their own.
 */
import type { Digest } from "../digest.ts";
import { Digester } from "../digest.ts";
import { errnoCode, SkiffError, toSkiffError } from "../errors.ts";
import { type Compression, decompress } from "./decompress.ts";
import { parseEntryName, whiteoutOf } from "./paths.ts";
import type { PendingFixups } from "./pending.ts";
import { type ContentSink, type Header, readTar, type TarEntry } from "./tar.ts";
import { type EntryMeta, LayerWriter } from "./writer.ts";
import { xattrsFromPax } from "./xattrs.ts";

export interface UnpackOptions {
  /** An existing empty directory: the snapshot's `fs`. */
  dest: string;
  /** "auto" (default) sniffs the magic bytes. */
  compression?: Compression | "auto";
  /** lchown entries to the ids in their headers (default true; false for unit tests as non-root). */
  chown?: boolean;
  /** Highest uid/gid the user namespace maps (e.g. 65535 rootless); higher ids fail the unpack. */
  maxId?: number;
  onWarning?: (message: string) => void;
  /** Names the layer in errors and warnings, e.g. its digest. */
  layer?: string;
}

export interface UnpackResult {
  /** sha256 of the uncompressed tar stream. */
  diffId: Digest;
  /** Bytes read from the input. */
  compressedSize: number;
  /** Uncompressed tar bytes. */
  size: number;
  entries: number;
  /** Work that needs the lower layers: see applyPending. */
  pending: PendingFixups;
}

const MAX_ID = 0xfffffffe;

/**
 * @example
 * const r = await unpackLayer(blob.stream(), { dest: `${snap}/fs`, maxId: 65535, layer: digest });
 * verifyDigest(expectedDiffId, r.diffId, `layer ${digest}`);
 */
export async function unpackLayer(
  input: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  opts: UnpackOptions,
): Promise<UnpackResult> {
  const label = opts.layer ? `layer ${opts.layer}` : "layer";
  const warned = new Set<string>();
  const warn = (kind: string, message: string): void => {
    if (warned.has(kind)) return;
    warned.add(kind);
    opts.onWarning?.(`${label}: ${message}`);
  };
  let writer: LayerWriter;
  try {
    writer = new LayerWriter({ dest: opts.dest, chown: opts.chown ?? true, maxId: opts.maxId, warn });
  } catch (e) {
    if (input instanceof ReadableStream) await input.cancel().catch(() => undefined);
    throw e;
  }
  const d = await decompress(input, opts.compression ?? "auto", { what: label });
  const digester = new Digester("sha256");
  let upstream: unknown;
  async function* hashed(): AsyncGenerator<Uint8Array> {
    try {
      for await (const chunk of d.chunks) {
        digester.update(chunk);
        yield chunk;
      }
    } catch (e) {
      upstream = e;
      throw e;
    }
  }

  let entries = 0;
  let pending: PendingFixups;
  try {
    await readTar(hashed(), (entry) => {
      entries += 1;
      return applyEntry(writer, entry, { label, warn });
    });
    pending = writer.finish();
  } catch (e) {
    writer.abort();
    if (e === upstream || e instanceof SkiffError) throw e;
    if (errnoCode(e) !== undefined) throw toSkiffError(e, label);
    const msg = e instanceof Error ? e.message : String(e);
    throw new SkiffError("InvalidArgument", `${label}: invalid tar: ${msg}`, { cause: e });
  }
  return { diffId: digester.digest(), compressedSize: d.compressedSize(), size: digester.size, entries, pending };
}

/** Errors the layer's content causes, whatever errno reports them. */
const CONTENT_ERRNOS = new Set(["ENAMETOOLONG", "ELOOP", "ENOTDIR", "EEXIST"]);

function entryError(e: unknown, label: string, name: string): SkiffError {
  const where = `${label}: entry ${JSON.stringify(name)}`;
  if (e instanceof SkiffError) return new SkiffError(e.kind, `${where}: ${e.message}`, { cause: e });
  const code = errnoCode(e);
  if (code !== undefined && CONTENT_ERRNOS.has(code)) {
    return new SkiffError("InvalidArgument", `${where}: ${code}`, { cause: e });
  }
  return toSkiffError(e, where);
}

function applyEntry(
  w: LayerWriter,
  entry: TarEntry,
  ctx: { label: string; warn: (kind: string, message: string) => void },
): ContentSink | undefined {
  const { header } = entry;
  const name = header.name;
  try {
    const sink = dispatch(w, entry, ctx.warn);
    if (!sink) return undefined;
    return {
      write: (chunk) => {
        try {
          sink.write(chunk);
        } catch (e) {
          throw entryError(e, ctx.label, name);
        }
      },
      end: () => {
        try {
          sink.end();
        } catch (e) {
          throw entryError(e, ctx.label, name);
        }
      },
    };
  } catch (e) {
    throw entryError(e, ctx.label, name);
  }
}

function dispatch(w: LayerWriter, entry: TarEntry, warn: (kind: string, message: string) => void): ContentSink | undefined {
  const { header } = entry;
  const parsed = parseEntryName(header.name);
  if (!parsed.ok) throw new SkiffError("InvalidArgument", parsed.reason);
  const rel = parsed.rel;

  if (rel === "") {
    if (header.type !== "directory") throw new SkiffError("InvalidArgument", "a non-directory names the layer root");
    w.directory("", metaOf(entry, warn));
    return undefined;
  }
  const wh = whiteoutOf(rel);
  switch (wh.kind) {
    case "opaque":
      w.opaque(wh.dir);
      return undefined;
    case "whiteout":
      w.whiteout(wh.path);
      return undefined;
    case "reserved":
      warn("reserved", `reserved whiteout name ${rel} skipped (and any others)`);
      return undefined;
    case "invalid":
      throw new SkiffError("InvalidArgument", wh.reason);
    case "none":
      break;
  }

  switch (header.type) {
    case "directory":
      w.directory(rel, metaOf(entry, warn));
      return undefined;
    case "file":
    case "contiguous-file":
      return w.file(rel, metaOf(entry, warn));
    case "symlink":
      w.symlink(rel, header.linkname ?? "", metaOf(entry, warn));
      return undefined;
    case "link":
      w.hardlink(rel, header.linkname ?? "");
      return undefined;
    case "fifo":
      w.fifo(rel, metaOf(entry, warn));
      return undefined;
    case "character-device":
    case "block-device":
      w.device(rel);
      return undefined;
    default:
      warn(`type-${String(header.type)}`, `entry ${rel} of unsupported type ${String(header.type)} skipped`);
      return undefined;
  }
}

function paxNumber(pax: ReadonlyMap<string, Uint8Array>, key: string): number | undefined {
  const v = pax.get(key);
  if (v === undefined) return undefined;
  const text = Buffer.from(v).toString("latin1").trim();
  const n = Number(text);
  if (text === "" || !Number.isFinite(n)) throw new SkiffError("InvalidArgument", `invalid PAX ${key} ${JSON.stringify(text)}`);
  return n;
}

function idOf(header: Header, pax: ReadonlyMap<string, Uint8Array>, key: "uid" | "gid"): number {
  const id = paxNumber(pax, key) ?? header[key];
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 0 || id > MAX_ID) {
    throw new SkiffError("InvalidArgument", `invalid ${key} ${String(id)}`);
  }
  return id;
}

function metaOf(entry: TarEntry, warn: (kind: string, message: string) => void): EntryMeta {
  const { header, pax } = entry;
  if (entry.lossy.length > 0) {
    warn("pax-lossy", `PAX records ${entry.lossy.join(", ")} of ${header.name} are not valid UTF-8 and were dropped`);
  }
  const { xattrs, invalid } = xattrsFromPax(pax);
  if (invalid.length > 0) warn("pax-xattr", `undecodable xattr records ${invalid.join(", ")} of ${header.name} ignored`);
  const mtime = paxNumber(pax, "mtime") ?? header.mtime.getTime() / 1000;
  return {
    mode: header.mode & 0o7777,
    uid: idOf(header, pax, "uid"),
    gid: idOf(header, pax, "gid"),
    mtime,
    atime: paxNumber(pax, "atime") ?? mtime,
    xattrs,
  };
}

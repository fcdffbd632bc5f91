/**
 * Local files (an extracted archive's members, an imported layer) on their
 * way into the content store and the snapshots, shared by load and import:
 * a LayerSource that tees the file into the blob writer while it is being
 * unpacked, a plain copy for when the snapshot already exists, and the OCI
 * manifest skiff writes when an archive has none.
 */
import { passThrough } from "../../streams.ts";
import { closeSync, createReadStream, openSync, readSync } from "node:fs";
import type { Context } from "../../context.ts";
import type { BlobWriter } from "../../content/store.ts";
import { Digester, type Digest } from "../../digest.ts";
import { SkiffError } from "../../errors.ts";
import { decompress, sniffCompression, type Compression } from "../../layers/decompress.ts";
import type { LayerSource } from "../layers.ts";
import { MediaType } from "../manifest.ts";

export interface LocalBlob {
  path: string;
  digest: Digest;
  size: number;
}

const CHUNK = 1 << 20;

function fileChunks(path: string): AsyncIterable<Uint8Array> {
  return createReadStream(path, { highWaterMark: CHUNK }) as AsyncIterable<Uint8Array>;
}

/** gzip / zstd / none from the first bytes of a file; xz (and anything else compressed) is refused by name. */
export function sniffFile(path: string, what: string): Compression {
  const head = new Uint8Array(6);
  const fd = openSync(path, "r");
  let n: number;
  try {
    n = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const c = sniffCompression(head.subarray(0, n));
  if (c === "xz") throw new SkiffError("InvalidArgument", `${what}: xz compression is not supported (gzip, zstd or none)`);
  return c;
}

/** A writer for `blob`, starting from byte zero (a stale partial from a killed pull is dropped). */
async function freshWriter(ctx: Context, blob: LocalBlob): Promise<BlobWriter> {
  const writer = await ctx.content.openWriter({ digest: blob.digest, size: blob.size });
  if (writer.complete || writer.offset === 0) return writer;
  await writer.discard();
  return ctx.content.openWriter({ digest: blob.digest, size: blob.size });
}

/**
 * Unpack input for ensureSnapshot: the file's bytes, written to the content
 * store on the way (committed in `finish`, after a successful unpack).
 */
export function fileLayerSource(ctx: Context, blob: LocalBlob): LayerSource {
  let writer: BlobWriter | undefined;
  return {
    async open() {
      writer = await freshWriter(ctx, blob);
      if (writer.complete) return Bun.file(blob.path).stream();
      const w = writer;
      return passThrough(fileChunks(blob.path), (c) => w.write(c));
    },
    async finish() {
      await writer?.commit();
      writer = undefined;
    },
    async abort() {
      await writer?.discard();
      writer = undefined;
    },
  };
}

/** Copies a file into the content store (nothing to do when the blob is there). */
export async function storeFile(ctx: Context, blob: LocalBlob): Promise<void> {
  if (ctx.content.has(blob.digest)) return;
  const writer = await freshWriter(ctx, blob);
  if (!writer.complete) {
    try {
      for await (const chunk of fileChunks(blob.path)) await writer.write(chunk);
    } catch (e) {
      await writer.discard();
      throw e;
    }
  }
  await writer.commit();
}

/** sha256 of a layer file's uncompressed content: its diff id. */
export async function diffIdOfFile(path: string, compression: Compression): Promise<Digest> {
  if (compression === "none") {
    const h = new Digester("sha256");
    for await (const chunk of fileChunks(path)) h.update(chunk);
    return h.digest();
  }
  const d = await decompress(fileChunks(path), compression, { what: `layer ${path}` });
  const h = new Digester("sha256");
  for await (const chunk of d.chunks) h.update(chunk);
  return h.digest();
}

const OCI_LAYER_TYPE: Record<Compression, string> = {
  none: MediaType.OciLayer,
  gzip: MediaType.OciLayerGzip,
  zstd: MediaType.OciLayerZstd,
};

export interface ManifestLayer {
  digest: Digest;
  size: number;
  compression: Compression;
}

/**
 * An OCI image manifest, serialised as Go's json.Marshal of
 * `ocispec.Manifest` does (same key order, no whitespace), so the one
 * Docker 25+ `save` writes for uncompressed layers has the same digest.
 */
export function ociManifestBytes(config: { digest: Digest; size: number }, layers: readonly ManifestLayer[]): Uint8Array {
  const doc = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: OCI_LAYER_TYPE[l.compression], digest: l.digest, size: l.size })),
  };
  return new TextEncoder().encode(JSON.stringify(doc));
}

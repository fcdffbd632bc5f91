/**
 * `import`: a root filesystem tarball (plain, gzip or zstd; sniffed, as
 * Docker accepts compressed input) becomes a one-layer image.
 *
 * Two passes, because a snapshot is keyed by its chain id (here the diff id)
 * and that is known only once the whole input has been read:
 *  1. input → decompress → sha256 (diff id) → the plain tar in a temp file
 *     under the store;
 *  2. ensureSnapshot unpacks that file (checking the diff id again) while
 *     the same bytes are gzipped (sha256 → blob digest) into a second temp
 *     file, then copied into the content store. Compression and unpacking
 *     overlap; an existing snapshot is reused and the tar only compressed.
 * Then an OCI config (rootfs, history, platform, `--change` instructions)
 * and an OCI manifest are stored and the image is recorded.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Context } from "../context.ts";
import { Digester, type Digest } from "../digest.ts";
import { errnoCode, SkiffError, toSkiffError } from "../errors.ts";
import { decompress } from "../layers/decompress.ts";
import { formatReference, parseReference } from "../registry/reference.ts";
import { ociManifestBytes, storeFile } from "./archive/blobs.ts";
import { applyChanges } from "./changes.ts";
import { holdGcShared } from "./gc.ts";
import { compressingSource } from "./compressing-source.ts";
import { ensureSnapshot } from "./layers.ts";
import { hostPlatform, MediaType, parsePlatform, type ContainerConfig, type ImageConfig, type Platform } from "./manifest.ts";
import type { ImageRecord } from "./store.ts";

export interface ImportOptions {
  /** Name for the image (`app`, `example.com/app:1`); untagged when absent. */
  reference?: string;
  /** Dockerfile instructions: `CMD ["sh"]`, `ENV A=1`… (see ./changes.ts). */
  changes?: string[];
  /** Commit message: the config's `comment` and the history entry's. */
  message?: string;
  /** `os/arch[/variant]`; default the host's. */
  platform?: string;
}

/** gzip level for the stored layer: zlib's default, what registries usually get. */

function openInput(path: string): ReadableStream<Uint8Array> {
  try {
    if (statSync(path).isDirectory()) throw new SkiffError("InvalidArgument", `${path} is a directory, not a tarball`);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") throw new SkiffError("NotFound", `open ${path}: no such file`);
    throw e;
  }
  return Bun.file(path).stream();
}

/** Pass 1: the uncompressed tar into `path` (decompressing a compressed input) and its diff id. */
async function spoolTar(input: ReadableStream<Uint8Array>, path: string): Promise<Digest> {
  const d = await decompress(input, "auto", { what: "tarball" });
  const diff = new Digester("sha256");
  const fd = openSync(path, "wx", 0o600);
  try {
    for await (const chunk of d.chunks) {
      diff.update(chunk);
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
    }
  } finally {
    closeSync(fd);
  }
  return diff.digest();
}

/** What import decides before reading any input. */
interface ImportPlan {
  name: string | undefined;
  platform: Platform;
  runtime: ContainerConfig;
  message: string | undefined;
}

function imageConfig(plan: ImportPlan, diffId: Digest, created: string): ImageConfig {
  const { platform, message } = plan;
  return {
    ...(message ? { comment: message } : {}),
    created,
    config: plan.runtime,
    architecture: platform.architecture,
    ...(platform.variant ? { variant: platform.variant } : {}),
    os: platform.os,
    rootfs: { type: "layers", diff_ids: [diffId] },
    history: [{ created, created_by: "skiff import", ...(message ? { comment: message } : {}) }],
  };
}

/**
 * Imports a tarball (a path or a byte stream) as a new image.
 *
 *   const img = await importTarball(ctx, "rootfs.tar", { reference: "mine:1", changes: ['CMD ["sh"]'] });
 *   img.id // "sha256:…"
 */
export async function importTarball(ctx: Context, input: ReadableStream<Uint8Array> | string, opts: ImportOptions = {}): Promise<ImageRecord> {
  const what = typeof input === "string" ? `import ${input}` : "import";
  try {
    // Everything that can be refused without reading the input, first.
    let name: string | undefined;
    if (opts.reference) {
      const ref = parseReference(opts.reference);
      if (ref.digest) throw new SkiffError("InvalidArgument", `${opts.reference}: a reference with a digest cannot name a new image`);
      name = formatReference(ref);
    }
    const plan: ImportPlan = {
      name,
      platform: opts.platform ? parsePlatform(opts.platform) : hostPlatform(),
      runtime: applyChanges({}, opts.changes ?? []),
      message: opts.message,
    };
    const stream = typeof input === "string" ? openInput(input) : input;
    return await importStream(ctx, stream, plan);
  } catch (e) {
    throw toSkiffError(e, what);
  }
}

async function importStream(ctx: Context, stream: ReadableStream<Uint8Array>, plan: ImportPlan): Promise<ImageRecord> {
  const hold = await holdGcShared(ctx);
  let tmp: string | undefined;
  try {
    mkdirSync(ctx.paths.tmp, { recursive: true, mode: 0o700 });
    tmp = mkdtempSync(join(ctx.paths.tmp, "import-"));
    const tarPath = join(tmp, "layer.tar");
    const diffId = await spoolTar(stream, tarPath);
    const gz = compressingSource(tarPath, join(tmp, "layer.tar.gz"));
    const snap = await ensureSnapshot(ctx, {
      chainId: diffId,
      diffId,
      parent: null,
      parentDone: Promise.resolve(),
      compression: "none",
      source: gz.source,
    });
    const layer = await gz.blob();
    await storeFile(ctx, layer);

    const created = new Date().toISOString();
    const config = imageConfig(plan, diffId, created);
    const configBytes = new TextEncoder().encode(JSON.stringify(config));
    const id = ctx.content.put(configBytes);
    const manifestDigest = ctx.content.put(
      ociManifestBytes({ digest: id, size: configBytes.length }, [{ digest: layer.digest, size: layer.size, compression: "gzip" }]),
    );
    return await ctx.images.put({
      id,
      names: plan.name ? [plan.name] : [],
      repoDigests: [],
      manifestDigest,
      manifestMediaType: MediaType.OciManifest,
      chainIds: [diffId],
      size: snap.size,
      created,
      added: created,
      os: config.os,
      architecture: config.architecture,
      ...(config.variant ? { variant: config.variant } : {}),
    });
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    hold.release();
  }
}

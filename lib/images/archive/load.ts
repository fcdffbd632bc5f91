/**
 * `load`: images from a docker-archive or oci-archive (see ./formats.ts).
 * The archive is extracted into a private temp dir under the store (only
 * regular files and directories, names checked: ./entries.ts), then each
 * image is stored like a pull stores it: config and layer blobs in the
 * content store as they are in the archive (digests computed, checked where
 * the archive names them), snapshots built in parallel with ensureSnapshot
 * (diff ids verified), the manifest kept or written, and the image recorded.
 *
 * Manifest for a legacy docker archive, which has none: skiff writes an OCI
 * manifest (config `application/vnd.oci.image.config.v1+json`, layer media
 * types from the sniffed compression: `…layer.v1.tar`, `+gzip`, `+zstd`).
 * OCI because it has types for all three compressions (Docker v2s2 has none
 * for zstd) and because it is what Docker 25+ itself writes into archives:
 * for uncompressed layers skiff's manifest is byte for byte Docker's.
 *
 * The GC lock is held shared throughout, so a concurrent `image prune`
 * cannot delete blobs stored but not yet recorded.
 */
import { concurrencyLimit } from "../../pool.ts";
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Context } from "../../context.ts";
import { chainIds, shortId, type Digest } from "../../digest.ts";
import { errnoCode, SkiffError, toSkiffError } from "../../errors.ts";
import { holdGcShared } from "../gc.ts";
import { ensureSnapshot } from "../layers.ts";
import { MediaType, parseImageConfig, parseManifest, type Platform } from "../manifest.ts";
import type { ImageRecord } from "../store.ts";
import { diffIdOfFile, fileLayerSource, ociManifestBytes, sniffFile, storeFile } from "./blobs.ts";
import { extractArchive, type ArchiveFile, type ExtractedArchive } from "./entries.ts";
import { MAX_METADATA_SIZE, planArchive, type ArchiveFormat, type PlannedImage } from "./formats.ts";

export type LoadEvent =
  | { type: "layer"; id: string; status: "loading" | "exists" | "done" }
  | { type: "loaded"; image: ImageRecord; name?: string }
  | { type: "warning"; message: string };

export interface LoadOptions {
  onEvent?: (e: LoadEvent) => void;
  /** Platform to pick from multi-platform indexes in an oci-archive (default: the host). */
  platform?: Platform;
}

export interface LoadResult {
  format: ArchiveFormat;
  /** Full names loaded, or the image id for an image without one. */
  loaded: string[];
  images: ImageRecord[];
}

const MAX_CONFIG_SIZE = 8 << 20;


function openInput(path: string): ReadableStream<Uint8Array> {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") throw new SkiffError("NotFound", `open ${path}: no such file`);
    throw e;
  }
  if (st.isDirectory()) throw new SkiffError("InvalidArgument", `${path} is a directory, not an archive`);
  return Bun.file(path).stream();
}

/**
 * Loads every image of an archive (a path or a byte stream).
 *
 *   const r = await loadArchive(ctx, "busybox.tar");
 *   r.loaded // ["docker.io/library/busybox:latest"]
 */
export async function loadArchive(ctx: Context, input: ReadableStream<Uint8Array> | string, opts: LoadOptions = {}): Promise<LoadResult> {
  const what = typeof input === "string" ? `load ${input}` : "load";
  const emit = opts.onEvent ?? (() => {});
  const hold = await holdGcShared(ctx);
  let tmp: string | undefined;
  try {
    const stream = typeof input === "string" ? openInput(input) : input;
    mkdirSync(ctx.paths.tmp, { recursive: true, mode: 0o700 });
    tmp = mkdtempSync(join(ctx.paths.tmp, "load-"));
    const archive = await extractArchive(stream, tmp);
    const plan = planArchive(archive, opts.platform ? { platform: opts.platform } : {});
    for (const message of plan.warnings) emit({ type: "warning", message });
    const loaded: string[] = [];
    const images: ImageRecord[] = [];
    for (const planned of plan.images) {
      const image = await loadImage(ctx, archive, planned, emit);
      images.push(image);
      if (planned.names.length === 0) {
        loaded.push(image.id);
        emit({ type: "loaded", image });
      }
      for (const name of planned.names) {
        loaded.push(name);
        emit({ type: "loaded", image, name });
      }
    }
    return { format: plan.format, loaded, images };
  } catch (e) {
    throw toSkiffError(e, what);
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    hold.release();
  }
}

/** True when the store already has everything the image needs: loading it again only adds names. */
function imageIntact(ctx: Context, img: ImageRecord): boolean {
  if (!ctx.content.has(img.id) || !ctx.content.has(img.manifestDigest)) return false;
  if (!img.chainIds.every((c) => ctx.snapshots.isCommitted(c))) return false;
  try {
    const m = parseManifest(ctx.content.readBytes(img.manifestDigest), img.manifestMediaType);
    return m.kind === "manifest" && m.manifest.layers.every((l) => ctx.content.has(l.digest as Digest));
  } catch {
    return false;
  }
}

async function loadImage(
  ctx: Context,
  archive: ExtractedArchive,
  planned: PlannedImage,
  emit: (e: LoadEvent) => void,
): Promise<ImageRecord> {
  const { source } = planned;
  const configBytes = archive.readBytes(planned.config, MAX_CONFIG_SIZE);
  const config = parseImageConfig(configBytes, { name: source });
  const id = planned.config.digest;
  const diffIds = config.rootfs.diff_ids as Digest[];
  if (diffIds.length === 0) throw new SkiffError("InvalidArgument", `${source}: image ${id} has no layers`);
  if (diffIds.length !== planned.layers.length) {
    throw new SkiffError("InvalidArgument", `${source}: ${planned.layers.length} layers, but the image config lists ${diffIds.length} diff ids`);
  }

  const existing = ctx.images.get(id);
  if (existing && imageIntact(ctx, existing)) {
    for (const c of existing.chainIds) emit({ type: "layer", id: shortId(c), status: "exists" });
    return ctx.images.put({ ...existing, names: planned.names, repoDigests: [] });
  }

  const compressions = planned.layers.map((l) => sniffFile(l.path, `${source}: layer ${l.name}`));
  const chains = chainIds(diffIds);
  const run = concurrencyLimit(ctx.config.maxConcurrentDownloads);
  const done: Promise<number>[] = [];
  planned.layers.forEach((file, i) => {
    const job = {
      file,
      compression: compressions[i] ?? "none",
      diffId: diffIds[i] as Digest,
      chainId: chains[i] as Digest,
      parent: i > 0 ? (chains[i - 1] as Digest) : null,
      parentDone: i > 0 ? (done[i - 1] as Promise<number>) : Promise.resolve(0),
    };
    done.push(run(() => loadLayer(ctx, job, emit)));
  });
  // Wait for all, so no layer is still being written when an error is reported.
  const results = await Promise.allSettled(done);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
  const size = results.reduce((sum, r) => sum + (r.status === "fulfilled" ? r.value : 0), 0);

  ctx.content.put(configBytes, id);
  let manifestBytes: Uint8Array;
  let manifestMediaType: string;
  if (planned.manifest) {
    manifestBytes = archive.readBytes(planned.manifest.file, MAX_METADATA_SIZE);
    manifestMediaType = planned.manifest.mediaType;
  } else {
    manifestBytes = ociManifestBytes(
      { digest: id, size: planned.config.size },
      planned.layers.map((l, i) => ({ digest: l.digest, size: l.size, compression: compressions[i] ?? "none" })),
    );
    manifestMediaType = MediaType.OciManifest;
  }
  const manifestDigest = ctx.content.put(manifestBytes);

  return ctx.images.put({
    id,
    names: planned.names,
    repoDigests: [],
    manifestDigest,
    manifestMediaType,
    chainIds: chains,
    size,
    ...(config.created ? { created: config.created } : {}),
    added: new Date().toISOString(),
    os: config.os,
    architecture: config.architecture,
    ...(config.variant ? { variant: config.variant } : {}),
  });
}

interface LayerJob {
  file: ArchiveFile;
  compression: "gzip" | "zstd" | "none";
  diffId: Digest;
  chainId: Digest;
  parent: Digest | null;
  parentDone: Promise<unknown>;
}

async function loadLayer(ctx: Context, job: LayerJob, emit: (e: LoadEvent) => void): Promise<number> {
  const id = shortId(job.diffId);
  const blob = { path: job.file.path, digest: job.file.digest, size: job.file.size };
  emit({ type: "layer", id, status: "loading" });
  const r = await ensureSnapshot(ctx, {
    chainId: job.chainId,
    diffId: job.diffId,
    parent: job.parent,
    parentDone: job.parentDone,
    compression: job.compression,
    source: fileLayerSource(ctx, blob),
    onWarning: (message) => emit({ type: "warning", message: `layer ${id}: ${message}` }),
  });
  if (!ctx.content.has(blob.digest)) {
    // The snapshot was already there, so nothing read the file: make sure it
    // is the layer the config names before it goes into the store.
    const actual = job.compression === "none" ? blob.digest : await diffIdOfFile(blob.path, job.compression);
    if (actual !== job.diffId) {
      throw new SkiffError("InvalidArgument", `layer ${job.file.name}: its content has digest ${actual}, not the ${job.diffId} the image config lists`);
    }
    await storeFile(ctx, blob);
  }
  emit({ type: "layer", id, status: r.built ? "done" : "exists" });
  return r.size;
}

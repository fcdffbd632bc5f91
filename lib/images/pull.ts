/**
 * Pull: resolve a reference to a platform manifest, fetch the config, then
 * fetch and unpack every layer at once (bounded), each layer streamed through
 * the digest check into the blob store and into its snapshot as it arrives.
 * A layer whose snapshot already exists is not fetched at all.
 */
import { createReadStream } from "node:fs";
import type { Context } from "../context.ts";
import { chainIds, shortId, type Digest } from "../digest.ts";
import { SkiffError, toSkiffError } from "../errors.ts";
import type { BlobWriter } from "../content/store.ts";
import { formatReference, parseReference, repositoryName, type ImageReference } from "../registry/reference.ts";
import { RegistryClient } from "../registry/client.ts";
import {
  hostPlatform,
  ImageConfigSchema,
  layerCompression,
  parseManifest,
  selectManifest,
  type Descriptor,
  type ImageConfig,
  type ImageManifest,
  type Platform,
} from "./manifest.ts";
import { holdGcShared } from "./gc.ts";
import { ensureSnapshot, type LayerSource } from "./layers.ts";
import type { ImageRecord } from "./store.ts";
import { registryClient } from "./registry.ts";
import { concurrencyLimit } from "../pool.ts";
import { BlobPrefetch, dropResponse } from "./prefetch.ts";
import { trace } from "../trace.ts";

export type LayerStatus = "waiting" | "exists" | "downloading" | "extracting" | "verifying" | "done";

export type PullEvent =
  | { type: "start"; reference: string }
  | { type: "layer"; id: string; status: LayerStatus; current?: number; total?: number }
  | { type: "digest"; digest: Digest }
  | { type: "warning"; message: string };

export interface PullOptions {
  platform?: Platform;
  /** Extra registries allowed over http for this call (--tls-verify=false). */
  tlsVerify?: boolean;
  onEvent?: (e: PullEvent) => void;
  client?: RegistryClient;
}

export interface PullResult {
  image: ImageRecord;
  reference: ImageReference;
  /** False when every layer was already present. */
  downloaded: boolean;
}


export async function pullImage(ctx: Context, input: string, opts: PullOptions = {}): Promise<PullResult> {
  const ref = parseReference(input);
  const refName = formatReference(ref);
  const hold = await holdGcShared(ctx);
  try {
    return await pullResolved(ctx, ref, opts);
  } catch (e) {
    throw toSkiffError(e, `pull ${refName}`);
  } finally {
    hold.release();
  }
}

async function pullResolved(ctx: Context, ref: ImageReference, opts: PullOptions): Promise<PullResult> {
  ctx.ensureStorage();
  const emit = opts.onEvent ?? (() => {});
  const client = opts.client ?? registryClient(ctx, { tlsVerify: opts.tlsVerify });
  const repo = { registry: ref.registry, repository: ref.repository };
  emit({ type: "start", reference: formatReference(ref) });

  trace("pull: start");
  // Rootless: start the namespace helper now, while the manifest downloads.
  ctx.executor.prewarm();
  const top = await client.getManifest(repo, ref.digest ?? ref.tag ?? "latest");
  trace("pull: manifest fetched");
  const parsedTop = parseManifest(top.bytes, top.mediaType);
  let manifestDesc: { digest: Digest; mediaType: string; bytes: Uint8Array };
  let manifest: ImageManifest;
  if (parsedTop.kind === "index") {
    const platform = opts.platform ?? hostPlatform();
    const chosen: Descriptor = selectManifest(parsedTop.index, platform);
    const m = await client.getManifest(repo, chosen.digest);
    const parsed = parseManifest(m.bytes, m.mediaType);
    if (parsed.kind !== "manifest") throw new SkiffError("InvalidArgument", `${chosen.digest}: an index inside an index is not supported`);
    manifestDesc = m;
    manifest = parsed.manifest;
  } else {
    manifestDesc = top;
    manifest = parsedTop.manifest;
  }

  // The first layers start downloading with the config (asked for first:
  // the layers wait for it); the manifests are stored meanwhile.
  const configP = fetchConfig(ctx, client, repo, manifest.config);
  configP.catch(() => {}); // awaited below
  const prefetch = new BlobPrefetch();
  let fetching = 0;
  for (const layer of manifest.layers.slice(0, ctx.config.maxConcurrentDownloads)) {
    const d = layer.digest as Digest;
    if (ctx.content.has(d)) continue;
    prefetch.start(d, () => client.getBlob(repo, d));
    fetching += 1;
  }
  // One helper per layer to unpack: the one started above, and the others now.
  ctx.executor.prewarm(fetching - 1);
  try {
    ctx.content.put(top.bytes, top.digest);
    if (manifestDesc !== top) ctx.content.put(manifestDesc.bytes, manifestDesc.digest);
    trace("pull: manifests stored");
    const config = await configP;
    trace("pull: config fetched");
    return await pullLayers(ctx, { ref, client, repo, top, manifestDesc, manifest, config, prefetch, emit, platform: opts.platform, fromIndex: parsedTop.kind === "index" });
  } finally {
    prefetch.dropAll();
  }
}

interface LayersPlan {
  ref: ImageReference;
  client: RegistryClient;
  repo: { registry: string; repository: string };
  top: { digest: Digest };
  manifestDesc: { digest: Digest; mediaType: string };
  manifest: ImageManifest;
  config: ImageConfig;
  prefetch: BlobPrefetch;
  emit: (e: PullEvent) => void;
  platform: Platform | undefined;
  fromIndex: boolean;
}

/** Every layer's snapshot (in parallel, bounded), then the image record. */
async function pullLayers(ctx: Context, plan: LayersPlan): Promise<PullResult> {
  const { ref, client, repo, top, manifestDesc, manifest, config, emit } = plan;
  const diffIds = config.rootfs.diff_ids as Digest[];
  if (diffIds.length !== manifest.layers.length) {
    throw new SkiffError("InvalidArgument", `manifest has ${manifest.layers.length} layers but the config lists ${diffIds.length} diff ids`);
  }
  if (plan.platform === undefined && !plan.fromIndex) {
    const host = hostPlatform();
    if (config.architecture && config.architecture !== host.architecture) {
      emit({ type: "warning", message: `image platform (${config.os}/${config.architecture}) does not match the host (${host.os}/${host.architecture})` });
    }
  }
  const chains = chainIds(diffIds);
  const pool = concurrencyLimit(ctx.config.maxConcurrentDownloads);
  let downloaded = false;
  const committed: Promise<void>[] = [];
  const sizes: number[] = new Array(chains.length).fill(0);

  for (let i = 0; i < manifest.layers.length; i++) {
    const layer = manifest.layers[i] as Descriptor;
    const chainId = chains[i] as Digest;
    const parent = i > 0 ? (chains[i - 1] as Digest) : null;
    const parentDone = i > 0 ? (committed[i - 1] as Promise<void>) : Promise.resolve();
    const task = pool(async () => {
      const r = await buildLayer(ctx, {
        client,
        repo,
        layer,
        diffId: diffIds[i] as Digest,
        chainId,
        parent,
        parentDone,
        emit,
        prefetch: plan.prefetch,
      });
      if (r.downloaded) downloaded = true;
      sizes[i] = r.size;
    });
    committed.push(task);
  }
  // Wait for all, so no task is still writing when we report an error.
  const results = await Promise.allSettled(committed);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;

  trace("pull: layers done");
  emit({ type: "digest", digest: top.digest });
  const image = await ctx.images.put({
    id: manifest.config.digest as Digest,
    names: ref.tag ? [formatReference({ ...ref, digest: undefined })] : [],
    repoDigests: [`${repositoryName(ref)}@${top.digest}`],
    manifestDigest: manifestDesc.digest,
    manifestMediaType: manifestDesc.mediaType,
    chainIds: chains,
    size: sizes.reduce((a, b) => a + b, 0),
    ...(config.created ? { created: config.created } : {}),
    added: new Date().toISOString(),
    os: config.os ?? "linux",
    architecture: config.architecture ?? "amd64",
    ...(config.variant ? { variant: config.variant } : {}),
  });
  trace("pull: image recorded");
  return { image, reference: ref, downloaded };
}

async function fetchConfig(
  ctx: Context,
  client: RegistryClient,
  repo: { registry: string; repository: string },
  desc: Descriptor,
): Promise<ImageConfig> {
  const d = desc.digest as Digest;
  if (!ctx.content.has(d)) {
    if (desc.size > 8 << 20) throw new SkiffError("InvalidArgument", `image config ${d} is ${desc.size} bytes, over the 8 MiB limit`);
    // Asked for before the writer's lock is taken: the request is the slow part.
    const pending = client.getBlob(repo, d);
    pending.catch(() => {}); // awaited below, or dropped
    const writer = await ctx.content.openWriter({ digest: d, size: desc.size }).catch((e: unknown) => {
      dropResponse(pending);
      throw e;
    });
    if (writer.complete) dropResponse(pending);
    else {
      try {
        const blob = await pending;
        for await (const chunk of blob.body) await writer.write(chunk);
      } catch (e) {
        await writer.discard();
        throw e;
      }
    }
    await writer.commit();
  }
  const parsed = ImageConfigSchema.safeParse(ctx.content.readJson(d, 8 << 20));
  if (!parsed.success) throw new SkiffError("InvalidArgument", `image config ${d}: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

interface LayerJob {
  client: RegistryClient;
  repo: { registry: string; repository: string };
  layer: Descriptor;
  diffId: Digest;
  chainId: Digest;
  parent: Digest | null;
  parentDone: Promise<void>;
  emit: (e: PullEvent) => void;
  prefetch: BlobPrefetch;
}

async function buildLayer(ctx: Context, job: LayerJob): Promise<{ downloaded: boolean; size: number }> {
  const { layer, emit } = job;
  const id = shortId(layer.digest);
  const digest = layer.digest as Digest;
  const compression = layerCompression(layer.mediaType);
  if (compression === undefined) {
    throw new SkiffError("InvalidArgument", `layer ${digest}: media type ${layer.mediaType} is not a layer skiff can unpack`);
  }
  let writer: BlobWriter | undefined;
  let downloaded = false;
  const source: LayerSource = {
    async open() {
      writer = await ctx.content.openWriter({ digest, size: layer.size });
      if (writer.complete) {
        job.prefetch.drop(digest);
        emit({ type: "layer", id, status: "extracting" });
        return ctx.content.stream(digest);
      }
      downloaded = true;
      let offset = writer.offset;
      if (offset > 0) job.prefetch.drop(digest); // resumed with a Range request instead
      let blob = (offset === 0 ? await job.prefetch.take(digest) : undefined) ?? (await job.client.getBlob(job.repo, digest, offset > 0 ? { offset } : {}));
      if (offset > 0 && blob.offset !== offset) {
        // The registry ignored the range: start over from byte zero.
        await blob.body.cancel().catch(() => {});
        await writer.discard();
        writer = await ctx.content.openWriter({ digest, size: layer.size });
        offset = 0;
        blob = await job.client.getBlob(job.repo, digest);
      }
      emit({ type: "layer", id, status: "downloading", current: offset, total: layer.size });
      return teeIntoWriter(writer, blob.body, {
        prefix: offset > 0 ? writer.partialPath : undefined,
        onProgress: (n) => emit({ type: "layer", id, status: "downloading", current: n, total: layer.size }),
      });
    },
    async finish() {
      emit({ type: "layer", id, status: "verifying" });
      await writer?.commit();
      writer = undefined;
    },
    async abort() {
      // Keep a partial download for the next attempt.
      await writer?.close();
      writer = undefined;
    },
  };
  const r = await ensureSnapshot(ctx, {
    chainId: job.chainId,
    diffId: job.diffId,
    parent: job.parent,
    parentDone: job.parentDone,
    compression,
    source,
    onWait: () => emit({ type: "layer", id, status: "waiting" }),
    onWarning: (message) => emit({ type: "warning", message: `layer ${id}: ${message}` }),
  });
  emit({ type: "layer", id, status: r.built ? "done" : "exists" });
  return { downloaded, size: r.size };
}

/**
 * Passes a download through the blob writer (hash + disk) on its way to the
 * unpacker. Pulled only as fast as the unpacker reads, so memory stays flat.
 * With a resumed download, the bytes already on disk are replayed first.
 */
function teeIntoWriter(
  writer: BlobWriter,
  body: ReadableStream<Uint8Array>,
  opts: { prefix?: string | undefined; onProgress?: (n: number) => void },
): ReadableStream<Uint8Array> {
  let prefixIter: AsyncIterator<Buffer> | undefined = opts.prefix
    ? (createReadStream(opts.prefix, { highWaterMark: 1 << 20, end: writer.offset - 1 })[Symbol.asyncIterator]() as AsyncIterator<Buffer>)
    : undefined;
  const reader = body.getReader();
  let lastReport = 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (prefixIter) {
          const r = await prefixIter.next();
          if (!r.done) {
            controller.enqueue(new Uint8Array(r.value));
            return;
          }
          prefixIter = undefined;
        }
        const { done, value } = await reader.read();
        if (done) {
          opts.onProgress?.(writer.size);
          controller.close();
          return;
        }
        await writer.write(value);
        controller.enqueue(value);
        const now = Date.now();
        if (now - lastReport > 100) {
          lastReport = now;
          opts.onProgress?.(writer.size);
        }
      },
      async cancel(reason) {
        await reader.cancel(reason).catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * Push: upload an image's blobs the registry lacks (asking first, and
 * mounting from another repository of the same registry when possible),
 * then its manifest under the tag.
 */
import type { Context } from "../context.ts";
import { shortId, type Digest } from "../digest.ts";
import { SkiffError, toSkiffError } from "../errors.ts";
import type { RegistryClient } from "../registry/client.ts";
import { formatReference, parseReference, repositoryName } from "../registry/reference.ts";
import { parseManifest } from "./manifest.ts";
import { resolveImage } from "./resolve.ts";
import { forEachLimited } from "../pool.ts";

export type PushEvent =
  | { type: "start"; repository: string }
  | { type: "layer"; id: string; status: "Preparing" | "Layer already exists" | "Pushed" | `Mounted from ${string}` };

export interface PushOptions {
  destination?: string;
  client: RegistryClient;
  onEvent?: (e: PushEvent) => void;
}

export interface PushResult {
  tag: string;
  digest: Digest;
  size: number;
}


export async function pushImage(ctx: Context, image: string, opts: PushOptions): Promise<PushResult> {
  const img = resolveImage(ctx.images.list(), image);
  const targetName = opts.destination ?? image;
  const ref = parseReference(targetName);
  if (ref.digest) throw new SkiffError("InvalidArgument", `${targetName}: push to a tag, not a digest`);
  if (!opts.destination && !img.names.includes(formatReference(ref))) {
    throw new SkiffError("InvalidArgument", `${image}: give a destination name to push an image referenced by id`);
  }
  const repo = { registry: ref.registry, repository: ref.repository };
  const tag = ref.tag ?? "latest";
  const emit = opts.onEvent ?? (() => {});
  try {
    emit({ type: "start", repository: repositoryName(ref) });
    const manifestBytes = ctx.content.readBytes(img.manifestDigest);
    const parsed = parseManifest(manifestBytes, img.manifestMediaType);
    if (parsed.kind !== "manifest") throw new SkiffError("Internal", `image ${img.id}: stored manifest is an index`);
    const blobs = [...parsed.manifest.layers, parsed.manifest.config];
    // Other repositories on the same registry that have this image's blobs.
    const sources = new Set<string>();
    for (const n of [...img.names, ...img.repoDigests]) {
      try {
        const r = parseReference(n);
        if (r.registry === ref.registry && r.repository !== ref.repository) sources.add(r.repository);
      } catch {
        // names are stored normalised; ignore odd ones
      }
    }
    await forEachLimited(blobs, 3, async (desc) => {
      const digest = desc.digest as Digest;
      const id = shortId(digest);
      if (!ctx.content.has(digest)) {
        throw new SkiffError("NotFound", `blob ${digest} is not in local storage (pull the image again to push it)`);
      }
      if ((await opts.client.blobExists(repo, digest)) !== undefined) {
        emit({ type: "layer", id, status: "Layer already exists" });
        return;
      }
      for (const from of sources) {
        if (await opts.client.mountBlob(repo, digest, from)) {
          emit({ type: "layer", id, status: `Mounted from ${from}` });
          return;
        }
      }
      const size = ctx.content.info(digest).size;
      await opts.client.uploadBlob(repo, digest, { size, open: () => Bun.file(ctx.content.path(digest)) });
      emit({ type: "layer", id, status: "Pushed" });
    });
    const digest = await opts.client.putManifest(repo, tag, manifestBytes, parsed.mediaType);
    await ctx.images.update((images) => {
      const rec = images.find((i) => i.id === img.id);
      const rd = `${repositoryName(ref)}@${digest}`;
      if (rec && !rec.repoDigests.includes(rd)) rec.repoDigests.push(rd);
    });
    return { tag, digest, size: manifestBytes.length };
  } catch (e) {
    throw toSkiffError(e, `push ${formatReference(ref)}`);
  }
}

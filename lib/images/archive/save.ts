/**
 * `save`: images to a tar stream, with no temp copies.
 *
 * docker-archive is what `docker save` of Docker 25+ writes (moby
 * daemon/internal/image/tarexport/save.go), entries in the lexical order
 * Docker's tar of its temp dir has:
 *
 *   blobs/sha256/<config hex>   the image config, as stored
 *   blobs/sha256/<diff id hex>  each layer UNCOMPRESSED (decompressed from the
 *                               stored blob on the fly, checked against its diff id)
 *   blobs/sha256/<hex>          an OCI manifest over those (layers
 *                               `application/vnd.oci.image.layer.v1.tar`)
 *   index.json                  one descriptor per name, annotated with
 *                               io.containerd.image.name and org.opencontainers.image.ref.name
 *   manifest.json               [{Config, RepoTags (familiar), Layers, LayerSources}]
 *   oci-layout, repositories
 *
 * Docker also writes one legacy v1 "json" blob per layer that nothing
 * references; skiff leaves those out. An untagged image still gets an
 * index.json entry (Docker drops it when another image is tagged).
 *
 * oci-archive is an OCI image layout of the blobs as stored (compressed,
 * the original manifest), one index.json entry per name, annotated with the
 * full name (io.containerd.image.name) and the tag (ref.name).
 */
import type { Context } from "../../context.ts";
import { digestHex, sha256, type Digest } from "../../digest.ts";
import { SkiffError, toSkiffError } from "../../errors.ts";
import { decompress } from "../../layers/decompress.ts";
import { familiarString, formatReference, parseReference, repositoryName, type ImageReference } from "../../registry/reference.ts";
import { layerCompression, MediaType, parseImageConfig, parseManifest, type ImageManifest } from "../manifest.ts";
import { resolveImage } from "../resolve.ts";
import type { ImageRecord } from "../store.ts";
import { ociManifestBytes } from "./blobs.ts";
import { CONTAINERD_IMAGE_NAME, OCI_REF_NAME } from "./formats.ts";
import { dirItem, writeTar, type ArchiveOutput, type TarItem } from "./tarout.ts";

export type SaveFormat = "docker-archive" | "oci-archive";

export interface SaveOptions {
  format: SaveFormat;
  output: ArchiveOutput;
}

/** An image to save and the tags (as the user named them) to save it under. */
export interface SaveSelection {
  image: ImageRecord;
  refs: ImageReference[];
}

const EPOCH = new Date(0);
const HEX64 = /^(sha256:)?[a-f0-9]{64}$/;

/**
 * What `save a b c` means, as for Docker: a tagged name saves that tag; a
 * repository without tag saves all its tags; an id or digest reference saves
 * the image without tags.
 */
export function selectImages(images: ImageRecord[], names: readonly string[]): SaveSelection[] {
  const out: SaveSelection[] = [];
  const add = (image: ImageRecord, ref?: ImageReference): void => {
    let sel = out.find((s) => s.image.id === image.id);
    if (!sel) {
      sel = { image, refs: [] };
      out.push(sel);
    }
    if (ref && !sel.refs.some((r) => formatReference(r) === formatReference(ref))) sel.refs.push(ref);
  };
  for (const name of names) {
    let ref: ImageReference | undefined;
    if (!HEX64.test(name)) {
      try {
        ref = parseReference(name, { defaultTag: false });
      } catch {
        ref = undefined;
      }
    }
    if (ref && ref.tag === undefined && ref.digest === undefined) {
      const repo = repositoryName(ref);
      let found = false;
      for (const img of images) {
        for (const n of img.names) {
          if (!n.startsWith(`${repo}:`)) continue;
          add(img, parseReference(n));
          found = true;
        }
      }
      if (found) continue;
    }
    const img = resolveImage(images, name);
    const tagged = ref?.tag !== undefined && ref.digest === undefined ? ref : undefined;
    add(img, tagged && img.names.includes(formatReference(tagged)) ? tagged : undefined);
  }
  return out;
}

interface ImageParts {
  sel: SaveSelection;
  configBytes: Uint8Array;
  created: Date;
  manifestBytes: Uint8Array;
  manifest: ImageManifest;
  diffIds: Digest[];
}

function readParts(ctx: Context, sel: SaveSelection): ImageParts {
  const img = sel.image;
  const configBytes = ctx.content.readBytes(img.id);
  const config = parseImageConfig(configBytes, { name: `image ${img.id}` });
  const manifestBytes = ctx.content.readBytes(img.manifestDigest);
  const parsed = parseManifest(manifestBytes, img.manifestMediaType, { name: `image ${img.id}` });
  if (parsed.kind !== "manifest") throw new SkiffError("Internal", `image ${img.id}: stored manifest is an index`);
  const diffIds = config.rootfs.diff_ids as Digest[];
  if (diffIds.length !== parsed.manifest.layers.length || diffIds.length !== img.chainIds.length) {
    throw new SkiffError("Internal", `image ${img.id}: manifest, config and record disagree on the number of layers`);
  }
  const created = config.created ? new Date(config.created) : EPOCH;
  return {
    sel,
    configBytes,
    created: Number.isNaN(created.getTime()) ? EPOCH : created,
    manifestBytes,
    manifest: parsed.manifest,
    diffIds,
  };
}

function blobItem(d: Digest, size: number, mtime: Date, body: TarItem["body"], verify?: TarItem["verify"]): TarItem {
  return { name: `blobs/sha256/${digestHex(d)}`, size, mtime, ...(body ? { body } : {}), ...(verify ? { verify } : {}) };
}

function storedBlob(ctx: Context, d: Digest, mtime: Date, what: string): TarItem {
  const { size } = ctx.content.info(d);
  return blobItem(d, size, mtime, async () => ctx.content.stream(d), { digest: d, what });
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function json(v: unknown, newline = false): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(v)}${newline ? "\n" : ""}`);
}

function sortedBlobs(blobs: Map<string, TarItem>): TarItem[] {
  return [...blobs.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function indexEntry(desc: { mediaType: string; digest: Digest; size: number }, ref?: ImageReference): Record<string, unknown> {
  if (!ref?.tag) return { ...desc };
  return { ...desc, annotations: { [CONTAINERD_IMAGE_NAME]: formatReference(ref), [OCI_REF_NAME]: ref.tag } };
}

function dockerArchiveItems(ctx: Context, parts: ImageParts[]): TarItem[] {
  const blobs = new Map<string, TarItem>();
  const manifestJson: Record<string, unknown>[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  const index: Record<string, unknown>[] = [];
  for (const p of parts) {
    const img = p.sel.image;
    const layers = p.manifest.layers.map((l, i) => {
      const diffId = p.diffIds[i] as Digest;
      const chainId = img.chainIds[i] as Digest;
      const size = ctx.snapshots.meta(chainId)?.size;
      if (size === undefined) throw new SkiffError("NotFound", `image ${img.id}: layer ${diffId} has no snapshot; pull the image again`);
      const stored = l.digest as Digest;
      const compression = layerCompression(l.mediaType);
      if (compression === undefined) throw new SkiffError("Internal", `image ${img.id}: layer ${stored} has media type ${l.mediaType}`);
      if (!ctx.content.has(stored)) throw new SkiffError("NotFound", `image ${img.id}: layer blob ${stored} is missing; pull the image again`);
      const open = async (): Promise<AsyncIterable<Uint8Array>> =>
        (await decompress(ctx.content.stream(stored), compression, { what: `layer ${stored}` })).chunks;
      blobs.set(diffId, blobItem(diffId, size, p.created, open, { digest: diffId, what: `layer ${diffId} of image ${img.id}` }));
      return { diffId, size };
    });
    blobs.set(img.id, blobItem(img.id, p.configBytes.length, p.created, p.configBytes));
    const manifest = ociManifestBytes(
      { digest: img.id, size: p.configBytes.length },
      layers.map((l) => ({ digest: l.diffId, size: l.size, compression: "none" })),
    );
    const manifestDigest = sha256(manifest);
    blobs.set(manifestDigest, blobItem(manifestDigest, manifest.length, EPOCH, manifest));
    const desc = { mediaType: MediaType.OciManifest, digest: manifestDigest, size: manifest.length };
    if (p.sel.refs.length === 0) index.push(indexEntry(desc));
    for (const ref of p.sel.refs) {
      index.push(indexEntry(desc, ref));
      const repo = familiarString({ registry: ref.registry, repository: ref.repository });
      repositories[repo] = sortKeys({ ...repositories[repo], [ref.tag as string]: digestHex(layers[layers.length - 1]?.diffId ?? img.id) });
    }
    manifestJson.push({
      Config: `blobs/sha256/${digestHex(img.id)}`,
      RepoTags: p.sel.refs.length > 0 ? p.sel.refs.map((r) => familiarString(r)) : null,
      Layers: layers.map((l) => `blobs/sha256/${digestHex(l.diffId)}`),
      // Go writes map keys sorted.
      LayerSources: sortKeys(Object.fromEntries(layers.map((l) => [l.diffId, { mediaType: MediaType.OciLayer, size: l.size, digest: l.diffId }]))),
    });
  }
  const items: TarItem[] = [dirItem("blobs", EPOCH), dirItem("blobs/sha256", EPOCH), ...sortedBlobs(blobs)];
  items.push({ name: "index.json", size: 0, mtime: EPOCH, body: json({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: index }) });
  items.push({ name: "manifest.json", size: 0, mtime: EPOCH, body: json(manifestJson, true) });
  items.push({ name: "oci-layout", size: 0, mtime: EPOCH, body: new TextEncoder().encode('{"imageLayoutVersion": "1.0.0"}') });
  if (Object.keys(repositories).length > 0) items.push({ name: "repositories", size: 0, mtime: EPOCH, body: json(sortKeys(repositories), true) });
  return items.map(withSize);
}

function ociArchiveItems(ctx: Context, parts: ImageParts[]): TarItem[] {
  const blobs = new Map<string, TarItem>();
  const index: Record<string, unknown>[] = [];
  for (const p of parts) {
    const img = p.sel.image;
    blobs.set(img.manifestDigest, blobItem(img.manifestDigest, p.manifestBytes.length, EPOCH, p.manifestBytes));
    blobs.set(img.id, blobItem(img.id, p.configBytes.length, p.created, p.configBytes));
    for (const l of p.manifest.layers) {
      const d = l.digest as Digest;
      if (!blobs.has(d)) blobs.set(d, storedBlob(ctx, d, p.created, `blob ${d} of image ${img.id}`));
    }
    const desc = { mediaType: img.manifestMediaType, digest: img.manifestDigest, size: p.manifestBytes.length };
    if (p.sel.refs.length === 0) index.push(indexEntry(desc));
    for (const ref of p.sel.refs) index.push(indexEntry(desc, ref));
  }
  const items: TarItem[] = [dirItem("blobs", EPOCH), dirItem("blobs/sha256", EPOCH), ...sortedBlobs(blobs)];
  items.push({ name: "index.json", size: 0, mtime: EPOCH, body: json({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: index }) });
  items.push({ name: "oci-layout", size: 0, mtime: EPOCH, body: json({ imageLayoutVersion: "1.0.0" }) });
  return items.map(withSize);
}

function withSize(item: TarItem): TarItem {
  return item.body instanceof Uint8Array ? { ...item, size: item.body.length } : item;
}

/**
 * Writes `names` as one archive to `opts.output` (not ended). Everything is
 * checked before the first byte is written; a layer that turns out damaged
 * while streaming fails the call with the archive cut short.
 *
 *   await saveImages(ctx, ["busybox"], { format: "docker-archive", output: process.stdout });
 */
export async function saveImages(ctx: Context, names: string[], opts: SaveOptions): Promise<{ images: ImageRecord[] }> {
  try {
    if (names.length === 0) throw new SkiffError("InvalidArgument", "no images given");
    const selection = selectImages(ctx.images.list(), names);
    const parts = selection.map((sel) => readParts(ctx, sel));
    const items = opts.format === "docker-archive" ? dockerArchiveItems(ctx, parts) : ociArchiveItems(ctx, parts);
    await writeTar(items, opts.output);
    return { images: selection.map((s) => s.image) };
  } catch (e) {
    throw toSkiffError(e, `save ${names.join(" ")}`);
  }
}

/**
 * What an image archive holds, worked out from its metadata files: the
 * images, their names, config, layers and (when the archive has one) their
 * manifest. Reads files only through an ArchiveView, so it is tested on
 * archives built in memory.
 *
 * Flavours:
 * - docker-archive: `manifest.json` (`[{Config, RepoTags, Layers}]`) is the
 *   authority, as for `docker load`. Docker 25+ also writes an OCI layout
 *   (`index.json`, `blobs/sha256/…`) whose manifest describes the same blobs:
 *   that manifest is kept when its config and layer digests match the files
 *   manifest.json names. The legacy layout (Podman, skopeo, Docker < 25:
 *   `<hex>.tar` or `<id>/layer.tar`, `<hex>.json`) has no manifest.
 * - oci-archive: `index.json` only. Each entry is an image manifest or an
 *   index (then the platform's manifest among those present is used). Names
 *   come from `io.containerd.image.name`, else from
 *   `org.opencontainers.image.ref.name` when that is a full reference
 *   (`busybox:1.0`, `example.com/app:2`); a bare ref name (`1.0`, `latest`)
 *   names no repository, so that image loads untagged.
 */
import { z } from "zod";
import { digestAlgorithm, digestHex, type Digest } from "../../digest.ts";
import { SkiffError } from "../../errors.ts";
import { formatReference, parseReference } from "../../registry/reference.ts";
import {
  hostPlatform,
  isAttestationManifest,
  MediaType,
  parseManifest,
  selectManifest,
  type Descriptor,
  type ImageManifest,
  type Platform,
} from "../manifest.ts";
import type { ArchiveFile, ArchiveView } from "./entries.ts";

export const CONTAINERD_IMAGE_NAME = "io.containerd.image.name";
export const OCI_REF_NAME = "org.opencontainers.image.ref.name";
/** Cap for manifest.json, index.json, manifests and configs. */
export const MAX_METADATA_SIZE = 16 << 20;
const MAX_INDEX_DEPTH = 4;

export type ArchiveFormat = "docker-archive" | "oci-archive";

/** One entry of a docker-archive's manifest.json. */
export const DockerManifestEntrySchema = z
  .object({
    Config: z.string(),
    RepoTags: z.array(z.string()).nullish(),
    Layers: z.array(z.string()),
    Parent: z.string().optional(),
    LayerSources: z.record(z.unknown()).nullish(),
  })
  .passthrough();
export type DockerManifestEntry = z.infer<typeof DockerManifestEntrySchema>;

export interface ArchiveManifest {
  file: ArchiveFile;
  mediaType: string;
  manifest: ImageManifest;
}

export interface PlannedImage {
  /** Where in the archive it was found, for messages. */
  source: string;
  /** Fully qualified tagged names; empty for an untagged image. */
  names: string[];
  config: ArchiveFile;
  layers: ArchiveFile[];
  /** The archive's own manifest for these blobs; absent in legacy docker archives. */
  manifest?: ArchiveManifest;
}

export interface ArchivePlan {
  format: ArchiveFormat;
  images: PlannedImage[];
  warnings: string[];
}

export function parseDockerManifestJson(bytes: Uint8Array | string): DockerManifestEntry[] {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof bytes === "string" ? bytes : new TextDecoder().decode(bytes));
  } catch {
    throw new SkiffError("InvalidArgument", "manifest.json: not valid JSON");
  }
  const parsed = z.array(DockerManifestEntrySchema).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SkiffError("InvalidArgument", `manifest.json: ${issue?.message ?? "invalid"} at ${issue?.path.join(".") || "top"}`);
  }
  return parsed.data;
}

function withoutDigest(input: string): string | undefined {
  const ref = parseReference(input);
  if (ref.tag === undefined) return undefined;
  return formatReference({ registry: ref.registry, repository: ref.repository, tag: ref.tag });
}

/** A RepoTag (`busybox:latest`, `docker.io/library/busybox:latest`) as a full name; InvalidArgument if malformed. */
export function nameFromRepoTag(tag: string): string | undefined {
  return withoutDigest(tag);
}

/**
 * The name an index entry gives its image, or undefined.
 * @example nameFromAnnotations({ "org.opencontainers.image.ref.name": "busybox:1.0" }) // "docker.io/library/busybox:1.0"
 * @example nameFromAnnotations({ "org.opencontainers.image.ref.name": "1.0" }) // undefined
 */
export function nameFromAnnotations(annotations: Record<string, string> | undefined): string | undefined {
  const full = annotations?.[CONTAINERD_IMAGE_NAME];
  if (full) return withoutDigest(full);
  const ref = annotations?.[OCI_REF_NAME];
  if (ref && /[/:@]/.test(ref)) return withoutDigest(ref);
  return undefined;
}

/** `blobs/sha256/<hex>` for a descriptor. */
export function blobName(d: Digest): string {
  return `blobs/${digestAlgorithm(d)}/${digestHex(d)}`;
}

function requireFile(view: ArchiveView, name: string, source: string): ArchiveFile {
  const f = view.file(name);
  if (!f) throw new SkiffError("InvalidArgument", `${source}: ${JSON.stringify(name)} is not in the archive`);
  checkNamedDigest(f);
  return f;
}

/** A file named `blobs/sha256/<hex>` must hash to that digest. */
function checkNamedDigest(f: ArchiveFile): void {
  const m = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(f.name);
  if (m && f.digest !== `sha256:${m[1]}`) {
    throw new SkiffError("InvalidArgument", `archive blob ${f.name} is corrupt: its content has digest ${f.digest}`);
  }
}

function requireBlob(view: ArchiveView, d: Descriptor, source: string): ArchiveFile {
  const digest = d.digest as Digest;
  if (digestAlgorithm(digest) !== "sha256") {
    throw new SkiffError("InvalidArgument", `${source}: blob ${digest} uses an unsupported digest algorithm`);
  }
  const f = requireFile(view, blobName(digest), source);
  if (f.size !== d.size) {
    throw new SkiffError("InvalidArgument", `${source}: blob ${digest} is ${f.size} bytes, the descriptor says ${d.size}`);
  }
  return f;
}

function readManifest(view: ArchiveView, file: ArchiveFile, mediaType: string, source: string) {
  return parseManifest(view.readBytes(file, MAX_METADATA_SIZE), mediaType, { name: source });
}

function isImageConfig(mediaType: string): boolean {
  return mediaType === MediaType.OciConfig || mediaType === MediaType.DockerConfig;
}

/**
 * Follows an index entry down to an image manifest; undefined (with a
 * warning) for artifacts that are not container images.
 */
function resolveImageManifest(
  view: ArchiveView,
  d: Descriptor,
  ctx: { platform: Platform; source: string; warnings: string[] },
  depth = 0,
): ArchiveManifest | undefined {
  if (depth > MAX_INDEX_DEPTH) throw new SkiffError("InvalidArgument", `${ctx.source}: indexes nested too deep`);
  const file = requireBlob(view, d, ctx.source);
  const parsed = readManifest(view, file, d.mediaType, ctx.source);
  if (parsed.kind === "index") {
    // Docker and containerd save the whole index but only the blobs of the
    // platforms they have: choose among the entries present.
    const present = parsed.index.manifests.filter((m) => !isAttestationManifest(m) && view.file(blobName(m.digest as Digest)));
    if (present.length === 0) throw new SkiffError("InvalidArgument", `${ctx.source}: none of the index's manifests is in the archive`);
    const chosen = selectManifest({ ...parsed.index, manifests: present }, ctx.platform);
    return resolveImageManifest(view, chosen, ctx, depth + 1);
  }
  if (!isImageConfig(parsed.manifest.config.mediaType)) {
    ctx.warnings.push(`${ctx.source}: not a container image (config type ${parsed.manifest.config.mediaType}); skipped`);
    return undefined;
  }
  return { file, mediaType: parsed.mediaType, manifest: parsed.manifest };
}

/** Every image manifest reachable from index.json whose blob is present (for matching docker entries). */
function collectManifests(view: ArchiveView, warnings: string[]): ArchiveManifest[] {
  const out: ArchiveManifest[] = [];
  const visit = (d: Descriptor, depth: number): void => {
    if (depth > MAX_INDEX_DEPTH || digestAlgorithm(d.digest as Digest) !== "sha256") return;
    const file = view.file(blobName(d.digest as Digest));
    if (!file || file.digest !== d.digest) return;
    const parsed = readManifest(view, file, d.mediaType, "index.json");
    if (parsed.kind === "index") {
      for (const m of parsed.index.manifests) visit(m, depth + 1);
    } else if (isImageConfig(parsed.manifest.config.mediaType)) {
      out.push({ file, mediaType: parsed.mediaType, manifest: parsed.manifest });
    }
  };
  const index = view.file("index.json");
  if (!index) return out;
  try {
    const top = readManifest(view, index, MediaType.OciIndex, "index.json");
    if (top.kind === "index") for (const d of top.index.manifests) visit(d, 0);
  } catch (e) {
    // manifest.json is the authority in a docker archive; a broken OCI side is only noted.
    warnings.push(`index.json ignored: ${(e as Error).message}`);
  }
  return out;
}

function sameBlobs(m: ImageManifest, config: ArchiveFile, layers: ArchiveFile[]): boolean {
  return (
    m.config.digest === config.digest &&
    m.layers.length === layers.length &&
    m.layers.every((l, i) => l.digest === layers[i]?.digest && l.size === layers[i]?.size)
  );
}

function planDocker(view: ArchiveView, manifestJson: ArchiveFile, warnings: string[]): PlannedImage[] {
  const entries = parseDockerManifestJson(view.readBytes(manifestJson, MAX_METADATA_SIZE));
  if (entries.length === 0) throw new SkiffError("InvalidArgument", "manifest.json lists no images");
  const candidates = collectManifests(view, warnings);
  return entries.map((e, i) => {
    const source = `manifest.json entry ${i + 1}`;
    const config = requireFile(view, e.Config, source);
    const layers = e.Layers.map((l) => requireFile(view, l, source));
    const names: string[] = [];
    for (const tag of e.RepoTags ?? []) {
      let name: string | undefined;
      try {
        name = nameFromRepoTag(tag);
      } catch (err) {
        throw new SkiffError("InvalidArgument", `${source}: ${(err as Error).message}`);
      }
      if (name && !names.includes(name)) names.push(name);
    }
    const manifest = candidates.find((c) => sameBlobs(c.manifest, config, layers));
    return { source, names, config, layers, ...(manifest ? { manifest } : {}) };
  });
}

function planOci(view: ArchiveView, indexJson: ArchiveFile, platform: Platform, warnings: string[]): PlannedImage[] {
  const top = readManifest(view, indexJson, MediaType.OciIndex, "index.json");
  if (top.kind !== "index") throw new SkiffError("InvalidArgument", "index.json is not an image index");
  const byManifest = new Map<string, PlannedImage>();
  top.index.manifests.forEach((d, i) => {
    if (isAttestationManifest(d)) return;
    const source = `index.json entry ${i + 1}`;
    const found = resolveImageManifest(view, d, { platform, source, warnings });
    if (!found) return;
    let name: string | undefined;
    try {
      name = nameFromAnnotations(d.annotations);
    } catch (err) {
      warnings.push(`${source}: ignoring its name: ${(err as Error).message}`);
    }
    const seen = byManifest.get(found.file.digest);
    if (seen) {
      if (name && !seen.names.includes(name)) seen.names.push(name);
      return;
    }
    byManifest.set(found.file.digest, {
      source,
      names: name ? [name] : [],
      config: requireBlob(view, found.manifest.config, source),
      layers: found.manifest.layers.map((l) => requireBlob(view, l, source)),
      manifest: found,
    });
  });
  return [...byManifest.values()];
}

/**
 * Works out what an extracted archive holds. `platform` picks from
 * multi-platform indexes (default: the host).
 */
export function planArchive(view: ArchiveView, opts: { platform?: Platform } = {}): ArchivePlan {
  const warnings: string[] = [];
  const manifestJson = view.file("manifest.json");
  if (manifestJson) return { format: "docker-archive", images: planDocker(view, manifestJson, warnings), warnings };
  const indexJson = view.file("index.json");
  if (indexJson) {
    const images = planOci(view, indexJson, opts.platform ?? hostPlatform(), warnings);
    if (images.length === 0) throw new SkiffError("InvalidArgument", "index.json lists no container images");
    return { format: "oci-archive", images, warnings };
  }
  throw new SkiffError(
    "InvalidArgument",
    "not an image archive: it has neither manifest.json (docker-archive) nor index.json (oci-archive)",
  );
}

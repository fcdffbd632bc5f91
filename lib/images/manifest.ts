/**
 * Image manifests, indexes and configs as registries serve them (OCI and
 * Docker v2 schema 2), checked with zod at the edge. Shared by pull, push,
 * inspect, save/load and the API. Schemas pass unknown fields through, so a
 * parsed document keeps everything it had when serialised again.
 *
 * Platform choice lives in ./platform.ts and is re-exported from here.
 */
import { z } from "zod";
import { isDigest, type Digest } from "../digest.ts";
import { SkiffError } from "../errors.ts";

export * from "./platform.ts";

/** Media types skiff knows about. */
export const MediaType = {
  OciManifest: "application/vnd.oci.image.manifest.v1+json",
  OciIndex: "application/vnd.oci.image.index.v1+json",
  OciConfig: "application/vnd.oci.image.config.v1+json",
  OciLayer: "application/vnd.oci.image.layer.v1.tar",
  OciLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  OciLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  OciLayerNondistributable: "application/vnd.oci.image.layer.nondistributable.v1.tar",
  OciLayerNondistributableGzip: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  OciLayerNondistributableZstd: "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
  OciEmpty: "application/vnd.oci.empty.v1+json",
  DockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  DockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  DockerConfig: "application/vnd.docker.container.image.v1+json",
  DockerLayer: "application/vnd.docker.image.rootfs.diff.tar",
  DockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  DockerLayerZstd: "application/vnd.docker.image.rootfs.diff.tar.zstd",
  DockerForeignLayerGzip: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  DockerSchema1Manifest: "application/vnd.docker.distribution.manifest.v1+json",
  DockerSchema1SignedManifest: "application/vnd.docker.distribution.manifest.v1+prettyjws",
} as const;

/** Manifest and index types, in order of preference, for a registry's Accept header. */
export const MANIFEST_ACCEPT: readonly string[] = [
  MediaType.OciIndex,
  MediaType.DockerManifestList,
  MediaType.OciManifest,
  MediaType.DockerManifest,
  // Asked for only so a schema 1 image is recognised and refused clearly.
  MediaType.DockerSchema1SignedManifest,
  MediaType.DockerSchema1Manifest,
];

const MANIFEST_TYPES: ReadonlySet<string> = new Set([MediaType.OciManifest, MediaType.DockerManifest]);
const INDEX_TYPES: ReadonlySet<string> = new Set([MediaType.OciIndex, MediaType.DockerManifestList]);
const SCHEMA1_TYPES: ReadonlySet<string> = new Set([
  MediaType.DockerSchema1Manifest,
  MediaType.DockerSchema1SignedManifest,
]);

/** True for Docker schema 1 media types (which skiff refuses). */
export function isSchema1MediaType(mediaType: string): boolean {
  return SCHEMA1_TYPES.has(mediaType);
}
/** True for image manifest media types (OCI, Docker schema 2). */
export function isManifestMediaType(mediaType: string): boolean {
  return MANIFEST_TYPES.has(mediaType);
}
/** True for index / manifest list media types. */
export function isIndexMediaType(mediaType: string): boolean {
  return INDEX_TYPES.has(mediaType);
}

const digestSchema = z.lazy(() => z.custom<Digest>((v) => typeof v === "string" && isDigest(v), { message: "invalid digest" }));
const stringMap = z.lazy(() => z.record(z.string()));

export const PlatformSchema = z.lazy(() =>
  z
  .object({
    architecture: z.string(),
    os: z.string(),
    "os.version": z.string().optional(),
    "os.features": z.array(z.string()).optional(),
    variant: z.string().optional(),
    features: z.array(z.string()).optional(),
  })
  .passthrough(),
);
/** A descriptor's platform, as in an index. */
export type DescriptorPlatform = z.infer<typeof PlatformSchema>;

export const DescriptorSchema = z.lazy(() =>
  z
  .object({
    mediaType: z.string(),
    digest: digestSchema,
    size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    urls: z.array(z.string()).optional(),
    annotations: stringMap.optional(),
    platform: PlatformSchema.optional(),
    artifactType: z.string().optional(),
    data: z.string().optional(),
  })
  .passthrough(),
);
/** Content descriptor: what a manifest says about a blob. */
export type Descriptor = z.infer<typeof DescriptorSchema>;

export const ImageManifestSchema = z.lazy(() =>
  z
  .object({
    schemaVersion: z.literal(2),
    mediaType: z.string().optional(),
    artifactType: z.string().optional(),
    config: DescriptorSchema,
    layers: z.array(DescriptorSchema),
    subject: DescriptorSchema.optional(),
    annotations: stringMap.optional(),
  })
  .passthrough(),
);
/** An image manifest (OCI or Docker schema 2). */
export type ImageManifest = z.infer<typeof ImageManifestSchema>;

export const ImageIndexSchema = z.lazy(() =>
  z
  .object({
    schemaVersion: z.literal(2),
    mediaType: z.string().optional(),
    artifactType: z.string().optional(),
    manifests: z.array(DescriptorSchema),
    subject: DescriptorSchema.optional(),
    annotations: stringMap.optional(),
  })
  .passthrough(),
);
/** An image index (OCI) or manifest list (Docker). */
export type ImageIndex = z.infer<typeof ImageIndexSchema>;

/** Docker's healthcheck; durations are nanoseconds. */
export const HealthcheckSchema = z.lazy(() =>
  z
  .object({
    Test: z.array(z.string()).nullish(),
    Interval: z.number().nullish(),
    Timeout: z.number().nullish(),
    StartPeriod: z.number().nullish(),
    StartInterval: z.number().nullish(),
    Retries: z.number().nullish(),
  })
  .passthrough(),
);
export type Healthcheck = z.infer<typeof HealthcheckSchema>;

/** Sets written as maps to empty objects: `{"80/tcp": {}}`. */
const emptyObjectMap = z.lazy(() => z.record(z.object({}).passthrough()));

export const ContainerConfigSchema = z.lazy(() =>
  z
  .object({
    User: z.string().nullish(),
    ExposedPorts: emptyObjectMap.nullish(),
    Env: z.array(z.string()).nullish(),
    Entrypoint: z.array(z.string()).nullish(),
    Cmd: z.array(z.string()).nullish(),
    Volumes: emptyObjectMap.nullish(),
    WorkingDir: z.string().nullish(),
    Labels: stringMap.nullish(),
    StopSignal: z.string().nullish(),
    ArgsEscaped: z.boolean().nullish(),
    Healthcheck: HealthcheckSchema.nullish(),
    OnBuild: z.array(z.string()).nullish(),
    Shell: z.array(z.string()).nullish(),
  })
  .passthrough(),
);
/** The runtime defaults in an image config (`config` field). */
export type ContainerConfig = z.infer<typeof ContainerConfigSchema>;

export const HistorySchema = z.lazy(() =>
  z
  .object({
    created: z.string().optional(),
    created_by: z.string().optional(),
    author: z.string().optional(),
    comment: z.string().optional(),
    empty_layer: z.boolean().optional(),
  })
  .passthrough(),
);
export type History = z.infer<typeof HistorySchema>;

export const ImageConfigSchema = z.lazy(() =>
  z
  .object({
    created: z.string().optional(),
    author: z.string().optional(),
    architecture: z.string(),
    os: z.string(),
    "os.version": z.string().optional(),
    "os.features": z.array(z.string()).optional(),
    variant: z.string().optional(),
    config: ContainerConfigSchema.nullish(),
    rootfs: z.object({ type: z.string(), diff_ids: z.array(digestSchema) }).passthrough(),
    history: z.array(HistorySchema).nullish(),
  })
  .passthrough(),
);
/** OCI image config (also Docker's `application/vnd.docker.container.image.v1+json`). */
export type ImageConfig = z.infer<typeof ImageConfigSchema>;

/** A parsed manifest document: an image manifest or an index. */
export type ParsedManifest =
  | { kind: "manifest"; mediaType: string; manifest: ImageManifest }
  | { kind: "index"; mediaType: string; index: ImageIndex };

function schema1Error(name: string): SkiffError {
  return new SkiffError(
    "InvalidArgument",
    `${name} uses the deprecated Docker schema 1 manifest format, which skiff does not support; push it again with a current client`,
  );
}

function zodMessage(err: z.ZodError): string {
  const issue = err.issues[0];
  const at = issue && issue.path.length > 0 ? ` at ${issue.path.join(".")}` : "";
  return `${issue?.message ?? "invalid"}${at}`;
}

function decodeJson(bytes: Uint8Array | string, what: string): unknown {
  try {
    return JSON.parse(typeof bytes === "string" ? bytes : new TextDecoder().decode(bytes));
  } catch {
    throw new SkiffError("InvalidArgument", `${what}: not valid JSON`);
  }
}

/** `application/json; charset=utf-8` → `application/json`. */
export function stripMediaTypeParams(contentType: string): string {
  return (contentType.split(";")[0] ?? "").trim().toLowerCase();
}

/**
 * Parses manifest bytes into a manifest or an index. The kind comes from the
 * body's `mediaType`, then from the Content-Type header, then from the shape
 * (`manifests` vs `layers`). Schema 1 is refused with a clear message.
 *
 *   const m = parseManifest(bytes, res.headers.get("content-type") ?? undefined, { name: "busybox:latest" });
 *   if (m.kind === "index") selectManifest(m.index, hostPlatform());
 */
export function parseManifest(
  bytes: Uint8Array | string,
  contentType?: string,
  opts: { name?: string } = {},
): ParsedManifest {
  const name = opts.name ?? "image";
  const raw = decodeJson(bytes, `${name}: manifest`);
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new SkiffError("InvalidArgument", `${name}: manifest is not a JSON object`);
  }
  const doc = raw as Record<string, unknown>;
  const header = contentType ? stripMediaTypeParams(contentType) : "";
  const bodyType = typeof doc.mediaType === "string" ? doc.mediaType : "";
  if (doc.schemaVersion === 1 || isSchema1MediaType(bodyType) || (bodyType === "" && isSchema1MediaType(header))) {
    throw schema1Error(name);
  }
  let mediaType = bodyType;
  if (mediaType === "") {
    if (isManifestMediaType(header) || isIndexMediaType(header)) mediaType = header;
    else if (Array.isArray(doc.manifests)) mediaType = MediaType.OciIndex;
    else if ("config" in doc && Array.isArray(doc.layers)) mediaType = MediaType.OciManifest;
  }
  if (isIndexMediaType(mediaType)) {
    const parsed = ImageIndexSchema.safeParse(doc);
    if (!parsed.success) throw new SkiffError("InvalidArgument", `${name}: invalid image index: ${zodMessage(parsed.error)}`);
    return { kind: "index", mediaType, index: parsed.data };
  }
  if (isManifestMediaType(mediaType)) {
    const parsed = ImageManifestSchema.safeParse(doc);
    if (!parsed.success) throw new SkiffError("InvalidArgument", `${name}: invalid image manifest: ${zodMessage(parsed.error)}`);
    return { kind: "manifest", mediaType, manifest: parsed.data };
  }
  throw new SkiffError(
    "InvalidArgument",
    `${name}: unsupported manifest media type ${JSON.stringify(mediaType || header || "(none)")}`,
  );
}

/** Parses and validates an image config blob. */
export function parseImageConfig(bytes: Uint8Array | string, opts: { name?: string } = {}): ImageConfig {
  const what = `${opts.name ?? "image"}: config`;
  const parsed = ImageConfigSchema.safeParse(decodeJson(bytes, what));
  if (!parsed.success) throw new SkiffError("InvalidArgument", `${what}: ${zodMessage(parsed.error)}`);
  return parsed.data;
}

/** Compression of a layer, from its media type. */
export type LayerCompression = "gzip" | "zstd" | "none";

const LAYER_COMPRESSION: Readonly<Record<string, LayerCompression>> = {
  [MediaType.OciLayer]: "none",
  [MediaType.OciLayerGzip]: "gzip",
  [MediaType.OciLayerZstd]: "zstd",
  [MediaType.OciLayerNondistributable]: "none",
  [MediaType.OciLayerNondistributableGzip]: "gzip",
  [MediaType.OciLayerNondistributableZstd]: "zstd",
  [MediaType.DockerLayer]: "none",
  [MediaType.DockerLayerGzip]: "gzip",
  [MediaType.DockerLayerZstd]: "zstd",
  [MediaType.DockerForeignLayerGzip]: "gzip",
};

/** Known types that appear among layers but are not filesystem tars (artifacts, empty blobs). */
const NON_LAYER_TYPES: ReadonlySet<string> = new Set([
  MediaType.OciEmpty,
  MediaType.OciConfig,
  MediaType.DockerConfig,
]);

/**
 * How a layer is compressed, from its media type: "gzip", "zstd" or "none";
 * undefined for known types that are not filesystem layers (the OCI empty
 * descriptor, configs). Any other type is InvalidArgument.
 *
 *   layerCompression("application/vnd.oci.image.layer.v1.tar+zstd") // "zstd"
 */
export function layerCompression(mediaType: string): LayerCompression | undefined {
  const c = LAYER_COMPRESSION[mediaType];
  if (c !== undefined) return c;
  if (NON_LAYER_TYPES.has(mediaType)) return undefined;
  throw new SkiffError("InvalidArgument", `unsupported layer media type ${JSON.stringify(mediaType)}`);
}

/** True for layers that registries do not serve (foreign / non-distributable): fetch from `urls`. */
export function isForeignLayer(mediaType: string): boolean {
  return mediaType === MediaType.DockerForeignLayerGzip || mediaType.startsWith("application/vnd.oci.image.layer.nondistributable.");
}

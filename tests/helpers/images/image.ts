/** Configs, manifests and indexes for an ImageSpec, built in memory. */
import { FIXED_CREATED, hex, sha256, utf8 } from "./bytes.ts";
import { buildLayer } from "./layer.ts";
import type { BuiltLayer, ImageSpec, IndexSpec } from "./types.ts";

export const MANIFEST_TYPES = {
  oci: {
    manifest: "application/vnd.oci.image.manifest.v1+json",
    index: "application/vnd.oci.image.index.v1+json",
    config: "application/vnd.oci.image.config.v1+json",
  },
  docker: {
    manifest: "application/vnd.docker.distribution.manifest.v2+json",
    index: "application/vnd.docker.distribution.manifest.list.v2+json",
    config: "application/vnd.docker.container.image.v1+json",
  },
} as const;

export const IN_TOTO_TYPE = "application/vnd.in-toto+json";

export interface Blob {
  digest: string;
  size: number;
  mediaType: string;
  bytes: Uint8Array;
}

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface BuiltImage {
  manifest: Blob;
  config: Blob;
  layers: BuiltLayer[];
  /** Also the extra blobs of an attestation (its in-toto layer). */
  extraBlobs: Blob[];
  platform: Platform;
  annotations?: Record<string, string>;
}

export interface BuiltIndex {
  index: Blob;
  images: BuiltImage[];
}

function blob(bytes: Uint8Array, mediaType: string): Blob {
  return { digest: sha256(bytes), size: bytes.length, mediaType, bytes };
}

function json(v: unknown): Uint8Array {
  return utf8(JSON.stringify(v));
}

function descriptor(b: Blob, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { mediaType: b.mediaType, digest: b.digest, size: b.size, ...extra };
}

export function platformOf(spec: ImageSpec): Platform {
  const p: Platform = { architecture: spec.architecture ?? "amd64", os: spec.os ?? "linux" };
  if (spec.variant !== undefined) p.variant = spec.variant;
  return p;
}

/** "linux/arm64/v8" */
export function platformString(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((s) => s !== undefined).join("/");
}

export async function buildImage(spec: ImageSpec): Promise<BuiltImage> {
  const kind = spec.mediaTypes ?? "oci";
  const types = MANIFEST_TYPES[kind];
  const created = spec.created ?? FIXED_CREATED;
  const layers: BuiltLayer[] = [];
  for (const l of spec.layers) layers.push(await buildLayer(l, { mediaTypes: kind }));
  const platform = platformOf(spec);
  const config = blob(
    json({
      created,
      architecture: platform.architecture,
      ...(platform.variant !== undefined ? { variant: platform.variant } : {}),
      os: platform.os,
      config: spec.config ?? {},
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
      history: spec.layers.map((l, i) => ({
        created,
        created_by: `skiff fixture layer ${i + 1} (${l.compression}, ${l.entries.length} entries)`,
      })),
    }),
    types.config,
  );
  const manifest = blob(
    json({
      schemaVersion: 2,
      mediaType: types.manifest,
      config: descriptor(config),
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.blob.length })),
    }),
    types.manifest,
  );
  const out: BuiltImage = { manifest, config, layers, extraBlobs: [], platform };
  if (spec.annotations) out.annotations = spec.annotations;
  return out;
}

/** A BuildKit-style attestation manifest (unknown/unknown, one in-toto SPDX statement) for `subject`. */
function buildAttestation(subject: BuiltImage, spec: ImageSpec): BuiltImage {
  const t = MANIFEST_TYPES.oci;
  const statement = blob(
    json({
      _type: "https://in-toto.io/Statement/v0.1",
      predicateType: "https://spdx.dev/Document",
      subject: [
        {
          name: `pkg:docker/skiff-fixture@latest?platform=${encodeURIComponent(platformString(subject.platform))}`,
          digest: { sha256: hex(subject.manifest.digest) },
        },
      ],
      predicate: { spdxVersion: "SPDX-2.3", name: "skiff fixture", packages: [] },
    }),
    IN_TOTO_TYPE,
  );
  const config = blob(
    json({
      architecture: "unknown",
      os: "unknown",
      config: {},
      rootfs: { type: "layers", diff_ids: [statement.digest] },
    }),
    t.config,
  );
  const manifest = blob(
    json({
      schemaVersion: 2,
      mediaType: t.manifest,
      config: descriptor(config),
      layers: [descriptor(statement, { annotations: { "in-toto.io/predicate-type": "https://spdx.dev/Document" } })],
    }),
    t.manifest,
  );
  return {
    manifest,
    config,
    layers: [],
    extraBlobs: [statement],
    platform: { architecture: "unknown", os: "unknown" },
    annotations: {
      "vnd.docker.reference.digest": subject.manifest.digest,
      "vnd.docker.reference.type": "attestation-manifest",
      ...spec.annotations,
    },
  };
}

export async function buildIndex(spec: IndexSpec): Promise<BuiltIndex> {
  const kind = spec.mediaTypes ?? "oci";
  const images: (BuiltImage | undefined)[] = [];
  for (const p of spec.platforms) images.push(p.attestationFor === undefined ? await buildImage(p) : undefined);
  spec.platforms.forEach((p, i) => {
    if (p.attestationFor === undefined) return;
    const subject = images[p.attestationFor];
    if (subject === undefined) throw new Error(`index platform ${i}: attestationFor ${p.attestationFor} is not an image`);
    images[i] = buildAttestation(subject, p);
  });
  const built = images as BuiltImage[];
  const index = blob(
    json({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPES[kind].index,
      manifests: built.map((img) =>
        descriptor(img.manifest, { platform: img.platform, ...(img.annotations ? { annotations: img.annotations } : {}) }),
      ),
      ...(spec.annotations ? { annotations: spec.annotations } : {}),
    }),
    MANIFEST_TYPES[kind].index,
  );
  return { index, images: built };
}

/** Every blob an image needs, config and manifest included. */
export function imageBlobs(img: BuiltImage): Blob[] {
  return [
    img.manifest,
    img.config,
    ...img.layers.map((l) => ({ digest: l.digest, size: l.blob.length, mediaType: l.mediaType, bytes: l.blob })),
    ...img.extraBlobs,
  ];
}

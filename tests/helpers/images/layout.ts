/** OCI image layouts (oci-layout, index.json, blobs/sha256) written by hand. */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { hex, utf8 } from "./bytes.ts";
import { type Blob, buildImage, buildIndex, type BuiltImage, type BuiltIndex, imageBlobs, MANIFEST_TYPES } from "./image.ts";
import type { ImageSpec, IndexSpec } from "./types.ts";

export const REF_NAME = "org.opencontainers.image.ref.name";

export type LayoutContent = { tag: string; spec: ImageSpec }[] | { index: IndexSpec & { tag: string } };

export interface LayoutRef {
  tag: string;
  /** The manifest (or index) index.json points at. */
  top: Blob;
  /** One image, or every image of the index in order (attestations included). */
  images: BuiltImage[];
  index?: BuiltIndex;
}

export interface Layout {
  dir: string;
  refs: LayoutRef[];
}

async function writeBlobs(dir: string, blobs: Blob[]): Promise<void> {
  await mkdir(join(dir, "blobs", "sha256"), { recursive: true });
  for (const b of blobs) await writeFile(join(dir, "blobs", "sha256", hex(b.digest)), b.bytes);
}

/** Writes `content` as an OCI image layout in `dir` (created if missing), tags as ref.name annotations. */
export async function writeImageLayout(dir: string, content: LayoutContent): Promise<Layout> {
  const refs: LayoutRef[] = [];
  if (Array.isArray(content)) {
    for (const { tag, spec } of content) {
      const img = await buildImage(spec);
      refs.push({ tag, top: img.manifest, images: [img] });
    }
  } else {
    const { tag, ...spec } = content.index;
    const idx = await buildIndex(spec);
    refs.push({ tag, top: idx.index, images: idx.images, index: idx });
  }
  const blobs: Blob[] = [];
  for (const r of refs) {
    if (r.index) blobs.push(r.index.index);
    for (const img of r.images) blobs.push(...imageBlobs(img));
  }
  await writeBlobs(dir, blobs);
  await writeFile(join(dir, "oci-layout"), utf8(JSON.stringify({ imageLayoutVersion: "1.0.0" })));
  const index = {
    schemaVersion: 2,
    mediaType: MANIFEST_TYPES.oci.index,
    manifests: refs.map((r) => ({
      mediaType: r.top.mediaType,
      digest: r.top.digest,
      size: r.top.size,
      annotations: { [REF_NAME]: r.tag },
    })),
  };
  await writeFile(join(dir, "index.json"), utf8(JSON.stringify(index)));
  return { dir, refs };
}

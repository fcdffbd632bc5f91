/**
 * Finding a local image from what a user typed: a full or short id, a name
 * (normalised as Docker does, `busybox` → `docker.io/library/busybox:latest`),
 * or a name with a digest.
 */
import { SkiffError } from "../errors.ts";
import { formatReference, parseReference, repositoryName, type ImageReference } from "../registry/reference.ts";
import type { ImageRecord } from "./store.ts";

const HEX = /^[a-f0-9]+$/;

function idHex(id: string): string {
  return id.slice(id.indexOf(":") + 1);
}

function tryParse(input: string): ImageReference | undefined {
  try {
    return parseReference(input);
  } catch {
    return undefined;
  }
}

/** Returns the image, or undefined when nothing matches; throws on ambiguity. */
export function findImage(images: ImageRecord[], input: string): ImageRecord | undefined {
  const raw = input.startsWith("sha256:") ? input.slice(7) : input;
  if (HEX.test(raw) && raw.length === 64) {
    const byId = images.find((i) => idHex(i.id) === raw);
    if (byId) return byId;
  }
  const ref = tryParse(input);
  if (ref) {
    if (ref.digest) {
      const repo = repositoryName(ref);
      const wanted = `${repo}@${ref.digest}`;
      const hit = images.find((i) => i.repoDigests.includes(wanted) || (i.manifestDigest === ref.digest && hasRepo(i, repo)));
      if (hit) return hit;
    } else {
      const name = formatReference(ref);
      const hit = images.find((i) => i.names.includes(name));
      if (hit) return hit;
    }
  }
  if (HEX.test(raw) && raw.length >= 3) {
    const matches = images.filter((i) => idHex(i.id).startsWith(raw));
    if (matches.length > 1) throw new SkiffError("InvalidArgument", `short id ${raw} is ambiguous: it matches ${matches.length} images`);
    if (matches[0]) return matches[0];
  }
  return undefined;
}

function hasRepo(img: ImageRecord, repo: string): boolean {
  return img.names.some((n) => n.startsWith(`${repo}:`)) || img.repoDigests.some((d) => d.startsWith(`${repo}@`));
}

export function resolveImage(images: ImageRecord[], input: string): ImageRecord {
  const img = findImage(images, input);
  if (!img) throw new SkiffError("NotFound", `no such image: ${input}`);
  return img;
}

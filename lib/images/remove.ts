/**
 * rmi and image prune with Docker's rules: removing a name untags; the image
 * itself goes when its last name does (or when removed by id). An image used
 * by a container, or referenced by several repositories when removed by id,
 * needs --force.
 */
import type { Context } from "../context.ts";
import { SkiffError } from "../errors.ts";
import { formatReference, parseReference } from "../registry/reference.ts";
import { collectGarbage } from "./gc.ts";
import { findImage } from "./resolve.ts";
import type { ImageRecord } from "./store.ts";

export interface RemoveReport {
  untagged: string[];
  deleted: string[];
}

/** Names of the containers created from an image (whatever their state). */
export function imageUsers(ctx: Context, imageId: string): string[] {
  return ctx.containers
    .list()
    .filter((c) => c.image.id === imageId)
    .map((c) => c.name);
}

function isNameOf(img: ImageRecord, input: string): string | undefined {
  try {
    const ref = parseReference(input);
    if (ref.digest) {
      const full = formatReference(ref);
      return img.repoDigests.find((d) => d === full);
    }
    const full = formatReference(ref);
    return img.names.includes(full) ? full : undefined;
  } catch {
    return undefined;
  }
}

export async function removeImage(ctx: Context, input: string, opts: { force?: boolean; noPrune?: boolean } = {}): Promise<RemoveReport> {
  const report: RemoveReport = { untagged: [], deleted: [] };
  await ctx.images.update((images) => {
    const img = findImage(images, input);
    if (!img) throw new SkiffError("NotFound", `no such image: ${input}`);
    const name = isNameOf(img, input);
    const users = imageUsers(ctx, img.id);
    if (name && img.names.includes(name) && img.names.length > 1) {
      // One of several tags: just untag.
      img.names = img.names.filter((n) => n !== name);
      report.untagged.push(name);
      return;
    }
    if (!name && !opts.force) {
      const repos = new Set(img.names.map((n) => n.slice(0, n.lastIndexOf(":"))));
      if (repos.size > 1) {
        throw new SkiffError(
          "Conflict",
          `unable to delete ${img.id.slice(7, 19)} (must be forced): image is referenced in multiple repositories`,
        );
      }
    }
    if (users.length > 0 && !opts.force) {
      throw new SkiffError(
        "Conflict",
        `unable to remove image ${input}: it is used by container ${users[0]}; remove the container first or use --force`,
      );
    }
    if (users.length > 0 && opts.force) {
      // Docker keeps an in-use image when forced, untagging it only.
      report.untagged.push(...img.names, ...img.repoDigests);
      img.names = [];
      img.repoDigests = [];
      return;
    }
    report.untagged.push(...img.names, ...img.repoDigests);
    report.deleted.push(img.id);
    images.splice(images.indexOf(img), 1);
  });
  if (report.deleted.length > 0 && !opts.noPrune) await collectGarbage(ctx);
  return report;
}

export interface PruneReport {
  deleted: string[];
  untagged: string[];
  reclaimed: number;
}

export async function pruneImages(ctx: Context, opts: { all?: boolean } = {}): Promise<PruneReport> {
  const report: PruneReport = { deleted: [], untagged: [], reclaimed: 0 };
  await ctx.images.update((images) => {
    for (const img of [...images]) {
      const dangling = img.names.length === 0;
      if (!dangling && !opts.all) continue;
      if (imageUsers(ctx, img.id).length > 0) continue;
      report.untagged.push(...img.names, ...img.repoDigests);
      report.deleted.push(img.id);
      images.splice(images.indexOf(img), 1);
    }
  });
  const gc = await collectGarbage(ctx);
  report.reclaimed = gc.bytes;
  return report;
}

/** Adds a name to an image (`tag SOURCE TARGET`). */
export async function tagImage(ctx: Context, source: string, target: string): Promise<void> {
  const ref = parseReference(target);
  if (ref.digest) throw new SkiffError("InvalidArgument", `${target}: a tag cannot contain a digest`);
  const name = formatReference(ref);
  await ctx.images.update((images) => {
    const img = findImage(images, source);
    if (!img) throw new SkiffError("NotFound", `${source}: image not known`);
    for (const other of images) if (other !== img) other.names = other.names.filter((n) => n !== name);
    if (!img.names.includes(name)) img.names.push(name);
  });
}

/**
 * Reading a file of a container's root filesystem without mounting it, by
 * looking through its layers the way overlayfs would: the writable layer
 * first, then the image's layers top-down, stopping at a whiteout. Used for
 * /etc/passwd and /etc/group when resolving `--user`.
 */
import { lstatSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Context } from "../context.ts";
import type { Digest } from "../digest.ts";
import type { ContainerRecord } from "./record.ts";

/** The image's layer directories, top-most first. */
export function imageLayerDirs(ctx: Context, record: ContainerRecord): string[] {
  return [...record.image.chainIds].reverse().map((c) => ctx.snapshots.fsDir(c as Digest));
}

/**
 * Layer directories of a container, top-most first: its upper dir, then the
 * image's; with the copy driver the upper dir alone, since it is the whole
 * root filesystem (without whiteouts, so the image's layers must not show
 * through it).
 */
export function layerDirs(ctx: Context, record: ContainerRecord): string[] {
  const upper = join(ctx.containers.dir(record.id), "upper");
  return record.driver === "copy" ? [upper] : [upper, ...imageLayerDirs(ctx, record)];
}

/** The file's text as the container would see it, or undefined. Small files only. */
export function readLayeredFile(layers: string[], rel: string): string | undefined {
  for (const dir of layers) {
    const p = join(dir, rel);
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    // A 0/0 character device is an overlay whiteout: deleted above the base.
    if (st.isCharacterDevice() && st.rdev === 0) return undefined;
    if (!st.isFile() || st.size > 4 << 20) return undefined;
    try {
      return readFileSync(p, "utf8");
    } catch {
      return undefined;
    }
  }
  return undefined;
}

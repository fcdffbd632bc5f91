/**
 * Garbage collection of blobs and snapshots no image (or container) needs.
 * A pull holds the GC lock shared from its first download until its image
 * record is written, so a collection never deletes what a running pull has
 * fetched but not yet recorded; collections skip (not wait) while pulls run.
 */
import { join } from "node:path";
import type { Context } from "../context.ts";
import type { Digest } from "../digest.ts";
import { acquireLock, tryLock, type Lock } from "../lock.ts";
import { parseManifest } from "./manifest.ts";
import type { ImageRecord } from "./store.ts";

export function gcLockPath(ctx: Context): string {
  return join(ctx.paths.locks, "gc.lock");
}

/** Taken by pulls, loads and imports while they add unrecorded content. */
export async function holdGcShared(ctx: Context): Promise<Lock> {
  ctx.ensureStorage();
  return acquireLock(gcLockPath(ctx), { shared: true });
}


function blobsOf(ctx: Context, img: ImageRecord): Digest[] {
  const out: Digest[] = [img.id, img.manifestDigest];
  for (const rd of img.repoDigests) {
    const d = rd.slice(rd.indexOf("@") + 1) as Digest;
    out.push(d);
  }
  try {
    const parsed = parseManifest(ctx.content.readBytes(img.manifestDigest), img.manifestMediaType);
    if (parsed.kind === "manifest") for (const l of parsed.manifest.layers) out.push(l.digest as Digest);
  } catch {
    // A missing manifest keeps nothing else alive.
  }
  return out;
}

export interface GcResult {
  snapshots: number;
  blobs: number;
  bytes: number;
  skipped: boolean;
}

export async function collectGarbage(ctx: Context): Promise<GcResult> {
  const lock = tryLock(gcLockPath(ctx));
  if (!lock) return { snapshots: 0, blobs: 0, bytes: 0, skipped: true };
  try {
    const images = ctx.images.list();
    const keepChains = new Set<string>();
    const keepBlobs = new Set<string>();
    for (const img of images) {
      for (const c of img.chainIds) keepChains.add(c);
      for (const b of blobsOf(ctx, img)) keepBlobs.add(b);
    }
    // A container keeps the layers its root filesystem stacks, even when
    // its image was removed by force.
    for (const c of ctx.containers.list()) for (const chain of c.image.chainIds) keepChains.add(chain);
    // Sizes before deletion, for "reclaimed space".
    let bytes = 0;
    for (const s of ctx.snapshots.list()) if (!keepChains.has(s.chainId)) bytes += s.size;
    const snapshots = await ctx.snapshots.gc(keepChains);
    let blobs = 0;
    for (const d of ctx.content.list()) {
      if (keepBlobs.has(d)) continue;
      try {
        bytes += ctx.content.info(d).size;
      } catch {
        // already gone
      }
      ctx.content.delete(d);
      blobs += 1;
    }
    ctx.content.cleanIngest({ keepPartials: true });
    await ctx.snapshots.cleanTrash();
    return { snapshots, blobs, bytes, skipped: false };
  } finally {
    lock.release();
  }
}

/**
 * Making sure the snapshot for one layer exists: shared by pull, load and
 * import. Layers of one image are built in parallel; each one's fixups (which
 * need the layers below it) and its commit wait for its parent's commit.
 */
import type { Context } from "../context.ts";
import type { Digest } from "../digest.ts";
import { SkiffError } from "../errors.ts";
import { hasPending } from "../layers/pending.ts";
import { trace } from "../trace.ts";

/** Where a layer's bytes come from when its snapshot has to be built. */
export interface LayerSource {
  /** The layer blob as stored (compressed or not); called only if needed. */
  open(): Promise<ReadableStream<Uint8Array>>;
  /** After a successful unpack, before the snapshot is committed (e.g. verify and store the blob). */
  finish?(): Promise<void>;
  /** After a failure. */
  abort?(): Promise<void>;
}

export interface SnapshotJob {
  chainId: Digest;
  diffId: Digest;
  parent: Digest | null;
  /** Resolves when the parent snapshot is committed. */
  parentDone: Promise<unknown>;
  compression: "gzip" | "zstd" | "none" | "auto";
  source: LayerSource;
  onWait?: () => void;
  onWarning?: (message: string) => void;
}

export async function ensureSnapshot(ctx: Context, job: SnapshotJob): Promise<{ built: boolean; size: number }> {
  trace(`layer ${job.diffId.slice(7, 19)}: ensure`);
  const prepared = await ctx.snapshots.prepare(job.chainId, { diffId: job.diffId, parent: job.parent }, {
    ...(job.onWait ? { onWait: job.onWait } : {}),
  });
  if (!prepared) {
    await job.parentDone;
    return { built: false, size: ctx.snapshots.meta(job.chainId)?.size ?? 0 };
  }
  try {
    trace(`layer ${job.diffId.slice(7, 19)}: prepared`);
    const input = await job.source.open();
    trace(`layer ${job.diffId.slice(7, 19)}: stream open`);
    const result = await ctx.executor.unpack(input, { dest: prepared.fs, compression: job.compression, layer: job.diffId }, job.onWarning);
    trace(`layer ${job.diffId.slice(7, 19)}: unpacked`);
    // Fixing up needs a helper too: it starts while the layers below finish.
    const fixups = hasPending(result.pending) && job.parent !== null;
    if (fixups) ctx.executor.prewarm();
    await job.source.finish?.();
    if (result.diffId !== job.diffId) {
      throw new SkiffError("InvalidArgument", `layer ${job.diffId}: its content has digest ${result.diffId}, not the one the image config lists`);
    }
    // Fixups need the lower layers complete: wait only now, so layers
    // still download and unpack in parallel.
    await job.parentDone;
    if (fixups && job.parent) {
      const lowers = ctx.snapshots.lowerChain(job.parent).map((c) => ctx.snapshots.fsDir(c));
      await ctx.executor.applyPending(prepared.fs, lowers, result.pending);
    }
    ctx.snapshots.commit(prepared, { size: result.size });
    trace(`layer ${job.diffId.slice(7, 19)}: committed`);
    return { built: true, size: result.size };
  } catch (e) {
    await job.source.abort?.().catch(() => {});
    await ctx.snapshots.abort(prepared).catch(() => {});
    throw e;
  }
}

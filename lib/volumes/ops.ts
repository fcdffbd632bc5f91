/**
 * The volume verbs the CLI and the API share: create, list, remove, prune.
 */
import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Context } from "../context.ts";
import { matchesListFilters, matchesPruneFilters, naturalCompare, type ListFilters, type PruneFilters } from "./filters.ts";
import { parseDriverOptions, type VolumeMeta } from "./meta.ts";
import { volumeStore, type CreateVolumeRequest } from "./store.ts";
import { UsageTracker } from "./usage.ts";

/** `volume create`: a new volume, or the existing one of that name with the same options. */
export async function createVolume(ctx: Context, req: CreateVolumeRequest): Promise<VolumeMeta> {
  ctx.ensureStorage();
  return (await volumeStore(ctx).create(req)).meta;
}

/** The volumes `volume ls` shows, sorted by name as Docker does. */
export function listVolumes(ctx: Context, filters: ListFilters): VolumeMeta[] {
  const store = volumeStore(ctx);
  let tracker: UsageTracker | undefined;
  const inUse = (name: string): boolean => {
    tracker ??= new UsageTracker(ctx, { ignoreLeases: true });
    return (tracker.snapshot().get(name)?.length ?? 0) > 0;
  };
  return store
    .list()
    .filter((m) => matchesListFilters(m, filters, () => inUse(m.name)))
    .sort((a, b) => naturalCompare(a.name, b.name));
}

/** `volume rm`: refused while a container uses the volume, unless forced. Returns false when forced and missing. */
export async function removeVolume(ctx: Context, name: string, opts: { force?: boolean; tracker?: UsageTracker } = {}): Promise<boolean> {
  const tracker = opts.tracker ?? new UsageTracker(ctx);
  return volumeStore(ctx).remove(name, { force: opts.force ?? false, inUse: (n) => tracker.usersOf(n) });
}

export interface PruneReport {
  deleted: string[];
  /** Bytes in the removed volumes' own directories (not a bind volume's device). */
  reclaimed: number;
}

/**
 * `volume prune`: removes volumes no container uses; only anonymous ones
 * unless `all` (Docker 23+). Each is decided under its lock.
 */
export async function pruneVolumes(ctx: Context, opts: { all?: boolean; filters: PruneFilters }): Promise<PruneReport> {
  const store = volumeStore(ctx);
  await store.cleanLeftovers();
  const tracker = new UsageTracker(ctx);
  const report: PruneReport = { deleted: [], reclaimed: 0 };
  const candidates = store.list().filter((m) => matchesPruneFilters(m, opts.filters, { all: opts.all ?? false }));
  const trash: string[] = [];
  for (const candidate of candidates) {
    if (tracker.usersOf(candidate.name).length > 0) continue;
    await store.withLock(candidate.name, () => {
      const meta = store.read(candidate.name);
      if (!meta || tracker.usersOf(meta.name).length > 0) return;
      const size = parseDriverOptions(meta.options, meta.name).kind === "plain" ? treeSize(store.dataDir(meta.name)) : 0;
      const t = store.trashLocked(meta.name);
      if (t === undefined) return;
      trash.push(t);
      report.deleted.push(meta.name);
      report.reclaimed += size;
    });
  }
  // One deletion for all: rootless, each is a user namespace helper.
  await store.removeTrees(trash);
  return report;
}

/** Apparent size of a tree (files and links); what cannot be read counts as empty. */
function treeSize(path: string): number {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.isFile() || st.isSymbolicLink() ? st.size : 0;
  let names: string[];
  try {
    names = readdirSync(path);
  } catch {
    return 0;
  }
  let total = 0;
  for (const n of names) total += treeSize(join(path, n));
  return total;
}

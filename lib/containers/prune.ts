/**
 * `container prune`: removes every container that is not running (created
 * and exited ones), optionally filtered like Docker (`until=`, `label=`,
 * `label!=`), and the records that crashed creates left incomplete or
 * unreadable. An incomplete record younger than a minute may be a create
 * still under way, so it is left alone.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync, rmSync, type Stats } from "node:fs";
import { join } from "node:path";
import type { Context } from "../context.ts";
import { SkiffError } from "../errors.ts";
import { acquireLock } from "../lock.ts";
import { parseLogTime } from "./logs.ts";
import { currentState, removeContainer } from "./ops.ts";
import type { ContainerRecord } from "./record.ts";
import { containerLock } from "./start.ts";
import { sameProcess } from "../sys/proc.ts";

/** How long a create may take between writing its record and finishing it. */
export const INCOMPLETE_GRACE_MS = 60_000;

export interface PruneFilters {
  /** Only containers created before this time (ms since the epoch). */
  until?: number;
  /** label=KEY or label=KEY=VALUE: all must match. */
  labels: { key: string; value?: string }[];
  /** label!=KEY or label!=KEY=VALUE: none may match. */
  notLabels: { key: string; value?: string }[];
}

export interface PruneReport {
  /** Full ids, in the order removed. */
  deleted: string[];
  /** Bytes of the writable layers removed. */
  reclaimed: number;
}

function parseLabel(v: string): { key: string; value?: string } {
  const i = v.indexOf("=");
  return i < 0 ? { key: v } : { key: v.slice(0, i), value: v.slice(i + 1) };
}

/**
 * Parses `--filter` values.
 * @example parsePruneFilters(["until=24h", "label=env=ci"], Date.now())
 */
export function parsePruneFilters(filters: string[], now = Date.now()): PruneFilters {
  const out: PruneFilters = { labels: [], notLabels: [] };
  for (const f of filters) {
    const i = f.indexOf("=");
    if (i <= 0) throw new SkiffError("InvalidArgument", `bad format of filter (expected name=value): ${f}`);
    const key = f.slice(0, i).toLowerCase();
    const value = f.slice(i + 1);
    if (key === "until") {
      const t = parseLogTime(value, now);
      out.until = out.until === undefined ? t : Math.min(out.until, t);
    } else if (key === "label") {
      out.labels.push(parseLabel(value));
    } else if (key === "label!") {
      out.notLabels.push(parseLabel(value));
    } else {
      throw new SkiffError("InvalidArgument", `invalid filter '${key}'`);
    }
  }
  return out;
}

function labelMatches(labels: Record<string, string>, l: { key: string; value?: string }): boolean {
  return l.key in labels && (l.value === undefined || labels[l.key] === l.value);
}

/** Does a container pass the filters? Pure. */
export function matchesPruneFilters(record: Pick<ContainerRecord, "created" | "options" | "imageConfig">, f: PruneFilters): boolean {
  if (f.until !== undefined && !(Date.parse(record.created) < f.until)) return false;
  const labels = { ...(record.imageConfig?.Labels ?? {}), ...record.options.labels };
  if (!f.labels.every((l) => labelMatches(labels, l))) return false;
  return !f.notLabels.some((l) => labelMatches(labels, l));
}

/** Apparent size of a tree (files and links); unreadable directories count as empty. */
export function treeSize(path: string): number {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.isFile() || st.isSymbolicLink() ? st.size : 0;
  let total = 0;
  let names: string[] = [];
  try {
    names = readdirSync(path);
  } catch {
    return 0;
  }
  for (const n of names) total += treeSize(join(path, n));
  return total;
}

/** Removes name symlinks that point at `id`. */
function releaseNamesOf(ctx: Context, id: string): void {
  const dir = join(ctx.containers.root, ".names");
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    try {
      if (readlinkSync(join(dir, n)) === id) rmSync(join(dir, n), { force: true });
    } catch {
      // gone meanwhile
    }
  }
}

type Found = { kind: "record"; record: ContainerRecord } | { kind: "broken"; id: string; created: number };

function scan(ctx: Context): Found[] {
  const out: Found[] = [];
  for (const id of ctx.containers.ids()) {
    let record: ContainerRecord | undefined;
    try {
      record = ctx.containers.read(id);
    } catch {
      record = undefined;
    }
    if (record && !record.incomplete) {
      out.push({ kind: "record", record });
      continue;
    }
    let created = record ? Date.parse(record.created) : Number.NaN;
    if (!Number.isFinite(created)) {
      try {
        created = lstatSync(ctx.containers.dir(id)).mtimeMs;
      } catch {
        continue;
      }
    }
    out.push({ kind: "broken", id, created });
  }
  return out;
}

async function removeBroken(ctx: Context, id: string): Promise<number> {
  const lock = await acquireLock(containerLock(ctx, id));
  try {
    const dir = ctx.containers.dir(id);
    const size = treeSize(join(dir, "upper"));
    await ctx.executor.remove([dir]);
    releaseNamesOf(ctx, id);
    return size;
  } finally {
    lock.release();
  }
}

/** Deletes the trash of removed containers whose shim died before deleting it (trash.ts); a live shim is still at it. */
async function removeAbandonedTrash(ctx: Context): Promise<number> {
  let reclaimed = 0;
  for (const dir of ctx.containers.trashDirs()) {
    let owner: { shimPid?: number; shimStart?: number } = {};
    try {
      owner = JSON.parse(readFileSync(join(dir, "state.json"), "utf8")) as typeof owner;
    } catch {
      // gone already, or unreadable: nobody to wait for
    }
    if (owner.shimPid && sameProcess(owner.shimPid, owner.shimStart ?? 0)) continue;
    const size = treeSize(join(dir, "upper"));
    try {
      await ctx.executor.remove([dir]);
      reclaimed += size;
    } catch {
      // removed meanwhile
    }
  }
  return reclaimed;
}

/** Removes stopped containers (and leftovers of crashed creates and removals) matching the filters. */
export async function pruneContainers(ctx: Context, filters: PruneFilters = { labels: [], notLabels: [] }, opts: { now?: number } = {}): Promise<PruneReport> {
  const now = opts.now ?? Date.now();
  const report: PruneReport = { deleted: [], reclaimed: 0 };
  if (filters.labels.length === 0 && filters.notLabels.length === 0) report.reclaimed += await removeAbandonedTrash(ctx);
  const found = scan(ctx).sort((a, b) => createdOf(a) - createdOf(b));
  for (const f of found) {
    if (f.kind === "broken") {
      // Nothing to match labels against: only an unfiltered (or until-only) prune takes these.
      if (filters.labels.length > 0 || filters.notLabels.length > 0) continue;
      if (now - f.created < INCOMPLETE_GRACE_MS) continue;
      if (filters.until !== undefined && !(f.created < filters.until)) continue;
      report.reclaimed += await removeBroken(ctx, f.id);
      report.deleted.push(f.id);
      continue;
    }
    const r = f.record;
    const s = currentState(ctx, r).status;
    if (s === "running" || s === "paused") continue;
    if (!matchesPruneFilters(r, filters)) continue;
    const size = treeSize(join(ctx.containers.dir(r.id), "upper"));
    try {
      await removeContainer(ctx, r, { force: false });
    } catch (e) {
      // Started since we looked, or removed by someone else: not ours to prune.
      if (e instanceof SkiffError && (e.kind === "Conflict" || e.kind === "NotFound")) continue;
      throw e;
    }
    report.deleted.push(r.id);
    report.reclaimed += size;
  }
  return report;
}

function createdOf(f: Found): number {
  return f.kind === "broken" ? f.created : Date.parse(f.record.created);
}

/**
 * Removing a container from its shim: an --rm container when it exits, and
 * the record of one that never started. Out of sight first (retire), then
 * the files, the run directory, its names and anonymous volumes.
 */
import { readdirSync, readFileSync, readlinkSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { containerTrashName } from "../lib/containers/trash.ts";
import type { ShimConfig } from "./config.ts";
import { unmountUnder } from "./rootfs.ts";
import { patchState } from "./state.ts";

/** The container's record as text: it matters only for anonymous volumes, so neither it nor the modules that validate it are loaded otherwise. */
export function readRecordText(cfg: ShimConfig): string | undefined {
  try {
    return readFileSync(join(cfg.containerDir, "config.json"), "utf8");
  } catch {
    return undefined;
  }
}

export async function removeContainer(cfg: ShimConfig, recordText: string | undefined): Promise<void> {
  patchState(cfg.containerDir, { status: "removing" });
  try {
    rmSync(cfg.containerDir, { recursive: true, force: true });
  } catch {
    // `skiff rm` can finish what is left
  }
  releaseNames(cfg);
  removeRunDir(cfg);
  if (recordText && hasVolumeMounts(recordText)) await removeAnonymousVolumes(cfg, recordText).catch(() => {});
}

/**
 * Takes a removed container out of sight at once: its directory is renamed
 * to a trash name that no command lists (containerTrashName) and its names are
 * released. Deleting the files (the upper layer can be large) and the
 * runtime's state can then follow while `run --rm` has already returned, as
 * its container is gone for every command. Returns the trash path, or
 * undefined when the rename failed and the directory was deleted in place.
 */
export function retire(cfg: ShimConfig): string | undefined {
  const trash = join(dirname(cfg.containerDir), containerTrashName(cfg.id));
  let moved: string | undefined = trash;
  try {
    renameSync(cfg.containerDir, trash);
  } catch {
    moved = undefined;
    rmSync(cfg.containerDir, { recursive: true, force: true });
  }
  releaseNames(cfg);
  return moved;
}

export function removeLeftovers(cfg: ShimConfig, trash: string | undefined): void {
  try {
    if (trash) rmSync(trash, { recursive: true, force: true });
  } catch {
    // `container prune` removes a trash directory whose shim is gone
  }
  removeRunDir(cfg);
}

function removeRunDir(cfg: ShimConfig): void {
  // The network namespace file is still a mount point here.
  unmountUnder(cfg.runDir);
  rmSync(cfg.runDir, { recursive: true, force: true });
}

export function hasVolumeMounts(recordText: string): boolean {
  try {
    const mounts = (JSON.parse(recordText) as { options?: { mounts?: { type?: string }[] } }).options?.mounts ?? [];
    return mounts.some((m) => m.type === "volume");
  } catch {
    return false;
  }
}

async function removeAnonymousVolumes(cfg: ShimConfig, recordText: string): Promise<void> {
  const { ContainerStore, recordSchema } = await import("../lib/containers/record.ts");
  const { parseJsonText } = await import("../lib/fsutil.ts");
  const { removeAnonymousVolumesAt } = await import("../lib/volumes/mounts.ts");
  const containersDir = dirname(cfg.containerDir);
  const root = dirname(containersDir);
  const record = parseJsonText(join(cfg.containerDir, "config.json"), recordText, recordSchema);
  await removeAnonymousVolumesAt(
    { volumes: join(root, "volumes"), locks: join(root, "locks"), containers: new ContainerStore(containersDir) },
    record,
    { remove: async (ps) => ps.forEach((p) => rmSync(p, { recursive: true, force: true })) },
  );
}

/** Drops every name symlink that points at this container: it may have been renamed since it started. */
function releaseNames(cfg: ShimConfig): void {
  // The name it started with, unless renamed since: then look at them all.
  const own = join(cfg.namesDir, cfg.name);
  try {
    if (readlinkSync(own) === cfg.id) {
      rmSync(own, { force: true });
      return;
    }
  } catch {
    // not there: renamed, or already released
  }
  let names: string[];
  try {
    names = readdirSync(cfg.namesDir);
  } catch {
    return;
  }
  for (const name of names) {
    try {
      if (readlinkSync(join(cfg.namesDir, name)) === cfg.id) rmSync(join(cfg.namesDir, name), { force: true });
    } catch {
      // not a symlink, or already gone
    }
  }
}

/**
 * Where volumes meet containers. The container code calls these hooks:
 *
 * - create: `prepareVolumeMounts` before writing the record (the record keeps
 *   volume NAMES as mount sources), then `copyUpVolumes` once the writable
 *   layer exists; `discardPreparedVolumes` if the create fails after preparing;
 *   `releasePreparedVolumes` once the record is written (optional).
 * - start: `resolveVolumeSources` right before building the OCI spec (host
 *   paths of the volumes' data, so lib/oci builds plain binds).
 * - rm -v, and --rm: `removeAnonymousVolumes` once the container is gone.
 *
 * A mount whose volume skiff made for it (`-v /path`, an image VOLUME)
 * carries the option ANONYMOUS_OPTION in the record; `rm -v` removes only
 * those, as Docker removes only volumes the user did not name.
 */
import { existsSync } from "node:fs";
import { posix } from "node:path";
import type { Context } from "../context.ts";
import type { CreateOptions, MountOption } from "../containers/options.ts";
import type { ContainerRecord, ContainerStore } from "../containers/record.ts";
import { layerDirs } from "../containers/rootfs.ts";
import { isSkiffError, SkiffError } from "../errors.ts";
import type { ContainerConfig } from "../images/manifest.ts";
import type { CopyUpResult } from "./copyup.ts";
import { releaseLease, writeLease } from "./leases.ts";
import { parseDriverOptions } from "./meta.ts";
import { newAnonymousName, validateVolumeName } from "./names.ts";
import { VolumeStore, volumeStore, type TreeRemover } from "./store.ts";
import { UsageTracker, volumesInUse } from "./usage.ts";

export { volumesInUse };

/** Marks, in a record's mount options, a volume made for that mount (removed by `rm -v`). Stripped by resolveVolumeSources. */
export const ANONYMOUS_OPTION = "anonymous";
/** Docker's `-v name:/path:nocopy` / `--mount ...,volume-nocopy`: no copy-up for this mount. */
export const NOCOPY_OPTION = "nocopy";

/** A volume mount that names a volume (not an absolute host path, which lib/oci binds as it is). */
function isNamedVolumeMount(m: MountOption): boolean {
  return m.type === "volume" && !(m.source ?? "").startsWith("/");
}

function cleanTarget(target: string): string {
  const clean = posix.normalize(target);
  return clean.length > 1 ? clean.replace(/\/+$/, "") : clean;
}

const leases = new WeakMap<CreateOptions, string>();

/**
 * For `create`: gives every volume mount a volume. A named volume
 * (`-v name:/path`, `--mount type=volume,source=name`) is created when
 * missing; an anonymous one (`-v /path`, `--mount type=volume,target=/path`)
 * gets a new volume with a 64-hex name; each image VOLUME that no user
 * mount covers gets one too (Docker). Returns options whose volume mounts
 * have `source` = the volume's name (anonymous ones also carry
 * ANONYMOUS_OPTION): store those in the record.
 *
 * The volumes are leased (leases.ts) until the record names them, so a
 * concurrent `volume prune` cannot take them. Nothing is created when a
 * name or a target is invalid.
 * @example options = await prepareVolumeMounts(ctx, options, { image: imageConfig })
 */
export async function prepareVolumeMounts(ctx: Context, options: CreateOptions, opts: { image: ContainerConfig | null }): Promise<CreateOptions> {
  const seen = new Set<string>();
  for (const m of options.mounts) {
    const target = cleanTarget(m.target);
    if (seen.has(target)) throw new SkiffError("InvalidArgument", `duplicate mount point: ${target}`);
    seen.add(target);
    if (isNamedVolumeMount(m) && m.source !== undefined) validateVolumeName(m.source);
  }
  const planned: { mount: MountOption; create: "named" | "anonymous" | "none" }[] = options.mounts.map((m) => {
    if (!isNamedVolumeMount(m)) return { mount: m, create: "none" };
    if (m.source) return { mount: m, create: "named" };
    return { mount: { ...m, source: newAnonymousName(), options: [...m.options.filter((o) => o !== ANONYMOUS_OPTION), ANONYMOUS_OPTION] }, create: "anonymous" };
  });
  for (const path of Object.keys(opts.image?.Volumes ?? {})) {
    if (!path.startsWith("/")) continue;
    const target = cleanTarget(path);
    if (target === "/" || seen.has(target)) continue;
    seen.add(target);
    planned.push({ mount: { type: "volume", source: newAnonymousName(), target, readOnly: false, options: [ANONYMOUS_OPTION] }, create: "anonymous" });
  }
  const names = planned.filter((p) => p.create !== "none").map((p) => p.mount.source as string);
  if (names.length === 0) return options;
  ctx.ensureStorage();
  const store = volumeStore(ctx);
  const lease = writeLease(ctx.paths.volumes, names);
  const made: string[] = [];
  try {
    for (const p of planned) {
      if (p.create === "none") continue;
      const { created } = await store.ensure(p.mount.source as string, { anonymous: p.create === "anonymous" });
      if (created && p.create === "anonymous") made.push(p.mount.source as string);
    }
  } catch (e) {
    await Promise.allSettled(made.map((n) => store.remove(n, { force: true, inUse: () => [] })));
    releaseLease(lease);
    throw e;
  }
  const prepared: CreateOptions = { ...options, mounts: planned.map((p) => p.mount) };
  leases.set(prepared, lease);
  return prepared;
}

/** Ends the lease prepareVolumeMounts took, once the record naming the volumes is written (else it lapses by itself). */
export function releasePreparedVolumes(prepared: CreateOptions): void {
  const lease = leases.get(prepared);
  if (lease === undefined) return;
  leases.delete(prepared);
  releaseLease(lease);
}

/**
 * For a create that failed after prepareVolumeMounts: removes the anonymous
 * volumes it made, once the container's record is gone (or pass its id).
 */
export async function discardPreparedVolumes(ctx: Context, prepared: CreateOptions, opts: { containerId?: string } = {}): Promise<void> {
  releasePreparedVolumes(prepared);
  await removeAnonymousVolumes(ctx, { id: opts.containerId ?? "", options: prepared });
}

/**
 * For `start`, right before building the spec: volume mounts get `source` =
 * the host directory of the volume's data (or a bind volume's device), and
 * lose ANONYMOUS_OPTION, so lib/oci builds plain binds. NotFound for a
 * volume that no longer exists (removed with `volume rm -f`).
 * @example const spec = buildSpec({ ...input, options: resolveVolumeSources(ctx, record.options) })
 */
export function resolveVolumeSources(ctx: Context, options: CreateOptions): CreateOptions {
  if (!options.mounts.some(isNamedVolumeMount)) return options;
  const store = volumeStore(ctx);
  const mounts = options.mounts.map((m): MountOption => {
    if (!isNamedVolumeMount(m)) return m;
    if (!m.source) throw new SkiffError("InvalidArgument", `volume mount at ${m.target} names no volume: the container was not created with volume support`);
    const meta = store.read(m.source);
    if (!meta) throw new SkiffError("NotFound", `volume ${m.source} (mounted at ${m.target}): no such volume`);
    const source = store.sourcePath(meta);
    if (parseDriverOptions(meta.options, meta.name).kind === "bind" && !existsSync(source)) {
      throw new SkiffError("NotFound", `volume ${meta.name}: device ${source}: no such file or directory`);
    }
    return { ...m, source, options: m.options.filter((o) => o !== ANONYMOUS_OPTION) };
  });
  return { ...options, mounts };
}

export interface CopyUpRequestForVolume {
  volume: string;
  /** Layer directories, top-most first: the container's upper dir, then the image's snapshots (rootfs.ts layerDirs). */
  imageLayers: string[];
  /** The mount's target: the absolute path in the container. */
  targetInImage: string;
  /** Informational: ctx.executor already runs the copy in the user namespace when the store is rootless. */
  rootless?: boolean;
  onWarning?: (message: string) => void;
}

/**
 * Docker's copy-up, once per volume: if the volume has never been through
 * it and is empty, the image's directory at the target (merged over the
 * layers: whiteouts and opaque directories honoured) is copied in with
 * owners, modes, xattrs and times, and the volume's root takes that
 * directory's owner and mode. Runs in the user namespace rootless. The
 * volume then records `copiedUp` whether or not there was anything to copy.
 * Returns what happened ("done-before" when an earlier mount decided).
 */
export async function copyUpIfEmpty(ctx: Context, req: CopyUpRequestForVolume): Promise<CopyUpResult["status"] | "done-before"> {
  const store = volumeStore(ctx);
  return store.withLock(req.volume, async () => {
    const meta = store.get(req.volume);
    if (meta.copiedUp) return "done-before";
    const clearFirst = meta.copyingUp === true;
    store.writeMeta({ ...meta, copyingUp: true });
    const result = await ctx.executor.copyUp(
      { layers: req.imageLayers, target: req.targetInImage, dest: store.sourcePath(meta), ...(clearFirst ? { clearFirst } : {}) },
      req.onWarning,
    );
    const { copyingUp: _done, ...rest } = meta;
    store.writeMeta({ ...rest, copiedUp: true });
    return result.status;
  });
}

/**
 * copyUpIfEmpty for every volume mount of a created container (not those
 * with `nocopy`). Call it at create, once the container's writable layer
 * directory exists (Docker copies at create).
 */
export async function copyUpVolumes(ctx: Context, record: ContainerRecord, opts: { onWarning?: (message: string) => void } = {}): Promise<void> {
  const mounts = record.options.mounts.filter((m) => isNamedVolumeMount(m) && m.source && !m.options.includes(NOCOPY_OPTION));
  if (mounts.length === 0) return;
  const layers = layerDirs(ctx, record);
  for (const m of mounts) {
    await copyUpIfEmpty(ctx, {
      volume: m.source as string,
      imageLayers: layers,
      targetInImage: cleanTarget(m.target),
      rootless: record.rootless,
      ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
    });
  }
}

function anonymousVolumesOf(mounts: readonly MountOption[]): string[] {
  const out: string[] = [];
  for (const m of mounts) {
    if (isNamedVolumeMount(m) && m.source && m.options.includes(ANONYMOUS_OPTION) && !out.includes(m.source)) out.push(m.source);
  }
  return out;
}

async function removeAnonymous(store: VolumeStore, tracker: UsageTracker, names: string[]): Promise<string[]> {
  const removed: string[] = [];
  let failure: unknown;
  for (const name of names) {
    try {
      if (await store.remove(name, { inUse: (n) => tracker.usersOf(n) })) removed.push(name);
    } catch (e) {
      // Another container using it is not an error (Docker), nor is a volume already gone.
      if (isSkiffError(e, "Conflict") || isSkiffError(e, "NotFound")) continue;
      failure ??= e;
    }
  }
  if (failure !== undefined) throw failure;
  return removed;
}

/**
 * For `rm -v` (and `--rm`): removes the volumes made for this container's
 * anonymous mounts, unless another container uses them. Call it after the
 * container is removed (its own record is ignored either way). Returns the
 * names removed.
 */
export async function removeAnonymousVolumes(ctx: Context, record: Pick<ContainerRecord, "id" | "options">): Promise<string[]> {
  const names = anonymousVolumesOf(record.options.mounts);
  if (names.length === 0) return [];
  return removeAnonymous(volumeStore(ctx), new UsageTracker(ctx, { exceptContainer: record.id, ignoreLeases: true }), names);
}

/**
 * removeAnonymousVolumes without a Context, for the shim's `--rm`: it runs
 * in the container's user namespace, so `remove` may be a plain recursive
 * rm. `root` is the storage root (`volumes/`, `locks/` and `containers/`
 * beneath it, as lib/paths.ts lays them out).
 */
export async function removeAnonymousVolumesAt(
  paths: { volumes: string; locks: string; containers: ContainerStore },
  record: Pick<ContainerRecord, "id" | "options">,
  opts: { remove: TreeRemover },
): Promise<string[]> {
  const names = anonymousVolumesOf(record.options.mounts);
  if (names.length === 0) return [];
  const store = new VolumeStore({ volumes: paths.volumes, locks: paths.locks }, opts.remove);
  const tracker = new UsageTracker({ containers: paths.containers, volumesDir: paths.volumes }, { exceptContainer: record.id, ignoreLeases: true });
  return removeAnonymous(store, tracker, names);
}

/**
 * The host directory a volume mount of a record uses, for `inspect`
 * (Docker shows Mounts[].Source as this path and Name as the volume);
 * undefined when the volume is gone or unreadable.
 */
export function volumeHostPath(ctx: Context, name: string): string | undefined {
  try {
    const store = volumeStore(ctx);
    const meta = store.read(name);
    return meta ? store.sourcePath(meta) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Creating a container: find (or pull) the image, reserve the name, lay out
 * the writable layer and write the record. Nothing runs yet; `start` does
 * that. A crash half-way leaves a record marked incomplete, which removal
 * and prune clean up.
 */
import { trace } from "../trace.ts";
import { chmodSync, lstatSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Context } from "../context.ts";
import type { Digest } from "../digest.ts";
import { SkiffError } from "../errors.ts";
import { findImage } from "../images/resolve.ts";
import type { ImageRecord } from "../images/store.ts";
import { readImageConfig } from "../images/views.ts";
import type { PullEvent } from "../images/pull.ts";
import { formatReference, parseReference } from "../registry/reference.ts";
import type { CreateOptions } from "./options.ts";
import { newContainerId, type ContainerRecord } from "./record.ts";
import { writeState } from "./state.ts";
import { probeDriver } from "../../runtime/probe.ts";
import { defaultRuntimeName } from "./runtime.ts";
import { checkSecurityOptions } from "../oci/spec.ts";

export type PullPolicy = "missing" | "always" | "never" | "newer";

export interface CreateRequest {
  image: string;
  name?: string | undefined;
  options: CreateOptions;
  pull?: PullPolicy | undefined;
  platform?: string | undefined;
  runtime?: string | undefined;
  /** Told before an image is pulled because it is missing ("Unable to find image..."). */
  onPull?: ((image: string) => void) | undefined;
  onPullEvent?: ((e: PullEvent) => void) | undefined;
  /** Told what is accepted but not as asked (resource limits this host cannot enforce); default: stderr. */
  onWarning?: ((message: string) => void) | undefined;
  /** The caller makes the record durable itself (ContainerStore.sync), off the critical path: `run` does it while the shim starts the container. */
  deferSync?: boolean;
}

async function imageFor(ctx: Context, req: CreateRequest): Promise<ImageRecord> {
  const policy = req.pull ?? "missing";
  const local = policy === "always" ? undefined : findImage(ctx.images.list(), req.image);
  if (local) return local;
  if (policy === "never") throw new SkiffError("NotFound", `no such image: ${req.image}`);
  // "Unable to find image locally" is only true when we looked (not with --pull always).
  if (policy !== "always") req.onPull?.(req.image);
  const { pullImage } = await import("../images/pull.ts");
  const { parsePlatform } = await import("../images/platform.ts");
  const r = await pullImage(ctx, req.image, {
    ...(req.platform ? { platform: parsePlatform(req.platform) } : {}),
    ...(req.onPullEvent ? { onEvent: req.onPullEvent } : {}),
  });
  return r.image;
}

/** The name shown by ps for the image: what the user typed, normalised like Docker. */
function imageName(input: string, img: ImageRecord): string {
  try {
    const ref = parseReference(input);
    const full = formatReference(ref);
    if (img.names.includes(full) || img.repoDigests.includes(full)) return input;
  } catch {
    // an id
  }
  return input;
}

export async function createContainer(ctx: Context, req: CreateRequest): Promise<ContainerRecord> {
  trace("create: start");
  ctx.ensureStorage();
  // Limits Docker would refuse fail before anything is pulled or made.
  const id = newContainerId();
  const runtime = req.runtime ?? ctx.config.runtime ?? defaultRuntimeName();
  checkSecurityOptions(req.options.securityOpt);
  const { cgroupHost, planResources, appliedOf } = await import("./cgroups.ts");
  const plan = planResources(req.options.resources, cgroupHost({ rootless: ctx.rootless }), { id, runtime });
  const warn = req.onWarning ?? ((m: string) => process.stderr.write(`WARNING: ${m}\n`));
  const img = await imageFor(ctx, req);
  trace("create: image resolved");
  const imageConfig = readImageConfig(ctx, img).config ?? null;
  const vols = await import("../volumes/mounts.ts");
  const options = await vols.prepareVolumeMounts(ctx, req.options, { image: imageConfig });
  const driver = await probeDriver({
    runRoot: ctx.paths.runRoot,
    scratch: ctx.paths.tmp,
    rootless: ctx.rootless,
    configured: ctx.driverChoice,
  });
  const store = ctx.containers;
  // The directory first: it tells others that the name's owner is alive (see ContainerStore.reserveName).
  mkdirSync(store.dir(id), { recursive: true, mode: 0o700 });
  let name: string;
  try {
    name = req.name ? (store.reserveName(req.name, id), req.name) : store.reserveRandomName(id);
  } catch (e) {
    store.removeDir(id);
    throw e;
  }
  const record: ContainerRecord = {
    schemaVersion: 1,
    id,
    name,
    created: new Date().toISOString(),
    image: { id: img.id, name: imageName(req.image, img), chainIds: img.chainIds as Digest[] },
    imageConfig,
    options,
    runtime,
    rootless: ctx.rootless,
    driver: driver.driver,
    resources: appliedOf(plan),
    incomplete: true,
  };
  for (const w of plan.warnings) warn(w);
  try {
    store.write(record, { durable: false });
    vols.releasePreparedVolumes(options);
    const dir = store.dir(id);
    // The upper directory's own metadata becomes the container's "/": give
    // it the image root's mode, or a non-root user could not traverse "/".
    const top = img.chainIds[img.chainIds.length - 1] as Digest | undefined;
    let rootMode = 0o755;
    if (top) {
      try {
        rootMode = lstatSync(ctx.snapshots.fsDir(top)).mode & 0o7777;
      } catch {
        // keep 0755
      }
    }
    mkdirSync(join(dir, "upper"));
    chmodSync(join(dir, "upper"), rootMode);
    mkdirSync(join(dir, "work"), { mode: 0o700 });
    if (driver.driver === "copy") await copyImage(ctx, record, warn);
    await vols.copyUpVolumes(ctx, record, { onWarning: (m) => process.stderr.write(`WARNING: ${m}\n`) });
    writeState(dir, { ...emptyState(), status: "created" });
    delete record.incomplete;
    store.write(record, { durable: !req.deferSync });
    trace("create: done");
    return record;
  } catch (e) {
    store.releaseName(name, id);
    try {
      store.removeDir(id);
    } catch {
      // Rootless, a half-made copy belongs to the namespace's ids.
      await ctx.executor.remove([store.dir(id)]).catch(() => {});
    }
    await vols.discardPreparedVolumes(ctx, options, { containerId: id }).catch(() => {});
    throw e;
  }
}

/**
 * The copy driver: the container's upper directory becomes a full copy of
 * the image's merged layers (owners, modes, times, xattrs, hardlinks), made
 * where container owners can be given (in the user namespace rootless). The
 * shim bind-mounts it as the root filesystem.
 */
async function copyImage(ctx: Context, record: ContainerRecord, warn: (m: string) => void): Promise<void> {
  const { imageLayerDirs } = await import("./rootfs.ts");
  const upper = join(ctx.containers.dir(record.id), "upper");
  await ctx.executor.copyUp({ layers: imageLayerDirs(ctx, record), target: "/", dest: upper }, warn);
  trace("create: image copied");
}

export function emptyState(): import("./state.ts").ContainerState {
  return {
    schemaVersion: 1,
    status: "created",
    pid: 0,
    pidStart: 0,
    shimPid: 0,
    shimStart: 0,
    exitCode: 0,
    startedAt: "0001-01-01T00:00:00Z",
    finishedAt: "0001-01-01T00:00:00Z",
    error: "",
    oomKilled: false,
    restartCount: 0,
    stoppedByUser: false,
    bootId: "",
    ipAddress: "",
    ports: [],
  };
}

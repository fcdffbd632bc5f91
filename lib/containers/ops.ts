/**
 * Lifecycle verbs on an existing container: stop, kill, wait, remove. Each
 * reads the live state, checks the transition, then asks the shim; when the
 * shim is gone (killed) the CLI does the work itself through the container's
 * user namespace, so a container can always be stopped and removed.
 */
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Context } from "../context.ts";
import { SkiffError } from "../errors.ts";
import { acquireLock } from "../lock.ts";
import { parseSignal } from "../oci/spec.ts";
import { sameProcess, waitProcessGone } from "../sys/proc.ts";
import { shimRequest } from "../../shim/client.ts";
import { deleteArgs } from "../../runtime/oci.ts";
import { spawnInUserNamespace } from "../../runtime/userns.ts";
import type { ContainerRecord } from "./record.ts";
import { runtimeConfig } from "./runtime.ts";
import { cgroupHost, removeContainerCgroups } from "./cgroups.ts";
import { containerLock, runDir, shimSocket } from "./start.ts";
import { liveState, readState, writeState, type LiveState } from "./state.ts";
import { stopLeftoverHelper } from "../network/leftover-helper.ts";

export function currentState(ctx: Context, record: ContainerRecord): LiveState {
  return liveState(ctx.containers.cachedState(record.id));
}

export function stopSignalOf(record: ContainerRecord): number {
  return parseSignal(record.options.stopSignal ?? record.imageConfig?.StopSignal ?? "SIGTERM");
}

export function stopTimeoutOf(record: ContainerRecord): number {
  return record.options.stopTimeout ?? 10;
}

/** Runs a command inside the container's user namespace (rootless) or directly (root). */
async function inContainerNs(record: ContainerRecord, pid: number, argv: string[]): Promise<number> {
  const full = record.rootless ? ["nsenter", "--user", "--preserve-credentials", "-t", String(pid), "--", ...argv] : argv;
  const p = Bun.spawn(full, { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  return p.exited;
}

/** Signals a container whose shim is gone. */
async function signalOrphan(record: ContainerRecord, state: LiveState, signal: number): Promise<void> {
  if (!sameProcess(state.pid, state.pidStart)) return;
  await inContainerNs(record, state.pid, ["kill", `-${signal}`, String(state.pid)]);
}

/**
 * Deletes the runtime's state of a container whose shim is gone (runc kills
 * a live init first). Rootless, the state belongs to root of a user
 * namespace: the container's own while it lives, else a fresh one with the
 * same maps, which owns the files just as well.
 */
async function deleteRuntimeState(ctx: Context, record: ContainerRecord, state: LiveState): Promise<void> {
  try {
    const rt = runtimeConfig(ctx, record.runtime);
    if (!existsSync(join(rt.root, record.id))) return;
    const argv = deleteArgs(rt, record.id, { force: true });
    if (!record.rootless) await Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "ignore" }).exited;
    else if (sameProcess(state.pid, state.pidStart)) await inContainerNs(record, state.pid, argv);
    else await (await spawnInUserNamespace(argv, ctx.userns, { stdin: "ignore", stdout: "ignore", stderr: "ignore" })).exited;
  } catch {
    // runtime state is on tmpfs; it goes with the next reboot at worst
  }
}

/**
 * Bun's recursive rmSync gives up silently, leaving the directory, when an
 * entry vanishes under it (the shim unlinking its socket as it exits): try
 * again until it is really gone.
 */
function removeTree(path: string): void {
  for (let i = 0; i < 5; i++) {
    rmSync(path, { recursive: true, force: true });
    if (!existsSync(path)) return;
  }
}

/** Records the end of a container nobody supervises any more. */
async function finishOrphan(ctx: Context, record: ContainerRecord, state: LiveState, exitCode: number): Promise<void> {
  await deleteRuntimeState(ctx, record, state);
  await stopLeftoverHelper(runDir(ctx, record.id));
  const { shimAlive: _a, note: _n, ...stored } = state;
  writeState(ctx.containers.dir(record.id), {
    ...stored,
    status: "exited",
    exitCode,
    pid: 0,
    finishedAt: new Date().toISOString(),
    stoppedByUser: true,
  });
}

/** Stops a running container: its stop signal, then SIGKILL after the timeout. Returns false if it was not running. */
export async function stopContainer(
  ctx: Context,
  record: ContainerRecord,
  opts: { timeoutSeconds?: number | undefined; signal?: number | undefined } = {},
): Promise<boolean> {
  const state = currentState(ctx, record);
  if (state.status !== "running" && state.status !== "paused" && state.status !== "restarting") return false;
  const signal = opts.signal ?? stopSignalOf(record);
  const timeout = opts.timeoutSeconds ?? stopTimeoutOf(record);
  if (state.shimAlive) {
    try {
      await shimRequest(shimSocket(ctx, record.id), { op: "stop", signal, timeoutSeconds: timeout });
      await waitExitRecorded(ctx, record, 5000);
      return true;
    } catch (e) {
      // The shim may finish (and close its socket) while answering: what it recorded counts.
      if (!(e instanceof SkiffError && e.kind === "Unavailable")) throw e;
      await waitExitRecorded(ctx, record, 5000);
      const now = currentState(ctx, record);
      if (now.status !== "running" && now.status !== "paused") return true;
      if (now.shimAlive) throw e;
    }
  }
  // Nobody reaps an orphan for us, so its real status is lost: report the
  // signal that ended it, as a shell would (128 + signal).
  let sent = signal;
  await signalOrphan(record, state, signal);
  if (!(await waitProcessGone(state.pid, state.pidStart, timeout * 1000))) {
    sent = 9;
    await signalOrphan(record, state, 9);
    await waitProcessGone(state.pid, state.pidStart, 5000);
  }
  await finishOrphan(ctx, record, state, 128 + sent);
  return true;
}

/**
 * After the shim reported an exit, its state write follows within moments.
 * A container stopped between two runs of its restart policy reads
 * "restarting" until the shim leaves its back-off and records the exit.
 */
async function waitExitRecorded(ctx: Context, record: ContainerRecord, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const s = readState(ctx.containers.dir(record.id));
    if (s.status !== "running" && s.status !== "paused" && s.status !== "restarting") return;
    await Bun.sleep(5);
  }
}

export async function killContainer(ctx: Context, record: ContainerRecord, signal: number): Promise<void> {
  const state = currentState(ctx, record);
  if (state.status !== "running" && state.status !== "paused" && state.status !== "restarting") {
    throw new SkiffError("Conflict", `cannot kill container: ${record.name}: container ${record.id.slice(0, 12)} is not running`);
  }
  if (state.shimAlive) {
    await shimRequest(shimSocket(ctx, record.id), { op: "kill", signal });
    return;
  }
  await signalOrphan(record, state, signal);
  if (signal === 9 && (await waitProcessGone(state.pid, state.pidStart, 5000))) await finishOrphan(ctx, record, state, 137);
}

/** Waits until the container is not running; returns its exit code. */
export async function waitContainer(ctx: Context, record: ContainerRecord): Promise<number> {
  for (;;) {
    const state = currentState(ctx, record);
    if (state.status === "exited" || state.status === "created") {
      if (!state.shimAlive || state.status === "exited") return state.exitCode;
    }
    if (state.shimAlive) {
      try {
        const r = await shimRequest(shimSocket(ctx, record.id), { op: "wait" });
        await waitExitRecorded(ctx, record, 5000);
        return r.exitCode ?? currentState(ctx, record).exitCode;
      } catch (e) {
        if (!(e instanceof SkiffError && e.kind === "Unavailable")) throw e;
      }
    }
    await Bun.sleep(100);
  }
}

/** Removes a container and its writable layer; running ones only with force (they are killed first). */
export async function removeContainer(ctx: Context, record: ContainerRecord, opts: { force?: boolean } = {}): Promise<void> {
  const state = currentState(ctx, record);
  if (state.status === "running" || state.status === "paused" || state.status === "restarting") {
    if (!opts.force) {
      throw new SkiffError(
        "Conflict",
        `cannot remove container "/${record.name}": container is running: stop the container before removing or force remove`,
      );
    }
    await stopContainer(ctx, record, { timeoutSeconds: 0, signal: 9 });
  }
  const lock = await acquireLock(containerLock(ctx, record.id));
  try {
    const dir = ctx.containers.dir(record.id);
    // A shim that just recorded the exit is still tidying up (runtime delete,
    // unmount): once rm returns, no process of the container is left.
    const before = readState(dir);
    if (!(await waitProcessGone(before.shimPid, before.shimStart, 5000))) {
      // Stuck (or on a machine too loaded to finish in time): end it, and
      // clean up after it below as after any shim that died.
      if (sameProcess(before.shimPid, before.shimStart)) process.kill(before.shimPid, "SIGKILL");
      await waitProcessGone(before.shimPid, before.shimStart, 1000);
    }
    const fresh = readState(dir);
    writeState(dir, { ...fresh, status: "removing" });
    ctx.containers.releaseName(record.name, record.id);
    // A shim that died left the runtime's state (and maybe its network helper) behind.
    const live = liveState(fresh);
    if (!live.shimAlive) {
      await deleteRuntimeState(ctx, record, live);
      await stopLeftoverHelper(runDir(ctx, record.id));
    }
    // The writable layer holds files owned by container ids: delete in the namespace.
    await ctx.executor.remove([dir]);
    removeTree(runDir(ctx, record.id));
    // runc removes the cgroup at delete; a runc or shim that was killed may have left it.
    removeContainerCgroups(record.id, cgroupHost({ rootless: record.rootless }));
  } finally {
    lock.release();
  }
}

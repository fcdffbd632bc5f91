/**
 * Lifecycle verbs on an existing container: stop, kill, wait, remove. Each
 * reads the live state, checks the transition, then asks the shim; when the
 * shim is gone (killed) the CLI does the work itself through the container's
 * user namespace, so a container can always be stopped and removed.
 */
import { rmSync } from "node:fs";
import type { Context } from "../context.ts";
import { SkiffError } from "../errors.ts";
import { acquireLock } from "../lock.ts";
import { parseSignal } from "../oci/spec.ts";
import { sameProcess } from "../sys/proc.ts";
import { shimRequest } from "../../shim/client.ts";
import { deleteArgs } from "../../runtime/oci.ts";
import type { ContainerRecord } from "./record.ts";
import { runtimeConfig } from "./runtime.ts";
import { containerLock, runDir, shimSocket } from "./start.ts";
import { liveState, readState, writeState, type LiveState } from "./state.ts";

export function currentState(ctx: Context, record: ContainerRecord): LiveState {
  return liveState(readState(ctx.containers.dir(record.id)));
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

async function waitGone(pid: number, start: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!sameProcess(pid, start)) return true;
    await Bun.sleep(20);
  }
  return !sameProcess(pid, start);
}

/** Records the end of a container nobody supervises any more. */
async function finishOrphan(ctx: Context, record: ContainerRecord, state: LiveState, exitCode: number): Promise<void> {
  try {
    const rt = runtimeConfig(ctx, record.runtime);
    if (record.rootless && sameProcess(state.pid, state.pidStart)) await inContainerNs(record, state.pid, deleteArgs(rt, record.id, { force: true }));
    else if (!record.rootless) await Bun.spawn(deleteArgs(rt, record.id, { force: true }), { stdout: "ignore", stderr: "ignore" }).exited;
  } catch {
    // runtime state is on tmpfs; it goes with the next reboot at worst
  }
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
    await shimRequest(shimSocket(ctx, record.id), { op: "stop", signal, timeoutSeconds: timeout });
    await waitExitRecorded(ctx, record, 5000);
    return true;
  }
  await signalOrphan(record, state, signal);
  if (!(await waitGone(state.pid, state.pidStart, timeout * 1000))) {
    await signalOrphan(record, state, 9);
    await waitGone(state.pid, state.pidStart, 5000);
  }
  await finishOrphan(ctx, record, state, timeout === 0 ? 137 : 143);
  return true;
}

/** After the shim reported an exit, its state write follows within moments. */
async function waitExitRecorded(ctx: Context, record: ContainerRecord, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const s = readState(ctx.containers.dir(record.id));
    if (s.status !== "running" && s.status !== "paused") return;
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
  if (signal === 9 && (await waitGone(state.pid, state.pidStart, 5000))) await finishOrphan(ctx, record, state, 137);
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
    const fresh = readState(dir);
    writeState(dir, { ...fresh, status: "removing" });
    ctx.containers.releaseName(record.name, record.id);
    // The writable layer holds files owned by container ids: delete in the namespace.
    await ctx.executor.remove([dir]);
    rmSync(runDir(ctx, record.id), { recursive: true, force: true });
  } finally {
    lock.release();
  }
}

/**
 * Starting a container: write its OCI bundle and the shim's instructions,
 * spawn the shim detached in its own namespaces and wait for its one-line
 * verdict. Only a container that really started gets "running"; a failed
 * start leaves no process and no mount behind.
 */
import { trace } from "../trace.ts";
import { closeSync, mkdirSync, openSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { release } from "node:os";
import type { Context } from "../context.ts";
import type { Digest } from "../digest.ts";
import { SkiffError } from "../errors.ts";
import { atomicWrite, atomicWriteJson } from "../fsutil.ts";
import { acquireLock } from "../lock.ts";
import { buildSpec, capabilitiesFromMask, serializeSpec } from "../oci/spec.ts";
import type { ShimConfig } from "../../shim/config.ts";
import type { SyncLine } from "../../shim/protocol.ts";
import { GO } from "../../shim/handover.ts";
import { findExecutable } from "../../runtime/probe.ts";
import type { ContainerRecord } from "./record.ts";
import { layerDirs, readLayeredFile } from "./rootfs.ts";
import { runtimeConfig } from "./runtime.ts";
import { effectiveHealthcheck } from "./health.ts";
import { resolveVolumeSources } from "../volumes/mounts.ts";
import { setUpNetworkPlan, type NetworkSetup } from "../network/setup.ts";
import { assertCan, liveState, readState, writeState } from "./state.ts";
import { waitProcessGone } from "../sys/proc.ts";
import { stopLeftoverHelper } from "../network/leftover-helper.ts";
import { applyUnitSpec, shimUnitConfig, unitSpawnFds, type UnitStart } from "../systemd/unit-start.ts";
import type { OciSpec } from "../oci/types.ts";
import { resourcesForStart } from "./cgroups.ts";
import { needsHelper, networkReadyHook } from "../network/plan.ts";
import { launchShim, type EarlyShim, type ShimProcess } from "./shim-process.ts";

/** A start that failed in the container's command: carries Docker's exit status (125, 126, 127). */
export class StartFailure extends SkiffError {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super("FailedPrecondition", message);
    this.exitCode = exitCode;
  }
}

export interface StartOptions {
  /** A client will attach right away: the shim keeps output for it and waits for it. */
  attach?: boolean;
  rows?: number;
  cols?: number;
  /** Started by a systemd unit (`run`/`start` in a service): sd-notify and socket activation. */
  unit?: UnitStart;
  /** A shim already on its way up (see EarlyShim); released if not used. */
  early?: EarlyShim | undefined;
  /** Work for the caller while the shim starts the container (the runtime takes some 30 ms): run makes the record durable then. */
  whileStarting?: (() => void) | undefined;
  /**
   * With `attach`, no terminal and no stdin: the shim sends output and the
   * exit as frames on the sync pipe after its verdict (StartResult.pipe),
   * which saves a connection and a request round trip.
   */
  attachOnSyncPipe?: boolean;
}

/** The sync pipe after the verdict, when the shim attached it (attachOnSyncPipe): frames, `head` first. */
export interface SyncPipe {
  stream: ReadableStream<Uint8Array>;
  head: Uint8Array;
}

/**
 * A container's volatile directory. Named by the first 16 hex digits of the
 * id: unix socket paths (shim.sock, slirp4netns's API socket) must fit in
 * 108 bytes even under a long --runroot.
 */
export function runDir(ctx: Context, id: string): string {
  return join(ctx.paths.runContainers, id.slice(0, 16));
}

export function shimSocket(ctx: Context, id: string): string {
  return join(runDir(ctx, id), "shim.sock");
}

export function containerLock(ctx: Context, id: string): string {
  return join(ctx.paths.locks, `ctr-${id.slice(0, 16)}.lock`);
}

function nofileLimit(): { soft: number; hard: number } {
  // The runtime raises the container's limit up to its own hard limit; Docker's default is 1048576.
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const hard = Number(line?.split(/\s+/)[4]);
    if (Number.isFinite(hard) && hard > 0) return { soft: Math.min(hard, 1048576), hard: Math.min(hard, 1048576) };
  } catch {
    // fall through
  }
  return { soft: 1024, hard: 4096 };
}

let bounding: string[] | undefined | null = null;

/** Capabilities this process may hand on (CapBnd): the runtime cannot grant more. */
function boundingCapabilities(): string[] | undefined {
  if (bounding !== null) return bounding;
  try {
    const line = readFileSync("/proc/self/status", "utf8")
      .split("\n")
      .find((l) => l.startsWith("CapBnd:"));
    bounding = line ? capabilitiesFromMask(line.slice(7).trim()) : undefined;
  } catch {
    bounding = undefined;
  }
  return bounding;
}

function writeBundle(ctx: Context, record: ContainerRecord, dir: string, net: NetworkSetup, edit?: (spec: OciSpec) => void): void {
  const bundle = join(dir, "bundle");
  const rootfs = join(dir, "rootfs");
  mkdirSync(bundle, { recursive: true, mode: 0o700 });
  mkdirSync(rootfs, { recursive: true, mode: 0o755 });
  const layers = layerDirs(ctx, record);
  const passwd = readLayeredFile(layers, "etc/passwd");
  const group = readLayeredFile(layers, "etc/group");
  const initPath = record.options.init ? (findExecutable("tini-static") ?? findExecutable("catatonit")) : undefined;
  if (record.options.init && !initPath) {
    throw new SkiffError("FailedPrecondition", "--init needs a static init binary: install tini (apt-get install tini)");
  }
  const spec = buildSpec({
    id: record.id,
    options: resolveVolumeSources(ctx, record.options),
    image: record.imageConfig,
    rootfs,
    ...(passwd !== undefined ? { passwd } : {}),
    ...(group !== undefined ? { group } : {}),
    rootless: record.rootless,
    ...(initPath ? { initPath } : {}),
    network: net.specNetwork,
    files: net.files,
    defaultNofile: nofileLimit(),
    ...(boundingCapabilities() ? { availableCapabilities: boundingCapabilities() } : {}),
    annotations: { "io.skiff.name": record.name },
    arch: process.arch,
    kernel: release(),
    ...resourcesForStart(record),
  });
  edit?.(spec);
  atomicWrite(join(bundle, "config.json"), serializeSpec(spec), { noSync: true, mode: 0o600 });
}

/** The shim's verdict line, and what the pipe held after it (frames, with attachOnSyncPipe). */
async function readSyncLine(stdout: ReadableStream<Uint8Array>, timeoutMs: number): Promise<{ line: SyncLine; rest: Uint8Array } | undefined> {
  const reader = stdout.getReader();
  let buf = Buffer.alloc(0);
  const timer = setTimeout(() => void reader.cancel().catch(() => {}), timeoutMs);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf = Buffer.concat([buf, value]);
      const nl = buf.indexOf(10);
      if (nl >= 0) return { line: JSON.parse(buf.toString("utf8", 0, nl)) as SyncLine, rest: buf.subarray(nl + 1) };
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
  return undefined;
}

function shimLogTail(dir: string): string {
  try {
    const lines = readFileSync(join(dir, "shim.log"), "utf8").trim().split("\n");
    return lines[lines.length - 1] ?? "";
  } catch {
    return "";
  }
}

/** How a process started in a user namespace ends when the namespace could not be set up (see runtime/userns.ts). */
const NEVER_STARTED = 125;

/**
 * Claims the early shim, if it fits this container, and gives it the path of
 * its shim.json: it mounts the root filesystem while the bundle is written
 * (shim/handover.ts). Undefined when there is none, or it is already gone.
 */
async function beginHandOver(
  record: ContainerRecord,
  cfgPath: string,
  opts: { joinUserns?: number | undefined; extraFds: number[]; early?: EarlyShim | undefined },
): Promise<ShimProcess | undefined> {
  const fits = opts.joinUserns === undefined && opts.extraFds.length === 0;
  const early = fits ? await opts.early?.claim(record.rootless) : undefined;
  opts.early?.release();
  if (!early) return undefined;
  try {
    const stdin = early.stdin as Bun.FileSink;
    stdin.write(`${cfgPath}\n`);
    await stdin.flush();
    return early;
  } catch {
    return undefined; // EPIPE: it exited
  }
}

/** Tells a handed-over shim the bundle is written (`go`), or that it never will be (EOF); false when it is gone. */
async function endHandOver(child: ShimProcess, go: boolean): Promise<boolean> {
  try {
    const stdin = child.stdin as Bun.FileSink;
    if (go) stdin.write(`${GO}\n`);
    await stdin.end();
    return true;
  } catch {
    return false;
  }
}

async function spawnShim(
  ctx: Context,
  record: ContainerRecord,
  cfgPath: string,
  dir: string,
  opts: { joinUserns?: number | undefined; extraFds: number[]; early?: ShimProcess | undefined; whileStarting?: (() => void) | undefined },
): Promise<{ line: SyncLine; pipe: SyncPipe }> {
  const logFd = openSync(join(dir, "shim.log"), "a", 0o600);
  try {
    let child = opts.early && (await endHandOver(opts.early, true)) ? opts.early : undefined;
    if (child) opts.whileStarting?.();
    let line = child && (await readSyncLine(child.stdout as ReadableStream<Uint8Array>, 120_000));
    if (!line && child) await Promise.race([child.exited, Bun.sleep(1000)]); // its stdout closed: it is on its way out
    // An early shim that never got going (its stderr goes nowhere) gives way to one that can say why.
    if (!line && (!child || child.exitCode === NEVER_STARTED)) {
      child = await launchShim(ctx, record.rootless, [cfgPath], { stdin: "ignore", stderr: logFd, extraFds: opts.extraFds, joinUserns: opts.joinUserns });
      opts.whileStarting?.();
      line = await readSyncLine(child.stdout as ReadableStream<Uint8Array>, 120_000);
    }
    if (!child) throw new SkiffError("Internal", `container ${record.name}: no shim`);
    child.unref();
    if (!line) {
      child.kill("SIGKILL");
      const why = shimLogTail(dir);
      throw new SkiffError("Internal", `container ${record.name}: the shim exited before starting it${why ? `: ${why}` : ""}`);
    }
    return { line: line.line, pipe: { stream: child.stdout as ReadableStream<Uint8Array>, head: line.rest } };
  } finally {
    closeSync(logFd);
  }
}

/** Starts a created or exited container. Returns its pid; a running container is left as it is. */
export async function startContainer(ctx: Context, record: ContainerRecord, opts: StartOptions = {}): Promise<{ pid: number; alreadyRunning: boolean; pipe?: SyncPipe }> {
  const cdir = ctx.containers.dir(record.id);
  const lock = await acquireLock(containerLock(ctx, record.id));
  try {
    const state = liveState(readState(cdir));
    if (state.status === "running" || state.status === "paused" || state.status === "restarting") return { pid: state.pid, alreadyRunning: true };
    assertCan("start", state.status, record.name);
    // The previous shim records the exit, then still tidies up (runtime
    // delete, unmount): a new one must not race it for the id or the run dir.
    await waitProcessGone(state.shimPid, state.shimStart, 5000);
    const dir = runDir(ctx, record.id);
    // The previous shim is gone; if it was killed, its network helper still runs, and its pid file goes with the directory.
    if (state.shimPid > 0) await stopLeftoverHelper(dir);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const runtime = runtimeConfig(ctx, record.runtime);
    mkdirSync(runtime.root, { recursive: true, mode: 0o700 });
    trace("start: locked");
    const net = await setUpNetworkPlan(ctx, record, dir);
    trace("start: network planned");
    const unit = shimUnitConfig(record.options.sdNotify, opts.unit, { runDir: dir, firstFd: record.rootless && net.joinUserns === undefined ? 4 : 3 });
    const o = record.options;
    const healthcheck = effectiveHealthcheck(record.imageConfig, o);
    const cfg: ShimConfig = {
      id: record.id,
      name: record.name,
      containerDir: cdir,
      runDir: dir,
      bundle: join(dir, "bundle"),
      rootfs: join(dir, "rootfs"),
      driver: record.driver,
      snapshotsDir: ctx.snapshots.root,
      lowerDirs: [...record.image.chainIds].reverse().map((c) => ctx.snapshots.relativeFsDir(c as Digest)),
      upperDir: join(cdir, "upper"),
      workDir: join(cdir, "work"),
      runtime,
      tty: o.tty,
      openStdin: o.openStdin,
      stdinOnce: true,
      logPath: join(cdir, "ctr.log"),
      ...(o.logMaxSize ? { logMaxSize: o.logMaxSize } : {}),
      ...(o.logMaxFiles ? { logMaxFiles: o.logMaxFiles } : {}),
      autoRemove: o.autoRemove,
      waitForAttach: opts.attach ?? false,
      ...(opts.attach && opts.attachOnSyncPipe && !o.tty && !o.openStdin ? { attachOnSyncPipe: true } : {}),
      namesDir: join(ctx.containers.root, ".names"),
      restart: o.restart,
      ...(healthcheck ? { healthcheck } : {}),
      healthOnFailure: o.healthOnFailure,
      network: net.plan,
      attachments: net.attachments,
      ...(net.files.hosts && net.plan.mode !== "join" ? { hostsFile: net.files.hosts } : {}),
      ports: net.ports,
      ...(unit ? { unit } : {}),
      ...(opts.rows ? { rows: opts.rows } : {}),
      ...(opts.cols ? { cols: opts.cols } : {}),
    };
    const cfgPath = join(dir, "shim.json");
    atomicWriteJson(cfgPath, cfg, { noSync: true, mode: 0o600 });
    // shimAlive and note describe this read, not the container: they are not stored.
    const { shimAlive: _alive, note: _note, ...stored } = state;
    writeState(cdir, { ...stored, status: "created", stoppedByUser: false, error: "", oomKilled: false });
    const extraFds = unitSpawnFds(unit);
    const early = await beginHandOver(record, cfgPath, { joinUserns: net.joinUserns, extraFds, early: opts.early });
    trace("start: handed over");
    try {
      writeBundle(ctx, record, dir, net, (spec) => {
        applyUnitSpec(spec, unit, opts.unit);
        if (needsHelper(net.plan)) spec.hooks = { ...spec.hooks, createRuntime: [...(spec.hooks?.createRuntime ?? []), networkReadyHook(dir)] };
      });
    } catch (e) {
      if (early) await endHandOver(early, false);
      throw e;
    }
    trace("start: bundle written");
    const { line, pipe } = await spawnShim(ctx, record, cfgPath, dir, { joinUserns: net.joinUserns, extraFds, early, whileStarting: opts.whileStarting });
    trace("start: shim reported");
    if ("error" in line) throw new StartFailure(line.error, line.exitCode);
    return { pid: line.pid, alreadyRunning: false, ...(cfg.attachOnSyncPipe ? { pipe } : {}) };
  } finally {
    opts.early?.release();
    lock.release();
  }
}

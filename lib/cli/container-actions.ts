/**
 * What the container commands do once their flags are parsed: call the
 * engine and behave like Docker (output, exit codes, attached sessions).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import type { Context } from "../context.ts";
import { trace } from "../trace.ts";
import { containerEvent } from "./events.ts";
import { SkiffError, toSkiffError } from "../errors.ts";
import { createContainer, type PullPolicy } from "../containers/create.ts";
import { execProcess, newExecId } from "../containers/exec.ts";
import { currentState, killContainer, removeContainer, stopContainer, waitContainer } from "../containers/ops.ts";
import type { ContainerRecord } from "../containers/record.ts";
import { shimSocket, startContainer, StartFailure, type SyncPipe } from "../containers/start.ts";
import { EarlyShim } from "../containers/shim-process.ts";
import { parseSignal } from "../oci/spec.ts";
import { pipeSession, shimRequest, shimSession, type Session } from "../../shim/client.ts";
import { eachName, finishBulk } from "./bulk.ts";
import { ExitStatus } from "./main.ts";
import { createOptionsFromFlags, prepareBindSources, resolveEnv, parseEnvFile, type RunFlags } from "./run-flags.ts";
import { parseDetachKeys, rawTerminal, runSession, terminalSize, type SessionResult } from "./session.ts";
import { writeStderr, writeStdout } from "./stdio.ts";
import { ignoringMissing, notifyRunning, removeCidfiles, removeRunFiles, replaceExisting, SignalProxy, targetsOf, writePidFile } from "./unit-run.ts";
import { unitLabels, unitStartFromEnv, type UnitStart } from "../systemd/unit-start.ts";

type Flags = RunFlags & {
  detach?: boolean;
  sigProxy?: boolean;
  detachKeys?: string;
  cidfile?: string;
  /** Remove a container of the same name (and the one a leftover --cidfile names) first. */
  replace?: boolean;
  /** Write the shim's pid here once the container runs. */
  pidfile?: string;
  pull?: PullPolicy;
  platform?: string;
  runtime?: string;
};

async function create(ctx: Context, image: string, command: string[], flags: Flags, opts: { deferSync?: boolean } = {}): Promise<ContainerRecord> {
  if (flags.replace) await replaceExisting(ctx, flags);
  if (flags.cidfile && existsSync(flags.cidfile)) {
    throw new SkiffError("AlreadyExists", `container ID file found, make sure the other container isn't running or delete ${flags.cidfile}`);
  }
  const options = createOptionsFromFlags(flags, command, { hostEnv: process.env, readFile: (p) => readFileSync(p, "utf8") });
  options.labels = { ...unitLabels(process.env), ...options.labels };
  prepareBindSources(flags, { exists: existsSync, mkdirp: (p) => mkdirSync(p, { recursive: true, mode: 0o755 }) });
  const record = await createContainer(ctx, {
    image,
    name: flags.name,
    options,
    pull: flags.pull,
    platform: flags.platform,
    runtime: flags.runtime,
    onPull: (img) => writeStderr(`Unable to find image '${img}' locally\n`),
    ...(opts.deferSync ? { deferSync: true } : {}),
  });
  if (flags.cidfile) writeFileSync(flags.cidfile, record.id);
  containerEvent(ctx, record, "create");
  return record;
}

export async function createCommand(ctx: Context, image: string, command: string[], flags: Flags): Promise<void> {
  const record = await create(ctx, image, command, flags);
  writeStdout(`${record.id}\n`);
}

function failStart(e: unknown): never {
  if (e instanceof StartFailure) {
    writeStderr(`Error: ${e.message}\n`);
    throw new ExitStatus(e.exitCode);
  }
  throw e;
}

/** `early`: a shim the command launched before loading this module, if any. */
export async function runCommand(ctx: Context, image: string, command: string[], flags: Flags, early = EarlyShim.start(ctx)): Promise<void> {
  trace("run: action");
  // Foreground without a terminal: signals are passed on from the first moment (a unit may be stopped while we pull).
  const proxy = !flags.detach && !flags.tty && flags.sigProxy !== false ? new SignalProxy() : undefined;
  try {
    const record = await create(ctx, image, command, flags, { deferSync: true });
    // The record is made durable while the shim starts the container, and in any case before we return.
    let synced = false;
    const persist = (): void => {
      if (synced) return;
      synced = true;
      ctx.containers.sync(record.id);
    };
    const o = record.options;
    const unit = unitOption();
    if (flags.detach) {
      try {
        await startContainer(ctx, record, { ...unit, early, whileStarting: persist });
      } catch (e) {
        persist();
        failStart(e);
      }
      persist();
      if (flags.pidfile) writePidFile(ctx, record, flags.pidfile);
      containerEvent(ctx, record, "start");
      writeStdout(`${record.id}\n`);
      return;
    }
    const pendingSignal = proxy?.pending;
    if (pendingSignal !== undefined) {
      // Told to stop before the container ran: it never will.
      persist();
      if (o.autoRemove) await removeContainer(ctx, record, { force: true }).catch(() => {});
      throw new ExitStatus(128 + pendingSignal);
    }
    const size = o.tty ? terminalSize() : undefined;
    let started: Awaited<ReturnType<typeof startContainer>>;
    try {
      started = await startContainer(ctx, record, { attach: true, attachOnSyncPipe: true, ...(size ?? {}), ...unit, early, whileStarting: persist });
    } catch (e) {
      persist();
      // A shim that failed removes an --rm container itself; one that never ran cannot.
      if (o.autoRemove) await removeContainer(ctx, record, { force: true }).catch(() => {});
      failStart(e);
    }
    persist();
    if (flags.pidfile) writePidFile(ctx, record, flags.pidfile);
    trace("run: started");
    containerEvent(ctx, record, "start");
    const sock = shimSocket(ctx, record.id);
    proxy?.forward((signal) => void shimRequest(sock, { op: "kill", signal }).catch(() => {}));
    const code = await attachAndWait(ctx, record, {
      stdin: o.openStdin,
      replay: true,
      sigProxy: proxy === undefined && !o.tty && flags.sigProxy !== false,
      detachKeys: flags.detachKeys,
      pipe: started.pipe,
    });
    trace("run: done");
    if (o.autoRemove) removeRunFiles(flags);
    throw new ExitStatus(code);
  } finally {
    early?.release();
    proxy?.release();
  }
}

/** What a service manager gave this process (NOTIFY_SOCKET, LISTEN_FDS), for the shim. */
function unitOption(): { unit?: UnitStart } {
  const unit = unitStartFromEnv(process.env, process.pid);
  return unit ? { unit } : {};
}

interface AttachOpts {
  stdin: boolean;
  replay: boolean;
  sigProxy: boolean;
  detachKeys?: string | undefined;
  /** The shim's sync pipe, when it sends the output there (a foreground run without terminal or stdin). */
  pipe?: SyncPipe | undefined;
}

/** Attaches to a running container's shim; returns the exit code (0 when detached). */
async function attachAndWait(ctx: Context, record: ContainerRecord, opts: AttachOpts): Promise<number> {
  const sock = shimSocket(ctx, record.id);
  const restore = rawTerminal({ tty: record.options.tty, stdin: opts.stdin });
  let session: Session;
  let result: SessionResult;
  try {
    const handlers = { onStdout: writeStdout, onStderr: writeStderr };
    session = opts.pipe
      ? pipeSession(opts.pipe, handlers)
      : await shimSession(sock, { op: "attach", stdin: opts.stdin, stdout: true, stderr: true, replay: opts.replay }, handlers);
    trace("attach: session");
    result = await runSession(session, {
      tty: record.options.tty,
      stdin: opts.stdin,
      forwardSignal: opts.sigProxy
        ? (signal) => {
            void shimRequest(sock, { op: "kill", signal }).catch(() => {});
          }
        : undefined,
      detachKeys: opts.detachKeys !== undefined ? parseDetachKeys(opts.detachKeys) : undefined,
    });
  } finally {
    restore();
  }
  if (result.detached) {
    session.close();
    return 0;
  }
  // With --rm the shim closes the connection once the container is removed.
  trace("attach: exit");
  if (record.options.autoRemove) await Promise.race([session.closed, Bun.sleep(5000)]);
  if (result.exitCode === undefined) {
    // The shim went away without telling: read what it recorded.
    return currentState(ctx, record).exitCode;
  }
  return result.exitCode;
}

/** Containers a reboot should bring back: restart policy always, or unless-stopped and not stopped by hand. */
function restartCandidates(ctx: Context): string[] {
  return ctx.containers
    .list()
    .filter((r) => {
      const st = currentState(ctx, r);
      if (st.status === "running" || st.status === "paused" || st.status === "restarting") return false;
      return r.options.restart.name === "always" || (r.options.restart.name === "unless-stopped" && !st.stoppedByUser);
    })
    .map((r) => r.id);
}

export async function healthcheckCommand(ctx: Context, name: string): Promise<void> {
  const record = ctx.containers.resolve(name);
  const state = currentState(ctx, record);
  if (state.status !== "running") throw new SkiffError("Conflict", `container ${record.name} is not running`);
  const r = await shimRequest(shimSocket(ctx, record.id), { op: "healthcheck" });
  if (r.status === "healthy" || r.exitCode === 0) {
    writeStdout("healthy\n");
    return;
  }
  writeStdout(`${r.status || "unhealthy"}\n`);
  throw new ExitStatus(1);
}

export async function startCommand(
  ctx: Context,
  givenNames: string[],
  opts: { attach?: boolean; interactive?: boolean; detachKeys?: string; allRestart?: boolean },
): Promise<void> {
  const names = opts.allRestart ? [...givenNames, ...restartCandidates(ctx)] : givenNames;
  if (names.length === 0) {
    if (opts.allRestart) return;
    throw new SkiffError("InvalidArgument", "start needs at least one container");
  }
  if ((opts.attach || opts.interactive) && names.length > 1) {
    throw new SkiffError("InvalidArgument", "you cannot start and attach multiple containers at once");
  }
  if (opts.attach || opts.interactive) {
    const record = ctx.containers.resolve(names[0] as string);
    const size = record.options.tty ? terminalSize() : undefined;
    try {
      await startContainer(ctx, record, { attach: true, ...(size ?? {}), ...unitOption() });
    } catch (e) {
      failStart(e);
    }
    const code = await attachAndWait(ctx, record, {
      stdin: Boolean(opts.interactive && record.options.openStdin),
      replay: true,
      sigProxy: !record.options.tty,
      detachKeys: opts.detachKeys,
    });
    throw new ExitStatus(code);
  }
  const unit = names.length === 1 ? unitOption() : {};
  const outcomes = await eachName(names, async (n) => {
    const record = ctx.containers.resolve(n);
    try {
      const r = await startContainer(ctx, record, unit);
      if (r.alreadyRunning && unit.unit) await notifyRunning(ctx, record, unit.unit);
    } catch (e) {
      if (e instanceof StartFailure) throw new SkiffError("FailedPrecondition", e.message);
      throw e;
    }
    return n;
  });
  for (const o of outcomes) if (o.ok) writeStdout(`${o.value}\n`);
  finishBulk(outcomes, "stop");
}

function timeoutOf(time: string | undefined): number | undefined {
  if (time === undefined) return undefined;
  const n = Number(time);
  if (!Number.isInteger(n)) throw new SkiffError("InvalidArgument", `invalid value for --time: ${time}`);
  return n;
}

export async function stopCommand(
  ctx: Context,
  names: string[],
  opts: { time?: string; signal?: string; ignore?: boolean; cidfile?: string[] },
): Promise<void> {
  const timeoutSeconds = timeoutOf(opts.time);
  const signal = opts.signal ? parseSignal(opts.signal) : undefined;
  const targets = targetsOf(names, opts);
  const outcomes = await Promise.all(
    targets.map(async (n) => {
      try {
        const record = ctx.containers.resolve(n);
        if (await stopContainer(ctx, record, { timeoutSeconds, signal })) containerEvent(ctx, record, "stop");
        return { name: n, ok: true as const, value: n };
      } catch (e) {
        return { name: n, ok: false as const, error: toSkiffError(e) };
      }
    }),
  );
  for (const o of outcomes) if (o.ok) writeStdout(`${o.value}\n`);
  finishBulk(ignoringMissing(outcomes, opts.ignore), "stop");
}

export async function restartCommand(ctx: Context, names: string[], opts: { time?: string; signal?: string }): Promise<void> {
  const timeoutSeconds = timeoutOf(opts.time);
  const signal = opts.signal ? parseSignal(opts.signal) : undefined;
  const outcomes = await eachName(names, async (n) => {
    const record = ctx.containers.resolve(n);
    await stopContainer(ctx, record, { timeoutSeconds, signal });
    try {
      await startContainer(ctx, record);
    } catch (e) {
      if (e instanceof StartFailure) throw new SkiffError("FailedPrecondition", e.message);
      throw e;
    }
    containerEvent(ctx, record, "restart");
    return n;
  });
  for (const o of outcomes) if (o.ok) writeStdout(`${o.value}\n`);
  finishBulk(outcomes, "stop");
}

export async function killCommand(ctx: Context, names: string[], opts: { signal: string }): Promise<void> {
  const signal = parseSignal(opts.signal);
  const outcomes = await eachName(names, async (n) => {
    const record = ctx.containers.resolve(n);
    await killContainer(ctx, record, signal);
    containerEvent(ctx, record, "kill", { signal: String(signal) });
    return n;
  });
  for (const o of outcomes) if (o.ok) writeStdout(`${o.value}\n`);
  finishBulk(outcomes, "kill");
}

export async function rmCommand(
  ctx: Context,
  names: string[],
  opts: { force?: boolean; volumes?: boolean; ignore?: boolean; cidfile?: string[]; time?: string },
): Promise<void> {
  const targets = targetsOf(names, opts);
  // --time with --force: a graceful stop (stop signal, then SIGKILL after that long) instead of SIGKILL.
  const timeoutSeconds = timeoutOf(opts.time);
  const outcomes = await Promise.all(
    targets.map(async (n) => {
      try {
        const rec = ctx.containers.resolve(n);
        if (opts.force && timeoutSeconds !== undefined) await stopContainer(ctx, rec, { timeoutSeconds });
        await removeContainer(ctx, rec, { force: opts.force ?? false });
        containerEvent(ctx, rec, "destroy");
        if (opts.volumes) await (await import("../volumes/mounts.ts")).removeAnonymousVolumes(ctx, rec);
        return { name: n, ok: true as const, value: n };
      } catch (e) {
        return { name: n, ok: false as const, error: toSkiffError(e) };
      }
    }),
  );
  for (const o of outcomes) if (o.ok) writeStdout(`${o.value}\n`);
  removeCidfiles(ctx, opts.cidfile);
  finishBulk(ignoringMissing(outcomes, opts.ignore), "rm");
}

export async function waitCommand(ctx: Context, names: string[]): Promise<void> {
  const outcomes = await eachName(names, async (n) => waitContainer(ctx, ctx.containers.resolve(n)));
  for (const o of outcomes) if (o.ok) writeStdout(`${o.value}\n`);
  finishBulk(outcomes, "stop");
}

export async function pauseCommand(ctx: Context, names: string[]): Promise<void> {
  await pauseOrResume(ctx, names, "pause");
}

export async function unpauseCommand(ctx: Context, names: string[]): Promise<void> {
  await pauseOrResume(ctx, names, "resume");
}

async function pauseOrResume(ctx: Context, names: string[], op: "pause" | "resume"): Promise<void> {
  const outcomes = await eachName(names, async (n) => {
    const record = ctx.containers.resolve(n);
    const state = currentState(ctx, record);
    const want = op === "pause" ? "running" : "paused";
    if (state.status !== want) throw new SkiffError("Conflict", `container ${record.name} is not ${want === "running" ? "running" : "paused"}`);
    if (!state.shimAlive) throw new SkiffError("FailedPrecondition", `container ${record.name} has no shim`);
    await shimRequest(shimSocket(ctx, record.id), { op });
    return n;
  });
  for (const o of outcomes) if (o.ok) writeStdout(`${o.value}\n`);
  finishBulk(outcomes, "stop");
}

export async function execCommand(
  ctx: Context,
  name: string,
  command: string[],
  flags: { detach?: boolean; interactive?: boolean; tty?: boolean; env?: string[]; envFile?: string[]; user?: string; workdir?: string; detachKeys?: string },
): Promise<void> {
  const record = ctx.containers.resolve(name);
  const state = currentState(ctx, record);
  if (state.status !== "running") throw new SkiffError("Conflict", `container ${record.id.slice(0, 12)} is not running`);
  if (!state.shimAlive) throw new SkiffError("FailedPrecondition", `container ${record.name} has no shim: exec needs it (stop and start the container)`);
  const env: string[] = [];
  for (const f of flags.envFile ?? []) env.push(...resolveEnv(parseEnvFile(readFileSync(f, "utf8")), process.env));
  env.push(...resolveEnv(flags.env ?? [], process.env));
  const tty = Boolean(flags.tty);
  const proc = execProcess(ctx, record, { cmd: command, env, user: flags.user, workdir: flags.workdir, tty });
  const sock = shimSocket(ctx, record.id);
  const execId = newExecId();
  if (flags.detach) {
    await shimRequest(sock, { op: "exec", execId, process: proc, stdin: false, detach: true });
    return;
  }
  const stdin = Boolean(flags.interactive);
  const restore = rawTerminal({ tty, stdin });
  let result: SessionResult;
  try {
    const session = await shimSession(sock, { op: "exec", execId, process: proc, stdin, detach: false }, { onStdout: writeStdout, onStderr: writeStderr });
    result = await runSession(session, {
      tty,
      stdin,
      detachKeys: flags.detachKeys !== undefined ? parseDetachKeys(flags.detachKeys) : undefined,
    });
  } finally {
    restore();
  }
  if (result.detached) return;
  throw new ExitStatus(result.exitCode ?? 126);
}

export async function attachCommand(ctx: Context, name: string, flags: { stdin?: boolean; sigProxy?: boolean; detachKeys?: string }): Promise<void> {
  const record = ctx.containers.resolve(name);
  const state = currentState(ctx, record);
  if (state.status !== "running" && state.status !== "paused" && state.status !== "restarting") {
    throw new SkiffError("Conflict", "you cannot attach to a stopped container, start it first");
  }
  if (!state.shimAlive) throw new SkiffError("FailedPrecondition", `container ${record.name} has no shim to attach to`);
  const code = await attachAndWait(ctx, record, {
    stdin: flags.stdin !== false && record.options.openStdin,
    replay: false,
    sigProxy: !record.options.tty && flags.sigProxy !== false,
    detachKeys: flags.detachKeys,
  });
  throw new ExitStatus(code);
}

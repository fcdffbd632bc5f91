/**
 * `skiff __shim <shim.json>`: the supervisor of one container, like conmon.
 * Started detached (own session) in a private mount namespace (and, rootless,
 * in the user namespace), it mounts the root filesystem, starts the container
 * with the OCI runtime, reports the outcome on its stdout (the sync pipe),
 * then serves shim.sock, pumps the container's output to the json-file log
 * and to attached clients, reaps the container, records its exit and, with
 * --rm, removes it. It outlives the CLI that started it.
 */
import { trace, traceMemory } from "../lib/trace.ts";
import { existsSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { deleteArgs, startFailureCode } from "../runtime/oci.ts";
import { dup2, setChildSubreaper } from "../lib/sys/libc.ts";
import { Conn, pipeTransport } from "./conn.ts";
import { Container } from "./container.ts";
import type { ShimRequest, SyncLine } from "./protocol.ts";
import { connectNetwork, prepareNetns, type NetworkHandle } from "./network.ts";
import { processStartTime } from "../lib/sys/proc.ts";
import { mountRootfs, unmountRootfs } from "./rootfs.ts";
import { patchState } from "./state.ts";
import { StartError } from "./errors.ts";
import { pauseOrResume, watchOom } from "./pause.ts";
import { UnitNotifier } from "./notify.ts";
import { HandOverReader } from "./handover.ts";
import { SpareNetns } from "./spare-netns.ts";
import { NO_SPARE_NETNS, type ShimConfig } from "./config.ts";
import { needsHelper } from "../lib/network/plan.ts";
import type { HealthChecker } from "./health.ts";
import { restartDelayMs, shouldRestart } from "../lib/containers/health.ts";
import { hasVolumeMounts, readRecordText, removeContainer, removeLeftovers, retire } from "./removal.ts";

function sync(line: SyncLine): void {
  try {
    // Straight to fd 1: the first touch of process.stdout builds a stream (about 3 ms, on the start path).
    writeSync(1, `${JSON.stringify(line)}\n`);
  } catch {
    // The CLI went away; nobody to tell.
  }
}

/** After the sync line nobody reads our stdout: point it at /dev/null so writes never SIGPIPE. */
function detachStdout(): void {
  try {
    const fd = openSync("/dev/null", "w");
    dup2(fd, 1);
  } catch {
    // best effort
  }
}

async function quiet(argv: string[]): Promise<void> {
  const p = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  await p.exited;
}

export async function shimMain(argv: string[]): Promise<number> {
  trace("shim: loaded");
  const handover = argv[0] === "-" ? new HandOverReader() : undefined;
  // Made while we wait, for a networked container (most are).
  const spare = handover && argv[1] !== NO_SPARE_NETNS ? SpareNetns.start() : undefined;
  const cfgPath = handover ? handover.configPath() : argv[0];
  trace("shim: got config");
  if (!cfgPath) {
    if (argv[0] === "-") return 0;
    process.stderr.write("usage: skiff __shim SHIM_JSON|-\n");
    return 125;
  }
  traceMemory("shim: start");
  const cfg = JSON.parse(readFileSync(cfgPath, "utf8")) as ShimConfig;
  setChildSubreaper();
  // The container must not die with a terminal or a careless kill of the shim.
  for (const sig of ["SIGHUP", "SIGINT", "SIGTERM", "SIGPIPE"] as const) process.on(sig, () => {});

  const ctr = new Container(cfg);
  const unit = UnitNotifier.prepare(cfg);
  let net: NetworkHandle = { stop: async () => {} };
  let connected: Promise<void> | undefined;
  /** Stops the helper (one still coming up too) and frees user-network addresses. */
  const stopNetwork = async (): Promise<void> => {
    await connected?.catch(() => {});
    await net.stop();
    await releaseLeases(cfg);
  };
  let oomKilled = (): boolean => false;
  try {
    // The namespace file (a process to spawn) is made while the root filesystem is mounted.
    const netns = prepareNetns(cfg.network, spare);
    netns.catch(() => {}); // seen below, once the mount is done
    // A shim killed earlier leaves the runtime's state of this id behind, and runc would refuse the id.
    if (existsSync(join(cfg.runtime.root, cfg.id))) await deleteRuntimeState(cfg);
    await mountRootfs(cfg);
    traceMemory("shim: mounted");
    await netns;
    const connect = (): Promise<void> => {
      const up = connectNetwork(cfg.network, cfg.hostsFile, cfg.attachments).then(async (n) => {
        net = n;
        if (cfg.attachments.length > 0) {
          // User networks only: the lease store (and the schema library it validates with) stays unloaded otherwise.
          const { confirmLease } = await import("../lib/network/members.ts");
          for (const a of cfg.attachments) await confirmLease(a, cfg.id, { pid: process.pid, start: processStartTime(process.pid) ?? 0 });
        }
        if (net.address || cfg.ports.length > 0) patchState(cfg.containerDir, { ipAddress: net.address ?? "", ports: cfg.ports });
      });
      up.catch(() => {});
      return up;
    };
    // The network helper (pasta, slirp4netns, user networks) comes up while
    // the runtime creates the container; the container's process starts only
    // after (Container.start's gate). The helper starts first, in the wait
    // for the CLI's go, except slirp4netns once go is already here: it is
    // ready in ~4 ms, well before runc reaches the gate, so runc goes first
    // (-1 to -3 ms). pasta takes 15-30 ms: the earlier the better.
    if (!(cfg.network.mode === "slirp4netns" && handover && !handover.nothingYet())) connected = connect();
    if (handover && !handover.awaitGo()) {
      // The CLI could not finish the bundle and says why itself; nothing was recorded yet.
      await stopNetwork();
      await unmountRootfs(cfg);
      return 0;
    }
    if (needsHelper(cfg.network)) {
      const gate = Promise.withResolvers<void>();
      // Spawns the runtime before its first await.
      const started = ctr.start({}, { gate: gate.promise });
      (connected ??= connect()).then(gate.resolve, gate.reject);
      await started;
    } else {
      // Without a helper to wait for, one `runtime run --detach` beats create + start (a process less).
      await (connected ??= connect());
      await ctr.start();
    }
    traceMemory("shim: started");
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const exitCode = e instanceof StartError ? e.exitCode : startFailureCode(message);
    await deleteRuntimeState(cfg);
    await unmountRootfs(cfg);
    await stopNetwork();
    patchState(cfg.containerDir, { status: "created", exitCode, error: message, pid: 0, shimPid: 0, ipAddress: "", ports: [] });
    // Removed before the verdict: when `run --rm` returns, the container is gone (as Docker).
    if (cfg.autoRemove) {
      await removeContainer(cfg, readRecordText(cfg)).catch(() => {
        // `skiff rm` can finish what is left; the verdict must go out
      });
    }
    sync({ error: message, exitCode });
    return 1;
  }
  const server = Bun.listen<Conn>({
    unix: join(cfg.runDir, "shim.sock"),
    socket: {
      open(socket) {
        socket.data = new Conn(socket);
      },
      data(socket, data) {
        const conn = socket.data;
        const req = conn.receive(data);
        if (req) handle(ctr, cfg, conn, req);
      },
      drain(socket) {
        socket.data.flush();
      },
      close(socket) {
        socket.data.closed = true;
        socket.data.onClose?.();
      },
      error(socket) {
        socket.data.closed = true;
        socket.data.onClose?.();
      },
    },
  });

  // Listening before the verdict: a client may connect the moment it reads it.
  unit.started(ctr);
  sync({ pid: ctr.pid });
  // A foreground run's CLI reads output and exit on the sync pipe; otherwise nobody reads it again.
  if (cfg.attachOnSyncPipe) {
    const conn: Conn = new Conn(
      pipeTransport(1, () => {
        detachStdout();
        conn.closed = true;
        conn.onClose?.();
      }),
    );
    ctr.attach(conn, { stdin: false, stdout: true, stderr: true, replay: true });
  } else detachStdout();
  // The OOM count is read once the client has its answer (reading the cgroup costs about a millisecond).
  oomKilled = watchOom(ctr.pid, cfg.id);
  // Startup garbage (module loading, the spawn of the runtime) is dead now:
  // a full collection returns it, and shim memory counts per container.
  setTimeout(() => {
    Bun.gc(true);
    traceMemory("shim: after gc");
  }, 50).unref();
  setTimeout(() => traceMemory("shim: idle"), 2000).unref();

  const health = cfg.healthcheck ? new (await import("./health.ts")).HealthChecker(ctr, cfg, cfg.healthcheck) : undefined;
  healthChecker = health;
  health?.begin();
  let exitCode = await ctr.exited;
  let delay = 0;
  let restarts = 0;
  // Restart policies and --health-on-failure=restart are the shim's job:
  // it holds the rootfs and the network, so a restart is just another run.
  for (;;) {
    trace("shim: exited");
    // Everything the container wrote reaches the log and clients before the exit is told.
    await ctr.outputDone;
    trace("shim: output done");
    health?.stop();
    const stoppedByUser = ctr.stopRequested || readStoppedByUser(cfg.containerDir);
    const again = shouldRestart(cfg.restart, { code: exitCode, stoppedByUser, restartCount: restarts, healthRestart: health?.wantsRestart ?? false });
    if (!again) break;
    delay = restartDelayMs(delay, Date.now() - ctr.startedAt);
    restarts += 1;
    patchState(cfg.containerDir, { status: "restarting", exitCode, oomKilled: oomKilled(), finishedAt: new Date().toISOString(), pid: 0, restartCount: restarts });
    ctr.notifyExit(exitCode, { keepOpen: false });
    await deleteRuntimeState(cfg);
    const deadline = Date.now() + delay;
    while (Date.now() < deadline && !ctr.stopRequested) await Bun.sleep(Math.min(50, deadline - Date.now()));
    if (ctr.stopRequested || readStoppedByUser(cfg.containerDir)) break;
    try {
      await ctr.start({ restartCount: restarts });
      oomKilled = watchOom(ctr.pid, cfg.id);
    } catch (e) {
      patchState(cfg.containerDir, { error: (e as Error).message });
      break;
    }
    health?.begin();
    exitCode = await ctr.exited;
  }
  patchState(cfg.containerDir, { status: "exited", exitCode, oomKilled: oomKilled(), finishedAt: new Date().toISOString(), pid: 0, ipAddress: "", ports: [] });
  await finish(ctr, cfg, exitCode, stopNetwork);
  // Give clients a moment to read the last frames.
  await ctr.clientsGone(2000);
  server.stop(true);
  return unit.exitCode(exitCode);
}

let healthChecker: HealthChecker | undefined;

/** The runtime's state of this id (its state dir; a cgroup as root): gone, or never there. */
function deleteRuntimeState(cfg: ShimConfig): Promise<void> {
  return quiet(deleteArgs(cfg.runtime, cfg.id, { force: true })).catch(() => {});
}

/**
 * After the container's last exit (recorded): stops its network, tells the
 * clients, tidies up, and removes an --rm container.
 */
async function finish(ctr: Container, cfg: ShimConfig, exitCode: number, stopNetwork: () => Promise<void>): Promise<void> {
  const recordText = cfg.autoRemove ? readRecordText(cfg) : undefined;
  if (cfg.autoRemove && !(recordText && hasVolumeMounts(recordText))) {
    // Out of sight first (see retire): `run --rm` returns before the files
    // and the runtime's state are deleted, and before its network helper is
    // gone (a helper's exit waits ~20 ms for the kernel to unregister its tap
    // device) unless it holds published ports, which must be free by then.
    const portsHeld = cfg.ports.length > 0;
    if (portsHeld) await stopNetwork();
    ctr.closeLog();
    if (cfg.waitForAttach) await ctr.firstAttach(10_000);
    ctr.notifyExit(exitCode, { keepOpen: true });
    const trash = retire(cfg);
    trace("shim: retired");
    ctr.closeClients();
    const networkStopped = portsHeld ? undefined : stopNetwork();
    const runtimeDeleted = deleteRuntimeState(cfg);
    await unmountRootfs(cfg);
    await networkStopped;
    removeLeftovers(cfg, trash);
    await runtimeDeleted;
    trace("shim: removed");
    return;
  }
  await stopNetwork();
  // The runtime's delete (its state dir, cgroup) and our unmount touch
  // different things; so does removing our files, once unmounted.
  const runtimeDeleted = deleteRuntimeState(cfg);
  await unmountRootfs(cfg);
  trace("shim: unmounted");
  ctr.closeLog();
  if (cfg.waitForAttach) await ctr.firstAttach(10_000);
  if (cfg.autoRemove) {
    // Anonymous volumes to remove: all of it before the client goes, as Docker.
    ctr.notifyExit(exitCode, { keepOpen: true });
    await removeContainer(cfg, recordText);
    await runtimeDeleted;
    trace("shim: removed");
    ctr.closeClients();
  } else {
    await runtimeDeleted;
    ctr.notifyExit(exitCode, { keepOpen: false });
  }
}

function readStoppedByUser(containerDir: string): boolean {
  try {
    return (JSON.parse(readFileSync(join(containerDir, "state.json"), "utf8")) as { stoppedByUser?: boolean }).stoppedByUser === true;
  } catch {
    return false;
  }
}

async function releaseLeases(cfg: ShimConfig): Promise<void> {
  if (cfg.attachments.length === 0) return;
  const { releaseLease } = await import("../lib/network/members.ts");
  for (const a of cfg.attachments) {
    try {
      await releaseLease(a, cfg.id);
    } catch {
      // a stale lease is freed when its shim is seen dead
    }
  }
}

function handle(ctr: Container, cfg: ShimConfig, conn: Conn, req: ShimRequest): void {
  switch (req.op) {
    case "state":
      conn.reply({ ok: true, status: ctr.status, pid: ctr.pid, ...(ctr.exitCode !== undefined ? { exitCode: ctr.exitCode } : {}) });
      conn.end();
      return;
    case "wait":
      ctr.onExit((code) => {
        conn.reply({ ok: true, exitCode: code });
        conn.end();
      });
      return;
    case "kill":
      ctr
        .signal(req.signal, req.all ?? false)
        .then(() => conn.reply({ ok: true }))
        .catch((e: unknown) => conn.reply({ ok: false, kind: "Conflict", message: (e as Error).message }))
        .finally(() => conn.end());
      return;
    case "stop":
      ctr.stop(req.signal, req.timeoutSeconds).then((code) => {
        conn.reply({ ok: true, exitCode: code });
        conn.end();
      });
      return;
    case "resize":
      if (req.execId) ctr.resizeExec(req.execId, req.rows, req.cols);
      else ctr.resize(req.rows, req.cols);
      conn.reply({ ok: true });
      conn.end();
      return;
    case "attach":
      trace("shim: attach req");
      conn.reply({ ok: true, status: ctr.status });
      ctr.attach(conn, req);
      return;
    case "exec":
      // Loaded on the first exec: most shims never run one.
      void import("./exec.ts").then(({ runExec }) => runExec(ctr, cfg, conn, req));
      return;
    case "healthcheck": {
      if (!healthChecker) {
        conn.reply({ ok: false, kind: "FailedPrecondition", message: `container ${cfg.name} has no healthcheck defined` });
        conn.end();
        return;
      }
      healthChecker.probe().then((r) => {
        conn.reply({ ok: true, status: healthChecker?.status ?? "", exitCode: r.exitCode });
        conn.end();
      });
      return;
    }
    case "pause":
    case "resume": {
      // The cgroup freezer, or SIGSTOP/SIGCONT without a cgroup (rootless on cgroup v1): shim/pause.ts.
      void pauseOrResume(cfg, ctr.pid, req.op).then((r) => {
        if (r.ok) {
          ctr.paused = req.op === "pause";
          patchState(cfg.containerDir, { status: ctr.paused ? "paused" : "running" });
          conn.reply({ ok: true });
        } else {
          conn.reply({ ok: false, kind: "FailedPrecondition", message: r.message });
        }
        conn.end();
      });
      return;
    }
    default:
      conn.reply({ ok: false, kind: "InvalidArgument", message: "unknown request" });
      conn.end();
  }
}

/**
 * What a start under a systemd unit adds, computed in the CLI: the
 * notification settings and socket-activation fds the shim gets
 * (ShimConfig.unit), and the container's side in its OCI spec (the proxy
 * socket's mount and NOTIFY_SOCKET for --sdnotify=container; LISTEN_FDS,
 * LISTEN_PID=1 and LISTEN_FDNAMES for socket activation).
 *
 * Only the CLI's `run`/`start` pass a UnitStart: a container started through
 * the API never inherits the API service's own NOTIFY_SOCKET.
 */
import { join } from "node:path";
import type { OciSpec } from "../oci/types.ts";
import {
  CONTAINER_NOTIFY_DIR,
  CONTAINER_NOTIFY_SOCKET,
  effectiveMode,
  listenEnv,
  listenFdsFor,
  validNotifySocket,
  type ListenFds,
  type SdNotifyMode,
  UNIT_ENV_KEYS,
} from "./notify.ts";

/** What the caller got from its service manager. */
export interface UnitStart {
  /** $NOTIFY_SOCKET */
  notifySocket?: string;
  /** LISTEN_FDS meant for this process: fds 3..3+count-1. */
  listenFds?: ListenFds;
  /** $WATCHDOG_USEC when the watchdog is meant for this process. */
  watchdogUsec?: string;
}

/** The shim's instructions (ShimConfig.unit). Plain data: the shim loads no schema. */
export interface ShimUnitConfig {
  notify?: {
    mode: "conmon" | "container" | "healthy";
    /** The manager's socket (path or "@abstract"). */
    socket: string;
    /** container mode: the proxy socket the shim binds, mounted into the container. */
    proxy?: string;
  };
  /** Socket activation: the fds the shim holds (from..from+count-1), handed to the runtime as 3.. with --preserve-fds. */
  listenFds?: { from: number; count: number };
}

/** Reads the unit environment of process `pid` (ours). */
export function unitStartFromEnv(env: Record<string, string | undefined>, pid: number): UnitStart | undefined {
  const notifySocket = validNotifySocket(env.NOTIFY_SOCKET) ? env.NOTIFY_SOCKET : undefined;
  const listenFds = listenFdsFor(env, pid);
  const watchdog = env.WATCHDOG_USEC && (env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === pid) ? env.WATCHDOG_USEC : undefined;
  if (!notifySocket && !listenFds) return undefined;
  return { ...(notifySocket ? { notifySocket } : {}), ...(listenFds ? { listenFds } : {}), ...(watchdog ? { watchdogUsec: watchdog } : {}) };
}

/** The proxy socket's directory in the container's run directory. */
export function proxyDir(runDir: string): string {
  return join(runDir, "notify");
}

/**
 * The shim's unit settings. `firstFd` is where the listen fds land in the
 * shim (after the descriptors its spawn uses itself).
 */
export function shimUnitConfig(mode: SdNotifyMode | undefined, unit: UnitStart | undefined, opts: { runDir: string; firstFd: number }): ShimUnitConfig | undefined {
  if (!unit) return undefined;
  const m = effectiveMode(mode, unit.notifySocket);
  const out: ShimUnitConfig = {};
  if (m && unit.notifySocket) {
    out.notify = { mode: m, socket: unit.notifySocket, ...(m === "container" ? { proxy: join(proxyDir(opts.runDir), "notify.sock") } : {}) };
  }
  if (unit.listenFds) out.listenFds = { from: opts.firstFd, count: unit.listenFds.count };
  return out.notify || out.listenFds ? out : undefined;
}

/** The container's side: in place, on a spec built by buildSpec. */
export function applyUnitSpec(spec: OciSpec, cfg: ShimUnitConfig | undefined, unit: UnitStart | undefined): void {
  if (!cfg) return;
  const env: string[] = [];
  if (cfg.notify?.proxy) {
    spec.mounts.push({ destination: CONTAINER_NOTIFY_DIR, type: "bind", source: cfg.notify.proxy.slice(0, -"/notify.sock".length), options: ["bind", "rw", "nosuid", "nodev", "noexec", "rprivate"] });
    env.push(`NOTIFY_SOCKET=${CONTAINER_NOTIFY_SOCKET}`);
    if (unit?.watchdogUsec) env.push(`WATCHDOG_USEC=${unit.watchdogUsec}`);
  }
  if (cfg.listenFds && unit?.listenFds) env.push(...listenEnv(unit.listenFds));
  const keys = new Set(env.map((e) => e.slice(0, e.indexOf("="))));
  spec.process.env = [...spec.process.env.filter((e) => !keys.has(e.slice(0, e.indexOf("=")))), ...env];
}

/** Our descriptors the shim must inherit: the listen fds systemd gave us (3..). */
export function unitSpawnFds(cfg: ShimUnitConfig | undefined): number[] {
  const n = cfg?.listenFds?.count ?? 0;
  return Array.from({ length: n }, (_, i) => 3 + i);
}

/** The environment without what the service manager meant for us alone (the shim and the runtime must not act on it). */
export function withoutUnitEnv(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const out = { ...env };
  for (const k of UNIT_ENV_KEYS) delete out[k];
  return out;
}

/**
 * The label that ties a container to the unit that runs it (set by
 * generated units as SKIFF_SYSTEMD_UNIT=%n; Podman's PODMAN_SYSTEMD_UNIT is
 * read too): auto-update restarts that unit.
 */
export function unitLabels(env: Record<string, string | undefined>): Record<string, string> {
  const unit = env.SKIFF_SYSTEMD_UNIT || env.PODMAN_SYSTEMD_UNIT;
  return unit ? { SKIFF_SYSTEMD_UNIT: unit } : {};
}

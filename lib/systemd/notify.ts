/**
 * The sd_notify protocol as pure functions: what skiff tells systemd and
 * which of a container's own messages it passes on. A message is
 * newline-separated KEY=VALUE assignments in one datagram on $NOTIFY_SOCKET
 * (sd_notify(3)).
 *
 * Modes (`--sdnotify`, as Podman):
 * - conmon: once the container runs, the shim sends `MAINPID=<shim>` and
 *   `READY=1`, so systemd tracks the process that lives as long as the container.
 * - container: the container gets its own NOTIFY_SOCKET (a proxy socket the
 *   shim binds); the shim sends `MAINPID=<shim>` at start and relays the
 *   container's READY/STATUS/WATCHDOG... messages, adding MAINPID to READY.
 * - healthy: `MAINPID=<shim>` at start, `READY=1` once the healthcheck first
 *   passes.
 * - ignore: nothing is sent and NOTIFY_SOCKET reaches nobody.
 */
import { SkiffError } from "../errors.ts";

export const SD_NOTIFY_MODES = ["conmon", "container", "healthy", "ignore"] as const;
export type SdNotifyMode = (typeof SD_NOTIFY_MODES)[number];

/** Where the proxy socket appears inside the container (Podman's path). */
export const CONTAINER_NOTIFY_DIR = "/run/notify";
export const CONTAINER_NOTIFY_SOCKET = `${CONTAINER_NOTIFY_DIR}/notify.sock`;

export function parseSdNotifyMode(value: string): SdNotifyMode {
  if ((SD_NOTIFY_MODES as readonly string[]).includes(value)) return value as SdNotifyMode;
  throw new SkiffError("InvalidArgument", `invalid --sdnotify value ${JSON.stringify(value)}: use conmon, container, healthy or ignore`);
}

/**
 * The mode in force for a start: the container's own setting, else conmon
 * when a notify socket is there. Undefined: nothing to do.
 */
export function effectiveMode(mode: SdNotifyMode | undefined, notifySocket: string | undefined): Exclude<SdNotifyMode, "ignore"> | undefined {
  if (!notifySocket || mode === "ignore") return undefined;
  return mode ?? "conmon";
}

/** Is this a usable NOTIFY_SOCKET value: an absolute path or an abstract name ("@...")? */
export function validNotifySocket(value: string | undefined): value is string {
  return value !== undefined && (value.startsWith("/") || (value.startsWith("@") && value.length > 1));
}

/** Encodes assignments as one message: `MAINPID=42\nREADY=1`. */
export function encodeNotify(fields: ReadonlyArray<readonly [string, string | number]>): string {
  return fields
    .map(([k, v]) => {
      if (!/^[A-Z_][A-Z0-9_]*$/.test(k)) throw new SkiffError("InvalidArgument", `invalid notify key ${JSON.stringify(k)}`);
      const value = String(v);
      if (value.includes("\n")) throw new SkiffError("InvalidArgument", `notify value of ${k} has a newline`);
      return `${k}=${value}`;
    })
    .join("\n");
}

/** Splits a message into assignments; lines without "=" are dropped (as systemd does). */
export function decodeNotify(message: string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of message.split("\n")) {
    const i = line.indexOf("=");
    if (i <= 0) continue;
    out.push([line.slice(0, i), line.slice(i + 1)]);
  }
  return out;
}

/** The start message for a mode: what the shim sends once the container runs. */
export function startMessage(mode: Exclude<SdNotifyMode, "ignore">, shimPid: number): string {
  return mode === "conmon" ? encodeNotify([["MAINPID", shimPid], ["READY", 1]]) : encodeNotify([["MAINPID", shimPid]]);
}

/**
 * Keys a container may send through the proxy. Left out: MAINPID (its pid
 * means nothing outside), NOTIFYACCESS (it must not widen access),
 * FDSTORE/FDNAME/FDPOLL (no file descriptors cross the proxy) and BARRIER.
 */
const RELAYED = new Set([
  "READY",
  "RELOADING",
  "STOPPING",
  "MONOTONIC_USEC",
  "STATUS",
  "ERRNO",
  "BUSERROR",
  "EXIT_STATUS",
  "WATCHDOG",
  "WATCHDOG_USEC",
  "EXTEND_TIMEOUT_USEC",
]);

/**
 * What the shim forwards of a container's message: the allowed assignments,
 * with `MAINPID=<shim>` first when it says READY=1. Undefined when nothing is
 * left to send.
 */
export function relayMessage(message: string, shimPid: number): string | undefined {
  const kept = decodeNotify(message).filter(([k]) => RELAYED.has(k));
  if (kept.length === 0) return undefined;
  const ready = kept.some(([k, v]) => k === "READY" && v === "1");
  return [...(ready ? [`MAINPID=${shimPid}`] : []), ...kept.map(([k, v]) => `${k}=${v}`)].join("\n");
}

/** The socket activation the caller got from systemd: fds 3.. for this very process. */
export interface ListenFds {
  count: number;
  /** LISTEN_FDNAMES, passed on as is. */
  names?: string;
}

/** Reads LISTEN_FDS/LISTEN_PID: only fds meant for `pid` count (sd_listen_fds(3)). */
export function listenFdsFor(env: Record<string, string | undefined>, pid: number): ListenFds | undefined {
  const count = Number(env.LISTEN_FDS);
  if (!env.LISTEN_FDS || !Number.isInteger(count) || count <= 0) return undefined;
  if (env.LISTEN_PID !== undefined && Number(env.LISTEN_PID) !== pid) return undefined;
  return { count, ...(env.LISTEN_FDNAMES !== undefined ? { names: env.LISTEN_FDNAMES } : {}) };
}

/** The container's side of socket activation: its init is pid 1 in its PID namespace. */
export function listenEnv(fds: ListenFds): string[] {
  return [`LISTEN_FDS=${fds.count}`, "LISTEN_PID=1", ...(fds.names !== undefined ? [`LISTEN_FDNAMES=${fds.names}`] : [])];
}

/** Variables the unit's manager gave us that must not leak to the shim, the runtime or the container. */
export const UNIT_ENV_KEYS = ["NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_PID", "WATCHDOG_USEC"] as const;

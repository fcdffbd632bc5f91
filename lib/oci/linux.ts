/**
 * The spec's `linux` block pieces: namespaces, sysctls, masked and
 * read-only paths, the device cgroup, and `--security-opt` parsing.
 */
import { SkiffError } from "../errors.ts";
import type { OciDeviceRule, OciNamespace } from "./types.ts";

export type NetworkMode = "private" | "host" | "none" | { path: string };

/** Docker's masked paths (moby `oci.DefaultLinuxSpec`), without the per-CPU thermal_throttle entries, which depend on the host. */
export const DOCKER_MASKED_PATHS: readonly string[] = Object.freeze([
  "/proc/acpi",
  "/proc/asound",
  "/proc/interrupts",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/sys/devices/virtual/powercap",
  "/sys/firmware",
]);

/** Docker's read-only paths. */
export const DOCKER_READONLY_PATHS: readonly string[] = Object.freeze([
  "/proc/bus",
  "/proc/fs",
  "/proc/irq",
  "/proc/sys",
  "/proc/sysrq-trigger",
]);

function charDevice(major: number | undefined, minor: number | undefined, access: string): OciDeviceRule {
  return { allow: true, type: "c", ...(major !== undefined ? { major } : {}), ...(minor !== undefined ? { minor } : {}), access };
}

/**
 * The device cgroup for an unprivileged container run by real root: deny
 * everything, then allow what Docker's containers end up with (Docker's list
 * plus the defaults runc appends to it: /dev/full, ptmx, the pts devices and
 * mknod of any node). Docker's explicit /dev/fuse deny is left out: after
 * "deny all" it changes nothing, and runc's cgroup v1 emulator refuses a
 * deny that punches a hole in the wildcard mknod rule.
 */
export const DEFAULT_DEVICE_RULES: readonly OciDeviceRule[] = Object.freeze([
  { allow: false, access: "rwm" },
  charDevice(1, 3, "rwm"), // null
  charDevice(1, 5, "rwm"), // zero
  charDevice(1, 7, "rwm"), // full
  charDevice(1, 8, "rwm"), // random
  charDevice(1, 9, "rwm"), // urandom
  charDevice(5, 0, "rwm"), // tty
  charDevice(5, 1, "rwm"), // console
  charDevice(5, 2, "rwm"), // ptmx
  charDevice(136, undefined, "rwm"), // pts/*
  charDevice(undefined, undefined, "m"),
  { allow: true, type: "b", access: "m" },
]);

/** Privileged: every device may be used (the nodes themselves are not created). */
export const PRIVILEGED_DEVICE_RULES: readonly OciDeviceRule[] = Object.freeze([{ allow: true, access: "rwm" }]);

/**
 * The namespaces to create or join, in Docker's order. There is never a
 * user namespace entry: rootless, skiff runs the runtime inside the user
 * namespace it made. The cgroup namespace is left out rootless.
 */
export function namespaces(input: {
  network: NetworkMode;
  join?: { ipc?: string; uts?: string; pid?: string };
  rootless: boolean;
}): OciNamespace[] {
  const ns = (type: OciNamespace["type"], path?: string): OciNamespace => (path ? { type, path } : { type });
  const out: OciNamespace[] = [ns("mount")];
  const net = input.network;
  if (typeof net === "object") {
    if (!net.path.startsWith("/")) throw new SkiffError("InvalidArgument", `network namespace path ${JSON.stringify(net.path)} is not absolute`);
    out.push(ns("network", net.path));
  } else if (net !== "host") {
    out.push(ns("network"));
  }
  for (const [type, path] of [["uts", input.join?.uts], ["pid", input.join?.pid], ["ipc", input.join?.ipc]] as const) {
    if (path !== undefined && !path.startsWith("/")) throw new SkiffError("InvalidArgument", `${type} namespace path ${JSON.stringify(path)} is not absolute`);
    out.push(ns(type, path));
  }
  if (!input.rootless) out.push(ns("cgroup"));
  return out;
}

/** IPC-namespaced sysctls runc and Docker accept by name. */
const IPC_SYSCTLS: ReadonlySet<string> = new Set([
  "kernel.msgmax",
  "kernel.msgmnb",
  "kernel.msgmni",
  "kernel.sem",
  "kernel.shmall",
  "kernel.shmmax",
  "kernel.shmmni",
  "kernel.shm_rmid_forced",
]);

/**
 * The sysctls to set: Docker's defaults for a private network namespace
 * (unprivileged ports from 0, and, run by real root, ICMP echo sockets for
 * every group: a user namespace cannot name unmapped groups), then the
 * user's. Only namespaced sysctls are accepted (Docker's list: net.*,
 * fs.mqueue.*, kernel.msg*, kernel.sem, kernel.shm*); net.* needs a network
 * namespace of the container's own.
 */
export function sysctls(user: Readonly<Record<string, string>>, input: { network: NetworkMode; rootless: boolean }): Record<string, string> {
  const out: Record<string, string> = {};
  const privateNet = input.network === "private" || input.network === "none";
  if (privateNet) {
    if (!input.rootless) out["net.ipv4.ping_group_range"] = "0 2147483647";
    out["net.ipv4.ip_unprivileged_port_start"] = "0";
  }
  for (const [key, value] of Object.entries(user)) {
    const name = key.trim();
    if (name.startsWith("net.")) {
      if (input.network === "host") throw new SkiffError("InvalidArgument", `sysctl ${name} is not allowed with the host's network namespace`);
    } else if (!name.startsWith("fs.mqueue.") && !IPC_SYSCTLS.has(name)) {
      throw new SkiffError("InvalidArgument", `sysctl ${name} is not allowed: it is not in a separate kernel namespace`);
    }
    out[name] = value;
  }
  return out;
}

export interface SecurityOptions {
  noNewPrivileges: boolean;
  /** `systempaths=unconfined`: no masked or read-only paths. */
  unconfinedPaths: boolean;
  /** skiff's default filter, none, or a profile's JSON text (see seccomp.ts). */
  seccomp: "default" | "unconfined" | { profile: string };
}

function parseBool(value: string, opt: string): boolean {
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  throw new SkiffError("InvalidArgument", `invalid --security-opt ${JSON.stringify(opt)}: expected true or false`);
}

/**
 * `--security-opt` values skiff honours: no-new-privileges[=|:bool],
 * systempaths=unconfined, seccomp=unconfined or seccomp=<profile JSON> (the
 * CLI reads a profile file into its text, as Docker's does), and the ones
 * that ask for what skiff already does (apparmor=unconfined, label=disable).
 * Anything else (an AppArmor profile, SELinux labels) is InvalidArgument
 * rather than silently ignored.
 */
export function securityOptions(opts: readonly string[]): SecurityOptions {
  const out: SecurityOptions = { noNewPrivileges: false, unconfinedPaths: false, seccomp: "default" };
  for (const opt of opts) {
    const m = /^([a-z-]+)(?:[=:](.*))?$/s.exec(opt.trim());
    const key = m?.[1];
    const value = m?.[2];
    if (key === "no-new-privileges") out.noNewPrivileges = value === undefined ? true : parseBool(value, opt);
    else if (key === "systempaths" && value === "unconfined") out.unconfinedPaths = true;
    else if (key === "seccomp" && value === "unconfined") out.seccomp = "unconfined";
    else if (key === "seccomp" && value?.trimStart().startsWith("{")) out.seccomp = { profile: value };
    else if (key === "seccomp") throw new SkiffError("InvalidArgument", `--security-opt seccomp: ${JSON.stringify(value ?? "")} is neither "unconfined" nor a profile (JSON)`);
    else if (key === "apparmor" && value === "unconfined") continue;
    else if (key === "label" && value === "disable") continue;
    else throw new SkiffError("InvalidArgument", `unsupported --security-opt ${JSON.stringify(opt)}`);
  }
  return out;
}

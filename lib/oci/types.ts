/**
 * The part of the OCI runtime-spec config.json (version 1.0.2-dev, what runc
 * 1.1 writes with `runc spec`) that skiff generates. Field names and nesting
 * are the spec's own, so a value serialises straight to config.json through
 * `serializeSpec` (./spec.ts).
 */
import type { OciSeccomp } from "./seccomp.ts";

export const OCI_VERSION = "1.0.2-dev";

/**
 * RLIM_INFINITY (2^64-1). A JavaScript number cannot hold it, so unlimited
 * rlimits are bigints; `JSON.stringify` refuses bigints, which is why specs
 * are written with `serializeSpec`.
 */
export const RLIM_INFINITY = 18446744073709551615n;

export interface OciUser {
  uid: number;
  gid: number;
  additionalGids?: number[];
}

export interface OciCapabilities {
  bounding: string[];
  effective: string[];
  inheritable: string[];
  permitted: string[];
  ambient: string[];
}

export interface OciRlimit {
  /** RLIMIT_NOFILE, RLIMIT_NPROC... */
  type: string;
  hard: number | bigint;
  soft: number | bigint;
}

export interface OciProcess {
  terminal: boolean;
  user: OciUser;
  args: string[];
  env: string[];
  cwd: string;
  capabilities: OciCapabilities;
  rlimits?: OciRlimit[];
  noNewPrivileges?: boolean;
}

export interface OciRoot {
  path: string;
  readonly: boolean;
}

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

export type OciNamespaceType = "pid" | "network" | "ipc" | "uts" | "mount" | "cgroup" | "user";

export interface OciNamespace {
  type: OciNamespaceType;
  /** Join this namespace instead of creating one (/proc/PID/ns/...). */
  path?: string;
}

export interface OciDeviceRule {
  allow: boolean;
  /** "c", "b" or "a"; absent means all. */
  type?: "c" | "b" | "a";
  /** Absent means any (`*`). */
  major?: number;
  minor?: number;
  access?: string;
}

/** The spec's linux.resources (cgroup settings); see ./resources.ts. */
export interface OciResources {
  devices?: OciDeviceRule[];
  memory?: { limit?: number; reservation?: number; swap?: number; disableOOMKiller?: boolean };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
  blockIO?: { weight?: number };
}

export interface OciLinux {
  namespaces: OciNamespace[];
  resources?: OciResources;
  /** The container's cgroup, e.g. /skiff/<id> (runc's cgroupfs driver); absent: no cgroup of its own (rootless). */
  cgroupsPath?: string;
  sysctl?: Record<string, string>;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  rootfsPropagation?: string;
  seccomp?: OciSeccomp;
}

export interface OciHook {
  path: string;
  args?: string[];
  env?: string[];
  /** Seconds before the runtime kills it (and fails the container). */
  timeout?: number;
}

export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: OciRoot;
  hostname?: string;
  domainname?: string;
  mounts: OciMount[];
  linux: OciLinux;
  /** createRuntime hooks run in the runtime's namespaces once the container's exist, before its process runs. */
  hooks?: { createRuntime?: OciHook[] };
  annotations?: Record<string, string>;
}

/**
 * What this host can enforce, and where a container's cgroup lives.
 *
 * - root on cgroup v1 (or hybrid, as on CI) and root on cgroup v2: every
 *   container gets its own cgroup, `/skiff/<id>` through runc's cgroupfs
 *   driver (runc makes it at start and removes it at `runc delete`).
 * - rootless on cgroup v2 with a delegated subtree (systemd's user@UID.service,
 *   owned by the user, controllers in its cgroup.subtree_control): the same
 *   under `<delegated>/skiff/<id>`.
 * - otherwise (rootless on cgroup v1, no delegation, crun rootless): no
 *   cgroup at all; limits are left out of the spec, reported as ignored in a
 *   warning and in the record, never pretended.
 *
 * Host facts are read once per process (mountinfo and a few cgroup files).
 * `planResources` is pure given those facts.
 */
import { existsSync, readFileSync, rmdirSync, statSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { join } from "node:path";
import { SkiffError } from "../errors.ts";
import { cgroupsPathFor } from "../oci/resources.ts";
import { cgroupMounts, containerCgroupDirs, mountPoints } from "../sys/cgroupfs.ts";
import { noResources, parseCpuList, RESOURCE_FLAGS, setFields, type AppliedResources, type ResourceField, type Resources } from "./resources.ts";

export interface CgroupFeatures {
  memory: boolean;
  swap: boolean;
  memoryReservation: boolean;
  oomKillDisable: boolean;
  cpuShares: boolean;
  cpuCfs: boolean;
  cpuset: boolean;
  pids: boolean;
  blkioWeight: boolean;
  freezer: boolean;
}

export interface CgroupHost {
  /** v1 includes hybrid hosts (v1 controllers, an almost empty cgroup2 at /sys/fs/cgroup/unified). */
  version: "v1" | "v2" | "none";
  hybrid: boolean;
  /** Mount point per v1 controller (and "name=systemd"); v2 (and the hybrid unified mount): key "". */
  mounts: Record<string, string>;
  rootless: boolean;
  /** Parent of container cgroups (cgroupsPath prefix) when containers can have one. */
  parent?: string;
  /** Why containers get no cgroup (parent undefined), as the start of a sentence. */
  reason?: string;
  features: CgroupFeatures;
  numCpus: number;
  /** Available CPUs and memory nodes (cpuset list syntax). */
  cpus: string;
  mems: string;
}

const NO_FEATURES: CgroupFeatures = Object.freeze({
  memory: false,
  swap: false,
  memoryReservation: false,
  oomKillDisable: false,
  cpuShares: false,
  cpuCfs: false,
  cpuset: false,
  pids: false,
  blkioWeight: false,
  freezer: false,
});

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

function v1Features(m: Record<string, string>): CgroupFeatures {
  const has = (ctrl: string, file: string): boolean => m[ctrl] !== undefined && existsSync(join(m[ctrl], file));
  return {
    memory: has("memory", "memory.limit_in_bytes"),
    swap: has("memory", "memory.memsw.limit_in_bytes"),
    memoryReservation: has("memory", "memory.soft_limit_in_bytes"),
    oomKillDisable: has("memory", "memory.oom_control"),
    cpuShares: has("cpu", "cpu.shares"),
    cpuCfs: has("cpu", "cpu.cfs_quota_us"),
    cpuset: has("cpuset", "cpuset.cpus"),
    pids: m.pids !== undefined,
    // runc writes blkio.weight, or blkio.bfq.weight (in non-root cgroups only) with BFQ.
    blkioWeight: has("blkio", "blkio.weight") || has("blkio", "blkio.bfq.io_service_bytes"),
    freezer: m.freezer !== undefined,
  };
}

function v2Features(controllers: Set<string>, swapProbeDir: string | undefined): CgroupFeatures {
  const memory = controllers.has("memory");
  return {
    memory,
    swap: memory && (swapProbeDir === undefined || existsSync(join(swapProbeDir, "memory.swap.max"))),
    memoryReservation: memory,
    // cgroup v2 has no switch for the OOM killer.
    oomKillDisable: false,
    cpuShares: controllers.has("cpu"),
    cpuCfs: controllers.has("cpu"),
    cpuset: controllers.has("cpuset"),
    pids: controllers.has("pids"),
    blkioWeight: controllers.has("io"),
    freezer: true,
  };
}

/** This process's cgroup v2 path ("0::/a/b" in /proc/self/cgroup). */
function ownV2Path(): string | undefined {
  const line = (read("/proc/self/cgroup") ?? "").split("\n").find((l) => l.startsWith("0::"));
  return line?.slice(3);
}

/**
 * The topmost cgroup above (and including) ours that the user owns: systemd's
 * delegation point (user@UID.service). Undefined when ours is not the user's.
 */
export function delegatedCgroup(root: string, own: string, uid: number): string | undefined {
  const owned = (p: string): boolean => {
    try {
      return statSync(join(root, p)).uid === uid && statSync(join(root, p, "cgroup.procs")).uid === uid;
    } catch {
      return false;
    }
  };
  let best: string | undefined;
  for (let p = own; p !== "" && p !== "/"; p = p.slice(0, p.lastIndexOf("/")) || "/") {
    if (!owned(p)) break;
    best = p;
  }
  return best;
}

function effectiveList(path: string | undefined, fallback: string): string {
  const v = path !== undefined ? read(path) : undefined;
  return v !== undefined && v !== "" ? v : fallback;
}

function numCpus(): number {
  try {
    return availableParallelism();
  } catch {
    return cpus().length || 1;
  }
}

/** Reads the host's cgroup layout (no caching; see cgroupHost). */
export function detectCgroupHost(opts: { rootless: boolean; uid?: number }): CgroupHost {
  const mounts = cgroupMounts();
  const n = numCpus();
  const base = { rootless: opts.rootless, numCpus: n, cpus: `0-${n - 1}`, mems: "0" };
  if (mounts.v2 === "/sys/fs/cgroup" || (mounts.v2 !== undefined && Object.keys(mounts.v1).length === 0)) {
    const root = mounts.v2;
    const cpusList = effectiveList(join(root, "cpuset.cpus.effective"), base.cpus);
    const memsList = effectiveList(join(root, "cpuset.mems.effective"), base.mems);
    const common = { version: "v2" as const, hybrid: false, mounts: { "": root }, ...base, cpus: cpusList, mems: memsList };
    const own = ownV2Path();
    if (!opts.rootless) {
      const controllers = new Set((read(join(root, "cgroup.controllers")) ?? "").split(/\s+/).filter(Boolean));
      const probe = own && own !== "/" ? join(root, own) : undefined;
      return { ...common, parent: "/skiff", features: v2Features(controllers, probe) };
    }
    const delegated = own ? delegatedCgroup(root, own, opts.uid ?? process.getuid?.() ?? 0) : undefined;
    const controllers = new Set((delegated ? (read(join(root, delegated, "cgroup.subtree_control")) ?? "") : "").split(/\s+/).filter(Boolean));
    if (!delegated || controllers.size === 0) {
      return {
        ...common,
        reason: "resource limits are not supported for rootless containers without a delegated cgroup v2 subtree (a systemd user session with Delegate=yes)",
        features: { ...NO_FEATURES },
      };
    }
    return { ...common, parent: `${delegated}/skiff`, features: v2Features(controllers, join(root, delegated)) };
  }
  const v1 = mounts.v1;
  if (Object.keys(v1).length === 0) {
    return { version: "none", hybrid: false, mounts: {}, ...base, reason: "resource limits are not supported: no cgroup hierarchy is mounted", features: { ...NO_FEATURES } };
  }
  const all = mountPoints(mounts);
  const cpuset = v1.cpuset;
  const common = {
    version: "v1" as const,
    hybrid: mounts.v2 !== undefined,
    mounts: all,
    ...base,
    cpus: effectiveList(cpuset ? join(cpuset, "cpuset.effective_cpus") : undefined, base.cpus),
    mems: effectiveList(cpuset ? join(cpuset, "cpuset.effective_mems") : undefined, base.mems),
  };
  if (opts.rootless) {
    return { ...common, reason: "resource limits are not supported for rootless containers on cgroup v1", features: { ...NO_FEATURES } };
  }
  return { ...common, parent: "/skiff", features: v1Features(v1) };
}

const cached = new Map<boolean, CgroupHost>();

export function cgroupHost(opts: { rootless: boolean }): CgroupHost {
  let h = cached.get(opts.rootless);
  if (!h) {
    h = detectCgroupHost(opts);
    cached.set(opts.rootless, h);
  }
  return h;
}

export interface ResourcePlan extends AppliedResources {
  /** The spec's linux.cgroupsPath; undefined: no cgroup of its own. */
  cgroupsPath?: string;
  /** Lines for the user (without "WARNING: "). */
  warnings: string[];
}

const FEATURE_OF: Partial<Record<ResourceField, { feature: keyof CgroupFeatures; warning: string }>> = {
  memory: { feature: "memory", warning: "your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded." },
  memoryReservation: { feature: "memoryReservation", warning: "your kernel does not support memory soft limit capabilities or the cgroup is not mounted. Limitation discarded." },
  oomKillDisable: { feature: "oomKillDisable", warning: "your kernel does not support OomKillDisable. OomKillDisable discarded." },
  pidsLimit: { feature: "pids", warning: "your kernel does not support pids limit capabilities or the cgroup is not mounted. PIDs limit discarded." },
  cpuShares: { feature: "cpuShares", warning: "your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded." },
  cpuPeriod: { feature: "cpuCfs", warning: "your kernel does not support CPU CFS scheduler. CPU period/quota discarded." },
  cpuQuota: { feature: "cpuCfs", warning: "your kernel does not support CPU CFS scheduler. CPU period/quota discarded." },
  cpusetCpus: { feature: "cpuset", warning: "your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded." },
  cpusetMems: { feature: "cpuset", warning: "your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded." },
  blkioWeight: { feature: "blkioWeight", warning: "your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded." },
};

function clear(r: Resources, field: ResourceField): void {
  if (field === "pidsLimit") delete r.pidsLimit;
  else (r as Record<string, unknown>)[field] = noResources()[field];
}

function checkCpuset(requested: string, available: string, what: "CPUs" | "memory nodes"): void {
  if (requested === "") return;
  const want = parseCpuList(requested, what === "CPUs" ? "cpuset cpus" : "cpuset mems");
  const have = parseCpuList(available, "available cpuset");
  for (const n of want) {
    if (!have.has(n)) throw new SkiffError("InvalidArgument", `requested ${what} are not available - requested ${requested}, available: ${available}`);
  }
}

/**
 * What will be in force for `requested` on `host`, with dockerd's defaults
 * (swap twice the memory limit when swap accounting exists) and warnings.
 * Limits the host cannot enforce at all are all ignored, with one warning.
 * Throws InvalidArgument for requests Docker refuses on such a host.
 */
export function planResources(requested: Resources, host: CgroupHost, opts: { id: string; runtime?: string }): ResourcePlan {
  if (requested.nanoCpus > host.numCpus * 1e9) {
    throw new SkiffError("InvalidArgument", `range of CPUs is from 0.01 to ${host.numCpus}.00, as there are only ${host.numCpus} CPUs available`);
  }
  const asked = setFields(requested);
  let reason = host.reason;
  if (host.parent !== undefined && host.rootless && opts.runtime === "crun") {
    reason = "resource limits are not supported for rootless containers run by crun (skiff runs it without cgroups)";
  }
  if (host.parent === undefined || reason !== undefined) {
    const why = reason ?? "resource limits are not supported on this host";
    const ignored = asked.map((f) => RESOURCE_FLAGS[f]);
    return { applied: noResources(), ignored, note: why, warnings: ignored.length > 0 ? [`${why} and are ignored: ${ignored.join(", ")}`] : [] };
  }
  const applied: Resources = { ...requested };
  const ignored: string[] = [];
  const warnings: string[] = [];
  for (const field of asked) {
    const need = FEATURE_OF[field];
    if (!need || host.features[need.feature]) continue;
    clear(applied, field);
    ignored.push(RESOURCE_FLAGS[field]);
    if (!warnings.includes(need.warning)) warnings.push(need.warning);
  }
  if (requested.nanoCpus > 0 && !host.features.cpuCfs) {
    throw new SkiffError("InvalidArgument", "NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the cgroup is not mounted");
  }
  if (applied.memory > 0 && applied.memorySwap !== -1 && applied.memorySwap !== 0 && !host.features.swap) {
    warnings.push("your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.");
    ignored.push(RESOURCE_FLAGS.memorySwap);
    applied.memorySwap = 0;
  } else if (applied.memory === 0 && applied.memorySwap !== 0 && !host.features.swap) {
    applied.memorySwap = 0;
  } else if (applied.memory > 0 && applied.memorySwap === 0 && host.features.swap) {
    // dockerd's default: as much swap as memory.
    applied.memorySwap = applied.memory * 2;
  }
  if (applied.oomKillDisable && applied.memory === 0) {
    warnings.push("OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.");
  }
  checkCpuset(applied.cpusetCpus, host.cpus, "CPUs");
  checkCpuset(applied.cpusetMems, host.mems, "memory nodes");
  const plan: ResourcePlan = { applied, ignored, warnings, cgroupsPath: cgroupsPathFor(host.parent, opts.id) };
  if (ignored.length > 0) plan.note = `not supported by this kernel: ${ignored.join(", ")}`;
  return plan;
}

/** The record's part of a plan. */
export function appliedOf(plan: ResourcePlan): AppliedResources {
  return { applied: plan.applied, ignored: plan.ignored, ...(plan.note !== undefined ? { note: plan.note } : {}) };
}

/** The container's own cgroup directories (controller → dir), or undefined when it has none. */
export function containerCgroups(pid: number, id: string, host: CgroupHost): Map<string, string> | undefined {
  return containerCgroupDirs(pid, id, host.mounts);
}

/**
 * Removes what is left of a container's cgroups (runc removes them at
 * delete; this is for a runc that was killed). Only empty directories go.
 */
export function removeContainerCgroups(id: string, host: CgroupHost): void {
  if (host.parent === undefined) return;
  for (const mnt of new Set(Object.values(host.mounts))) {
    const dir = join(mnt, cgroupsPathFor(host.parent, id));
    if (!existsSync(dir)) continue;
    try {
      rmdirSync(dir);
    } catch {
      // busy (a process is still in it) or already gone
    }
  }
}

/**
 * The spec inputs for starting `record`: the limits in force (from its
 * record; older records are planned from their options) and its cgroup.
 * Nothing when the host gives it no cgroup.
 */
export function resourcesForStart(record: { id: string; rootless: boolean; runtime: string; options: { resources: Resources }; resources?: AppliedResources | undefined }): { resources?: Resources; cgroupsPath?: string } {
  const host = cgroupHost({ rootless: record.rootless });
  const runtime = record.runtime.split("/").pop() ?? record.runtime;
  if (host.parent === undefined || (record.rootless && runtime === "crun")) return {};
  let applied = record.resources?.applied;
  if (!applied) {
    try {
      applied = planResources(record.options.resources, host, { id: record.id, runtime }).applied;
    } catch {
      applied = noResources();
    }
  }
  return { resources: applied, cgroupsPath: cgroupsPathFor(host.parent, record.id) };
}

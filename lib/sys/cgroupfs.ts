/**
 * Where cgroup hierarchies are mounted and which cgroup a process is in,
 * read from /proc. No dependencies: the shim uses it.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

const V1_CONTROLLERS = new Set([
  "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
  "net_cls", "net_prio", "perf_event", "hugetlb", "rdma", "misc", "name=systemd",
]);

export interface CgroupMounts {
  /** Mount point per v1 controller (and "name=systemd"). */
  v1: Record<string, string>;
  /** The cgroup2 mount (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host). */
  v2?: string;
}

/** Mount points of cgroup hierarchies from /proc/self/mountinfo text. */
export function parseCgroupMounts(mountinfo: string): CgroupMounts {
  const v1: Record<string, string> = {};
  let v2: string | undefined;
  for (const line of mountinfo.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(" ");
    const right = line.slice(sep + 3).split(" ");
    const point = (left[4] ?? "").replace(/\\040/g, " ");
    if (right[0] === "cgroup2") v2 ??= point;
    else if (right[0] === "cgroup") {
      for (const opt of (right[2] ?? "").split(",")) if (V1_CONTROLLERS.has(opt)) v1[opt] ??= point;
    }
  }
  return v2 !== undefined ? { v1, v2 } : { v1 };
}

let cachedMounts: CgroupMounts | undefined;

export function cgroupMounts(): CgroupMounts {
  if (!cachedMounts) {
    let text = "";
    try {
      text = readFileSync("/proc/self/mountinfo", "utf8");
    } catch {
      // no /proc: no cgroups
    }
    cachedMounts = parseCgroupMounts(text);
  }
  return cachedMounts;
}

/** Controller ("" for cgroup v2) → mount point. */
export function mountPoints(m: CgroupMounts): Record<string, string> {
  return { ...m.v1, ...(m.v2 !== undefined ? { "": m.v2 } : {}) };
}

/** cgroup directories of a live process: controller ("" for v2) → absolute path. */
export function processCgroupDirs(pid: number, mounts: Record<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  let text = "";
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, "utf8");
  } catch {
    return out;
  }
  for (const line of text.split("\n")) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const path = m[2] as string;
    for (const ctrl of (m[1] as string).split(",")) {
      const mnt = mounts[ctrl];
      if (mnt !== undefined) out.set(ctrl, join(mnt, path));
    }
  }
  return out;
}

/**
 * A container's own cgroup directories (those named after its id), or
 * undefined when it has none (rootless on cgroup v1: it shares the user's).
 */
export function containerCgroupDirs(pid: number, id: string, mounts: Record<string, string>): Map<string, string> | undefined {
  const own = new Map([...processCgroupDirs(pid, mounts)].filter(([, dir]) => dir.endsWith(`/${id}`)));
  return own.size > 0 ? own : undefined;
}

/** OOM kills counted in a memory cgroup (v1 memory.oom_control, v2 memory.events). */
export function oomKillCount(dir: string): number {
  for (const file of ["memory.events", "memory.oom_control"]) {
    try {
      const m = /^oom_kill (\d+)$/m.exec(readFileSync(join(dir, file), "utf8"));
      if (m) return Number(m[1]);
    } catch {
      // the other cgroup version's file
    }
  }
  return 0;
}

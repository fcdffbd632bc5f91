/**
 * `GET /containers/{id}/stats`. Rootless containers on a cgroup v1 host
 * have no cgroup of their own, so the figures come from /proc: CPU time and
 * resident memory summed over the processes in the container's PID
 * namespace, the host's CPU time and memory as the system figures. Network
 * and block I/O are not measured (zero / absent). A container that does not
 * run reports zeros, as dockerd does.
 */
import { readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import type { Context } from "../context.ts";
import { currentState } from "../containers/ops.ts";
import type { ContainerRecord } from "../containers/record.ts";
import { pidsInNamespace } from "../containers/top.ts";
import { sameProcess } from "../sys/proc.ts";

/** Linux's USER_HZ: /proc times are in 1/100 s on every architecture skiff runs on. */
const TICK_NS = 10_000_000;
const PAGE = 4096;

export interface Sample {
  read: Date;
  userNs: number;
  kernelNs: number;
  systemNs: number;
  rss: number;
  pids: number;
}

function systemCpuNs(): number {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
    return line
      .trim()
      .split(/\s+/)
      .slice(1, 8)
      .reduce((n, v) => n + Number(v), 0) * TICK_NS;
  } catch {
    return 0;
  }
}

function processTimes(pid: number): { user: number; kernel: number; rss: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command (which may hold spaces and parentheses).
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const user = Number(rest[11]) * TICK_NS;
    const kernel = Number(rest[12]) * TICK_NS;
    const rss = Number(rest[21]) * PAGE;
    return { user, kernel, rss };
  } catch {
    return undefined;
  }
}

export async function sampleContainer(ctx: Context, record: ContainerRecord): Promise<Sample> {
  const read = new Date();
  const s = currentState(ctx, record);
  const sample: Sample = { read, userNs: 0, kernelNs: 0, systemNs: systemCpuNs(), rss: 0, pids: 0 };
  if ((s.status !== "running" && s.status !== "paused") || !sameProcess(s.pid, s.pidStart)) return sample;
  let pids: number[];
  try {
    pids = await pidsInNamespace(s.pid, { rootless: record.rootless });
  } catch {
    return sample;
  }
  for (const pid of pids) {
    const t = processTimes(pid);
    if (!t) continue;
    sample.userNs += t.user;
    sample.kernelNs += t.kernel;
    sample.rss += t.rss;
    sample.pids += 1;
  }
  return sample;
}

function cpuStats(s: Sample | undefined): Record<string, unknown> {
  const total = s ? s.userNs + s.kernelNs : 0;
  return {
    cpu_usage: { total_usage: total, usage_in_kernelmode: s?.kernelNs ?? 0, usage_in_usermode: s?.userNs ?? 0 },
    system_cpu_usage: s?.systemNs ?? 0,
    online_cpus: cpus().length,
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  };
}

/** Docker's StatsResponse from a sample and the one before it. */
export function statsBody(record: ContainerRecord, cur: Sample, prev: Sample | undefined): Record<string, unknown> {
  return {
    read: cur.read.toISOString(),
    preread: prev ? prev.read.toISOString() : "0001-01-01T00:00:00Z",
    pids_stats: { current: cur.pids },
    blkio_stats: { io_service_bytes_recursive: null, io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null, io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpuStats(cur),
    precpu_stats: cpuStats(prev),
    memory_stats: { usage: cur.rss, stats: {}, limit: totalmem() },
    name: `/${record.name}`,
    id: record.id,
  };
}

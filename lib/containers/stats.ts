/**
 * Live resource usage of a container, for `skiff stats` and the API's
 * `GET /containers/{id}/stats`, in Docker's shapes.
 *
 * - With a cgroup of its own (root; rootless on a delegated cgroup v2):
 *   read from it, as dockerd does (cpuacct/cpu.stat, memory usage and
 *   limit, pids.current, blkio/io.stat).
 * - Without one (rootless on cgroup v1): from /proc, over every process in
 *   the container's PID namespace: CPU as utime+stime (plus the times of
 *   reaped children), memory as the sum of PSS (RSS where smaps_rollup
 *   cannot be read) against the host's memory, threads as PIDS, block I/O
 *   from /proc/PID/io (read_bytes/write_bytes: storage I/O, not page cache).
 * - Network I/O comes from /proc/<init>/net/dev in both cases (every
 *   interface but lo).
 *
 *   const prev = await sampleContainer(ctx, record);
 *   await Bun.sleep(1000);
 *   const body = statsBody(record, await sampleContainer(ctx, record), prev); // Docker's StatsJSON
 *   const row = statsRow(body, { container: "web" });                        // the CLI's columns
 */
import { readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import type { Context } from "../context.ts";
import { bytesSize, humanSize } from "../cli/render/units.ts";
import { sameProcess } from "../sys/proc.ts";
import { cgroupHost, containerCgroups } from "./cgroups.ts";
import { currentState } from "./ops.ts";
import type { ContainerRecord } from "./record.ts";
import { pidsInNamespace } from "./top.ts";

/** USER_HZ: /proc times are in 1/100 s on every architecture skiff runs on. */
const TICK_NS = 10_000_000;
const PAGE = 4096;
/** cgroup v1's "no limit" (and anything beyond the machine) reads as the host's memory, as dockerd reports it. */
const HOST_MEMORY = totalmem();

export interface NetStats {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface StatsSample {
  read: Date;
  running: boolean;
  /** Where the figures come from. */
  source: "cgroup" | "proc" | "none";
  cpu: { total: number; user: number; kernel: number; percpu?: number[]; throttling: { periods: number; throttled_periods: number; throttled_time: number } };
  /** Host CPU time in ns (sum of /proc/stat's first line), Docker's system_cpu_usage. */
  systemNs: number;
  onlineCpus: number;
  memory: { usage: number; limit: number; maxUsage?: number; failcnt?: number; stats: Record<string, number> };
  pids: { current: number; limit?: number };
  networks: Record<string, NetStats>;
  blkio: BlkioEntry[];
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function num(path: string): number | undefined {
  const t = read(path)?.trim();
  if (t === undefined || t === "" || t === "max") return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** `key value` lines (memory.stat, cpu.stat, cpuacct.stat). */
export function parseKeyValues(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? "").split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

export function systemCpuNs(stat = read("/proc/stat")): number {
  const line = (stat ?? "").split("\n")[0] ?? "";
  return (
    line
      .trim()
      .split(/\s+/)
      .slice(1, 8)
      .reduce((n, v) => n + (Number(v) || 0), 0) * TICK_NS
  );
}

/** Interfaces of /proc/<pid>/net/dev, without lo. */
export function parseNetDev(text: string | undefined): Record<string, NetStats> {
  const out: Record<string, NetStats> = {};
  for (const line of (text ?? "").split("\n").slice(2)) {
    const i = line.indexOf(":");
    if (i < 0) continue;
    const name = line.slice(0, i).trim();
    if (name === "lo" || name === "") continue;
    const f = line.slice(i + 1).trim().split(/\s+/).map(Number);
    out[name] = {
      rx_bytes: f[0] ?? 0,
      rx_packets: f[1] ?? 0,
      rx_errors: f[2] ?? 0,
      rx_dropped: f[3] ?? 0,
      tx_bytes: f[8] ?? 0,
      tx_packets: f[9] ?? 0,
      tx_errors: f[10] ?? 0,
      tx_dropped: f[11] ?? 0,
    };
  }
  return out;
}

/** blkio `8:0 Read 4096` lines (v1) or io.stat `8:0 rbytes=4096 wbytes=0 ...` lines (v2). */
export function parseBlkio(text: string | undefined): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (text ?? "").split("\n")) {
    const m = /^(\d+):(\d+)\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    const [major, minor, rest] = [Number(m[1]), Number(m[2]), m[3] as string];
    const v1 = /^(\w+)\s+(\d+)$/.exec(rest);
    if (v1) {
      out.push({ major, minor, op: v1[1] as string, value: Number(v1[2]) });
      continue;
    }
    const kv = parseKeyValues(rest.replace(/=/g, " ").replace(/(\d)\s+/g, "$1\n"));
    if (kv.rbytes !== undefined) out.push({ major, minor, op: "read", value: kv.rbytes });
    if (kv.wbytes !== undefined) out.push({ major, minor, op: "write", value: kv.wbytes });
  }
  return out;
}

function limitOf(n: number | undefined): number {
  return n === undefined || n <= 0 || n > HOST_MEMORY ? HOST_MEMORY : n;
}

function emptySample(read: Date): StatsSample {
  return {
    read,
    running: false,
    source: "none",
    cpu: { total: 0, user: 0, kernel: 0, throttling: { periods: 0, throttled_periods: 0, throttled_time: 0 } },
    systemNs: systemCpuNs(),
    onlineCpus: cpus().length,
    memory: { usage: 0, limit: 0, stats: {} },
    pids: { current: 0 },
    networks: {},
    blkio: [],
  };
}

function fromCgroupV1(s: StatsSample, dirs: Map<string, string>): void {
  const acct = dirs.get("cpuacct");
  if (acct) {
    const t = parseKeyValues(read(join(acct, "cpuacct.stat")));
    s.cpu.total = num(join(acct, "cpuacct.usage")) ?? 0;
    s.cpu.user = (t.user ?? 0) * TICK_NS;
    s.cpu.kernel = (t.system ?? 0) * TICK_NS;
    const per = read(join(acct, "cpuacct.usage_percpu"))?.trim().split(/\s+/).map(Number);
    if (per && per.every(Number.isFinite)) s.cpu.percpu = per;
  }
  const cpu = dirs.get("cpu");
  if (cpu) {
    const st = parseKeyValues(read(join(cpu, "cpu.stat")));
    s.cpu.throttling = { periods: st.nr_periods ?? 0, throttled_periods: st.nr_throttled ?? 0, throttled_time: st.throttled_time ?? 0 };
  }
  const mem = dirs.get("memory");
  if (mem) {
    s.memory = {
      usage: num(join(mem, "memory.usage_in_bytes")) ?? 0,
      maxUsage: num(join(mem, "memory.max_usage_in_bytes")) ?? 0,
      failcnt: num(join(mem, "memory.failcnt")) ?? 0,
      limit: limitOf(num(join(mem, "memory.limit_in_bytes"))),
      stats: parseKeyValues(read(join(mem, "memory.stat"))),
    };
  }
  const pids = dirs.get("pids");
  if (pids) {
    s.pids.current = num(join(pids, "pids.current")) ?? 0;
    const max = num(join(pids, "pids.max"));
    if (max !== undefined) s.pids.limit = max;
  }
  const blk = dirs.get("blkio");
  if (blk) {
    for (const f of ["blkio.io_service_bytes_recursive", "blkio.bfq.io_service_bytes_recursive", "blkio.throttle.io_service_bytes_recursive"]) {
      const entries = parseBlkio(read(join(blk, f)));
      if (entries.length > 0) {
        s.blkio = entries.filter((e) => e.op !== "Total");
        break;
      }
    }
  }
}

function fromCgroupV2(s: StatsSample, dir: string): void {
  const st = parseKeyValues(read(join(dir, "cpu.stat")));
  s.cpu.total = (st.usage_usec ?? 0) * 1000;
  s.cpu.user = (st.user_usec ?? 0) * 1000;
  s.cpu.kernel = (st.system_usec ?? 0) * 1000;
  s.cpu.throttling = { periods: st.nr_periods ?? 0, throttled_periods: st.nr_throttled ?? 0, throttled_time: (st.throttled_usec ?? 0) * 1000 };
  s.memory = {
    usage: num(join(dir, "memory.current")) ?? 0,
    limit: limitOf(num(join(dir, "memory.max"))),
    stats: parseKeyValues(read(join(dir, "memory.stat"))),
  };
  s.pids.current = num(join(dir, "pids.current")) ?? 0;
  const max = num(join(dir, "pids.max"));
  if (max !== undefined) s.pids.limit = max;
  s.blkio = parseBlkio(read(join(dir, "io.stat")));
}

/** One process's share: CPU times, memory, threads, storage I/O. */
export function procFigures(pid: number): { user: number; kernel: number; memory: number; threads: number; readBytes: number; writeBytes: number } | undefined {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const field = (n: number): number => Number(rest[n - 3]) || 0;
  const pss = /^Pss:\s+(\d+) kB$/m.exec(read(`/proc/${pid}/smaps_rollup`) ?? "");
  const io = parseKeyValues(read(`/proc/${pid}/io`)?.replace(/:/g, ""));
  return {
    // utime, stime, and the children's it reaped (cutime, cstime): fields 14-17.
    user: (field(14) + field(16)) * TICK_NS,
    kernel: (field(15) + field(17)) * TICK_NS,
    memory: pss ? Number(pss[1]) * 1024 : field(24) * PAGE,
    threads: field(20),
    readBytes: io.read_bytes ?? 0,
    writeBytes: io.write_bytes ?? 0,
  };
}

async function fromProc(s: StatsSample, initPid: number, rootless: boolean): Promise<void> {
  let pids: number[];
  try {
    pids = await pidsInNamespace(initPid, { rootless });
  } catch {
    return;
  }
  let rd = 0;
  let wr = 0;
  for (const pid of pids) {
    const f = procFigures(pid);
    if (!f) continue;
    s.cpu.user += f.user;
    s.cpu.kernel += f.kernel;
    s.memory.usage += f.memory;
    s.pids.current += f.threads;
    rd += f.readBytes;
    wr += f.writeBytes;
  }
  s.cpu.total = s.cpu.user + s.cpu.kernel;
  s.memory.limit = HOST_MEMORY;
  s.blkio = [
    { major: 0, minor: 0, op: "read", value: rd },
    { major: 0, minor: 0, op: "write", value: wr },
  ];
}

/** A sample of `record`'s usage now; zeros when it is not running. */
export async function sampleContainer(ctx: Context, record: ContainerRecord): Promise<StatsSample> {
  const s = emptySample(new Date());
  const state = currentState(ctx, record);
  if ((state.status !== "running" && state.status !== "paused") || !sameProcess(state.pid, state.pidStart)) return s;
  s.running = true;
  const host = cgroupHost({ rootless: record.rootless });
  const dirs = containerCgroups(state.pid, record.id, host);
  if (dirs && host.version === "v1") {
    s.source = "cgroup";
    fromCgroupV1(s, dirs);
  } else if (dirs?.get("") && host.version === "v2") {
    s.source = "cgroup";
    fromCgroupV2(s, dirs.get("") as string);
  } else {
    s.source = "proc";
    await fromProc(s, state.pid, record.rootless);
  }
  s.networks = parseNetDev(read(`/proc/${state.pid}/net/dev`));
  // Read the host's figure last: the container's CPU time never runs ahead of it.
  s.systemNs = systemCpuNs();
  return s;
}

const ZERO_TIME = "0001-01-01T00:00:00Z";

function cpuStats(s: StatsSample | undefined): Record<string, unknown> {
  return {
    cpu_usage: {
      total_usage: s?.cpu.total ?? 0,
      ...(s?.cpu.percpu ? { percpu_usage: s.cpu.percpu } : {}),
      usage_in_kernelmode: s?.cpu.kernel ?? 0,
      usage_in_usermode: s?.cpu.user ?? 0,
    },
    system_cpu_usage: s?.systemNs ?? 0,
    online_cpus: s?.onlineCpus ?? 0,
    throttling_data: s?.cpu.throttling ?? { periods: 0, throttled_periods: 0, throttled_time: 0 },
  };
}

/** Docker's StatsJSON (`GET /containers/{id}/stats`) from a sample and the one before it. */
export function statsBody(record: ContainerRecord, cur: StatsSample, prev?: StatsSample): Record<string, unknown> {
  const m = cur.memory;
  return {
    read: cur.running ? cur.read.toISOString() : ZERO_TIME,
    preread: prev?.running ? prev.read.toISOString() : ZERO_TIME,
    pids_stats: cur.running ? { current: cur.pids.current, ...(cur.pids.limit !== undefined ? { limit: cur.pids.limit } : {}) } : {},
    blkio_stats: {
      io_service_bytes_recursive: cur.blkio.length > 0 ? cur.blkio : null,
      io_serviced_recursive: null,
      io_queue_recursive: null,
      io_service_time_recursive: null,
      io_wait_time_recursive: null,
      io_merged_recursive: null,
      io_time_recursive: null,
      sectors_recursive: null,
    },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpuStats(cur.running ? cur : undefined),
    precpu_stats: cpuStats(prev?.running ? prev : undefined),
    memory_stats: cur.running
      ? { usage: m.usage, ...(m.maxUsage !== undefined ? { max_usage: m.maxUsage } : {}), stats: m.stats, ...(m.failcnt !== undefined ? { failcnt: m.failcnt } : {}), limit: m.limit }
      : {},
    name: `/${record.name}`,
    id: record.id,
    ...(cur.running ? { networks: cur.networks } : {}),
  };
}

/** The columns of `skiff stats` (keys in Docker's `--format json` order). */
export interface StatsRow {
  BlockIO: string;
  CPUPerc: string;
  Container: string;
  ID: string;
  MemPerc: string;
  MemUsage: string;
  Name: string;
  NetIO: string;
  PIDs: string;
}

interface BodyView {
  id: string;
  name: string;
  cpu_stats: { cpu_usage: { total_usage: number; percpu_usage?: number[] }; system_cpu_usage: number; online_cpus: number };
  precpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage: number };
  memory_stats: { usage?: number; limit?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes: number; tx_bytes: number }>;
  blkio_stats: { io_service_bytes_recursive: { op: string; value: number }[] | null };
  pids_stats: { current?: number };
}

/** Docker CLI's calculateCPUPercentUnix. */
export function cpuPercent(body: Pick<BodyView, "cpu_stats" | "precpu_stats">): number {
  const cpuDelta = body.cpu_stats.cpu_usage.total_usage - body.precpu_stats.cpu_usage.total_usage;
  const systemDelta = body.cpu_stats.system_cpu_usage - body.precpu_stats.system_cpu_usage;
  const online = body.cpu_stats.online_cpus || body.cpu_stats.cpu_usage.percpu_usage?.length || 0;
  return systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * online * 100 : 0;
}

/** Docker CLI's memory without the page cache it can drop (inactive files). */
export function memoryUsage(mem: BodyView["memory_stats"]): number {
  const usage = mem.usage ?? 0;
  const v1 = mem.stats?.total_inactive_file;
  if (v1 !== undefined && v1 < usage) return usage - v1;
  const v2 = mem.stats?.inactive_file;
  if (v2 !== undefined && v2 < usage) return usage - v2;
  return usage;
}

/** A `skiff stats` row from Docker's StatsJSON, computed as the docker CLI does. */
export function statsRow(json: Record<string, unknown>, opts: { container: string; noTrunc?: boolean }): StatsRow {
  const body = json as unknown as BodyView;
  const mem = memoryUsage(body.memory_stats);
  const limit = body.memory_stats.limit ?? 0;
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(body.networks ?? {})) {
    rx += n.rx_bytes;
    tx += n.tx_bytes;
  }
  let rd = 0;
  let wr = 0;
  for (const e of body.blkio_stats.io_service_bytes_recursive ?? []) {
    if (e.op.toLowerCase() === "read") rd += e.value;
    else if (e.op.toLowerCase() === "write") wr += e.value;
  }
  return {
    BlockIO: `${humanSize(rd)} / ${humanSize(wr)}`,
    CPUPerc: `${cpuPercent(body).toFixed(2)}%`,
    Container: opts.container,
    ID: opts.noTrunc ? body.id : body.id.slice(0, 12),
    MemPerc: `${(limit > 0 ? (mem / limit) * 100 : 0).toFixed(2)}%`,
    MemUsage: `${bytesSize(mem)} / ${bytesSize(limit)}`,
    Name: body.name.replace(/^\//, ""),
    NetIO: `${humanSize(rx)} / ${humanSize(tx)}`,
    PIDs: String(body.pids_stats.current ?? 0),
  };
}

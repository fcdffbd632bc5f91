/**
 * Resource limits a container asks for (`--memory`, `--cpus`, `--pids-limit`...)
 * in one shape, Docker's rules for them, and the record of what is actually
 * in force. Pure: what the host can enforce is decided in ./cgroups.ts.
 *
 * Units are Docker's HostConfig units: bytes, nano-CPUs, CFS microseconds.
 * 0 (or an empty string) means "not set", as in Docker's API.
 */
import { z } from "zod";
import { SkiffError } from "../errors.ts";

export const resourcesSchema = z.lazy(() =>
  z.object({
    /** Hard memory limit in bytes. */
    memory: z.number().int().min(0).default(0),
    /** Memory plus swap in bytes; -1 unlimited swap. */
    memorySwap: z.number().int().min(-1).default(0),
    /** Soft limit (memory.soft_limit_in_bytes / memory.low). */
    memoryReservation: z.number().int().min(0).default(0),
    /** --cpus × 1e9. */
    nanoCpus: z.number().int().min(0).default(0),
    /** Relative weight (cpu.shares), 2..262144. */
    cpuShares: z.number().int().min(0).default(0),
    /** CFS period and quota in microseconds. */
    cpuPeriod: z.number().int().min(0).default(0),
    cpuQuota: z.number().int().min(-1).default(0),
    cpusetCpus: z.string().default(""),
    cpusetMems: z.string().default(""),
    /** Maximum number of tasks; absent: unlimited. */
    pidsLimit: z.number().int().positive().optional(),
    oomKillDisable: z.boolean().default(false),
    /** Block I/O weight 10..1000. */
    blkioWeight: z.number().int().min(0).max(1000).default(0),
  }),
);
export type Resources = z.infer<typeof resourcesSchema>;
export type ResourceField = keyof Resources;

/** What is in force for a container, next to what it asked for (record.options.resources). */
export const appliedResourcesSchema = z.lazy(() =>
  z.object({
    applied: resourcesSchema,
    /** Flags asked for but not applied (e.g. `--memory`), in flag order. */
    ignored: z.array(z.string()).default([]),
    /** Why they were ignored, one sentence. */
    note: z.string().optional(),
  }),
);
export type AppliedResources = z.infer<typeof appliedResourcesSchema>;

/**
 * No limits: the schema's defaults, written out because building the schema
 * costs a few ms at every start of the CLI (tests hold the two equal).
 */
export function noResources(): Resources {
  return {
    memory: 0,
    memorySwap: 0,
    memoryReservation: 0,
    nanoCpus: 0,
    cpuShares: 0,
    cpuPeriod: 0,
    cpuQuota: 0,
    cpusetCpus: "",
    cpusetMems: "",
    oomKillDisable: false,
    blkioWeight: 0,
  };
}

/** The `run` flag of each field, in the order warnings list them. */
export const RESOURCE_FLAGS: Readonly<Record<ResourceField, string>> = Object.freeze({
  memory: "--memory",
  memorySwap: "--memory-swap",
  memoryReservation: "--memory-reservation",
  nanoCpus: "--cpus",
  cpuShares: "--cpu-shares",
  cpuPeriod: "--cpu-period",
  cpuQuota: "--cpu-quota",
  cpusetCpus: "--cpuset-cpus",
  cpusetMems: "--cpuset-mems",
  pidsLimit: "--pids-limit",
  oomKillDisable: "--oom-kill-disable",
  blkioWeight: "--blkio-weight",
});

/** Fields that hold a value other than "not set". */
export function setFields(r: Resources): ResourceField[] {
  return (Object.keys(RESOURCE_FLAGS) as ResourceField[]).filter((k) => {
    const v = r[k];
    return v !== undefined && v !== 0 && v !== "" && v !== false;
  });
}

/** Docker's smallest memory limit (linuxMinMemory). */
export const MIN_MEMORY = 6 * 1024 * 1024;
const MIN_CPU_SHARES = 2;
const MAX_CPU_SHARES = 262144;

function bad(message: string): SkiffError {
  return new SkiffError("InvalidArgument", message);
}

/**
 * A cpuset list (`0-3,5`) as the set of numbers it names; InvalidArgument
 * when malformed (as Docker's parsers.ParseUintList).
 */
export function parseCpuList(list: string, what = "cpuset"): Set<number> {
  const out = new Set<number>();
  if (list === "") return out;
  for (const part of list.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw bad(`invalid value ${list} for ${what}`);
    const lo = Number(m[1]);
    const hi = m[2] !== undefined ? Number(m[2]) : lo;
    if (hi < lo || hi - lo > 65536) throw bad(`invalid value ${list} for ${what}`);
    for (let i = lo; i <= hi; i++) out.add(i);
  }
  return out;
}

/**
 * Docker's daemon-side checks that do not depend on the host, and its
 * normalisations: memory ≥ 6MB, swap ≥ memory (or -1), reservation ≤ memory,
 * --cpus not with --cpu-period/--cpu-quota, CFS bounds, blkio weight range,
 * cpu shares clamped to 2..262144. `update` allows swap without memory
 * (the container's memory limit is already set).
 */
export function validateResources(r: Resources, opts: { update?: boolean } = {}): Resources {
  const out = { ...r };
  if (out.memory !== 0 && out.memory < MIN_MEMORY) throw bad("minimum memory limit allowed is 6MB");
  if (out.memory > 0 && out.memorySwap > 0 && out.memorySwap < out.memory) {
    throw bad("minimum memoryswap limit should be larger than memory limit, see usage");
  }
  if (out.memory === 0 && out.memorySwap > 0 && !opts.update) {
    throw bad("you should always set the memory limit when using memoryswap limit, see usage");
  }
  if (out.memoryReservation > 0 && out.memoryReservation < MIN_MEMORY) throw bad("minimum memory reservation allowed is 6MB");
  if (out.memory > 0 && out.memoryReservation > 0 && out.memory < out.memoryReservation) {
    throw bad("minimum memory limit can not be less than memory reservation limit, see usage");
  }
  if (out.nanoCpus > 0 && out.cpuPeriod > 0) throw bad("conflicting options: Nano CPUs and CPU Period cannot both be set");
  if (out.nanoCpus > 0 && out.cpuQuota > 0) throw bad("conflicting options: Nano CPUs and CPU Quota cannot both be set");
  if (out.cpuPeriod !== 0 && (out.cpuPeriod < 1000 || out.cpuPeriod > 1_000_000)) {
    throw bad("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
  }
  if (out.cpuQuota > 0 && out.cpuQuota < 1000) throw bad("CPU cfs quota can not be less than 1ms (i.e. 1000)");
  if (out.blkioWeight > 0 && (out.blkioWeight < 10 || out.blkioWeight > 1000)) throw bad("range of blkio weight is from 10 to 1000");
  if (out.cpuShares > MAX_CPU_SHARES) out.cpuShares = MAX_CPU_SHARES;
  else if (out.cpuShares > 0 && out.cpuShares < MIN_CPU_SHARES) out.cpuShares = MIN_CPU_SHARES;
  parseCpuList(out.cpusetCpus, "cpuset cpus");
  parseCpuList(out.cpusetMems, "cpuset mems");
  return out;
}

/**
 * `update`: the container's resources with the given fields replaced, with
 * Docker's rule that a new memory limit above the current swap limit needs
 * --memory-swap too. `pidsLimit: 0` (or -1 on the command line) removes the limit.
 */
export function mergeResourceUpdate(current: Resources, change: Partial<Resources> & { pidsLimit?: number }): Resources {
  const next: Resources = { ...current };
  for (const [k, v] of Object.entries(change) as [ResourceField, Resources[ResourceField]][]) {
    if (v === undefined) continue;
    (next as Record<string, unknown>)[k] = v;
  }
  if (change.pidsLimit !== undefined && change.pidsLimit <= 0) delete next.pidsLimit;
  if (change.memory !== undefined && change.memory > 0 && change.memorySwap === undefined && current.memorySwap > 0 && change.memory > current.memorySwap) {
    throw new SkiffError("Conflict", "memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time");
  }
  // --cpus replaces a period/quota pair and the other way round, as dockerd does.
  if (change.nanoCpus !== undefined && change.nanoCpus > 0) {
    if (change.cpuPeriod === undefined) next.cpuPeriod = 0;
    if (change.cpuQuota === undefined) next.cpuQuota = 0;
  }
  if ((change.cpuPeriod ?? 0) > 0 || (change.cpuQuota ?? 0) > 0) {
    if (change.nanoCpus === undefined) next.nanoCpus = 0;
  }
  return validateResources(next, { update: true });
}

/**
 * The resource fields of `docker inspect`'s HostConfig: what is in force
 * (0, "" or null where nothing is, including limits that were ignored),
 * plus skiff's note on what was ignored and why.
 */
export function hostConfigResources(inForce: AppliedResources | undefined): Record<string, unknown> {
  const r = inForce?.applied ?? noResources();
  return {
    Memory: r.memory,
    MemoryReservation: r.memoryReservation,
    MemorySwap: r.memorySwap,
    MemorySwappiness: null,
    NanoCpus: r.nanoCpus,
    CpuShares: r.cpuShares,
    CpuPeriod: r.cpuPeriod,
    CpuQuota: r.cpuQuota,
    CpuRealtimePeriod: 0,
    CpuRealtimeRuntime: 0,
    CpusetCpus: r.cpusetCpus,
    CpusetMems: r.cpusetMems,
    PidsLimit: r.pidsLimit ?? null,
    OomKillDisable: r.oomKillDisable,
    BlkioWeight: r.blkioWeight,
    ...(inForce && inForce.ignored.length > 0 ? { SkiffResourcesIgnored: inForce.ignored } : {}),
    ...(inForce?.note && inForce.ignored.length > 0 ? { SkiffResourcesNote: inForce.note } : {}),
  };
}

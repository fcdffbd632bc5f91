/**
 * Resource limits → the OCI spec's `linux.resources`, as dockerd maps a
 * HostConfig for runc (moby `daemon/oci_linux.go`): `--cpus` becomes a CFS
 * quota over a 100 ms period, memory and swap go to memory.limit and
 * memory.swap (memory plus swap, runc's cgroup v1 meaning; runc converts it
 * for cgroup v2). Pure. Only limits the host can enforce should reach here
 * (lib/containers/cgroups.ts decides): runc fails, or silently ignores
 * them, where it has no cgroup to write.
 *
 *   ociResources({ ...noResources(), memory: 64 << 20, nanoCpus: 5e8 })
 *   // { memory: { limit: 67108864 }, cpu: { period: 100000, quota: 50000 } }
 */
import type { Resources } from "../containers/resources.ts";
import type { OciResources } from "./types.ts";

/** The CFS period dockerd uses for --cpus, in microseconds. */
export const NANO_CPUS_PERIOD = 100_000;

/** The cgroup limits of `r`: only what is set, nothing for defaults. */
export function ociResources(r: Resources): Omit<OciResources, "devices"> {
  const out: Omit<OciResources, "devices"> = {};
  const memory: NonNullable<OciResources["memory"]> = {};
  if (r.memory > 0) memory.limit = r.memory;
  if (r.memorySwap !== 0) memory.swap = r.memorySwap;
  if (r.memoryReservation > 0) memory.reservation = r.memoryReservation;
  if (r.oomKillDisable) memory.disableOOMKiller = true;
  if (Object.keys(memory).length > 0) out.memory = memory;

  const cpu: NonNullable<OciResources["cpu"]> = {};
  if (r.cpuShares > 0) cpu.shares = r.cpuShares;
  if (r.nanoCpus > 0) {
    cpu.period = NANO_CPUS_PERIOD;
    cpu.quota = Math.floor((r.nanoCpus * NANO_CPUS_PERIOD) / 1e9);
  } else {
    if (r.cpuPeriod > 0) cpu.period = r.cpuPeriod;
    if (r.cpuQuota !== 0) cpu.quota = r.cpuQuota;
  }
  if (r.cpusetCpus !== "") cpu.cpus = r.cpusetCpus;
  if (r.cpusetMems !== "") cpu.mems = r.cpusetMems;
  if (Object.keys(cpu).length > 0) out.cpu = cpu;

  if (r.pidsLimit !== undefined && r.pidsLimit > 0) out.pids = { limit: r.pidsLimit };
  if (r.blkioWeight > 0) out.blockIO = { weight: r.blkioWeight };
  return out;
}

/**
 * The body of `runc update --resources FILE` that makes a running
 * container's cgroup match `r`. runc treats 0 as "leave as it is", so
 * limits that are not set are written as their unlimited or default values
 * (-1, 1024 shares, a 100 ms period) to lift a limit set before. Cpusets,
 * the memory reservation and the block I/O weight can only be changed, not
 * reset. Without swap accounting (`swap: false`) no swap limit is written.
 */
export function ociResourcesUpdate(r: Resources, host: { swap: boolean }): Omit<OciResources, "devices"> {
  const set = ociResources(r);
  const cpu = set.cpu ?? {};
  return {
    memory: {
      limit: set.memory?.limit ?? -1,
      ...(host.swap ? { swap: set.memory?.swap ?? -1 } : {}),
      ...(set.memory?.reservation !== undefined ? { reservation: set.memory.reservation } : {}),
    },
    cpu: {
      shares: cpu.shares ?? 1024,
      period: cpu.period ?? NANO_CPUS_PERIOD,
      quota: cpu.quota ?? -1,
      ...(cpu.cpus !== undefined ? { cpus: cpu.cpus } : {}),
      ...(cpu.mems !== undefined ? { mems: cpu.mems } : {}),
    },
    pids: { limit: set.pids?.limit ?? -1 },
    ...(set.blockIO ? { blockIO: set.blockIO } : {}),
  };
}

/** runc's cgroupfs path for a container under `parent` (e.g. "/skiff"). */
export function cgroupsPathFor(parent: string, id: string): string {
  return `${parent.replace(/\/+$/, "")}/${id}`;
}

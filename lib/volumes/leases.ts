/**
 * Leases close the gap between "create made or found the volume" and
 * "the container's record names it": until the record exists, no container
 * uses the volume, and a concurrent `volume prune` or `volume rm` would
 * delete it. A create writes `volumes/.leases/<pid>-<random>.json` listing
 * the volumes it is about to use; rm and prune treat a leased volume as in
 * use while its process lives, for at most LEASE_TTL_MS. Nobody needs to
 * release a lease (a crashed create's lease dies with it); `releaseLease`
 * just ends one early.
 */
import { randomHex } from "../random.ts";
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { atomicWriteJson, readJsonFile } from "../fsutil.ts";
import { processStartTime, sameProcess } from "../sys/proc.ts";

/** Longer than any create takes between preparing its mounts and writing its record. */
export const LEASE_TTL_MS = 60_000;

const leaseSchema = z.lazy(() =>
  z.object({
    pid: z.number().int(),
    start: z.number(),
    /** ms since the epoch */
    time: z.number(),
    names: z.array(z.string()),
  }),
);
type Lease = z.infer<typeof leaseSchema>;

function leasesDir(volumesDir: string): string {
  return join(volumesDir, ".leases");
}

/** Records that this process is about to use `names`; returns the lease file. */
export function writeLease(volumesDir: string, names: readonly string[], now = Date.now()): string {
  const lease: Lease = { pid: process.pid, start: processStartTime(process.pid) ?? 0, time: now, names: [...names] };
  const path = join(leasesDir(volumesDir), `${process.pid}-${randomHex(6)}.json`);
  atomicWriteJson(path, lease, { noSync: true, mode: 0o600 });
  return path;
}

export function releaseLease(path: string): void {
  rmSync(path, { force: true });
}

/** Volume names under a live lease. Stale lease files are deleted on the way. */
export function leasedNames(volumesDir: string, now = Date.now()): Set<string> {
  const out = new Set<string>();
  let files: string[];
  try {
    files = readdirSync(leasesDir(volumesDir));
  } catch {
    return out;
  }
  for (const f of files) {
    if (!f.endsWith(".json") || f.startsWith(".")) continue;
    const path = join(leasesDir(volumesDir), f);
    let lease: Lease | undefined;
    try {
      lease = readJsonFile(path, leaseSchema);
    } catch {
      lease = undefined;
    }
    if (lease === undefined || !(now - lease.time < LEASE_TTL_MS && now >= lease.time - 5_000 && sameProcess(lease.pid, lease.start))) {
      rmSync(path, { force: true });
      continue;
    }
    for (const n of lease.names) out.add(n);
  }
  return out;
}

/**
 * Who is on a user network right now: one entry per attached container with
 * its address and names, in <run>/networks/<name>/members.json, changed under
 * the network's lock. Addresses are leased from it; an entry whose shim has
 * died is stale and its address free again. The network's DNS server reads it.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { atomicWriteJson } from "../fsutil.ts";
import { acquireLock } from "../lock.ts";
import { sameProcess } from "../sys/proc.ts";
import { SkiffError } from "../errors.ts";
import { intToIp, ipToInt, parseCidr } from "./store.ts";

export interface Member {
  id: string;
  name: string;
  /** Names answered by DNS: the container name, aliases, the short id. */
  aliases: string[];
  ip: string;
  /** The shim supervising the container (0 until it reported), and its start time. */
  shimPid: number;
  shimStart: number;
  /** When the lease was taken, to let a start in progress keep it. */
  leased: number;
}

export function networkRunDir(runRoot: string, name: string): string {
  return join(runRoot, "networks", name);
}

export function readMembers(dir: string): Member[] {
  try {
    return JSON.parse(readFileSync(join(dir, "members.json"), "utf8")) as Member[];
  } catch {
    return [];
  }
}

/** A member is live while its shim runs, or for a minute after leasing (start in progress). */
export function isLive(m: Member, now = Date.now()): boolean {
  if (m.shimPid > 0) return sameProcess(m.shimPid, m.shimStart);
  return now - m.leased < 60_000;
}

async function update<T>(dir: string, locks: string, name: string, fn: (members: Member[]) => T): Promise<T> {
  const lock = await acquireLock(join(locks, `net-${name}.lock`));
  try {
    const members = readMembers(dir).filter((m) => isLive(m));
    const result = fn(members);
    atomicWriteJson(join(dir, "members.json"), members, { noSync: true });
    return result;
  } finally {
    lock.release();
  }
}

/** Leases the lowest free address of the subnet for a container; refuses a name clash. */
export async function leaseAddress(
  opts: { dir: string; locks: string; network: string; subnet: string; gateway: string },
  member: { id: string; name: string; aliases: string[] },
): Promise<string> {
  return update(opts.dir, opts.locks, opts.network, (members) => {
    const existing = members.find((m) => m.id === member.id);
    if (existing) return existing.ip;
    const cidr = parseCidr(opts.subnet);
    const size = 2 ** (32 - cidr.bits);
    const used = new Set([...members.map((m) => m.ip), opts.gateway]);
    for (let i = 1; i < size - 1; i++) {
      const ip = intToIp(cidr.base + i);
      if (used.has(ip)) continue;
      members.push({ ...member, ip, shimPid: 0, shimStart: 0, leased: Date.now() });
      return ip;
    }
    throw new SkiffError("Unavailable", `network ${opts.network}: no free address left in ${opts.subnet}`);
  });
}

/** Records the shim that now owns the lease (so the lease lives as long as it). */
export async function confirmLease(opts: { dir: string; locks: string; network: string }, id: string, shim: { pid: number; start: number }): Promise<void> {
  await update(opts.dir, opts.locks, opts.network, (members) => {
    const m = members.find((x) => x.id === id);
    if (m) {
      m.shimPid = shim.pid;
      m.shimStart = shim.start;
    }
  });
}

export async function releaseLease(opts: { dir: string; locks: string; network: string }, id: string): Promise<void> {
  await update(opts.dir, opts.locks, opts.network, (members) => {
    const i = members.findIndex((m) => m.id === id);
    if (i >= 0) members.splice(i, 1);
  });
}

/** Sorts addresses numerically (for stable answers). */
export function byAddress(a: Member, b: Member): number {
  return ipToInt(a.ip) - ipToInt(b.ip);
}

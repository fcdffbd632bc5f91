/**
 * User-defined networks: one record each in networks/<name>.json. A network
 * is a bridge inside a network namespace of its own, created on demand by a
 * small helper process while containers use it (see lib/network/helper.ts).
 * Subnets come from 10.89.0.0/16, one /24 per network, unless given.
 */
import { randomHex } from "../random.ts";
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { SkiffError } from "../errors.ts";
import { atomicWriteJson, readJsonFile } from "../fsutil.ts";
import { acquireLock } from "../lock.ts";

export const networkSchema = z.lazy(() =>
  z.object({
    schemaVersion: z.literal(1),
    id: z.string().regex(/^[a-f0-9]{64}$/),
    name: z.string(),
    driver: z.literal("bridge"),
    subnet: z.string(),
    gateway: z.string(),
    internal: z.boolean().default(false),
    labels: z.record(z.string()).default({}),
    options: z.record(z.string()).default({}),
    created: z.string(),
  }),
);

export type NetworkRecord = z.infer<typeof networkSchema>;

/** Names Docker gives its built-in networks: not available for user networks. */
export const BUILTIN_NETWORKS = ["bridge", "default", "host", "none", "pasta", "slirp4netns"];

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function ipToInt(ip: string): number {
  const p = ip.split(".").map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new SkiffError("InvalidArgument", `invalid IPv4 address ${ip}`);
  return (((p[0] as number) << 24) >>> 0) + ((p[1] as number) << 16) + ((p[2] as number) << 8) + (p[3] as number);
}

export function intToIp(n: number): string {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export interface Cidr {
  base: number;
  bits: number;
}

export function parseCidr(cidr: string): Cidr {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr);
  if (!m) throw new SkiffError("InvalidArgument", `invalid subnet ${cidr}: expected a.b.c.d/nn`);
  const bits = Number(m[2]);
  if (bits < 8 || bits > 30) throw new SkiffError("InvalidArgument", `invalid subnet ${cidr}: prefix must be between /8 and /30`);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const base = (ipToInt(m[1] as string) & mask) >>> 0;
  return { base, bits };
}

export function inCidr(ip: string, c: Cidr): boolean {
  const mask = (0xffffffff << (32 - c.bits)) >>> 0;
  return ((ipToInt(ip) & mask) >>> 0) === c.base;
}

function overlaps(a: Cidr, b: Cidr): boolean {
  const bits = Math.min(a.bits, b.bits);
  const mask = (0xffffffff << (32 - bits)) >>> 0;
  return ((a.base & mask) >>> 0) === ((b.base & mask) >>> 0);
}

export class NetworkStore {
  readonly #dir: string;
  readonly #lock: string;

  constructor(paths: { root: string; locks: string }) {
    this.#dir = join(paths.root, "networks");
    this.#lock = join(paths.locks, "networks.lock");
  }

  list(): NetworkRecord[] {
    let names: string[];
    try {
      names = readdirSync(this.#dir);
    } catch {
      return [];
    }
    const out: NetworkRecord[] = [];
    for (const n of names) {
      if (!n.endsWith(".json")) continue;
      try {
        const r = readJsonFile(join(this.#dir, n), networkSchema);
        if (r) out.push(r);
      } catch {
        // a corrupt record is skipped
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** By name, full id or unique id prefix. */
  find(input: string): NetworkRecord | undefined {
    const all = this.list();
    const byName = all.find((n) => n.name === input);
    if (byName) return byName;
    if (/^[a-f0-9]+$/.test(input)) {
      const m = all.filter((n) => n.id.startsWith(input));
      if (m.length > 1) throw new SkiffError("InvalidArgument", `network id prefix ${input} is ambiguous`);
      return m[0];
    }
    return undefined;
  }

  get(input: string): NetworkRecord {
    const n = this.find(input);
    if (!n) throw new SkiffError("NotFound", `network ${input} not found`);
    return n;
  }

  async create(opts: {
    name: string;
    subnet?: string | undefined;
    gateway?: string | undefined;
    internal?: boolean | undefined;
    labels?: Record<string, string> | undefined;
    options?: Record<string, string> | undefined;
  }): Promise<NetworkRecord> {
    if (!NAME_RE.test(opts.name)) throw new SkiffError("InvalidArgument", `invalid network name ${JSON.stringify(opts.name)}`);
    if (BUILTIN_NETWORKS.includes(opts.name)) throw new SkiffError("Conflict", `network name ${opts.name} is reserved`);
    const lock = await acquireLock(this.#lock);
    try {
      const all = this.list();
      if (all.some((n) => n.name === opts.name)) throw new SkiffError("Conflict", `network with name ${opts.name} already exists`);
      let cidr: Cidr;
      if (opts.subnet) {
        cidr = parseCidr(opts.subnet);
        const clash = all.find((n) => overlaps(parseCidr(n.subnet), cidr));
        if (clash) throw new SkiffError("Conflict", `subnet ${opts.subnet} overlaps with network ${clash.name} (${clash.subnet})`);
      } else {
        const used = all.map((n) => parseCidr(n.subnet));
        let found: Cidr | undefined;
        for (let i = 0; i < 256 && !found; i++) {
          const c = { base: ipToInt(`10.89.${i}.0`), bits: 24 };
          if (!used.some((u) => overlaps(u, c))) found = c;
        }
        if (!found) throw new SkiffError("Unavailable", "no free subnet left in 10.89.0.0/16: give one with --subnet");
        cidr = found;
      }
      const subnet = `${intToIp(cidr.base)}/${cidr.bits}`;
      const gateway = opts.gateway ?? intToIp(cidr.base + 1);
      if (!inCidr(gateway, cidr)) throw new SkiffError("InvalidArgument", `gateway ${gateway} is not in subnet ${subnet}`);
      const rec: NetworkRecord = {
        schemaVersion: 1,
        id: randomHex(32),
        name: opts.name,
        driver: "bridge",
        subnet,
        gateway,
        internal: opts.internal ?? false,
        labels: opts.labels ?? {},
        options: opts.options ?? {},
        created: new Date().toISOString(),
      };
      atomicWriteJson(join(this.#dir, `${opts.name}.json`), rec);
      return rec;
    } finally {
      lock.release();
    }
  }

  async remove(name: string): Promise<void> {
    const lock = await acquireLock(this.#lock);
    try {
      rmSync(join(this.#dir, `${name}.json`), { force: true });
    } finally {
      lock.release();
    }
  }
}

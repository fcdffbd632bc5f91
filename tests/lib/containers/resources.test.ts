import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { delegatedCgroup, planResources, type CgroupFeatures, type CgroupHost } from "../../../lib/containers/cgroups.ts";
import { hostConfigResources, mergeResourceUpdate, noResources, parseCpuList, type Resources } from "../../../lib/containers/resources.ts";
import { parseCgroupMounts } from "../../../lib/sys/cgroupfs.ts";
import { expectError } from "../oci/helpers.ts";

const ID = "ab".repeat(32);
const ALL: CgroupFeatures = { memory: true, swap: true, memoryReservation: true, oomKillDisable: true, cpuShares: true, cpuCfs: true, cpuset: true, pids: true, blkioWeight: true, freezer: true };

function host(over: Partial<CgroupHost> = {}): CgroupHost {
  return { version: "v1", hybrid: true, mounts: {}, rootless: false, parent: "/skiff", features: { ...ALL }, numCpus: 2, cpus: "0-1", mems: "0", ...over };
}

const rootlessV1 = host({
  rootless: true,
  parent: undefined,
  reason: "resource limits are not supported for rootless containers on cgroup v1",
  features: Object.fromEntries(Object.keys(ALL).map((k) => [k, false])) as unknown as CgroupFeatures,
});

function r(over: Partial<Resources>): Resources {
  return { ...noResources(), ...over };
}

describe("planResources", () => {
  test("root on cgroup v1: enforced, swap defaults to twice the memory, own cgroup", () => {
    const p = planResources(r({ memory: 64 << 20, nanoCpus: 5e8, pidsLimit: 10 }), host(), { id: ID });
    expect(p.applied).toEqual(r({ memory: 64 << 20, memorySwap: 128 << 20, nanoCpus: 5e8, pidsLimit: 10 }));
    expect(p.ignored).toEqual([]);
    expect(p.warnings).toEqual([]);
    expect(p.cgroupsPath).toBe(`/skiff/${ID}`);
  });

  test("no limits asked: still an own cgroup, nothing to warn about", () => {
    const p = planResources(noResources(), host(), { id: ID });
    expect(p.applied).toEqual(noResources());
    expect(p.cgroupsPath).toBe(`/skiff/${ID}`);
    expect(p.warnings).toEqual([]);
  });

  test("rootless on cgroup v1: nothing applied, one warning naming the flags, no cgroup", () => {
    const p = planResources(r({ memory: 64 << 20, nanoCpus: 5e8 }), rootlessV1, { id: ID });
    expect(p.applied).toEqual(noResources());
    expect(p.ignored).toEqual(["--memory", "--cpus"]);
    expect(p.warnings).toEqual(["resource limits are not supported for rootless containers on cgroup v1 and are ignored: --memory, --cpus"]);
    expect(p.note).toBe("resource limits are not supported for rootless containers on cgroup v1");
    expect(p.cgroupsPath).toBeUndefined();
    expect(planResources(noResources(), rootlessV1, { id: ID }).warnings).toEqual([]);
  });

  test("rootless with a delegated cgroup v2 but crun: not enforced (skiff runs crun without cgroups)", () => {
    const h = host({ version: "v2", hybrid: false, rootless: true, parent: "/user.slice/user@1000.service/skiff" });
    expect(planResources(r({ memory: 64 << 20 }), h, { id: ID, runtime: "runc" }).cgroupsPath).toBe(`/user.slice/user@1000.service/skiff/${ID}`);
    const crun = planResources(r({ memory: 64 << 20 }), h, { id: ID, runtime: "crun" });
    expect(crun.cgroupsPath).toBeUndefined();
    expect(crun.ignored).toEqual(["--memory"]);
  });

  test("a kernel without a feature: that limit is discarded with dockerd's warning", () => {
    const p = planResources(r({ memory: 64 << 20, blkioWeight: 300, memorySwap: 128 << 20 }), host({ features: { ...ALL, blkioWeight: false, swap: false } }), { id: ID });
    expect(p.applied).toEqual(r({ memory: 64 << 20 }));
    expect(p.ignored).toEqual(["--blkio-weight", "--memory-swap"]);
    expect(p.warnings).toEqual([
      "your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.",
      "your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.",
    ]);
  });

  test("--oom-kill-disable without --memory is accepted with a warning", () => {
    const p = planResources(r({ oomKillDisable: true }), host(), { id: ID });
    expect(p.applied.oomKillDisable).toBe(true);
    expect(p.warnings[0]).toContain("OOM killer is disabled for the container, but no memory limit is set");
  });

  test("host-dependent refusals: too many CPUs, unavailable cpusets", () => {
    expectError(() => planResources(r({ nanoCpus: 3e9 }), host(), { id: ID }), "range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available");
    expectError(() => planResources(r({ nanoCpus: 3e9 }), rootlessV1, { id: ID }), "range of CPUs");
    expectError(() => planResources(r({ cpusetCpus: "0-3" }), host(), { id: ID }), "requested CPUs are not available - requested 0-3, available: 0-1");
    expectError(() => planResources(r({ cpusetMems: "1" }), host(), { id: ID }), "requested memory nodes are not available");
    expect(planResources(r({ cpusetCpus: "1", cpusetMems: "0" }), host(), { id: ID }).applied.cpusetCpus).toBe("1");
  });
});

describe("update merge", () => {
  const cur = r({ memory: 64 << 20, memorySwap: 128 << 20, nanoCpus: 5e8, pidsLimit: 10 });

  test("given fields replace, others stay", () => {
    expect(mergeResourceUpdate(cur, { pidsLimit: 20 })).toEqual({ ...cur, pidsLimit: 20 });
    expect(mergeResourceUpdate(cur, { memory: 100 << 20 })).toEqual({ ...cur, memory: 100 << 20 });
  });

  test("pids limit ≤ 0 lifts it", () => {
    expect(mergeResourceUpdate(cur, { pidsLimit: -1 }).pidsLimit).toBeUndefined();
  });

  test("memory above the swap limit needs --memory-swap too (dockerd's rule)", () => {
    expectError(() => mergeResourceUpdate(cur, { memory: 256 << 20 }), "memory limit should be smaller than already set memoryswap limit", "Conflict");
    expect(mergeResourceUpdate(cur, { memory: 256 << 20, memorySwap: 512 << 20 }).memory).toBe(256 << 20);
  });

  test("--cpus replaces period/quota and the other way round", () => {
    const pq = r({ cpuPeriod: 50000, cpuQuota: 25000 });
    expect(mergeResourceUpdate(pq, { nanoCpus: 1e9 })).toEqual(r({ nanoCpus: 1e9 }));
    expect(mergeResourceUpdate(r({ nanoCpus: 1e9 }), { cpuQuota: 30000 })).toEqual(r({ cpuQuota: 30000 }));
  });

  test("update may set swap alone", () => {
    expect(mergeResourceUpdate(noResources(), { memorySwap: 64 << 20 }).memorySwap).toBe(64 << 20);
  });
});

describe("inspect's HostConfig", () => {
  test("what is in force, with the note on what was ignored", () => {
    const hc = hostConfigResources({ applied: noResources(), ignored: ["--memory"], note: "resource limits are not supported for rootless containers on cgroup v1" });
    expect(hc.Memory).toBe(0);
    expect(hc.NanoCpus).toBe(0);
    expect(hc.PidsLimit).toBeNull();
    expect(hc.SkiffResourcesIgnored).toEqual(["--memory"]);
    expect(hc.SkiffResourcesNote).toContain("rootless");
    const enforced = hostConfigResources({ applied: r({ memory: 64 << 20, memorySwap: 128 << 20, pidsLimit: 10 }), ignored: [] });
    expect([enforced.Memory, enforced.MemorySwap, enforced.PidsLimit]).toEqual([64 << 20, 128 << 20, 10]);
    expect("SkiffResourcesNote" in enforced).toBe(false);
    expect(hostConfigResources(undefined).Memory).toBe(0);
  });
});

describe("host facts", () => {
  test("cpuset lists", () => {
    expect([...parseCpuList("0-2,5")]).toEqual([0, 1, 2, 5]);
    expect(parseCpuList("").size).toBe(0);
    expectError(() => parseCpuList("3-1"), "invalid value 3-1");
  });

  test("cgroup mounts from mountinfo (hybrid)", () => {
    const text = [
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
      "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct",
      "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
      "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd",
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate",
    ].join("\n");
    expect(parseCgroupMounts(text)).toEqual({
      v1: { cpu: "/sys/fs/cgroup/cpu,cpuacct", cpuacct: "/sys/fs/cgroup/cpu,cpuacct", memory: "/sys/fs/cgroup/memory", "name=systemd": "/sys/fs/cgroup/systemd" },
      v2: "/sys/fs/cgroup/unified",
    });
    expect(parseCgroupMounts("30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw")).toEqual({ v1: {}, v2: "/sys/fs/cgroup" });
  });

  test("the delegated cgroup is the topmost one the user owns", () => {
    const root = mkdtempSync(join(tmpdir(), "skiff-cg-"));
    try {
      const own = "/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope";
      mkdirSync(join(root, own), { recursive: true });
      for (let p = own; p !== "/"; p = p.slice(0, p.lastIndexOf("/")) || "/") writeFileSync(join(root, p, "cgroup.procs"), "");
      const uid = process.getuid?.() ?? 0;
      // Every directory here belongs to us: the walk stops at the top.
      expect(delegatedCgroup(root, own, uid)).toBe("/user.slice");
      expect(delegatedCgroup(root, own, uid + 1)).toBeUndefined();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("update of a running container's bundle", () => {
  test("limits replaced, device rules and huge integers kept, strings untouched", async () => {
    const { patchBundleResources } = await import("../../../lib/containers/update.ts");
    const text = `{
  "process": {
    "env": ["X=a:12345678901234567,b"],
    "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 18446744073709551615, "soft": 1024 }]
  },
  "linux": {
    "resources": { "devices": [{ "allow": false, "access": "rwm" }], "memory": { "limit": 67108864 } },
    "cgroupsPath": "/skiff/x"
  }
}
`;
    const out = patchBundleResources(text, r({ memory: 128 << 20, pidsLimit: 20 }));
    expect(out).toContain('"hard": 18446744073709551615');
    expect(out).toContain('"X=a:12345678901234567,b"');
    const spec = JSON.parse(out) as { linux: { resources: unknown; cgroupsPath: string } };
    expect(spec.linux.resources).toEqual({ devices: [{ allow: false, access: "rwm" }], memory: { limit: 128 << 20 }, pids: { limit: 20 } });
    expect(spec.linux.cgroupsPath).toBe("/skiff/x");
  });
});

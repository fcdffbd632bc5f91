import { describe, expect, test } from "bun:test";
import { createOptions } from "../../../lib/containers/options.ts";
import { noResources, type Resources } from "../../../lib/containers/resources.ts";
import { cgroupsPathFor, ociResources, ociResourcesUpdate } from "../../../lib/oci/resources.ts";
import { buildSpec, type SpecInput } from "../../../lib/oci/spec.ts";

const ID = "3f1c9b2a7d4e5f60718293a4b5c6d7e8f90123456789abcdef0123456789abcd";

function r(over: Partial<Resources>): Resources {
  return { ...noResources(), ...over };
}

function input(over: Partial<SpecInput>): SpecInput {
  return { id: ID, options: createOptions({}), image: { Cmd: ["sh"] }, rootfs: "/rootfs", rootless: false, ...over };
}

describe("ociResources", () => {
  test("nothing set: nothing in the spec", () => {
    expect(ociResources(noResources())).toEqual({});
  });

  test("--cpus becomes a CFS quota over dockerd's 100 ms period", () => {
    expect(ociResources(r({ nanoCpus: 500_000_000 }))).toEqual({ cpu: { period: 100000, quota: 50000 } });
    expect(ociResources(r({ nanoCpus: 1_500_000_000 }))).toEqual({ cpu: { period: 100000, quota: 150000 } });
    expect(ociResources(r({ nanoCpus: 10_000_000 }))).toEqual({ cpu: { period: 100000, quota: 1000 } });
  });

  test("period and quota, shares and cpusets as given", () => {
    expect(ociResources(r({ cpuPeriod: 50000, cpuQuota: 25000, cpuShares: 512, cpusetCpus: "0-1", cpusetMems: "0" }))).toEqual({
      cpu: { shares: 512, period: 50000, quota: 25000, cpus: "0-1", mems: "0" },
    });
  });

  test("memory, swap (memory plus swap; -1 unlimited), reservation, OOM killer", () => {
    expect(ociResources(r({ memory: 64 << 20, memorySwap: 128 << 20, memoryReservation: 32 << 20, oomKillDisable: true }))).toEqual({
      memory: { limit: 64 << 20, swap: 128 << 20, reservation: 32 << 20, disableOOMKiller: true },
    });
    expect(ociResources(r({ memory: 64 << 20, memorySwap: -1 }))).toEqual({ memory: { limit: 64 << 20, swap: -1 } });
  });

  test("pids and block I/O weight", () => {
    expect(ociResources(r({ pidsLimit: 10, blkioWeight: 300 }))).toEqual({ pids: { limit: 10 }, blockIO: { weight: 300 } });
  });

  test("update body: unset limits are lifted (runc leaves 0 as it is)", () => {
    expect(ociResourcesUpdate(noResources(), { swap: true })).toEqual({
      memory: { limit: -1, swap: -1 },
      cpu: { shares: 1024, period: 100000, quota: -1 },
      pids: { limit: -1 },
    });
    expect(ociResourcesUpdate(r({ memory: 128 << 20, memorySwap: 256 << 20, nanoCpus: 2e9, pidsLimit: 20 }), { swap: false })).toEqual({
      memory: { limit: 128 << 20 },
      cpu: { shares: 1024, period: 100000, quota: 200000 },
      pids: { limit: 20 },
    });
  });

  test("cgroupsPathFor", () => {
    expect(cgroupsPathFor("/skiff", ID)).toBe(`/skiff/${ID}`);
    expect(cgroupsPathFor("/user.slice/user@1000.service/skiff/", "x")).toBe("/user.slice/user@1000.service/skiff/x");
  });
});

describe("buildSpec with resources", () => {
  test("root: limits next to the device rules, and the cgroup path", () => {
    const spec = buildSpec(input({ resources: r({ memory: 64 << 20, pidsLimit: 10 }), cgroupsPath: `/skiff/${ID}` }));
    expect(spec.linux.cgroupsPath).toBe(`/skiff/${ID}`);
    expect(spec.linux.resources?.memory).toEqual({ limit: 64 << 20 });
    expect(spec.linux.resources?.pids).toEqual({ limit: 10 });
    expect(spec.linux.resources?.devices?.[0]).toEqual({ allow: false, access: "rwm" });
  });

  test("rootless without limits: no resources block and no cgroup path, as before", () => {
    const spec = buildSpec(input({ rootless: true }));
    expect(spec.linux.resources).toBeUndefined();
    expect(spec.linux.cgroupsPath).toBeUndefined();
  });

  test("rootless with a delegated cgroup: limits without device rules", () => {
    const spec = buildSpec(input({ rootless: true, resources: r({ nanoCpus: 5e8 }), cgroupsPath: "/user.slice/skiff/x" }));
    expect(spec.linux.resources).toEqual({ cpu: { period: 100000, quota: 50000 } });
    expect(spec.linux.cgroupsPath).toBe("/user.slice/skiff/x");
  });

  test("no resources given: the spec is what it was", () => {
    const spec = buildSpec(input({}));
    expect(Object.keys(spec.linux.resources ?? {})).toEqual(["devices"]);
    expect(spec.linux.cgroupsPath).toBeUndefined();
  });
});

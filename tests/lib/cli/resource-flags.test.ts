import { describe, expect, test } from "bun:test";
import { parseCpus, resourceChange, resourcesFromFlags } from "../../../lib/cli/resource-flags.ts";
import { createOptionsFromFlags } from "../../../lib/cli/run-flags.ts";
import { noResources } from "../../../lib/containers/resources.ts";
import { expectError } from "../oci/helpers.ts";

const io = { hostEnv: {}, readFile: () => "" };

describe("resource flags", () => {
  test("--cpus: exact decimals, as docker's big.Rat parse", () => {
    expect(parseCpus("0.5")).toBe(500_000_000);
    expect(parseCpus("1.5")).toBe(1_500_000_000);
    expect(parseCpus("2")).toBe(2_000_000_000);
    expect(parseCpus(".25")).toBe(250_000_000);
    expect(parseCpus("0.000000001")).toBe(1);
    expect(parseCpus("0.1000000000")).toBe(100_000_000);
    expectError(() => parseCpus("0.0000000001"), "value is too precise");
    expectError(() => parseCpus("abc"), "failed to parse abc as a rational number");
    expectError(() => parseCpus("-1"), "as a rational number");
  });

  test("sizes with binary units; --memory-swap -1", () => {
    expect(resourceChange({ memory: "64m", memorySwap: "-1", memoryReservation: "32MiB" })).toEqual({
      memory: 64 << 20,
      memorySwap: -1,
      memoryReservation: 32 << 20,
    });
    expect(resourceChange({ memory: "1g", memorySwap: "2g" })).toEqual({ memory: 2 ** 30, memorySwap: 2 * 2 ** 30 });
    expectError(() => resourceChange({ memory: "lots" }), 'invalid argument "lots" for "--memory" flag');
  });

  test("integers: shares (negative → 2, as dockerd), period, quota, pids, blkio weight", () => {
    expect(resourceChange({ cpuShares: "512", cpuPeriod: "50000", cpuQuota: "25000", pidsLimit: "10", blkioWeight: "300" })).toEqual({
      cpuShares: 512,
      cpuPeriod: 50000,
      cpuQuota: 25000,
      pidsLimit: 10,
      blkioWeight: 300,
    });
    expect(resourceChange({ cpuShares: "-5" })).toEqual({ cpuShares: 2 });
    expectError(() => resourceChange({ cpuShares: "x" }), 'invalid argument "x" for "--cpu-shares" flag: invalid syntax');
    expectError(() => resourceChange({ blkioWeight: "70000" }), "value out of range");
  });

  test("only given flags are in a change (update)", () => {
    expect(resourceChange({})).toEqual({});
    expect(resourceChange({ pidsLimit: "-1" })).toEqual({ pidsLimit: -1 });
  });

  test("run/create: Docker's validation", () => {
    expect(resourcesFromFlags({ memory: "64m" })).toEqual({ ...noResources(), memory: 64 << 20 });
    expect(resourcesFromFlags({ pidsLimit: "-1" }).pidsLimit).toBeUndefined();
    expect(resourcesFromFlags({ pidsLimit: "0" }).pidsLimit).toBeUndefined();
    expect(resourcesFromFlags({ cpuShares: "1" }).cpuShares).toBe(2);
    expect(resourcesFromFlags({ cpuShares: "1000000" }).cpuShares).toBe(262144);
    expectError(() => resourcesFromFlags({ memory: "4m" }), "minimum memory limit allowed is 6MB");
    expectError(() => resourcesFromFlags({ memory: "64m", memorySwap: "32m" }), "minimum memoryswap limit should be larger than memory limit");
    expectError(() => resourcesFromFlags({ memorySwap: "64m" }), "you should always set the memory limit when using memoryswap limit");
    expectError(() => resourcesFromFlags({ memory: "64m", memoryReservation: "128m" }), "can not be less than memory reservation");
    expectError(() => resourcesFromFlags({ memoryReservation: "1m" }), "minimum memory reservation allowed is 6MB");
    expectError(() => resourcesFromFlags({ cpus: "1", cpuPeriod: "50000" }), "Nano CPUs and CPU Period cannot both be set");
    expectError(() => resourcesFromFlags({ cpus: "1", cpuQuota: "50000" }), "Nano CPUs and CPU Quota cannot both be set");
    expectError(() => resourcesFromFlags({ cpuPeriod: "999" }), "CPU cfs period can not be less than 1ms");
    expectError(() => resourcesFromFlags({ cpuPeriod: "1000001" }), "CPU cfs period can not be less than 1ms");
    expectError(() => resourcesFromFlags({ cpuQuota: "500" }), "CPU cfs quota can not be less than 1ms");
    expectError(() => resourcesFromFlags({ blkioWeight: "5" }), "range of blkio weight is from 10 to 1000");
    expectError(() => resourcesFromFlags({ cpusetCpus: "0-x" }), "invalid value 0-x for cpuset cpus");
    expect(resourcesFromFlags({ memory: "64m", memorySwap: "-1" }).memorySwap).toBe(-1);
    expect(resourcesFromFlags({ memory: "64m", memorySwap: "64m" }).memorySwap).toBe(64 << 20);
  });

  test("createOptionsFromFlags puts them in options.resources", () => {
    const o = createOptionsFromFlags({ memory: "64m", cpus: "0.5", pidsLimit: "10", oomKillDisable: true }, [], io);
    expect(o.resources).toEqual({ ...noResources(), memory: 64 << 20, nanoCpus: 5e8, pidsLimit: 10, oomKillDisable: true });
    expect(createOptionsFromFlags({}, [], io).resources).toEqual(noResources());
  });
});

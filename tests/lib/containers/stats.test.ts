import { describe, expect, test } from "bun:test";
import { cpuPercent, memoryUsage, parseBlkio, parseKeyValues, parseNetDev, procFigures, statsBody, statsRow, systemCpuNs, type StatsSample } from "../../../lib/containers/stats.ts";
import type { ContainerRecord } from "../../../lib/containers/record.ts";

const NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0:    2048      12    1    2    0     0          0         0     4096      20    3    4    0     0       0          0
`;

const record = { id: "c".repeat(64), name: "web" } as ContainerRecord;

function sample(over: Partial<StatsSample> & { total?: number; system?: number }): StatsSample {
  const { total = 0, system = 0, ...rest } = over;
  return {
    read: new Date("2024-01-01T00:00:00Z"),
    running: true,
    source: "cgroup",
    cpu: { total, user: total, kernel: 0, throttling: { periods: 0, throttled_periods: 0, throttled_time: 0 } },
    systemNs: system,
    onlineCpus: 2,
    memory: { usage: 0, limit: 0, stats: {} },
    pids: { current: 0 },
    networks: {},
    blkio: [],
    ...rest,
  };
}

describe("parsers", () => {
  test("net/dev without lo", () => {
    expect(parseNetDev(NET_DEV)).toEqual({
      eth0: { rx_bytes: 2048, rx_packets: 12, rx_errors: 1, rx_dropped: 2, tx_bytes: 4096, tx_packets: 20, tx_errors: 3, tx_dropped: 4 },
    });
  });

  test("blkio v1 and io.stat v2", () => {
    expect(parseBlkio("8:0 Read 4096\n8:0 Write 512\n8:0 Total 4608\nTotal 4608\n")).toEqual([
      { major: 8, minor: 0, op: "Read", value: 4096 },
      { major: 8, minor: 0, op: "Write", value: 512 },
      { major: 8, minor: 0, op: "Total", value: 4608 },
    ]);
    expect(parseBlkio("259:0 rbytes=8192 wbytes=1024 rios=2 wios=1 dbytes=0 dios=0\n")).toEqual([
      { major: 259, minor: 0, op: "read", value: 8192 },
      { major: 259, minor: 0, op: "write", value: 1024 },
    ]);
  });

  test("key/value files", () => {
    expect(parseKeyValues("cache 4096\nrss 8192\ntotal_inactive_file 100\n")).toEqual({ cache: 4096, rss: 8192, total_inactive_file: 100 });
  });

  test("the host's CPU time in ns", () => {
    expect(systemCpuNs("cpu  100 0 50 800 10 0 5 0 0 0\ncpu0 1 2 3\n")).toBe(965 * 10_000_000);
  });

  test("this process's own figures from /proc", () => {
    const f = procFigures(process.pid);
    expect(f).toBeDefined();
    expect(f?.memory).toBeGreaterThan(1 << 20);
    expect(f?.threads).toBeGreaterThanOrEqual(1);
    expect(procFigures(0x7fffffff)).toBeUndefined();
  });
});

describe("Docker's figures", () => {
  test("CPU % as the docker CLI computes it", () => {
    const body = statsBody(record, sample({ total: 1.5e9, system: 4e9 }), sample({ total: 0.5e9, system: 2e9 }));
    // 1 s of CPU over 2 s of host time on 2 CPUs: 100 %.
    expect(cpuPercent(body as never)).toBe(100);
    expect(cpuPercent(statsBody(record, sample({ total: 1e9, system: 4e9 }), sample({ total: 1e9, system: 2e9 })) as never)).toBe(0);
  });

  test("memory without inactive file cache (v1 total_inactive_file, v2 inactive_file)", () => {
    expect(memoryUsage({ usage: 1000, stats: { total_inactive_file: 300 } })).toBe(700);
    expect(memoryUsage({ usage: 1000, stats: { inactive_file: 200 } })).toBe(800);
    expect(memoryUsage({ usage: 1000, stats: {} })).toBe(1000);
  });

  test("a row: every column, formatted as docker stats", () => {
    const cur = sample({
      total: 1.5e9,
      system: 4e9,
      memory: { usage: 64 << 20, limit: 128 << 20, stats: { total_inactive_file: 32 << 20 } },
      pids: { current: 3 },
      networks: parseNetDev(NET_DEV),
      blkio: [
        { major: 8, minor: 0, op: "Read", value: 1_500_000 },
        { major: 8, minor: 0, op: "Write", value: 2048 },
      ],
    });
    const body = statsBody(record, cur, sample({ total: 0.5e9, system: 2e9 }));
    expect(body.name).toBe("/web");
    expect((body.memory_stats as { limit: number }).limit).toBe(128 << 20);
    expect(statsRow(body, { container: "web" })).toEqual({
      BlockIO: "1.5MB / 2.05kB",
      CPUPerc: "100.00%",
      Container: "web",
      ID: "c".repeat(12),
      MemPerc: "25.00%",
      MemUsage: "32MiB / 128MiB",
      Name: "web",
      NetIO: "2.05kB / 4.1kB",
      PIDs: "3",
    });
  });

  test("a stopped container reads as zeros", () => {
    const stopped = { ...sample({}), running: false };
    const body = statsBody(record, stopped);
    expect(body.read).toBe("0001-01-01T00:00:00Z");
    expect(statsRow(body, { container: "web", noTrunc: true })).toEqual({
      BlockIO: "0B / 0B",
      CPUPerc: "0.00%",
      Container: "web",
      ID: "c".repeat(64),
      MemPerc: "0.00%",
      MemUsage: "0B / 0B",
      Name: "web",
      NetIO: "0B / 0B",
      PIDs: "0",
    });
  });
});

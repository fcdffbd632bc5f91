/**
 * Resource limits, stats, update and pause, end to end: the compiled binary
 * with real runc against a fixture busybox image from a local registry.
 * CI runs this file as root (limits enforced through cgroups, cgroup v1 or
 * v2, each container in /skiff/<id>) and as an unprivileged user (on a
 * cgroup v1 host: limits ignored with a warning, inspect shows 0, stats
 * from /proc, pause by SIGSTOP).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { containerFixture, containerSkipReason, isRoot, type ContainerFixture } from "../helpers/containers.ts";
import type { SkiffEnv } from "../helpers/skiff.ts";

/** cgroup v2 mounted at /sys/fs/cgroup (unified); otherwise v1 or hybrid. */
const unified = existsSync("/sys/fs/cgroup/cgroup.controllers");
const v1 = existsSync("/sys/fs/cgroup/memory/memory.limit_in_bytes");

const skip =
  containerSkipReason() ??
  (v1 || unified ? undefined : "no cgroup hierarchy is mounted");
if (skip) console.warn(`skipping resource tests: ${skip}`);
if (!skip && !isRoot && !v1) console.warn("skipping the rootless-on-cgroup-v1 resource tests: this host has cgroup v2");

/** Networking is not what these tests are about. */
const NET = ["--network", "none"];

let fx: ContainerFixture;
let env: SkiffEnv;
let image: string;
/** Every container made here, to check that none leaves a cgroup behind. */
const made: string[] = [];

async function run(args: string[]): Promise<string> {
  const id = (await env.ok(["run", "-d", ...NET, ...args])).trim();
  made.push(id);
  return id;
}

/** A file of the container's cgroup on the host: v1 /sys/fs/cgroup/<ctrl>/skiff/<id>/<file>, v2 /sys/fs/cgroup/skiff/<id>/<file>. */
function cgroupFile(id: string, v1Ctrl: string, v1File: string, v2File: string): string {
  return unified ? join("/sys/fs/cgroup/skiff", id, v2File) : join("/sys/fs/cgroup", v1Ctrl, "skiff", id, v1File);
}

function readCg(id: string, v1Ctrl: string, v1File: string, v2File: string): string {
  return readFileSync(cgroupFile(id, v1Ctrl, v1File, v2File), "utf8").trim();
}

async function inspect(id: string, format: string): Promise<string> {
  return (await env.ok(["inspect", "-f", format, id])).trim();
}

interface Row {
  CPUPerc: string;
  MemUsage: string;
  MemPerc: string;
  NetIO: string;
  BlockIO: string;
  PIDs: string;
  Name: string;
  ID: string;
  Container: string;
}

async function statsOf(name: string): Promise<Row> {
  return JSON.parse(await env.ok(["stats", "--no-stream", "--format", "json", name])) as Row;
}

/** Bytes of a docker size like "1.5MiB" or "64MiB". */
function bytes(text: string): number {
  const m = /^([\d.]+)([KMGT]?i?B)$/.exec(text.trim());
  if (!m) throw new Error(`not a size: ${text}`);
  const mul: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };
  return Number(m[1]) * (mul[m[2] as string] ?? Number.NaN);
}

function hostMemTotal(): number {
  const kb = /^MemTotal:\s+(\d+) kB$/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1];
  return Number(kb) * 1024;
}

/** A counter the container advances as fast as it can; the file is replaced atomically. */
const COUNTER = 'i=0; while true; do i=$((i+1)); echo $i > /tmp/n; mv /tmp/n /tmp/c; done';

async function counter(name: string): Promise<number> {
  return Number((await env.ok(["exec", name, "cat", "/tmp/c"])).trim());
}

async function counterMoves(name: string): Promise<boolean> {
  const a = await counter(name);
  await Bun.sleep(400);
  return (await counter(name)) > a;
}

/** What the container's counter file holds, read from the host (exec refuses a paused container). */
function counterFromHost(id: string): number {
  const upper = join(env.root, "containers", id, "upper", "tmp", "c");
  if (isRoot) return Number(readFileSync(upper, "utf8").trim());
  const r = Bun.spawnSync(["cat", upper]);
  if (r.exitCode === 0) return Number(r.stdout.toString().trim());
  return Number.NaN;
}

describe.skipIf(skip !== undefined)("resources", () => {
  beforeAll(async () => {
    fx = await containerFixture("res");
    ({ env, image } = fx);
  }, 120_000);

  afterAll(async () => {
    await fx?.close();
  });

  test("flags are checked as docker checks them, before anything is made", async () => {
    const cases: [string[], string][] = [
      [["-m", "4m"], "minimum memory limit allowed is 6MB"],
      [["-m", "64m", "--memory-swap", "32m"], "minimum memoryswap limit should be larger than memory limit"],
      [["--cpus", "0.5", "--cpu-quota", "50000"], "Nano CPUs and CPU Quota cannot both be set"],
      [["--cpus", "1000"], "range of CPUs is from 0.01 to"],
      [["--cpus", "0.0000000001"], "value is too precise"],
      [["--blkio-weight", "5"], "range of blkio weight is from 10 to 1000"],
    ];
    for (const [flags, message] of cases) {
      const r = await env.run(["create", ...NET, ...flags, image, "true"]);
      expect(r.code).toBe(125);
      expect(r.stderr).toContain(message);
    }
    expect((await env.ok(["ps", "-aq"])).trim()).toBe("");
  });

  test("stats --no-stream: one row per running container with sane figures", async () => {
    const id = await run(["--name", "busy", image, "sh", "-c", "yes > /dev/null"]);
    await run(["--name", "idle", image, "sleep", "1000"]);
    const all = (await env.ok(["stats", "--no-stream"])).split("\n");
    expect(all[0]).toMatch(/^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/);
    expect(all.filter((l) => /busy|idle/.test(l)).length).toBe(2);
    const busy = await statsOf("busy");
    expect(busy.ID).toBe(id.slice(0, 12));
    expect(busy.Name).toBe("busy");
    expect(busy.Container).toBe("busy");
    // A busy loop on a loaded CI machine: clearly more than nothing, at most every CPU.
    const cpu = Number.parseFloat(busy.CPUPerc);
    expect(cpu).toBeGreaterThan(5);
    expect(cpu).toBeLessThanOrEqual(100 * cpus().length + 5);
    const [usage, limit] = busy.MemUsage.split(" / ") as [string, string];
    expect(bytes(usage)).toBeGreaterThan(64 * 1024);
    expect(bytes(usage)).toBeLessThan(64 * 1024 * 1024);
    // No limit: the host's memory, as dockerd reports it.
    expect(Math.abs(bytes(limit) - hostMemTotal()) / hostMemTotal()).toBeLessThan(0.01);
    expect(Number(busy.PIDs)).toBeGreaterThanOrEqual(1);
    expect(busy.NetIO).toBe("0B / 0B");
    expect(busy.BlockIO).toMatch(/^\S+ \/ \S+$/);
    const idle = await statsOf("idle");
    expect(Number.parseFloat(idle.CPUPerc)).toBeLessThan(5);
    expect(await env.ok(["stats", "--no-stream", "--format", "{{.Name}}: {{.PIDs}}", "idle"])).toBe("idle: 1\n");
    // A stopped container reads as zeros; a missing one is an error.
    await env.ok(["create", ...NET, "--name", "stopped", image, "true"]);
    expect(await env.ok(["stats", "--no-stream", "--format", "{{.CPUPerc}} {{.MemUsage}} {{.PIDs}}", "stopped"])).toBe("0.00% 0B / 0B 0\n");
    const missing = await env.run(["stats", "--no-stream", "nope"]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("no such container: nope");
    await env.ok(["rm", "-f", "busy", "idle", "stopped"]);
  }, 60_000);

  test("pause stops every process and unpause lets them go on", async () => {
    const id = await run(["--name", "counter", image, "sh", "-c", COUNTER]);
    await Bun.sleep(300);
    expect(await counterMoves("counter")).toBe(true);
    expect(await env.ok(["pause", "counter"])).toBe("counter\n");
    expect(await inspect("counter", "{{.State.Status}} {{.State.Paused}}")).toBe("paused true");
    const exec = await env.run(["exec", "counter", "true"]);
    expect(exec.code).not.toBe(0);
    const before = counterFromHost(id);
    await Bun.sleep(500);
    if (!Number.isNaN(before)) expect(counterFromHost(id)).toBe(before);
    expect(await env.ok(["unpause", "counter"])).toBe("counter\n");
    expect(await inspect("counter", "{{.State.Status}}")).toBe("running");
    expect(await counterMoves("counter")).toBe(true);
    // A paused container can still be stopped.
    await env.ok(["pause", "counter"]);
    await env.ok(["rm", "-f", "counter"]);
  }, 60_000);

  describe.skipIf(!isRoot)("as root: limits enforced through the container's cgroup", () => {
    test("--memory is the cgroup's limit; swap defaults to twice as much; inspect shows both", async () => {
      const id = await run(["--name", "mem", "-m", "64m", image, "sleep", "1000"]);
      expect(readCg(id, "memory", "memory.limit_in_bytes", "memory.max")).toBe(String(64 << 20));
      if (!unified) expect(readCg(id, "memory", "memory.memsw.limit_in_bytes", "memory.swap.max")).toBe(String(128 << 20));
      expect(await inspect("mem", "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}")).toBe(`${64 << 20} ${128 << 20}`);
      // The container sees its own cgroup (a cgroup namespace).
      const inside = unified ? "cat /sys/fs/cgroup/memory.max" : "cat /sys/fs/cgroup/memory/memory.limit_in_bytes";
      expect((await env.ok(["exec", "mem", "sh", "-c", inside])).trim()).toBe(String(64 << 20));
      const st = await statsOf("mem");
      expect(st.MemUsage.endsWith(" / 64MiB")).toBe(true);
      await env.ok(["rm", "-f", "mem"]);
    });

    test("a process that exceeds --memory is OOM-killed: exit 137, State.OOMKilled", async () => {
      const r = await env.run(["run", ...NET, "--name", "oom", "-m", "64m", image, "dd", "if=/dev/zero", "of=/dev/null", "bs=100M", "count=1"]);
      made.push((await env.ok(["inspect", "-f", "{{.Id}}", "oom"])).trim());
      expect(r.code).toBe(137);
      expect(await inspect("oom", "{{.State.OOMKilled}} {{.State.ExitCode}}")).toBe("true 137");
      // Without the limit the same command succeeds, and OOMKilled is false again after a clean run.
      const ok = await env.run(["run", "--rm", ...NET, image, "dd", "if=/dev/zero", "of=/dev/null", "bs=100M", "count=1"]);
      expect(ok.code).toBe(0);
      await env.ok(["rm", "oom"]);
    });

    test("--pids-limit caps the number of tasks", async () => {
      const id = await run(["--name", "pids", "--pids-limit", "10", image, "sleep", "1000"]);
      expect(readCg(id, "pids", "pids.max", "pids.max")).toBe("10");
      expect(await inspect("pids", "{{.HostConfig.PidsLimit}}")).toBe("10");
      const forks = "i=0; while [ $i -lt 20 ]; do sleep 5 & i=$((i+1)); done; echo forked";
      const limited = await env.run(["run", "--rm", ...NET, "--pids-limit", "10", image, "sh", "-c", forks]);
      expect(limited.code).not.toBe(0);
      expect(limited.stderr).toContain("can't fork");
      const free = await env.run(["run", "--rm", ...NET, image, "sh", "-c", forks]);
      expect(free.stdout).toBe("forked\n");
      await env.ok(["rm", "-f", "pids"]);
    });

    test("--cpus sets the CFS quota; --cpu-shares and --cpuset-cpus land too", async () => {
      const id = await run(["--name", "cpu", "--cpus", "0.5", "-c", "512", "--cpuset-cpus", "0", image, "sleep", "1000"]);
      if (unified) {
        expect(readCg(id, "cpu", "", "cpu.max")).toBe("50000 100000");
      } else {
        expect(readCg(id, "cpu", "cpu.cfs_quota_us", "")).toBe("50000");
        expect(readCg(id, "cpu", "cpu.cfs_period_us", "")).toBe("100000");
        expect(readCg(id, "cpu", "cpu.shares", "")).toBe("512");
        expect(readCg(id, "cpuset", "cpuset.cpus", "")).toBe("0");
      }
      expect(await inspect("cpu", "{{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}} {{.HostConfig.CpusetCpus}}")).toBe("500000000 512 0");
      await env.ok(["rm", "-f", "cpu"]);
    });

    test("--cpus 0.5 holds a busy loop to about half a CPU (stats)", async () => {
      await run(["--name", "half", "--cpus", "0.5", image, "sh", "-c", "yes > /dev/null"]);
      await Bun.sleep(500);
      const cpu = Number.parseFloat((await statsOf("half")).CPUPerc);
      expect(cpu).toBeGreaterThan(5);
      expect(cpu).toBeLessThan(65);
      await env.ok(["rm", "-f", "half"]);
    }, 30_000);

    test("update changes a running container's cgroup and its record; the next start keeps the new values", async () => {
      const id = await run(["--name", "upd", "-m", "64m", "--pids-limit", "10", image, "sleep", "1000"]);
      expect(await env.ok(["update", "-m", "128m", "--memory-swap", "256m", "--pids-limit", "20", "--cpus", "1", "upd"])).toBe("upd\n");
      expect(readCg(id, "memory", "memory.limit_in_bytes", "memory.max")).toBe(String(128 << 20));
      expect(readCg(id, "pids", "pids.max", "pids.max")).toBe("20");
      if (!unified) expect(readCg(id, "cpu", "cpu.cfs_quota_us", "")).toBe("100000");
      expect(await inspect("upd", "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.NanoCpus}}")).toBe(`${128 << 20} 20 1000000000`);
      // -1 lifts the pids limit.
      await env.ok(["update", "--pids-limit", "-1", "upd"]);
      expect(readCg(id, "pids", "pids.max", "pids.max")).toBe("max");
      // Docker's rule: memory above the swap limit needs --memory-swap too.
      const refused = await env.run(["update", "-m", "512m", "upd"]);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain("memory limit should be smaller than already set memoryswap limit");
      await env.ok(["stop", "-t", "0", "upd"]);
      await env.ok(["start", "upd"]);
      expect(readCg(id, "memory", "memory.limit_in_bytes", "memory.max")).toBe(String(128 << 20));
      // --restart updates the record's policy.
      await env.ok(["update", "--restart", "on-failure:3", "upd"]);
      const record = JSON.parse(readFileSync(join(env.root, "containers", id, "config.json"), "utf8")) as { options: { restart: unknown } };
      expect(record.options.restart).toEqual({ name: "on-failure", maximumRetryCount: 3 });
      await env.ok(["rm", "-f", "upd"]);
    }, 60_000);

    test("updated limits survive a restart by the shim (restart policy)", async () => {
      const id = await run(["--name", "again", "--restart", "always", "-m", "64m", image, "sh", "-c", "sleep 1; exit 3"]);
      await env.ok(["update", "-m", "128m", "again"]);
      const limitFile = cgroupFile(id, "memory", "memory.limit_in_bytes", "memory.max");
      const deadline = Date.now() + 20_000;
      let seen = "";
      while (Date.now() < deadline) {
        const [count, status] = (await inspect("again", "{{.RestartCount}} {{.State.Status}}")).split(" ");
        if (Number(count) >= 1 && status === "running" && existsSync(limitFile)) {
          seen = readFileSync(limitFile, "utf8").trim();
          break;
        }
        await Bun.sleep(100);
      }
      expect(seen).toBe(String(128 << 20));
      await env.ok(["rm", "-f", "again"]);
    }, 30_000);

    test("update of a stopped container applies at its next start", async () => {
      const id = (await env.ok(["create", ...NET, "--name", "later", image, "sleep", "1000"])).trim();
      made.push(id);
      await env.ok(["update", "-m", "96m", "later"]);
      await env.ok(["start", "later"]);
      expect(readCg(id, "memory", "memory.limit_in_bytes", "memory.max")).toBe(String(96 << 20));
      await env.ok(["rm", "-f", "later"]);
    });

    test("removed containers leave no cgroup behind", () => {
      expect(made.length).toBeGreaterThan(5);
      const roots = unified ? ["/sys/fs/cgroup"] : readdirSync("/sys/fs/cgroup").map((c) => join("/sys/fs/cgroup", c));
      const left = roots.flatMap((r) => made.map((id) => join(r, "skiff", id))).filter((d) => existsSync(d));
      expect(left).toEqual([]);
    });
  });

  describe.skipIf(isRoot || !v1)("rootless on cgroup v1: limits ignored, and said so", () => {
    test("run warns once, naming the ignored flags; inspect shows 0", async () => {
      const r = await env.run(["run", "-d", ...NET, "--name", "lim", "-m", "64m", "--cpus", "0.5", image, "sleep", "1000"]);
      expect(r.code).toBe(0);
      made.push(r.stdout.trim());
      expect(r.stderr).toBe("WARNING: resource limits are not supported for rootless containers on cgroup v1 and are ignored: --memory, --cpus\n");
      expect(await inspect("lim", "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}}")).toBe("0 0 0");
      expect(await inspect("lim", "{{json .HostConfig.SkiffResourcesIgnored}}")).toBe('["--memory","--cpus"]');
      expect(await inspect("lim", "{{.HostConfig.SkiffResourcesNote}}")).toBe("resource limits are not supported for rootless containers on cgroup v1");
      // Nothing pretends: the container sees no limit.
      const st = await statsOf("lim");
      expect(Math.abs(bytes(st.MemUsage.split(" / ")[1] as string) - hostMemTotal()) / hostMemTotal()).toBeLessThan(0.01);
      await env.ok(["rm", "-f", "lim"]);
    });

    test("create warns too; no flags, no warning", async () => {
      const r = await env.run(["create", ...NET, "--pids-limit", "10", image, "true"]);
      expect(r.stderr).toContain("are ignored: --pids-limit");
      made.push(r.stdout.trim());
      const quiet = await env.run(["create", ...NET, image, "true"]);
      expect(quiet.stderr).toBe("");
      made.push(quiet.stdout.trim());
      await env.ok(["rm", r.stdout.trim(), quiet.stdout.trim()]);
    });

    test("stats reads /proc: PSS, threads, block I/O of the container's processes", async () => {
      await run(["--name", "procs", image, "sh", "-c", "sleep 1000 & sleep 1000 & dd if=/dev/zero of=/tmp/f bs=1M count=4 conv=fsync; yes > /dev/null"]);
      await Bun.sleep(800);
      const st = await statsOf("procs");
      // sleep, sleep and yes (sh execs the last command).
      expect(Number(st.PIDs)).toBeGreaterThanOrEqual(3);
      expect(Number.parseFloat(st.CPUPerc)).toBeGreaterThan(5);
      expect(bytes(st.MemUsage.split(" / ")[0] as string)).toBeGreaterThan(64 * 1024);
      const written = st.BlockIO.split(" / ")[1] as string;
      expect(written).toMatch(/MB$/);
      await env.ok(["rm", "-f", "procs"]);
    }, 30_000);

    test("pause is SIGSTOP: every process of the container is stopped, then continued", async () => {
      const id = await run(["--name", "stopme", image, "sh", "-c", `sleep 1000 & ${COUNTER}`]);
      await Bun.sleep(300);
      await env.ok(["pause", "stopme"]);
      const pid = Number(await inspect("stopme", "{{.State.Pid}}"));
      const states = (await env.ok(["top", "stopme", "-o", "pid,stat"])).split("\n").slice(1).filter(Boolean);
      expect(states.length).toBeGreaterThanOrEqual(2);
      for (const line of states) expect(line.trim().split(/\s+/)[1]).toMatch(/^[TZ]/);
      expect(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0]).toBe("T");
      await env.ok(["unpause", "stopme"]);
      expect(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0]).not.toBe("T");
      expect(await counterMoves("stopme")).toBe(true);
      expect(id).toMatch(/^[a-f0-9]{64}$/);
      await env.ok(["rm", "-f", "stopme"]);
    });

    test("update is refused: nothing could change", async () => {
      await run(["--name", "noupd", image, "sleep", "1000"]);
      const r = await env.run(["update", "-m", "64m", "noupd"]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("cannot update the resource limits of container noupd: resource limits are not supported for rootless containers on cgroup v1");
      await env.ok(["rm", "-f", "noupd"]);
    });
  });
});

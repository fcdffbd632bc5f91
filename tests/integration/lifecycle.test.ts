/**
 * A container's life end to end: create, start, stop, kill, restart, wait,
 * rm, --rm without the CLI, the shim as the container's only supervisor
 * (and what happens when it is killed), and nothing left behind afterwards.
 * The compiled binary, real runc; CI runs it as root and rootless.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import {
  Collector,
  containerFixture,
  containerSkipReason,
  leftovers,
  processesMentioning,
  runcStates,
  startTime,
  until,
  type ContainerFixture,
} from "../helpers/containers.ts";

const skip = containerSkipReason();
if (skip) console.warn(`skipping lifecycle tests: ${skip}`);

let fx: ContainerFixture;

/** `run -d` of a shell script; returns the full id. */
async function detached(script: string, flags: string[] = []): Promise<string> {
  return (await fx.env.ok(["run", "-d", ...flags, fx.image, "sh", "-c", script])).trim();
}

/**
 * Starts a detached shell that sets `traps` and then idles; returns once the
 * traps are set, since PID 1 ignores a signal it has no handler for.
 */
async function trapping(traps: string, flags: string[]): Promise<string> {
  const id = await detached(`${traps}; echo ready; while true; do sleep 0.1; done`, flags);
  await until(async () => (await fx.env.ok(["logs", id])).startsWith("ready\n"), 10_000);
  return id;
}

async function status(name: string): Promise<string> {
  return (await fx.env.ok(["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name])).trim();
}

interface Pids {
  pid: number;
  pidStart: number;
  shimPid: number;
  shimStart: number;
}

function pidsOf(id: string): Pids {
  const s = fx.state(id);
  return { pid: s.pid as number, pidStart: s.pidStart as number, shimPid: s.shimPid as number, shimStart: s.shimStart as number };
}

describe.skipIf(skip !== undefined)("lifecycle", () => {
  beforeAll(async () => {
    fx = await containerFixture("lifecycle");
  }, 120_000);

  afterAll(async () => {
    await fx?.close();
  });

  test("create → start → stop → start: the writable layer and the log persist", async () => {
    const id = (await fx.env.ok(["create", "--name", "lc", fx.image, "sh", "-c", "echo run >> /count; wc -l < /count; sleep 30"])).trim();
    expect(id).toMatch(/^[a-f0-9]{64}$/);
    expect(await status("lc")).toBe("created 0");
    expect((await fx.env.ok(["start", "lc"])).trim()).toBe("lc");
    expect(await status("lc")).toBe("running 0");
    // Starting a running container is a no-op, as Docker.
    expect((await fx.env.run(["start", "lc"])).code).toBe(0);
    await until(async () => (await fx.env.ok(["logs", "lc"])) === "1\n");
    expect((await fx.env.ok(["stop", "-t", "0", "lc"])).trim()).toBe("lc");
    expect(await status("lc")).toBe("exited 137");
    await fx.env.ok(["start", "lc"]);
    expect(await until(async () => (await fx.env.ok(["logs", "lc"])) === "1\n2\n")).toBe(true);
    await fx.env.ok(["stop", "-t", "0", "lc"]);
    await fx.env.ok(["rm", "lc"]);
  });

  test("stop sends SIGTERM, then SIGKILL after -t seconds", async () => {
    // A trap: the container ends on SIGTERM with its own code.
    await trapping("trap 'exit 0' TERM", ["--name", "polite"]);
    let t = Date.now();
    await fx.env.ok(["stop", "-t", "5", "polite"]);
    expect(Date.now() - t).toBeLessThan(3000);
    expect(await status("polite")).toBe("exited 0");
    // PID 1 without a handler ignores SIGTERM: SIGKILL after the timeout, 137.
    await detached("sleep 30", ["--name", "stubborn"]);
    t = Date.now();
    await fx.env.ok(["stop", "-t", "1", "stubborn"]);
    const took = Date.now() - t;
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(5000);
    expect(await status("stubborn")).toBe("exited 137");
    // Stopping a stopped container succeeds and changes nothing.
    expect((await fx.env.run(["stop", "stubborn"])).code).toBe(0);
    expect(await status("stubborn")).toBe("exited 137");
    await fx.env.ok(["rm", "polite", "stubborn"]);
  });

  test("stop -t 0 and kill give 137; kill -s delivers the signal", async () => {
    await detached("sleep 30", ["--name", "k1"]);
    await fx.env.ok(["stop", "-t", "0", "k1"]);
    expect(await status("k1")).toBe("exited 137");
    await detached("sleep 30", ["--name", "k2"]);
    expect((await fx.env.ok(["kill", "k2"])).trim()).toBe("k2");
    expect((await fx.env.ok(["wait", "k2"])).trim()).toBe("137");
    await trapping("trap 'exit 42' USR1", ["--name", "k3"]);
    await fx.env.ok(["kill", "-s", "USR1", "k3"]);
    expect((await fx.env.ok(["wait", "k3"])).trim()).toBe("42");
    const r = await fx.env.run(["kill", "k3"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("is not running");
    await fx.env.ok(["rm", "k1", "k2", "k3"]);
  });

  test("wait prints each container's code", async () => {
    await detached("sleep 0.3; exit 3", ["--name", "w1"]);
    await detached("exit 4", ["--name", "w2"]);
    expect(await fx.env.ok(["wait", "w1", "w2"])).toBe("3\n4\n");
    // Waiting on an exited container returns at once with its code.
    expect(await fx.env.ok(["wait", "w2"])).toBe("4\n");
    const missing = await fx.env.run(["wait", "no-such-container"]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("no-such-container");
    await fx.env.ok(["rm", "w1", "w2"]);
  });

  test("--stop-signal and --stop-timeout", async () => {
    await trapping("trap 'echo got USR1; exit 7' USR1; trap 'echo got TERM; exit 8' TERM", [
      "--name",
      "sig",
      "--stop-signal",
      "SIGUSR1",
    ]);
    expect((await fx.env.ok(["inspect", "-f", "{{.Config.StopSignal}}", "sig"])).trim()).toBe("SIGUSR1");
    await fx.env.ok(["stop", "sig"]);
    expect(await status("sig")).toBe("exited 7");
    expect(await fx.env.ok(["logs", "sig"])).toBe("ready\ngot USR1\n");
    // The container's own timeout replaces the default 10 seconds.
    await detached("sleep 30", ["--name", "quick", "--stop-timeout", "1"]);
    const t = Date.now();
    await fx.env.ok(["stop", "quick"]);
    expect(Date.now() - t).toBeLessThan(5000);
    expect(await status("quick")).toBe("exited 137");
    await fx.env.ok(["rm", "sig", "quick"]);
  });

  test("restart starts it again, running or not", async () => {
    await detached("echo started; sleep 30", ["--name", "rs", "--stop-timeout", "0"]);
    const first = (await fx.env.ok(["inspect", "-f", "{{.State.StartedAt}} {{.State.Pid}}", "rs"])).trim();
    expect((await fx.env.ok(["restart", "-t", "0", "rs"])).trim()).toBe("rs");
    const second = (await fx.env.ok(["inspect", "-f", "{{.State.StartedAt}} {{.State.Pid}}", "rs"])).trim();
    expect(second).not.toBe(first);
    expect(await status("rs")).toBe("running 0");
    await until(async () => (await fx.env.ok(["logs", "rs"])) === "started\nstarted\n");
    await fx.env.ok(["stop", "-t", "0", "rs"]);
    await fx.env.ok(["restart", "-t", "0", "rs"]);
    expect(await status("rs")).toBe("running 0");
    await fx.env.ok(["rm", "-f", "rs"]);
  });

  test("rm refuses a running container (exit 2), rm -f removes it, a missing one is exit 1", async () => {
    const id = await detached("sleep 30", ["--name", "busy"]);
    const r = await fx.env.run(["rm", "busy"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("busy");
    expect(await status("busy")).toBe("running 0");
    const pids = pidsOf(id);
    expect((await fx.env.ok(["rm", "-f", "busy"])).trim()).toBe("busy");
    expect(leftovers(fx, id, pids)).toEqual([]);
    const missing = await fx.env.run(["rm", "busy"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no such container");
    // Some removed, some not: the worst code wins, the others are still removed.
    await fx.env.ok(["create", "--name", "idle", fx.image]);
    const mixed = await fx.env.run(["rm", "idle", "nope"]);
    expect(mixed.code).toBe(1);
    expect(mixed.stdout).toBe("idle\n");
    expect((await fx.env.run(["inspect", "idle"])).code).not.toBe(0);
  });

  test("after rm nothing is left: directories, processes, mounts, runc state", async () => {
    const id = await detached("echo hi > /file; sleep 30", ["--name", "clean", "--tmpfs", "/scratch", "-v", `${fx.work}:/work`]);
    const pids = pidsOf(id);
    expect(startTime(pids.pid)).toBe(pids.pidStart);
    expect(startTime(pids.shimPid)).toBe(pids.shimStart);
    expect(runcStates(fx.env.runRoot)).toContain(id);
    await fx.env.ok(["stop", "-t", "0", "clean"]);
    // Stopped: the processes, mounts and runc state are gone already; the record stays.
    expect(await until(() => startTime(pids.shimPid) === undefined)).toBe(true);
    expect(runcStates(fx.env.runRoot)).not.toContain(id);
    expect(existsSync(fx.dirs(id).container)).toBe(true);
    await fx.env.ok(["rm", "clean"]);
    expect(leftovers(fx, id, pids)).toEqual([]);
    expect((await fx.env.ok(["ps", "-a", "--filter", "name=clean", "-q"])).trim()).toBe("");
  });

  test("run -d --rm: the shim removes the container when it exits, with the CLI long gone", async () => {
    const r = await fx.env.run(["run", "-d", "--rm", "--name", "gone", fx.image, "sh", "-c", "sleep 0.5; exit 3"]);
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    const pids = pidsOf(id);
    expect((await fx.env.ok(["inspect", "-f", "{{.HostConfig.AutoRemove}}", "gone"])).trim()).toBe("true");
    expect(await until(async () => (await fx.env.run(["inspect", "gone"])).code !== 0, 10_000)).toBe(true);
    expect(await until(() => leftovers(fx, id, pids).length === 0, 5000)).toBe(true);
    // The name is free again.
    await fx.env.ok(["run", "--rm", "--name", "gone", fx.image, "true"]);
  });

  test("run --rm: gone, name and all, the moment it returns; its files and processes follow", async () => {
    const runDirs = (): string[] => (existsSync(join(fx.env.runRoot, "containers")) ? readdirSync(join(fx.env.runRoot, "containers")).sort() : []);
    const before = runDirs();
    const r = await fx.env.run(["run", "--rm", "--name", "quick", fx.image, "sh", "-c", "echo out; exit 3"]);
    expect([r.code, r.stdout]).toEqual([3, "out\n"]);
    expect((await fx.env.ok(["ps", "-a", "--filter", "name=quick", "-q"])).trim()).toBe("");
    const again = await fx.env.run(["run", "--rm", "--name", "quick", fx.image, "true"]);
    expect([again.code, again.stderr]).toEqual([0, ""]);
    const containers = join(fx.env.root, "containers");
    expect(await until(() => readdirSync(containers).filter((n) => n.startsWith(".trash-")).length === 0)).toBe(true);
    // The shims delete their run directories last: none of theirs is left.
    expect(await until(() => runDirs().every((d) => before.includes(d)))).toBe(true);
  });

  test("start -a attaches and returns the exit code; start -ai feeds stdin", async () => {
    await fx.env.ok(["create", "--name", "sa", fx.image, "sh", "-c", "echo out; echo err >&2; exit 4"]);
    const r = await fx.env.run(["start", "-a", "sa"]);
    expect([r.code, r.stdout, r.stderr]).toEqual([4, "out\n", "err\n"]);
    expect(await status("sa")).toBe("exited 4");
    await fx.env.ok(["create", "-i", "--name", "sai", fx.image, "sh", "-c", "tr a-z A-Z; exit 5"]);
    const i = await fx.env.run(["start", "-ai", "sai"], { stdin: "hello\n" });
    expect([i.code, i.stdout]).toEqual([5, "HELLO\n"]);
    await fx.env.ok(["rm", "sa", "sai"]);
  });

  test("the container outlives the CLI that ran it", async () => {
    // A foreground run whose CLI is killed: the container goes on (no --rm, no tty).
    const p = fx.spawn(["run", "--name", "outlive", fx.image, "sh", "-c", "echo up; sleep 30"]);
    const out = new Collector(p.stdout);
    await out.waitFor("up\n");
    p.kill("SIGKILL");
    await p.exited;
    await Bun.sleep(200);
    expect(await status("outlive")).toBe("running 0");
    expect((await fx.env.ok(["ps", "--format", "{{.Names}} {{.State}}"])).trim().split("\n")).toContain("outlive running");
    await fx.env.ok(["rm", "-f", "outlive"]);
  });

  test("a killed shim: ps says so, stop and rm still work, nothing is left", async () => {
    const id = await trapping("trap 'exit 0' TERM", ["--name", "orphan"]);
    const pids = pidsOf(id);
    process.kill(pids.shimPid, "SIGKILL");
    expect(await until(() => startTime(pids.shimPid) === undefined)).toBe(true);
    // The container itself still runs, unsupervised.
    expect(startTime(pids.pid)).toBe(pids.pidStart);
    const ps = (await fx.env.ok(["ps", "-a", "--filter", "name=orphan", "--format", "{{.State}}|{{.Status}}"])).trim();
    expect(ps).toMatch(/^running\|Up .*shim/);
    expect((await fx.env.ok(["inspect", "-f", "{{.State.Running}}", "orphan"])).trim()).toBe("true");
    const stop = await fx.env.run(["stop", "-t", "2", "orphan"]);
    expect([stop.code, stop.stdout, stop.stderr]).toEqual([0, "orphan\n", ""]);
    expect(startTime(pids.pid)).toBeUndefined();
    expect((await fx.env.ok(["inspect", "-f", "{{.State.Status}}", "orphan"])).trim()).toBe("exited");
    expect(runcStates(fx.env.runRoot)).not.toContain(id);
    await fx.env.ok(["rm", "orphan"]);
    expect(leftovers(fx, id, pids)).toEqual([]);
  });

  test("a killed shim and rm -f: the container dies and nothing is left", async () => {
    const id = await detached("sleep 30", ["--name", "orphan2"]);
    const pids = pidsOf(id);
    process.kill(pids.shimPid, "SIGKILL");
    expect(await until(() => startTime(pids.shimPid) === undefined)).toBe(true);
    await fx.env.ok(["rm", "-f", "orphan2"]);
    expect(await until(() => leftovers(fx, id, pids).length === 0, 5000)).toBe(true);
  });

  test("start after a killed shim stops the network helper it left (slirp4netns does not end with its namespace)", async () => {
    const id = await detached("sleep 30", ["--name", "dead-net", "--network", "slirp4netns"]);
    const pids = pidsOf(id);
    const helpers = processesMentioning(`${id.slice(0, 16)}/netns`);
    expect(helpers.length).toBe(1);
    process.kill(pids.shimPid, "SIGKILL");
    process.kill(pids.pid, "SIGKILL");
    expect(await until(() => startTime(pids.pid) === undefined && startTime(pids.shimPid) === undefined)).toBe(true);
    expect(startTime(helpers[0] as number)).toBeDefined();
    await fx.env.ok(["start", "dead-net"]);
    expect(startTime(helpers[0] as number)).toBeUndefined();
    await fx.env.ok(["rm", "-f", "dead-net"]);
  });

  test("a container whose processes died with its shim reads as exited", async () => {
    const id = await detached("sleep 30", ["--name", "dead"]);
    const pids = pidsOf(id);
    process.kill(pids.shimPid, "SIGKILL");
    process.kill(pids.pid, "SIGKILL");
    expect(await until(() => startTime(pids.pid) === undefined && startTime(pids.shimPid) === undefined)).toBe(true);
    const ps = (await fx.env.ok(["ps", "-a", "--filter", "name=dead", "--format", "{{.State}}|{{.Status}}"])).trim();
    expect(ps).toMatch(/^exited\|Exited \(\d+\).*shim died/);
    // start works again: a new shim takes over.
    await fx.env.ok(["start", "dead"]);
    expect(await status("dead")).toBe("running 0");
    const again = pidsOf(id);
    await fx.env.ok(["rm", "-f", "dead"]);
    expect(leftovers(fx, id, again)).toEqual([]);
  });
});

/**
 * Restart policies and healthchecks, run by each container's shim (no
 * daemon, no systemd timers), through the skiff CLI as root and rootless:
 * on-failure:N restarts exactly N times, always restarts until a stop,
 * health turns healthy then unhealthy and shows in ps and inspect, and
 * --health-on-failure=restart restarts an unhealthy container.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { containerFixture, containerSkipReason, until, type ContainerFixture } from "../helpers/containers.ts";

const skip = containerSkipReason();
if (skip) console.warn(`skipping restart and health tests: ${skip}`);

/** Networking is not what these tests are about. */
const NET = ["--network", "none"];

let fx: ContainerFixture;

async function inspect(name: string, format: string): Promise<string> {
  return (await fx.env.ok(["inspect", "-f", format, name])).trim();
}

/** A directory the container's root may write, bind-mounted to count runs. */
function counterDir(name: string): string {
  const dir = join(fx.work, name);
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o777);
  return dir;
}

describe.skipIf(skip !== undefined)("restart policies and healthchecks", () => {
  beforeAll(async () => {
    fx = await containerFixture("restart");
  }, 120_000);

  afterAll(async () => {
    await fx?.close();
  }, 60_000);

  test("--restart on-failure:3: a container that exits 1 runs 4 times, then stays exited", async () => {
    const dir = counterDir("flaky");
    await fx.env.ok(["run", "-d", ...NET, "--name", "flaky", "--restart", "on-failure:3", "-v", `${dir}:/count`, fx.image, "sh", "-c", "echo run >> /count/runs; exit 1"]);
    expect(await until(async () => (await inspect("flaky", "{{.State.Status}} {{.RestartCount}}")) === "exited 3", 20_000, 100)).toBe(true);
    // No fourth restart comes later.
    await Bun.sleep(1500);
    expect(await inspect("flaky", "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}")).toBe("exited 1 3");
    expect(readFileSync(join(dir, "runs"), "utf8")).toBe("run\n".repeat(4));
    await fx.env.ok(["rm", "flaky"]);
  });

  test("--restart on-failure does not restart a clean exit", async () => {
    await fx.env.ok(["run", "-d", ...NET, "--name", "clean", "--restart", "on-failure", fx.image, "true"]);
    expect(await until(async () => (await inspect("clean", "{{.State.Status}}")) === "exited", 10_000, 100)).toBe(true);
    await Bun.sleep(800);
    expect(await inspect("clean", "{{.State.Status}} {{.RestartCount}}")).toBe("exited 0");
    await fx.env.ok(["rm", "clean"]);
  });

  test("--restart always: restarted after each exit until stopped; stop is honoured", async () => {
    await fx.env.ok(["run", "-d", ...NET, "--name", "always", "--restart", "always", fx.image, "sh", "-c", "sleep 0.2"]);
    expect(await until(async () => Number(await inspect("always", "{{.RestartCount}}")) >= 2, 15_000, 100)).toBe(true);
    await fx.env.ok(["stop", "-t", "1", "always"]);
    const after = await inspect("always", "{{.State.Status}} {{.RestartCount}}");
    expect(after.startsWith("exited ")).toBe(true);
    await Bun.sleep(1500);
    expect(await inspect("always", "{{.State.Status}} {{.RestartCount}}")).toBe(after);
    await fx.env.ok(["rm", "always"]);
  });

  test("a healthcheck turns healthy, then unhealthy after its retries; ps, inspect and healthcheck run say so", async () => {
    await fx.env.ok([
      "run",
      "-d",
      ...NET,
      "--name",
      "hc",
      "--health-cmd",
      "test -e /tmp/ok",
      "--health-interval",
      "300ms",
      "--health-retries",
      "2",
      fx.image,
      "sh",
      "-c",
      "touch /tmp/ok; sleep 100",
    ]);
    expect(await until(async () => (await inspect("hc", "{{.State.Health.Status}}")) === "healthy", 10_000, 100)).toBe(true);
    expect((await fx.env.ok(["ps", "--filter", "name=hc", "--format", "{{.Status}}"])).trim()).toMatch(/^Up .* \(healthy\)$/);
    expect((await fx.env.ok(["healthcheck", "run", "hc"])).trim()).toBe("healthy");
    await fx.env.ok(["exec", "hc", "rm", "/tmp/ok"]);
    expect(await until(async () => (await inspect("hc", "{{.State.Health.Status}}")) === "unhealthy", 10_000, 100)).toBe(true);
    expect(Number(await inspect("hc", "{{.State.Health.FailingStreak}}"))).toBeGreaterThanOrEqual(2);
    expect((await fx.env.ok(["ps", "--filter", "name=hc", "--format", "{{.Status}}"])).trim()).toMatch(/^Up .* \(unhealthy\)$/);
    const r = await fx.env.run(["healthcheck", "run", "hc"]);
    expect([r.code, r.stdout.trim()]).toEqual([1, "unhealthy"]);
    // Unhealthy is a state, not an exit: without --health-on-failure it keeps running.
    expect(await inspect("hc", "{{.State.Status}} {{.RestartCount}}")).toBe("running 0");
    await fx.env.ok(["rm", "-f", "hc"]);
  });

  test("--health-on-failure=restart: an unhealthy container is restarted by its shim", async () => {
    await fx.env.ok([
      "run",
      "-d",
      ...NET,
      "--name",
      "hr",
      "--health-cmd",
      "false",
      "--health-interval",
      "300ms",
      "--health-retries",
      "1",
      "--health-on-failure",
      "restart",
      fx.image,
      "sleep",
      "100",
    ]);
    expect(await until(async () => Number(await inspect("hr", "{{.RestartCount}}")) >= 1, 15_000, 100)).toBe(true);
    expect(await inspect("hr", "{{.State.Status}}")).toMatch(/^(running|restarting)$/);
    await fx.env.ok(["rm", "-f", "hr"]);
  });
});

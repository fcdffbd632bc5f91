/**
 * `skiff exec` in a running container: exit codes, environment, user,
 * working directory, stdin, detached processes, and the errors Docker and
 * Podman give. The compiled binary, real runc; CI runs it as root and rootless.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { containerFixture, containerSkipReason, startTime, until, type ContainerFixture } from "../helpers/containers.ts";

const skip = containerSkipReason();
if (skip) console.warn(`skipping exec tests: ${skip}`);

let fx: ContainerFixture;
const C = "exec-target";

describe.skipIf(skip !== undefined)("exec", () => {
  beforeAll(async () => {
    fx = await containerFixture("exec");
    await fx.env.ok(["run", "-d", "--name", C, "-e", "FROM_RUN=run", "-w", "/srv", fx.image, "sleep", "300"]);
  }, 120_000);

  afterAll(async () => {
    await fx?.close();
  });

  test("the process's exit code and output come through", async () => {
    const r = await fx.env.run(["exec", C, "sh", "-c", "echo out; echo err >&2; exit 5"]);
    expect([r.code, r.stdout, r.stderr]).toEqual([5, "out\n", "err\n"]);
    expect((await fx.env.run(["exec", C, "true"])).code).toBe(0);
  });

  test("-e adds to the container's environment; -e KEY takes the host's value", async () => {
    const r = await fx.env.ok(["exec", "-e", "A=b", "-e", "FROM_HOST", "-e", "FROM_RUN=overridden", C, "sh", "-c", "echo $A $FROM_HOST $FROM_RUN; echo $PATH"], {
      env: { FROM_HOST: "host" },
    });
    expect(r).toBe("b host overridden\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");
    expect(await fx.env.ok(["exec", C, "sh", "-c", "echo $FROM_RUN"])).toBe("run\n");
  });

  test("-u runs as another user", async () => {
    expect(await fx.env.ok(["exec", "-u", "user", C, "id"])).toBe("uid=1000(user) gid=1000(user) groups=100(users),1000(user)\n");
    expect(await fx.env.ok(["exec", "-u", "33:100", C, "id", "-u"])).toBe("33\n");
    expect(await fx.env.ok(["exec", C, "id", "-u"])).toBe("0\n");
  });

  test("-w sets the directory; the default is the container's", async () => {
    expect(await fx.env.ok(["exec", C, "pwd"])).toBe("/srv\n");
    expect(await fx.env.ok(["exec", "-w", "/tmp", C, "pwd"])).toBe("/tmp\n");
    const r = await fx.env.run(["exec", "-w", "relative", C, "pwd"]);
    expect(r.code).toBe(125);
  });

  test("-i passes stdin through; without -i the process gets none", async () => {
    const r = await fx.env.run(["exec", "-i", C, "sh", "-c", "tr a-z A-Z; exit 3"], { stdin: "hello\nworld\n" });
    expect([r.code, r.stdout]).toEqual([3, "HELLO\nWORLD\n"]);
    const big = "x".repeat(300_000);
    expect((await fx.env.ok(["exec", "-i", C, "wc", "-c"], { stdin: big })).trim()).toBe("300000");
    const none = await fx.env.run(["exec", C, "cat"], { stdin: "ignored\n" });
    expect([none.code, none.stdout]).toEqual([0, ""]);
  });

  test("-i: a process that stops reading does not take the shim down", async () => {
    const shim = fx.state(await fx.id(C)).shimPid as number;
    const start = startTime(shim);
    const r = await fx.env.run(["exec", "-i", C, "sh", "-c", "head -c 3; exec 0<&-; sleep 0.3"], { stdin: "y".repeat(2_000_000) });
    expect(r.stdout).toBe("yyy");
    expect(startTime(shim)).toBe(start);
    expect(await fx.env.ok(["exec", C, "echo", "still here"])).toBe("still here\n");
  });

  test("-d returns at once and the process runs on", async () => {
    const t = Date.now();
    const r = await fx.env.run(["exec", "-d", C, "sh", "-c", "sleep 2; echo done > /tmp/detached"]);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, "", ""]);
    expect(Date.now() - t).toBeLessThan(1500);
    expect((await fx.env.run(["exec", C, "cat", "/tmp/detached"])).code).not.toBe(0);
    expect(await until(async () => (await fx.env.run(["exec", C, "cat", "/tmp/detached"])).stdout === "done\n", 5000)).toBe(true);
  });

  test("a finished detached process does not keep the container from stopping", async () => {
    await fx.env.ok(["run", "-d", "--name", "exec-stop", fx.image, "sleep", "300"]);
    await fx.env.ok(["exec", "-d", "exec-stop", "true"]);
    await Bun.sleep(300);
    const t = Date.now();
    await fx.env.ok(["stop", "-t", "0", "exec-stop"]);
    expect(Date.now() - t).toBeLessThan(5000);
    expect((await fx.env.ok(["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "exec-stop"])).trim()).toBe("exited 137");
    await fx.env.ok(["rm", "exec-stop"]);
  });

  test("127 for a missing command, 126 for one that cannot run, with one error line", async () => {
    const missing = await fx.env.run(["exec", C, "no-such-command"]);
    expect(missing.code).toBe(127);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
    expect(missing.stderr).toStartWith("Error: ");
    expect(missing.stderr).toContain("executable file not found");
    const denied = await fx.env.run(["exec", C, "/etc/passwd"]);
    expect(denied.code).toBe(126);
    expect(denied.stderr).toContain("permission denied");
  });

  test("exec into a stopped or missing container fails with 125", async () => {
    await fx.env.ok(["create", "--name", "exec-created", fx.image, "sleep", "300"]);
    const created = await fx.env.run(["exec", "exec-created", "true"]);
    expect(created.code).toBe(125);
    expect(created.stderr).toContain("is not running");
    await fx.env.ok(["start", "exec-created"]);
    await fx.env.ok(["stop", "-t", "0", "exec-created"]);
    const stopped = await fx.env.run(["exec", "exec-created", "true"]);
    expect(stopped.code).toBe(125);
    expect(stopped.stderr.trim().split("\n")).toHaveLength(1);
    expect(stopped.stderr).toContain("is not running");
    const missing = await fx.env.run(["exec", "no-such-container", "true"]);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toContain("no such container");
    await fx.env.ok(["rm", "exec-created"]);
  });
});

/**
 * `skiff ps` and `skiff inspect`: which containers are listed, in which
 * order, with which filters and formats, and the Docker-shaped inspect
 * JSON. The compiled binary, real runc; CI runs it as root and rootless.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { containerFixture, containerSkipReason, startTime, type ContainerFixture } from "../helpers/containers.ts";

const skip = containerSkipReason();
if (skip) console.warn(`skipping ps tests: ${skip}`);

let fx: ContainerFixture;
/** Full ids by name, in creation order. */
const ids: Record<string, string> = {};

async function names(args: string[]): Promise<string[]> {
  return (await fx.env.ok(["ps", ...args, "--format", "{{.Names}}"])).trim().split("\n").filter(Boolean);
}

describe.skipIf(skip !== undefined)("ps and inspect", () => {
  beforeAll(async () => {
    fx = await containerFixture("ps");
    // Creation order matters: ps lists the newest first.
    ids["ps-exit3"] = (await fx.env.ok(["run", "-d", "--name", "ps-exit3", "-l", "app=db", fx.image, "sh", "-c", "exit 3"])).trim();
    await fx.env.ok(["wait", "ps-exit3"]);
    ids["ps-exit0"] = (await fx.env.ok(["run", "-d", "--name", "ps-exit0", fx.image, "true"])).trim();
    await fx.env.ok(["wait", "ps-exit0"]);
    ids["ps-created"] = (await fx.env.ok(["create", "--name", "ps-created", "--rm", fx.image, "echo", "a long command line with many words"])).trim();
    ids["ps-run"] = (
      await fx.env.ok(["run", "-d", "--name", "ps-run", "-l", "app=web", "-l", "tier=front", "-e", "FROM_RUN=1", fx.image, "sleep", "300"])
    ).trim();
  }, 120_000);

  afterAll(async () => {
    await fx?.close();
  });

  test("ps shows running containers in Docker's columns", async () => {
    const lines = (await fx.env.ok(["ps"])).trimEnd().split("\n");
    expect(lines[0]?.split(/\s{2,}/)).toEqual(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toStartWith(ids["ps-run"]?.slice(0, 12) ?? "x");
    expect(lines[1]).toContain('"sleep 300"');
    expect(lines[1]).toMatch(/ Up /);
    expect(lines[1]).toEndWith("ps-run");
  });

  test("-a lists every container, newest first, with Docker's status words", async () => {
    expect(await names(["-a"])).toEqual(["ps-run", "ps-created", "ps-exit0", "ps-exit3"]);
    const status = (await fx.env.ok(["ps", "-a", "--format", "{{.Names}}|{{.State}}|{{.Status}}"])).trim().split("\n");
    expect(status[0]).toMatch(/^ps-run\|running\|Up /);
    expect(status[1]).toBe("ps-created|created|Created");
    expect(status[2]).toMatch(/^ps-exit0\|exited\|Exited \(0\) .* ago$/);
    expect(status[3]).toMatch(/^ps-exit3\|exited\|Exited \(3\) .* ago$/);
  });

  test("-q, --no-trunc, -n and -l", async () => {
    expect((await fx.env.ok(["ps", "-q"])).trim()).toBe(ids["ps-run"]?.slice(0, 12) ?? "ps-run");
    expect((await fx.env.ok(["ps", "-aq", "--no-trunc"])).trim().split("\n")).toEqual(
      ["ps-run", "ps-created", "ps-exit0", "ps-exit3"].map((n) => ids[n] ?? n),
    );
    expect(await names(["-n", "2"])).toEqual(["ps-run", "ps-created"]);
    expect(await names(["-l"])).toEqual(["ps-run"]);
    const truncated = (await fx.env.ok(["ps", "-a", "--filter", "name=ps-created", "--format", "{{.Command}}"])).trim();
    // As Docker: arguments with spaces in single quotes, 19 characters and an ellipsis.
    expect(truncated).toBe('"echo \'a long comman…"');
    const full = (await fx.env.ok(["ps", "-a", "--no-trunc", "--filter", "name=ps-created", "--format", "{{.ID}} {{.Command}}"])).trim();
    expect(full).toBe(`${ids["ps-created"]} "echo 'a long command line with many words'"`);
  });

  test("--filter name, id, label, status, exited, ancestor", async () => {
    expect(await names(["-a", "--filter", "name=exit"])).toEqual(["ps-exit0", "ps-exit3"]);
    expect(await names(["-a", "--filter", "name=^ps-run$"])).toEqual(["ps-run"]);
    expect(await names(["-a", "--filter", `id=${ids["ps-exit3"]?.slice(0, 5)}`])).toEqual(["ps-exit3"]);
    expect(await names(["-a", "--filter", "label=app"])).toEqual(["ps-run", "ps-exit3"]);
    expect(await names(["-a", "--filter", "label=app=db"])).toEqual(["ps-exit3"]);
    expect(await names(["-a", "--filter", "label=app=web", "--filter", "label=tier=front"])).toEqual(["ps-run"]);
    expect(await names(["--filter", "status=exited"])).toEqual(["ps-exit0", "ps-exit3"]);
    expect(await names(["--filter", "status=created"])).toEqual(["ps-created"]);
    expect(await names(["-a", "--filter", "status=running"])).toEqual(["ps-run"]);
    expect(await names(["-a", "--filter", "exited=3"])).toEqual(["ps-exit3"]);
    expect(await names(["-a", "--filter", `ancestor=${fx.image}`])).toHaveLength(4);
    expect(await names(["-a", "--filter", "ancestor=nothing:here"])).toEqual([]);
    // One key's values are ORed, different keys ANDed.
    expect(await names(["-a", "--filter", "name=ps-exit0", "--filter", "name=ps-run"])).toEqual(["ps-run", "ps-exit0"]);
    expect(await names(["-a", "--filter", "name=ps-", "--filter", "status=exited", "--filter", "label=app"])).toEqual(["ps-exit3"]);
    const bad = await fx.env.run(["ps", "--filter", "colour=red"]);
    expect(bad.code).toBe(125);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
  });

  test("--format with placeholders, table and json", async () => {
    expect((await fx.env.ok(["ps", "--format", "{{.ID}} {{.Names}} {{.Image}}"])).trim()).toBe(`${ids["ps-run"]?.slice(0, 12)} ps-run ${fx.image}`);
    expect((await fx.env.ok(["ps", "--format", "{{.Labels}}"])).trim()).toBe("app=web,tier=front");
    expect(await fx.env.ok(["ps", "-a", "-n", "2", "--format", "table {{.Names}}\t{{.State}}"])).toMatch(/^NAMES\s+STATE\nps-run\s+running\nps-created\s+created\n$/);
    const json = (await fx.env.ok(["ps", "-a", "--format", "json"])).trim().split("\n");
    expect(json).toHaveLength(4);
    const rows = json.map((l) => JSON.parse(l) as Record<string, string>);
    expect(rows.map((r) => r.Names)).toEqual(["ps-run", "ps-created", "ps-exit0", "ps-exit3"]);
    expect(rows[0]).toMatchObject({ ID: ids["ps-run"]?.slice(0, 12), Image: fx.image, State: "running", Command: '"sleep 300"' });
    for (const key of ["ID", "Image", "Command", "CreatedAt", "RunningFor", "Ports", "State", "Status", "Names", "Labels", "Mounts", "Networks"]) {
      expect(Object.keys(rows[0] ?? {})).toContain(key);
    }
    expect(await fx.env.ok(["ps", "--filter", "name=none-such", "--format", "json"])).toBe("");
  });

  test("inspect: Docker-shaped JSON", async () => {
    const [c] = JSON.parse(await fx.env.ok(["inspect", "ps-run"])) as Record<string, any>[];
    expect(c?.Id).toBe(ids["ps-run"]);
    expect(c?.Name).toBe("/ps-run");
    expect(c?.Path).toBe("sleep");
    expect(c?.Args).toEqual(["300"]);
    expect(c?.State.Status).toBe("running");
    expect(c?.State.Running).toBe(true);
    expect(c?.State.ExitCode).toBe(0);
    expect(c?.State.StartedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    // The pid is the container's init as the host sees it.
    const pid = c?.State.Pid as number;
    expect(pid).toBeGreaterThan(1);
    expect(startTime(pid)).toBeDefined();
    expect(c?.Config.Env).toContain("FROM_RUN=1");
    expect(c?.Config.Env).toContain("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    expect(c?.Config.Labels).toEqual({ app: "web", tier: "front" });
    expect(c?.Config.Cmd).toEqual(["sleep", "300"]);
    expect(c?.Config.Image).toBe(fx.image);
    expect(c?.HostConfig.AutoRemove).toBe(false);
    expect(c?.Image).toMatch(/^sha256:[a-f0-9]{64}$/);
    const [exited] = JSON.parse(await fx.env.ok(["container", "inspect", "ps-exit3"])) as Record<string, any>[];
    expect([exited?.State.Status, exited?.State.Running, exited?.State.ExitCode, exited?.State.Pid]).toEqual(["exited", false, 3, 0]);
    expect(exited?.State.FinishedAt).not.toBe("0001-01-01T00:00:00Z");
    const [created] = JSON.parse(await fx.env.ok(["inspect", ids["ps-created"]?.slice(0, 10) ?? ""])) as Record<string, any>[];
    expect([created?.Name, created?.State.Status, created?.HostConfig.AutoRemove]).toEqual(["/ps-created", "created", true]);
  });

  test("inspect --format, several names, and errors", async () => {
    expect((await fx.env.ok(["inspect", "--format", "{{.State.Status}}", "ps-run"])).trim()).toBe("running");
    expect(await fx.env.ok(["inspect", "-f", "{{.Name}} {{.State.ExitCode}}", "ps-exit3", "ps-exit0"])).toBe("/ps-exit3 3\n/ps-exit0 0\n");
    expect((await fx.env.ok(["inspect", "-f", "{{json .Config.Labels}}", "ps-exit3"])).trim()).toBe('{"app":"db"}');
    const missing = await fx.env.run(["inspect", "no-such-thing"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.toLowerCase()).toContain("no such object: no-such-thing");
    // Found ones are still printed.
    const some = await fx.env.run(["inspect", "-f", "{{.Name}}", "ps-run", "no-such-thing"]);
    expect([some.code, some.stdout]).toEqual([1, "/ps-run\n"]);
  });

  test("inspect falls back to an image; --type narrows it", async () => {
    const [img] = JSON.parse(await fx.env.ok(["inspect", fx.image])) as Record<string, any>[];
    expect(img?.RepoTags).toContain(fx.image);
    expect(img?.Id).toMatch(/^sha256:/);
    expect((await fx.env.ok(["inspect", "--type", "image", "-f", "{{.Os}}", fx.image])).trim()).toBe("linux");
    expect((await fx.env.run(["inspect", "--type", "container", fx.image])).code).not.toBe(0);
    expect((await fx.env.run(["container", "inspect", fx.image])).code).not.toBe(0);
  });
});

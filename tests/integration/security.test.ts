/**
 * The seccomp filter end to end: the compiled binary, real runc and the
 * kernel's seccomp, as root and rootless. `unshare -U` (a new user
 * namespace) is something any process may do on these hosts, so it shows
 * whether the default filter is in place.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { containerFixture, containerSkipReason, nestedUsernsSkipReason, type ContainerFixture } from "../helpers/containers.ts";
import type { SkiffEnv } from "../helpers/skiff.ts";

const skip = containerSkipReason();
if (skip) console.warn(`skipping security tests: ${skip}`);

let fx: ContainerFixture;
let env: SkiffEnv;
let image: string;

const NET = ["--network", "none"];
/** Without it, a refused `unshare -U` would not be the filter's doing. */
const usernsSkip = nestedUsernsSkipReason();
if (usernsSkip && !skip) console.warn(`security tests: ${usernsSkip}; the user-namespace cases skip`);
const NEW_USERNS = ["busybox", "unshare", "-U", "true"];

describe.skipIf(skip !== undefined)("seccomp", () => {
  beforeAll(async () => {
    fx = await containerFixture("security");
    ({ env, image } = fx);
  }, 120_000);

  afterAll(async () => {
    await fx?.close();
  });

  test.skipIf(usernsSkip !== undefined)("by default a container cannot make namespaces (EPERM), and ordinary work goes on", async () => {
    const r = await env.run(["run", "--rm", ...NET, image, ...NEW_USERNS]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Operation not permitted");
    expect(await env.ok(["run", "--rm", ...NET, image, "sh", "-c", "mkdir /tmp/d && echo ok > /tmp/d/f && cat /tmp/d/f & wait"])).toBe("ok\n");
  });

  test.skipIf(usernsSkip !== undefined)("seccomp=unconfined, --privileged and --cap-add SYS_ADMIN lift it", async () => {
    for (const extra of [["--security-opt", "seccomp=unconfined"], ["--privileged"], ["--cap-add", "SYS_ADMIN"]]) {
      const r = await env.run(["run", "--rm", ...NET, ...extra, image, ...NEW_USERNS]);
      expect({ extra, code: r.code, stderr: r.stderr }).toEqual({ extra, code: 0, stderr: "" });
    }
  });

  test("a profile file is applied, and kept in the container's record as its JSON", async () => {
    const path = join(fx.work, "no-mkdir.json");
    writeFileSync(path, JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1 }] }, null, 2));
    const r = await env.run(["run", "--name", "prof", ...NET, "--security-opt", `seccomp=${path}`, image, "busybox", "mkdir", "/tmp/x"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Operation not permitted");
    const opts = JSON.parse(await env.ok(["inspect", "-f", "{{json .HostConfig.SecurityOpt}}", "prof"])) as string[];
    expect(opts).toEqual(['seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}']);
    // The file may go: the container starts again with the profile it was made with.
    writeFileSync(path, "gone");
    const again = await env.run(["start", "-a", "prof"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("Operation not permitted");
    await env.ok(["rm", "prof"]);
  });

  test("a missing or invalid profile is one line, exit 125, and no container", async () => {
    const bad = join(fx.work, "bad.json");
    writeFileSync(bad, JSON.stringify({ defaultAction: "ALLOW" }));
    for (const [opt, message] of [
      [`seccomp=${join(fx.work, "none.json")}`, "no such file or directory"],
      [`seccomp=${bad}`, "seccomp profile: defaultAction"],
    ] as const) {
      const r = await env.run(["run", "--rm", "--name", "badprof", ...NET, "--security-opt", opt, image, "true"]);
      expect(r.code).toBe(125);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain(message);
    }
    expect((await env.ok(["ps", "-a", "--format", "{{.Names}}"])).split("\n")).not.toContain("badprof");
  });
});

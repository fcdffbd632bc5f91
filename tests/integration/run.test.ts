/**
 * `skiff run`: exit codes and every run flag, each observed from inside the
 * container, as Docker documents them. The compiled binary, real runc, a
 * busybox image from a loopback registry; CI runs it as root and rootless.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { containerFixture, containerSkipReason, type ContainerFixture } from "../helpers/containers.ts";

const skip = containerSkipReason();
if (skip) console.warn(`skipping run tests: ${skip}`);

/** CapEff of a default Docker container: Docker's 14 default capabilities. */
const DOCKER_CAPEFF = "00000000a80425fb";

let fx: ContainerFixture;

/** `skiff run --rm IMAGE sh -c SCRIPT` with extra flags before the image. */
async function sh(flags: string[], script: string, opts: { env?: Record<string, string>; stdin?: string } = {}) {
  return fx.env.run(["run", "--rm", ...flags, fx.image, "sh", "-c", script], opts);
}

async function out(flags: string[], script: string, opts: { env?: Record<string, string> } = {}): Promise<string> {
  const r = await sh(flags, script, opts);
  if (r.code !== 0) throw new Error(`run ${flags.join(" ")} sh -c ${script}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

function expectOneErrorLine(stderr: string): void {
  const lines = stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toStartWith("Error: ");
}

describe.skipIf(skip !== undefined)("run", () => {
  beforeAll(async () => {
    fx = await containerFixture("run");
  }, 120_000);

  afterAll(async () => {
    await fx?.close();
  });

  describe("exit codes", () => {
    test("the container's own code, with and without --rm", async () => {
      expect((await sh([], "exit 3")).code).toBe(3);
      const r = await fx.env.run(["run", "--name", "own-code", fx.image, "sh", "-c", "exit 7"]);
      expect(r.code).toBe(7);
      expect((await fx.env.ok(["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "own-code"])).trim()).toBe("exited 7");
      expect((await fx.env.ok(["wait", "own-code"])).trim()).toBe("7");
      await fx.env.ok(["rm", "own-code"]);
    });

    test("output before the exit is all there, stdout and stderr apart", async () => {
      const r = await sh([], "echo out; echo err >&2; exit 5");
      expect([r.code, r.stdout, r.stderr]).toEqual([5, "out\n", "err\n"]);
    });

    test("125 for a bad flag or flag value", async () => {
      for (const args of [["--no-such-flag"], ["--pull", "sometimes"]]) {
        const r = await fx.env.run(["run", ...args, fx.image, "true"]);
        expect(r.code).toBe(125);
        expectOneErrorLine(r.stderr);
      }
    });

    test("125 for a missing image with --pull never", async () => {
      const r = await fx.env.run(["run", "--rm", "--pull", "never", `${fx.reg.host}/nothere:latest`, "true"]);
      expect(r.code).toBe(125);
      expectOneErrorLine(r.stderr);
      expect(r.stderr).toContain("nothere");
    });

    test("125 for a name already in use, and the first container is untouched", async () => {
      await fx.env.ok(["create", "--name", "taken", fx.image, "true"]);
      const first = await fx.id("taken");
      const r = await fx.env.run(["run", "--rm", "--name", "taken", fx.image, "true"]);
      expect(r.code).toBe(125);
      expectOneErrorLine(r.stderr);
      expect(r.stderr).toContain('"/taken" is already in use');
      expect(await fx.id("taken")).toBe(first);
      await fx.env.ok(["rm", "taken"]);
    });

    test("126 when the command cannot be executed", async () => {
      const r = await fx.env.run(["run", "--rm", fx.image, "/etc/passwd"]);
      expect(r.code).toBe(126);
      expectOneErrorLine(r.stderr);
      expect(r.stderr).toContain("permission denied");
    });

    test("127 when the command does not exist", async () => {
      for (const cmd of ["no-such-command", "/no/such/path"]) {
        const r = await fx.env.run(["run", "--rm", fx.image, cmd]);
        expect(r.code).toBe(127);
        expectOneErrorLine(r.stderr);
      }
    });

    test("run -d of a missing command: 127 and no id on stdout", async () => {
      const r = await fx.env.run(["run", "-d", "--name", "bad-cmd", fx.image, "no-such-command"]);
      expect(r.code).toBe(127);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain("no-such-command");
      expect((await fx.env.ok(["inspect", "-f", "{{.State.Status}}", "bad-cmd"])).trim()).toBe("created");
      await fx.env.ok(["rm", "bad-cmd"]);
    });

    test("--rm after a failed start leaves no container", async () => {
      const r = await fx.env.run(["run", "--rm", "--name", "bad-rm", fx.image, "no-such-command"]);
      expect(r.code).toBe(127);
      expect((await fx.env.run(["inspect", "bad-rm"])).code).not.toBe(0);
    });
  });

  describe("flags", () => {
    test("-e, --env-file and -e KEY from the host environment", async () => {
      const file = join(fx.work, "env.list");
      writeFileSync(file, "# a comment\n\nFROM_FILE=file value\nFROM_HOST\nOVERRIDDEN=from file\n");
      const text = await out(
        ["--env-file", file, "-e", "PLAIN=1", "-e", "FROM_HOST", "-e", "NOT_ON_HOST", "-e", "OVERRIDDEN=from flag"],
        "env",
        { env: { FROM_HOST: "host value" } },
      );
      const env = text.trim().split("\n");
      expect(env).toContain("PLAIN=1");
      expect(env).toContain("FROM_FILE=file value");
      expect(env).toContain("FROM_HOST=host value");
      expect(env).toContain("OVERRIDDEN=from flag");
      expect(env.filter((l) => l.startsWith("OVERRIDDEN="))).toHaveLength(1);
      expect(env.some((l) => l.startsWith("NOT_ON_HOST"))).toBe(false);
      expect(env).toContain("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
      expect(env).toContain("HOME=/root");
    });

    test("a missing --env-file is a skiff error", async () => {
      const r = await fx.env.run(["run", "--rm", "--env-file", join(fx.work, "nope.env"), fx.image, "true"]);
      expect(r.code).toBe(125);
      expectOneErrorLine(r.stderr);
    });

    test("-w sets the working directory and creates it when missing", async () => {
      expect(await out(["-w", "/tmp"], "pwd")).toBe("/tmp\n");
      expect(await out(["-w", "/not/there/yet"], "pwd; test -d /not/there/yet && echo made")).toBe("/not/there/yet\nmade\n");
      // A user other than root can still enter it.
      expect(await out(["-w", "/made/for/user", "-u", "user"], "pwd")).toBe("/made/for/user\n");
    });

    test("-u name, uid:gid, name:group and an unknown uid", async () => {
      expect(await out(["-u", "user"], "id")).toBe("uid=1000(user) gid=1000(user) groups=100(users),1000(user)\n");
      expect(await out(["-u", "33:100"], "id")).toBe("uid=33(www-data) gid=100(users) groups=100(users)\n");
      expect(await out(["-u", "user:users"], "id")).toBe("uid=1000(user) gid=100(users) groups=100(users)\n");
      expect(await out(["-u", "4242"], "id")).toBe("uid=4242 gid=0(root) groups=0(root)\n");
      expect(await out(["-u", "www-data"], "echo $HOME")).toBe("/var/www\n");
      const r = await sh(["-u", "nosuchuser"], "true");
      expect(r.code).toBe(125);
      expect(r.stderr).toContain("nosuchuser");
    });

    test("--entrypoint replaces the image's, --entrypoint '' clears it", async () => {
      expect((await fx.env.ok(["run", "--rm", "--entrypoint", "echo", fx.image, "a", "b"]))).toBe("a b\n");
      // The image's Cmd is ["sh"]: with a new entrypoint it is not kept (as Docker).
      expect((await fx.env.ok(["run", "--rm", "--entrypoint", "echo", fx.image]))).toBe("\n");
      expect((await fx.env.ok(["run", "--rm", "--entrypoint", "", fx.image, "echo", "cleared"]))).toBe("cleared\n");
      const args = await fx.env.ok(["create", "--name", "ep", "--entrypoint", "", fx.image, "echo", "x"]);
      expect(args).toMatch(/^[a-f0-9]{64}\n$/);
      expect((await fx.env.ok(["inspect", "-f", "{{json .Config.Entrypoint}} {{json .Config.Cmd}}", "ep"])).trim()).toBe('[] ["echo","x"]');
      await fx.env.ok(["rm", "ep"]);
    });

    test("-h sets the host name (and HOSTNAME); the default is the short id", async () => {
      expect(await out(["-h", "myhost"], "hostname; echo $HOSTNAME")).toBe("myhost\nmyhost\n");
      const id = (await fx.env.ok(["run", "-d", fx.image, "sh", "-c", "hostname > /h; sleep 30"])).trim();
      expect((await fx.env.ok(["exec", id, "cat", "/h"])).trim()).toBe(id.slice(0, 12));
      await fx.env.ok(["rm", "-f", id]);
    });

    test("-l labels show in inspect", async () => {
      await fx.env.ok(["create", "--name", "labelled", "-l", "a=1", "--label", "b=two words", "-l", "flag", fx.image]);
      const labels = JSON.parse(await fx.env.ok(["inspect", "-f", "{{json .Config.Labels}}", "labelled"]));
      expect(labels).toEqual({ a: "1", b: "two words", flag: "" });
      await fx.env.ok(["rm", "labelled"]);
    });

    test("--init runs tini as PID 1", async () => {
      const text = await out(["--init"], "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$");
      const [cmdline, mypid] = text.split("\n");
      expect(cmdline).toStartWith("/sbin/docker-init -- sh -c ");
      expect(Number(mypid)).toBeGreaterThan(1);
      // Without --init the command is PID 1.
      expect(await out([], "echo $$")).toBe("1\n");
    });

    test("--read-only: the root is not writable, a --tmpfs is", async () => {
      const r = await sh(["--read-only"], "touch /x");
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("Read-only file system");
      expect(await out(["--read-only", "--tmpfs", "/tmp"], "touch /tmp/x && echo ok; grep ' /tmp ' /proc/mounts")).toMatch(
        /^ok\ntmpfs \/tmp tmpfs rw,nosuid,nodev,noexec/,
      );
    });

    test("-v bind mounts: read-write, read-only; files made by container root belong to the host user", async () => {
      const dir = join(fx.work, "bind");
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "from-host"), "hello\n");
      expect(await out(["-v", `${dir}:/data`], "cat /data/from-host; echo made > /data/from-ctr")).toBe("hello\n");
      expect(readFileSync(join(dir, "from-ctr"), "utf8")).toBe("made\n");
      const st = statSync(join(dir, "from-ctr"));
      expect([st.uid, st.gid]).toEqual([process.getuid?.() ?? 0, process.getgid?.() ?? 0]);
      const ro = await sh(["-v", `${dir}:/data:ro`], "cat /data/from-host && echo x > /data/nope");
      expect(ro.stdout).toBe("hello\n");
      expect(ro.code).not.toBe(0);
      expect(ro.stderr).toContain("Read-only file system");
      expect(existsSync(join(dir, "nope"))).toBe(false);
    });

    test("--mount type=bind (readonly) and type=tmpfs", async () => {
      const dir = join(fx.work, "mount");
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "f"), "via mount\n");
      expect(await out(["--mount", `type=bind,source=${dir},target=/m`], "cat /m/f; echo w > /m/w")).toBe("via mount\n");
      expect(readFileSync(join(dir, "w"), "utf8")).toBe("w\n");
      const ro = await sh(["--mount", `type=bind,src=${dir},dst=/m,readonly`], "touch /m/x");
      expect(ro.code).toBe(1);
      expect(ro.stderr).toContain("Read-only file system");
      expect(await out(["--mount", "type=tmpfs,target=/t"], "grep ' /t ' /proc/mounts | cut -d' ' -f1-3")).toBe("tmpfs /t tmpfs\n");
      const bad = await sh(["--mount", "type=bind,target=/m"], "true");
      expect(bad.code).toBe(125);
      expectOneErrorLine(bad.stderr);
    });

    test("a missing bind source: --mount refuses it (125), -v creates it (as Docker)", async () => {
      const before = await fx.env.ok(["ps", "-aq", "--no-trunc"]);
      const missing = join(fx.work, "missing-mount");
      const r = await sh(["--mount", `type=bind,source=${missing},target=/data`], "true");
      expect(r.code).toBe(125);
      expectOneErrorLine(r.stderr);
      expect(r.stderr).toContain(`bind source path does not exist: ${missing}`);
      expect(await fx.env.ok(["ps", "-aq", "--no-trunc"])).toBe(before);
      const made = join(fx.work, "missing-volume", "sub");
      expect(await out(["-v", `${made}:/data`], "echo x > /data/f && echo ok")).toBe("ok\n");
      expect(readFileSync(join(made, "f"), "utf8")).toBe("x\n");
    });

    test("--cap-add and --cap-drop change CapEff", async () => {
      const capEff = async (flags: string[]): Promise<string> => (await out(flags, "grep CapEff /proc/self/status")).trim().split(/\s+/)[1] ?? "";
      expect(await capEff([])).toBe(DOCKER_CAPEFF);
      expect(await capEff(["--cap-drop", "chown"])).toBe("00000000a80425fa");
      expect(await capEff(["--cap-add", "SYS_ADMIN"])).toBe("00000000a82425fb");
      expect(await capEff(["--cap-add", "CAP_NET_ADMIN", "--cap-drop", "CAP_KILL"])).toBe("00000000a80435db");
      expect(await capEff(["--cap-drop", "ALL"])).toBe("0000000000000000");
      const r = await sh(["--cap-add", "NOT_A_CAP"], "true");
      expect(r.code).toBe(125);
    });

    test("--security-opt no-new-privileges sets NoNewPrivs", async () => {
      expect(await out([], "grep NoNewPrivs /proc/self/status")).toBe("NoNewPrivs:\t0\n");
      expect(await out(["--security-opt", "no-new-privileges"], "grep NoNewPrivs /proc/self/status")).toBe("NoNewPrivs:\t1\n");
      expect(await out(["--security-opt", "no-new-privileges:true"], "grep NoNewPrivs /proc/self/status")).toBe("NoNewPrivs:\t1\n");
    });

    test("--ulimit nofile=1024:2048", async () => {
      expect(await out(["--ulimit", "nofile=1024:2048"], "ulimit -n; ulimit -Hn")).toBe("1024\n2048\n");
      const r = await sh(["--ulimit", "nofile=4096:1024"], "true");
      expect(r.code).toBe(125);
    });

    test("--cidfile is written; a second run with the same file refuses", async () => {
      const file = join(fx.work, "cid");
      const before = (await fx.env.ok(["ps", "-aq", "--no-trunc"])).trim().split("\n").filter(Boolean);
      const id = (await fx.env.ok(["run", "-d", "--cidfile", file, fx.image, "sleep", "30"])).trim();
      expect(readFileSync(file, "utf8")).toBe(id);
      const r = await fx.env.run(["run", "-d", "--cidfile", file, fx.image, "sleep", "30"]);
      expect(r.code).toBe(125);
      expectOneErrorLine(r.stderr);
      expect(r.stdout).toBe("");
      expect(readFileSync(file, "utf8")).toBe(id);
      expect((await fx.env.ok(["ps", "-aq", "--no-trunc"])).trim().split("\n")).toEqual([id, ...before]);
      await fx.env.ok(["rm", "-f", id]);
    });

    test("--pull never, missing and always", async () => {
      // A second name for the image, only in the registry for now.
      const other = `${fx.reg.host}/busybox-other:latest`;
      const { pushLayout } = await import("../helpers/images.ts");
      await pushLayout(join(fx.work, "layout"), other, { tag: "latest" });
      const never = await fx.env.run(["run", "--rm", "--pull", "never", other, "true"]);
      expect(never.code).toBe(125);
      const missing = await fx.env.run(["run", "--rm", "--pull", "missing", other, "echo", "pulled"]);
      expect(missing.code).toBe(0);
      expect(missing.stdout).toEndWith("pulled\n");
      expect(missing.stderr).toContain(`Unable to find image '${other}' locally`);
      // Now present: nothing is pulled.
      const again = await fx.env.run(["run", "--rm", other, "echo", "local"]);
      expect([again.code, again.stdout, again.stderr]).toEqual([0, "local\n", ""]);
      // always: pulls even though present (and says nothing about it being missing).
      const always = await fx.env.run(["run", "--rm", "--pull", "always", other, "echo", "fresh"]);
      expect(always.code).toBe(0);
      expect(always.stdout).toEndWith("fresh\n");
      expect(always.stderr).not.toContain("Unable to find image");
      // always with a registry that lacks it fails, even though it is local.
      await fx.env.ok(["tag", other, `${fx.reg.host}/local-only:latest`]);
      const gone = await fx.env.run(["run", "--rm", "--pull", "always", `${fx.reg.host}/local-only:latest`, "true"]);
      expect(gone.code).toBe(125);
    });
  });
});

/**
 * Units skiff makes, run as systemd would (tests/helpers/systemd-fixture.ts):
 * a Quadlet unit's ExecStart/ExecStop/ExecStopPost, run/rm/stop for units,
 * `systemd-analyze verify` of generated units, auto-update, and systemctl
 * --user end to end where systemd is PID 1. CI runs this file as root and as
 * an unprivileged user with a subuid range.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isRoot } from "../helpers/containers.ts";
import { pushLayout } from "../helpers/images.ts";
import { startNotifyListener } from "../helpers/notify-socket.ts";
import { SKIFF_BIN } from "../helpers/skiff.ts";
import { cmdline, NET, serviceLines, systemctlSkipReason, systemdFixture, type SystemdFixture, systemdSkipReason, unitArgv, unitText } from "../helpers/systemd-fixture.ts";

const skip = systemdSkipReason();
if (skip) console.warn(`skipping systemd tests: ${skip}`);
const verifySkip = skip ?? (Bun.which("systemd-analyze") ? undefined : "systemd-analyze is not installed (apt-get install systemd)");
if (!skip && verifySkip) console.warn(`skipping systemd-analyze verify tests: ${verifySkip}`);
const e2eSkip = systemctlSkipReason();
if (e2eSkip) console.warn(`skipping systemctl end-to-end test: ${e2eSkip}`);

let fx: SystemdFixture;

describe.skipIf(skip !== undefined)("systemd: units", () => {
  beforeAll(async () => {
    fx = await systemdFixture("systemd-units");
  }, 120_000);

  afterAll(async () => {
    await fx?.close();
  });

  describe("a Quadlet unit, run as systemd would", () => {
    test("ExecStart: READY with the shim as MAINPID; ExecStop stops it gracefully; ExecStopPost cleans up; output goes to the journal (stdout)", async () => {
      const dir = join(fx.work, "quadlet-a");
      const dry = await fx.writeQuadlet(
        dir,
        "web.container",
        ["[Container]", `Image=${fx.image}`, "Network=none", `Exec=sh -c 'trap "echo bye; exit 0" TERM; echo started; while :; do sleep 1; done'`, "StopTimeout=15", ""].join("\n"),
      );
      const unit = unitText(dry, "web.service");
      const spec = { t: fx.runtimeDir, n: "web.service", N: "web" };
      const [start] = serviceLines(unit, "ExecStart");
      const [stop] = serviceLines(unit, "ExecStop");
      const [post] = serviceLines(unit, "ExecStopPost");
      expect(serviceLines(unit, "Type")).toEqual(["notify"]);
      const unitEnv = Object.fromEntries(serviceLines(unit, "Environment").map((e) => e.replace("%n", "web.service").split("=", 2) as [string, string]));
      const r = await fx.harness(unitArgv(start as string, spec), { env: unitEnv, stop: [unitArgv(stop as string, spec)], killMain: "TERM", stopPost: [unitArgv(post as string, spec)], delay: 1 });
      expect(r.ready).toBe(true);
      const main = r.mainpid as number;
      expect(r.messages).toEqual([{ pid: main, data: `MAINPID=${main}\nREADY=1` }]);
      expect(r.commands.map((c) => c.code)).toEqual([0, 0]);
      expect(r.exits[String(main)]).toEqual({ code: 0 });
      expect(r.exits[String(r.start_pid)]).toEqual({ code: 0 });
      expect(r.output).toBe("started\nbye\n");
      expect(await fx.gone("systemd-web")).toBe(true);
      expect(existsSync(join(fx.runtimeDir, "web.cid"))).toBe(false);
      expect(r.timed_out).toBe(false);
    });

    test("a second start replaces a stale container of the same name and a leftover cidfile", async () => {
      const dir = join(fx.work, "quadlet-b");
      const dry = await fx.writeQuadlet(dir, "stale.container", ["[Container]", `Image=${fx.image}`, "Network=none", "Exec=sleep 60", "StopTimeout=1", ""].join("\n"));
      const unit = unitText(dry, "stale.service");
      const spec = { t: fx.runtimeDir, n: "stale.service", N: "stale" };
      const [start] = serviceLines(unit, "ExecStart");
      const [stop] = serviceLines(unit, "ExecStop");
      // As after a crash: the container still there (not running), its cidfile too.
      const old = (await fx.env.ok(["create", "--name", "systemd-stale", ...NET, fx.image, "true"])).trim();
      writeFileSync(join(fx.runtimeDir, "stale.cid"), old);
      const r = await fx.harness(unitArgv(start as string, spec), { stop: [unitArgv(stop as string, spec)] });
      expect(r.ready).toBe(true);
      expect(r.commands[0]?.code).toBe(0);
      expect(r.commands[0]?.stdout.trim()).not.toBe(old);
      expect((await fx.env.run(["inspect", old])).code).not.toBe(0);
    });
  });

  describe("run, rm and stop for units", () => {
    test("--replace stops and removes a running container of the same name; without one it is no error", async () => {
      await fx.env.ok(["run", "-d", "--name", "r1", "--stop-timeout", "1", ...NET, fx.image, "sleep", "60"]);
      const oldId = (await fx.env.ok(["inspect", "-f", "{{.Id}}", "r1"])).trim();
      expect(await fx.env.ok(["run", "--rm", "--replace", "--name", "r1", ...NET, fx.image, "echo", "new"])).toBe("new\n");
      expect((await fx.env.run(["inspect", oldId])).code).not.toBe(0);
      expect(await fx.env.ok(["run", "--rm", "--replace", "--name", "r2", ...NET, fx.image, "echo", "fresh"])).toBe("fresh\n");
    });

    test("--pidfile is the shim's pid (alive as long as the container); --cidfile, rm --cidfile and --ignore", async () => {
      const pidfile = join(fx.work, "p1.pid");
      const cidfile = join(fx.work, "p1.cid");
      const id = (await fx.env.ok(["run", "-d", "--name", "p1", "--pidfile", pidfile, "--cidfile", cidfile, ...NET, fx.image, "sleep", "60"])).trim();
      const shim = Number(readFileSync(pidfile, "utf8"));
      expect(cmdline(shim)).toContain("__shim");
      expect(readFileSync(cidfile, "utf8")).toBe(id);
      const dup = await fx.env.run(["run", "-d", "--cidfile", cidfile, ...NET, fx.image, "true"]);
      expect(dup.code).toBe(125);
      expect(dup.stderr).toContain("container ID file found");
      expect(await fx.env.ok(["rm", "-f", "-t", "2", "--cidfile", cidfile])).toBe(`${id}\n`);
      expect(existsSync(cidfile)).toBe(false);
      for (let i = 0; i < 50 && cmdline(shim).includes("__shim"); i++) await Bun.sleep(100);
      expect(cmdline(shim)).not.toContain("__shim");
      expect((await fx.env.run(["rm", "-f", "-i", "--cidfile", cidfile])).code).toBe(0);
      expect((await fx.env.run(["rm", "-i", "no-such-container"])).code).toBe(0);
      expect((await fx.env.run(["rm", "no-such-container"])).code).toBe(1);
      expect((await fx.env.run(["stop", "--ignore", "--cidfile", cidfile])).code).toBe(0);
      expect((await fx.env.run(["rm"])).code).toBe(125);
    });

    test("skiff start under a unit (generate systemd without --new): the new shim notifies; an already running one is named by the CLI", async () => {
      await fx.env.ok(["create", "--name", "s1", ...NET, fx.image, "sleep", "60"]);
      const listener = await startNotifyListener(fx.sockPath());
      try {
        const p = fx.spawnSkiff(["start", "s1"], { NOTIFY_SOCKET: listener.address });
        expect(await p.exited).toBe(0);
        const msgs = await listener.waitFor((m) => m.length >= 1);
        const main = Number(msgs[0]?.data.split("\n")[0]?.slice("MAINPID=".length));
        expect(msgs[0]?.data).toBe(`MAINPID=${main}\nREADY=1`);
        expect(cmdline(main)).toContain("__shim");
        const again = fx.spawnSkiff(["start", "s1"], { NOTIFY_SOCKET: listener.address });
        expect(await again.exited).toBe(0);
        const both = await listener.waitFor((m) => m.length >= 2);
        expect(both[1]?.data).toBe(`MAINPID=${main}\nREADY=1`);
      } finally {
        listener.stop();
        await fx.env.run(["rm", "-f", "s1"]);
      }
    });
  });

  describe.skipIf(verifySkip !== undefined)("generated units pass systemd-analyze verify", () => {
    async function verify(dir: string, files: string[]): Promise<{ code: number; stderr: string }> {
      const args = ["systemd-analyze", ...(isRoot ? [] : ["--user"]), "verify", ...files.map((f) => join(dir, f))];
      const p = Bun.spawn(args, { cwd: dir, env: { ...process.env, XDG_RUNTIME_DIR: fx.runtimeDir, SYSTEMD_LOG_LEVEL: "warning" }, stdout: "pipe", stderr: "pipe" });
      const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
      return { code, stderr };
    }

    test("Quadlet: .container, .volume, .network, .image (written by the generator, with its install links)", async () => {
      const src = join(fx.work, "quadlet-verify");
      mkdirSync(src, { recursive: true });
      writeFileSync(join(src, "app.container"), ["[Unit]", "Description=App", "[Container]", "Image=app.image", "Volume=data.volume:/data", "Network=net.network", "PublishPort=8080:80", "Environment=A=1", "Notify=yes", "[Service]", "Restart=on-failure", "[Install]", "WantedBy=default.target", ""].join("\n"));
      writeFileSync(join(src, "data.volume"), "[Volume]\nLabel=a=b\n");
      writeFileSync(join(src, "net.network"), "[Network]\nSubnet=10.91.0.0/24\n");
      writeFileSync(join(src, "app.image"), `[Image]\nImage=${fx.image}\n`);
      const out = join(fx.work, "generator-out");
      const gen = await fx.env.run(["systemd-generator", ...(isRoot ? [] : ["--user"]), out, join(fx.work, "early"), join(fx.work, "late")], { env: { SKIFF_QUADLET_UNIT_DIRS: src } });
      expect(gen.code, gen.stderr).toBe(0);
      expect(gen.stderr).toBe("");
      expect(existsSync(join(out, "default.target.wants", "app.service"))).toBe(true);
      const files = ["app.service", "data-volume.service", "net-network.service", "app-image.service"];
      expect(readFileSync(join(out, "app.service"), "utf8")).toContain(`ExecStart=${SKIFF_BIN} run --name=systemd-%N`);
      const v = await verify(out, files);
      expect(v.stderr).toBe("");
      expect(v.code).toBe(0);
    });

    test("generate systemd, with and without --new", async () => {
      await fx.env.ok(["create", "--name", "g1", ...NET, "-e", "GREETING=100% $HOME", "-v", "g1data:/data", fx.image, "sh", "-c", "echo $GREETING; sleep 60"]);
      const dir = join(fx.work, "generate-verify");
      mkdirSync(dir, { recursive: true });
      const a = JSON.parse(await fx.env.ok(["generate", "systemd", "--name", "--format", "json", "g1"])) as Record<string, string>;
      const b = JSON.parse(await fx.env.ok(["generate", "systemd", "--name", "--new", "--container-prefix", "new", "--restart-policy", "always", "--format", "json", "g1"])) as Record<string, string>;
      for (const [name, text] of Object.entries({ ...a, ...b })) writeFileSync(join(dir, name), text);
      expect(Object.keys({ ...a, ...b })).toEqual(["container-g1.service", "new-g1.service"]);
      const v = await verify(dir, ["container-g1.service", "new-g1.service"]);
      expect(v.stderr).toBe("");
      expect(v.code).toBe(0);
      await fx.env.ok(["rm", "g1"]);
    });

    test("the README's units, as written (with this build's path for /usr/local/bin/skiff)", async () => {
      const readme = readFileSync(join(import.meta.dir, "..", "..", "README.md"), "utf8");
      const blocks = [...readme.matchAll(/```ini\n# (\S+)\n([\s\S]*?)```/g)].map((m) => ({ path: m[1] as string, body: m[2] as string }));
      const container = blocks.find((b) => b.path.endsWith("hello.container"));
      const service = blocks.find((b) => b.path.endsWith("container-web.service"));
      expect(container && service).toBeDefined();
      const src = join(fx.work, "readme-src");
      const out = join(fx.work, "readme-out");
      mkdirSync(src, { recursive: true });
      writeFileSync(join(src, "hello.container"), container?.body ?? "");
      const gen = await fx.env.run(["systemd-generator", ...(isRoot ? [] : ["--user"]), out], { env: { SKIFF_QUADLET_UNIT_DIRS: src } });
      expect(gen.stderr).toBe("");
      writeFileSync(join(out, "container-web.service"), (service?.body ?? "").replaceAll("/usr/local/bin/skiff", SKIFF_BIN));
      const v = await verify(out, ["hello.service", "container-web.service"]);
      expect(v.stderr).toBe("");
      expect(v.code).toBe(0);
    });

    test("a broken unit is caught (the check is real)", async () => {
      const dir = join(fx.work, "verify-broken");
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "bad.service"), "[Service]\nExecStart=/nonexistent/skiff run busybox\n");
      const v = await verify(dir, ["bad.service"]);
      expect(v.code).not.toBe(0);
      expect(v.stderr).toContain("/nonexistent/skiff");
    });

    test("generate systemd --new: the unit's ExecStart, run as systemd would, creates the container again", async () => {
      await fx.env.ok(["create", "--name", "g2", ...NET, "-e", "GREETING=100% $HOME", fx.image, "sh", "-c", 'trap "exit 0" TERM; echo "$GREETING"; while :; do sleep 1; done']);
      const unit = (JSON.parse(await fx.env.ok(["generate", "systemd", "--name", "--new", "--format", "json", "g2"])) as Record<string, string>)["container-g2.service"] as string;
      await fx.env.ok(["rm", "g2"]);
      const spec = { t: fx.runtimeDir, n: "container-g2.service", N: "container-g2" };
      const [start] = serviceLines(unit, "ExecStart");
      const [stop] = serviceLines(unit, "ExecStop");
      const [post] = serviceLines(unit, "ExecStopPost");
      const r = await fx.harness(unitArgv(start as string, spec), { stop: [unitArgv(stop as string, spec)], stopPost: [unitArgv(post as string, spec)], killMain: "TERM", delay: 1 });
      expect(r.ready).toBe(true);
      expect(r.output).toBe("100% $HOME\n");
      expect(r.commands.map((c) => c.code)).toEqual([0, 0]);
      expect(r.exits[String(r.mainpid)]).toEqual({ code: 0 });
      expect(await fx.gone("g2")).toBe(true);
    });
  });

  describe("auto-update", () => {
    test("--dry-run lists labelled containers; an update pulls the new image and, without systemd, reports the restart as pending", async () => {
      const ref = `${fx.reg.host}/busybox:update`;
      await fx.env.ok(["pull", "-q", ref]);
      await fx.env.ok(["run", "-d", "--name", "au1", "--label", "io.containers.autoupdate=registry", ...NET, ref, "sleep", "60"], { env: { SKIFF_SYSTEMD_UNIT: "au1.service" } });
      await fx.env.ok(["run", "-d", "--name", "au2", "--label", "io.containers.autoupdate=registry", ...NET, ref, "sleep", "60"]);
      const fmt = "{{.Unit}} {{.ContainerName}} {{.Image}} {{.Policy}} {{.Updated}}";
      const fresh = await fx.env.run(["auto-update", "--dry-run", "--format", fmt]);
      expect(fresh.stdout).toBe(`au1.service au1 ${ref} registry false\n au2 ${ref} registry failed\n`);
      expect(fresh.stderr).toContain("no SKIFF_SYSTEMD_UNIT label found");
      expect(fresh.code).toBe(125);
      await fx.env.ok(["rm", "-f", "au2"]);
      // A new image behind the same tag.
      await pushLayout(join(fx.work, "layout"), ref, { tag: "v2" });
      const table = await fx.env.ok(["auto-update", "--dry-run"]);
      expect(table.split("\n")[0]).toMatch(/^UNIT\s+CONTAINER\s+IMAGE\s+POLICY\s+UPDATED$/);
      expect(table).toMatch(/au1\.service\s+[0-9a-f]{12} \(au1\)\s+\S+\s+registry\s+pending/);
      const upd = await fx.env.ok(["auto-update", "--format", fmt]);
      expect(upd).toBe(`au1.service au1 ${ref} registry pending restart\n`);
      // The tag now names the new image locally.
      expect(await fx.env.ok(["run", "--rm", ...NET, ref, "cat", "/etc/version"])).toBe("2\n");
      await fx.env.ok(["rm", "-f", "au1"]);
    });
  });

  describe.skipIf(e2eSkip !== undefined)("systemd: systemctl --user end to end", () => {
    test("a generated unit starts (MainPID is the shim), reports active, and stops removing its container", async () => {
      const unitName = `skiff-e2e-${process.pid}.service`;
      const dir = join(process.env.XDG_RUNTIME_DIR as string, "systemd", "user");
      const sc = (args: string[]): { code: number; out: string } => {
        const r = Bun.spawnSync(["systemctl", "--user", ...args], { stdout: "pipe", stderr: "pipe" });
        return { code: r.exitCode ?? 1, out: r.stdout.toString() + r.stderr.toString() };
      };
      await fx.env.ok(["create", "--name", "e2e1", ...NET, fx.image, "sh", "-c", 'trap "exit 0" TERM; while :; do sleep 1; done']);
      const unit = (JSON.parse(await fx.env.ok(["generate", "systemd", "--name", "--new", "--format", "json", "e2e1"])) as Record<string, string>)["container-e2e1.service"] as string;
      await fx.env.ok(["rm", "e2e1"]);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, unitName), unit.replace("[Service]\n", `[Service]\nEnvironment=SKIFF_ROOT=${fx.env.root} SKIFF_RUNROOT=${fx.env.runRoot}\n`));
      try {
        expect(sc(["daemon-reload"]).code).toBe(0);
        const started = sc(["start", unitName]);
        expect(started.code, started.out).toBe(0);
        const show = sc(["show", "-p", "ActiveState", "-p", "MainPID", unitName]).out;
        expect(show).toContain("ActiveState=active");
        const main = Number(/MainPID=(\d+)/.exec(show)?.[1]);
        expect(cmdline(main)).toContain("__shim");
        expect(sc(["stop", unitName]).code).toBe(0);
        expect(await fx.gone("e2e1")).toBe(true);
      } finally {
        sc(["stop", unitName]);
        rmSync(join(dir, unitName), { force: true });
        sc(["daemon-reload"]);
      }
    });
  });
});

/**
 * skiff under systemd, end to end without systemd as PID 1 (it is not on
 * these machines): the real protocol pieces instead. A unix datagram socket
 * stands in for NOTIFY_SOCKET (python3, with SO_PASSCRED, so the sender's pid
 * is the kernel's word), and tests/helpers/unit-harness.py runs a unit's
 * ExecStart the way systemd does (environment, a new session, a child
 * subreaper so the main process's exit status is seen), then its stop
 * sequence. Generated units go through `systemd-analyze verify`.
 *
 * CI runs this file as root and as an unprivileged user with a subuid range.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { containerSkipReason, isRoot, tearDown } from "../helpers/containers.ts";
import { busyboxImage, busyboxLayer, DEFAULT_PATH, pushLayout, writeImageLayout } from "../helpers/images.ts";
import { HARNESS_SCRIPT, python3SkipReason, startNotifyListener, type NotifyListener } from "../helpers/notify-socket.ts";
import { startRegistry, type TestRegistry } from "../helpers/registry.ts";
import { makeSkiffEnv, SKIFF_BIN, skiffProcessEnv, type SkiffEnv } from "../helpers/skiff.ts";



const skip = containerSkipReason() ?? python3SkipReason();
if (skip) console.warn(`skipping systemd tests: ${skip}`);
const verifySkip = skip ?? (Bun.which("systemd-analyze") ? undefined : "systemd-analyze is not installed (apt-get install systemd)");
if (!skip && verifySkip) console.warn(`skipping systemd-analyze verify tests: ${verifySkip}`);

/** Networking is not what these tests are about. */
const NET = ["--network", "none"];

let reg: TestRegistry;
let env: SkiffEnv;
let image: string;
let work: string;
let runtimeDir: string;

function storageEnv(): Record<string, string> {
  return skiffProcessEnv(env, { runtimeDir: false });
}

let sockSeq = 0;
function sockPath(): string {
  sockSeq += 1;
  return join(work, `n${sockSeq}.sock`);
}

/** Starts `skiff args` with NOTIFY_SOCKET (and extra env); returns the process. */
function spawnSkiff(args: string[], extra: Record<string, string> = {}): Bun.Subprocess<"ignore", "pipe", "pipe"> {
  return Bun.spawn([SKIFF_BIN, ...args], { env: { ...storageEnv(), ...extra }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

interface HarnessResult {
  start_pid: number;
  messages: { pid: number | null; data: string }[];
  ready: boolean;
  mainpid: number | null;
  exits: Record<string, { code?: number; signal?: number }>;
  commands: { argv: string[]; code: number; stdout: string; stderr: string }[];
  timed_out: boolean;
  output: string;
}

/** Runs an ExecStart line as systemd would, with the stop sequence given. */
async function harness(
  argv: string[],
  opts: { stop?: string[][]; stopPost?: string[][]; killMain?: string; killStart?: string; noWaitReady?: boolean; delay?: number; env?: Record<string, string>; notify?: boolean } = {},
): Promise<HarnessResult> {
  const args = ["python3", HARNESS_SCRIPT, "--timeout", "60"];
  if (opts.notify !== false) args.push("--notify", sockPath());
  for (const [k, v] of Object.entries({ ...storageEnv(), ...opts.env })) args.push("--env", `${k}=${v}`);
  for (const s of opts.stop ?? []) args.push("--stop", JSON.stringify(s));
  for (const s of opts.stopPost ?? []) args.push("--stop-post", JSON.stringify(s));
  if (opts.killMain) args.push("--kill-main", opts.killMain);
  if (opts.killStart) args.push("--kill-start", opts.killStart);
  if (opts.noWaitReady) args.push("--no-wait-ready");
  if (opts.delay) args.push("--delay", String(opts.delay));
  args.push("--", ...argv);
  const p = Bun.spawn(args, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`unit harness failed (${code}): ${err}`);
  return JSON.parse(out) as HarnessResult;
}

/**
 * A unit's command line as systemd runs it: specifiers (%t %n %N %%) and $$
 * resolved, quotes and backslashes undone, a leading "-" (ignore failure)
 * dropped. Written here rather than taken from skiff, which made the line.
 */
function unitArgv(line: string, spec: Record<string, string>): string[] {
  const resolved = line.replace(/%(.)/g, (_, c: string) => (c === "%" ? "%" : (spec[c] ?? `%${c}`))).replaceAll("$$", "$");
  const words: string[] = [];
  let cur: string | undefined;
  let quoted = false;
  for (let i = 0; i < resolved.length; i++) {
    const c = resolved[i] as string;
    if (c === "\\" && i + 1 < resolved.length) {
      const n = resolved[++i] as string;
      const esc = ({ n: "\n", t: "\t" } as Record<string, string>)[n];
      cur = (cur ?? "") + (esc ?? n);
    } else if (c === '"') {
      quoted = !quoted;
      cur ??= "";
    } else if (/\s/.test(c) && !quoted) {
      if (cur !== undefined) words.push(cur);
      cur = undefined;
    } else cur = (cur ?? "") + c;
  }
  if (cur !== undefined) words.push(cur);
  if (words[0]?.startsWith("-")) words[0] = words[0].slice(1);
  return words;
}

/** Values of a key in a unit file's [Service] section (no continuation lines in what skiff writes). */
function serviceLines(unit: string, key: string): string[] {
  return unit
    .split("\n")
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));
}

async function gone(name: string): Promise<boolean> {
  const r = await env.run(["inspect", "--type", "container", name]);
  return r.code !== 0;
}

async function writeQuadlet(dir: string, name: string, body: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), body);
  const r = await env.run(["quadlet", "--dryrun"], { env: { SKIFF_QUADLET_UNIT_DIRS: dir } });
  if (r.code !== 0) throw new Error(`quadlet --dryrun: ${r.stderr}`);
  return r.stdout;
}

function unitText(dryrun: string, service: string): string {
  const start = dryrun.indexOf(`---${service}---\n`);
  if (start < 0) throw new Error(`${service} not in: ${dryrun}`);
  const rest = dryrun.slice(start + service.length + 7);
  const end = rest.indexOf("\n---");
  return end < 0 ? rest : rest.slice(0, end + 1);
}

/**
 * With systemd as PID 1 and a user manager (systemctl --user works), a unit
 * generated by skiff is started and stopped for real. Elsewhere (CI here) it
 * is skipped with the reason.
 */
function systemctlSkipReason(): string | undefined {
  let pid1 = "";
  try {
    pid1 = readFileSync("/proc/1/comm", "utf8").trim();
  } catch {
    // unknown
  }
  if (pid1 !== "systemd") return `systemd is not PID 1 here (PID 1 is ${pid1 || "unknown"})`;
  if (!process.env.XDG_RUNTIME_DIR) return "no XDG_RUNTIME_DIR: no systemd user session";
  const r = Bun.spawnSync(["systemctl", "--user", "is-system-running"], { stdout: "pipe", stderr: "pipe" });
  const state = r.stdout.toString().trim();
  if (state !== "running" && state !== "degraded") return `no usable systemd user manager (systemctl --user is-system-running: ${state || r.stderr.toString().trim()})`;
  return skip;
}

const e2eSkip = systemctlSkipReason();
if (e2eSkip) console.warn(`skipping systemctl end-to-end test: ${e2eSkip}`);

describe.skipIf(skip !== undefined)("systemd: notification, socket activation, units", () => {
  beforeAll(async () => {
    reg = await startRegistry();
    work = mkdtempSync(join(tmpdir(), "skiff-systemd-"));
    runtimeDir = join(work, "xdg-runtime");
    mkdirSync(runtimeDir, { mode: 0o700 });
    const layout = join(work, "layout");
    await writeImageLayout(layout, [
      { tag: "v1", spec: busyboxImage() },
      {
        tag: "v2",
        spec: {
          layers: [busyboxLayer(), { compression: "gzip", parents: "omit", entries: [{ type: "file", path: "etc/version", content: "2\n" }] }],
          config: { Cmd: ["sh"], Env: [DEFAULT_PATH] },
        },
      },
    ]);
    image = `${reg.host}/busybox:latest`;
    await pushLayout(layout, image, { tag: "v1" });
    env = makeSkiffEnv("skiff-systemd");
    await env.ok(["pull", "-q", image]);
    // The image a second tag points at, for auto-update.
    await pushLayout(layout, `${reg.host}/busybox:update`, { tag: "v1" });
  }, 120_000);

  afterAll(async () => {
    await tearDown({ env, reg, work });
  });

  describe("--sdnotify", () => {
    let listener: NotifyListener | undefined;
    afterAll(() => listener?.stop());

    test("conmon (the default): one message, MAINPID=<shim> and READY=1, sent by the shim; --pidfile holds the same pid", async () => {
      listener = await startNotifyListener(sockPath());
      const pidfile = join(work, "c1.pid");
      const p = spawnSkiff(["run", "-d", "--rm", "--name", "c1", "--pidfile", pidfile, ...NET, image, "sleep", "60"], { NOTIFY_SOCKET: listener.address });
      expect(await p.exited).toBe(0);
      const msgs = await listener.waitFor((m) => m.length >= 1);
      const shim = Number(readFileSync(pidfile, "utf8").trim());
      expect(msgs.map((m) => m.data)).toEqual([`MAINPID=${shim}\nREADY=1`]);
      expect(msgs[0]?.pid).toBe(shim);
      expect(cmdline(shim)).toContain("__shim");
      // The container does not get the manager's socket.
      expect(await env.ok(["exec", "c1", "sh", "-c", "echo ${NOTIFY_SOCKET:-none}"])).toBe("none\n");
      await env.ok(["rm", "-f", "c1"]);
      await Bun.sleep(300);
      expect(listener.messages.length).toBe(1);
      listener.stop();
      listener = undefined;
    });

    test("an abstract NOTIFY_SOCKET (@name) works the same", async () => {
      listener = await startNotifyListener(`@skiff-test-${process.pid}-${Date.now()}`);
      const pidfile = join(work, "c2.pid");
      const p = spawnSkiff(["run", "-d", "--rm", "--name", "c2", "--pidfile", pidfile, ...NET, image, "sleep", "60"], { NOTIFY_SOCKET: listener.address });
      expect(await p.exited).toBe(0);
      const msgs = await listener.waitFor((m) => m.length >= 1);
      const shim = Number(readFileSync(pidfile, "utf8").trim());
      expect(msgs.map((m) => [m.pid, m.data])).toEqual([[shim, `MAINPID=${shim}\nREADY=1`]]);
      await env.ok(["rm", "-f", "c2"]);
      listener.stop();
      listener = undefined;
    });

    test("container: the container gets its own NOTIFY_SOCKET; its READY/STATUS come through with the shim's MAINPID, its own MAINPID does not", async () => {
      listener = await startNotifyListener(sockPath());
      const pidfile = join(work, "c3.pid");
      // busybox has no systemd-notify: logger speaks datagrams to /dev/log, and a
      // syslog header line without "=" is dropped like any line that is no assignment.
      const script = 'echo "$NOTIFY_SOCKET"; ln -s "$NOTIFY_SOCKET" /dev/log && logger "$(printf "x\\nSTATUS=starting")" && sleep 1 && logger "$(printf "x\\nREADY=1\\nSTATUS=serving\\nMAINPID=1")" && sleep 60';
      const p = spawnSkiff(["run", "-d", "--rm", "--name", "c3", "--sdnotify=container", "--pidfile", pidfile, ...NET, image, "sh", "-c", script], { NOTIFY_SOCKET: listener.address });
      expect(await p.exited).toBe(0);
      const shim = Number(readFileSync(pidfile, "utf8").trim());
      const msgs = await listener.waitFor((m) => m.some((x) => x.data.includes("READY=1")));
      expect(msgs.map((m) => m.data)).toEqual([`MAINPID=${shim}`, "STATUS=starting", `MAINPID=${shim}\nREADY=1\nSTATUS=serving`]);
      expect(msgs.every((m) => m.pid === shim)).toBe(true);
      expect(await env.ok(["logs", "c3"])).toBe("/run/notify/notify.sock\n");
      await env.ok(["rm", "-f", "c3"]);
      listener.stop();
      listener = undefined;
    });

    test("ignore: nothing is sent and the container gets no NOTIFY_SOCKET", async () => {
      listener = await startNotifyListener(sockPath());
      const p = spawnSkiff(["run", "--rm", "--sdnotify=ignore", ...NET, image, "sh", "-c", "echo ${NOTIFY_SOCKET:-none}"], { NOTIFY_SOCKET: listener.address });
      expect(await new Response(p.stdout).text()).toBe("none\n");
      expect(await p.exited).toBe(0);
      await Bun.sleep(300);
      expect(listener.messages).toEqual([]);
      listener.stop();
      listener = undefined;
    });

    test("healthy: MAINPID at start, READY only once the healthcheck first passes", async () => {
      const help = await env.run(["run", "--help"]);
      if (!help.stdout.includes("--health-cmd")) {
        console.warn("skipping --sdnotify=healthy: this build has no --health-cmd");
        return;
      }
      listener = await startNotifyListener(sockPath());
      const pidfile = join(work, "c4.pid");
      const started = Date.now();
      const p = spawnSkiff(
        ["run", "-d", "--rm", "--name", "c4", "--sdnotify=healthy", "--health-cmd", "test -e /tmp/ready", "--health-interval", "1s", "--pidfile", pidfile, ...NET, image, "sh", "-c", "sleep 2; touch /tmp/ready; sleep 60"],
        { NOTIFY_SOCKET: listener.address },
      );
      expect(await p.exited).toBe(0);
      const shim = Number(readFileSync(pidfile, "utf8").trim());
      const first = await listener.waitFor((m) => m.length >= 1);
      expect(first[0]?.data).toBe(`MAINPID=${shim}`);
      const msgs = await listener.waitFor((m) => m.length >= 2, 30_000);
      expect(msgs[1]?.data).toBe("READY=1");
      expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
      await env.ok(["rm", "-f", "c4"]);
      listener.stop();
      listener = undefined;
    });
  });

  test("socket activation: LISTEN_FDS reach the container as fds 3.. with LISTEN_PID=1 and LISTEN_FDNAMES", async () => {
    // systemd sets LISTEN_PID to the service's own pid: `exec` keeps the shell's.
    const script = [
      "import os, socket, subprocess, sys",
      // Keep fd 3 free for the listen fd: the socket pair lands above it.
      "spare = [os.open('/dev/null', os.O_RDONLY) for _ in range(3)]",
      "a, b = socket.socketpair()",
      "if b.fileno() != 3: os.dup2(b.fileno(), 3)",
      "os.set_inheritable(3, True)",
      "env = dict(os.environ, LISTEN_FDS='1', LISTEN_FDNAMES='conn')",
      "p = subprocess.Popen(['sh', '-c', 'export LISTEN_PID=$$; exec \"$@\"', 'sh'] + sys.argv[1:], pass_fds=(3,), env=env)",
      "b.close()",
      "os.close(3)",
      "code = p.wait()",
      "a.settimeout(10)",
      "print(code, a.recv(1000).decode(), end='')",
    ].join("\n");
    const py = join(work, "listen.py");
    writeFileSync(py, script);
    const p = Bun.spawn(["python3", py, SKIFF_BIN, "run", "--rm", ...NET, image, "sh", "-c", 'echo "fds=$LISTEN_FDS pid=$LISTEN_PID names=$LISTEN_FDNAMES" >&3'], {
      env: storageEnv(),
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
    expect(await p.exited, err).toBe(0);
    expect(out).toBe("0 fds=1 pid=1 names=conn\n");
  });

  describe("foreground runs as a unit's main process", () => {
    test("without NOTIFY_SOCKET (Type=simple): SIGTERM is passed to the container and its exit code is ours", async () => {
      const r = await harness([SKIFF_BIN, "run", "--rm", "--name", "fg1", ...NET, image, "sh", "-c", 'trap "echo got TERM; exit 42" TERM; echo up; while :; do sleep 1; done'], {
        notify: false,
        delay: 1.5,
        killStart: "TERM",
      });
      expect(r.exits[String(r.start_pid)]).toEqual({ code: 42 });
      expect(r.output).toBe("up\ngot TERM\n");
      expect(await gone("fg1")).toBe(true);
    });

    test("a SIGTERM while the run is still starting is not lost: the container never runs on alone", async () => {
      for (const delay of [5, 60, 150]) {
        const name = `early${delay}`;
        const p = spawnSkiff(["run", "--rm", "--name", name, ...NET, image, "sh", "-c", 'trap "exit 5" TERM; while :; do sleep 1; done']);
        await Bun.sleep(delay);
        p.kill("SIGTERM");
        // A signal that reaches the container before its shell set the trap is ignored
        // (it is PID 1 there), as systemd would, try again; the CLI must still be there to pass it on.
        let code = await Promise.race([p.exited, Bun.sleep(3000).then(() => -1)]);
        if (code === -1) {
          p.kill("SIGTERM");
          code = await Promise.race([p.exited, Bun.sleep(20_000).then(() => -1)]);
        }
        // Before the container ran: 128+15; after: the container's own answer.
        expect([143, 5]).toContain(code);
        for (let i = 0; i < 50 && !(await gone(name)); i++) await Bun.sleep(100);
        expect(await gone(name)).toBe(true);
      }
    });

    test("a container that fails: the shim (MAINPID) exits with its code, so Restart=on-failure restarts", async () => {
      const r = await harness([SKIFF_BIN, "run", "--rm", "--name", "fg2", ...NET, image, "sh", "-c", "echo bye; exit 3"]);
      expect(r.ready).toBe(true);
      const main = r.mainpid as number;
      expect(r.messages[0]?.pid).toBe(main);
      expect(r.exits[String(r.start_pid)]).toEqual({ code: 3 });
      expect(r.exits[String(main)]).toEqual({ code: 3 });
    });

    test("SIGTERM to MAINPID (KillMode=mixed) stops the container; the shim exits 0, as a service stopped on purpose", async () => {
      const r = await harness([SKIFF_BIN, "run", "--rm", "--name", "fg3", ...NET, image, "sh", "-c", 'trap "exit 7" TERM; while :; do sleep 1; done'], { killMain: "TERM", delay: 1 });
      const main = r.mainpid as number;
      expect(r.ready).toBe(true);
      expect(r.exits[String(main)]).toEqual({ code: 0 });
      expect(r.exits[String(r.start_pid)]).toEqual({ code: 7 });
      expect(await gone("fg3")).toBe(true);
    });
  });

  describe("a Quadlet unit, run as systemd would", () => {
    test("ExecStart: READY with the shim as MAINPID; ExecStop stops it gracefully; ExecStopPost cleans up; output goes to the journal (stdout)", async () => {
      const dir = join(work, "quadlet-a");
      const dry = await writeQuadlet(
        dir,
        "web.container",
        ["[Container]", `Image=${image}`, "Network=none", `Exec=sh -c 'trap "echo bye; exit 0" TERM; echo started; while :; do sleep 1; done'`, "StopTimeout=15", ""].join("\n"),
      );
      const unit = unitText(dry, "web.service");
      const spec = { t: runtimeDir, n: "web.service", N: "web" };
      const [start] = serviceLines(unit, "ExecStart");
      const [stop] = serviceLines(unit, "ExecStop");
      const [post] = serviceLines(unit, "ExecStopPost");
      expect(serviceLines(unit, "Type")).toEqual(["notify"]);
      const unitEnv = Object.fromEntries(serviceLines(unit, "Environment").map((e) => e.replace("%n", "web.service").split("=", 2) as [string, string]));
      const r = await harness(unitArgv(start as string, spec), { env: unitEnv, stop: [unitArgv(stop as string, spec)], killMain: "TERM", stopPost: [unitArgv(post as string, spec)], delay: 1 });
      expect(r.ready).toBe(true);
      const main = r.mainpid as number;
      expect(r.messages).toEqual([{ pid: main, data: `MAINPID=${main}\nREADY=1` }]);
      expect(r.commands.map((c) => c.code)).toEqual([0, 0]);
      expect(r.exits[String(main)]).toEqual({ code: 0 });
      expect(r.exits[String(r.start_pid)]).toEqual({ code: 0 });
      expect(r.output).toBe("started\nbye\n");
      expect(await gone("systemd-web")).toBe(true);
      expect(existsSync(join(runtimeDir, "web.cid"))).toBe(false);
      expect(r.timed_out).toBe(false);
    });

    test("a second start replaces a stale container of the same name and a leftover cidfile", async () => {
      const dir = join(work, "quadlet-b");
      const dry = await writeQuadlet(dir, "stale.container", ["[Container]", `Image=${image}`, "Network=none", "Exec=sleep 60", "StopTimeout=1", ""].join("\n"));
      const unit = unitText(dry, "stale.service");
      const spec = { t: runtimeDir, n: "stale.service", N: "stale" };
      const [start] = serviceLines(unit, "ExecStart");
      const [stop] = serviceLines(unit, "ExecStop");
      // As after a crash: the container still there (not running), its cidfile too.
      const old = (await env.ok(["create", "--name", "systemd-stale", ...NET, image, "true"])).trim();
      writeFileSync(join(runtimeDir, "stale.cid"), old);
      const r = await harness(unitArgv(start as string, spec), { stop: [unitArgv(stop as string, spec)] });
      expect(r.ready).toBe(true);
      expect(r.commands[0]?.code).toBe(0);
      expect(r.commands[0]?.stdout.trim()).not.toBe(old);
      expect((await env.run(["inspect", old])).code).not.toBe(0);
    });
  });

  describe("run, rm and stop for units", () => {
    test("--replace stops and removes a running container of the same name; without one it is no error", async () => {
      await env.ok(["run", "-d", "--name", "r1", "--stop-timeout", "1", ...NET, image, "sleep", "60"]);
      const oldId = (await env.ok(["inspect", "-f", "{{.Id}}", "r1"])).trim();
      expect(await env.ok(["run", "--rm", "--replace", "--name", "r1", ...NET, image, "echo", "new"])).toBe("new\n");
      expect((await env.run(["inspect", oldId])).code).not.toBe(0);
      expect(await env.ok(["run", "--rm", "--replace", "--name", "r2", ...NET, image, "echo", "fresh"])).toBe("fresh\n");
    });

    test("--pidfile is the shim's pid (alive as long as the container); --cidfile, rm --cidfile and --ignore", async () => {
      const pidfile = join(work, "p1.pid");
      const cidfile = join(work, "p1.cid");
      const id = (await env.ok(["run", "-d", "--name", "p1", "--pidfile", pidfile, "--cidfile", cidfile, ...NET, image, "sleep", "60"])).trim();
      const shim = Number(readFileSync(pidfile, "utf8"));
      expect(cmdline(shim)).toContain("__shim");
      expect(readFileSync(cidfile, "utf8")).toBe(id);
      const dup = await env.run(["run", "-d", "--cidfile", cidfile, ...NET, image, "true"]);
      expect(dup.code).toBe(125);
      expect(dup.stderr).toContain("container ID file found");
      expect(await env.ok(["rm", "-f", "-t", "2", "--cidfile", cidfile])).toBe(`${id}\n`);
      expect(existsSync(cidfile)).toBe(false);
      for (let i = 0; i < 50 && cmdline(shim).includes("__shim"); i++) await Bun.sleep(100);
      expect(cmdline(shim)).not.toContain("__shim");
      expect((await env.run(["rm", "-f", "-i", "--cidfile", cidfile])).code).toBe(0);
      expect((await env.run(["rm", "-i", "no-such-container"])).code).toBe(0);
      expect((await env.run(["rm", "no-such-container"])).code).toBe(1);
      expect((await env.run(["stop", "--ignore", "--cidfile", cidfile])).code).toBe(0);
      expect((await env.run(["rm"])).code).toBe(125);
    });

    test("skiff start under a unit (generate systemd without --new): the new shim notifies; an already running one is named by the CLI", async () => {
      await env.ok(["create", "--name", "s1", ...NET, image, "sleep", "60"]);
      const listener = await startNotifyListener(sockPath());
      try {
        const p = spawnSkiff(["start", "s1"], { NOTIFY_SOCKET: listener.address });
        expect(await p.exited).toBe(0);
        const msgs = await listener.waitFor((m) => m.length >= 1);
        const main = Number(msgs[0]?.data.split("\n")[0]?.slice("MAINPID=".length));
        expect(msgs[0]?.data).toBe(`MAINPID=${main}\nREADY=1`);
        expect(cmdline(main)).toContain("__shim");
        const again = spawnSkiff(["start", "s1"], { NOTIFY_SOCKET: listener.address });
        expect(await again.exited).toBe(0);
        const both = await listener.waitFor((m) => m.length >= 2);
        expect(both[1]?.data).toBe(`MAINPID=${main}\nREADY=1`);
      } finally {
        listener.stop();
        await env.run(["rm", "-f", "s1"]);
      }
    });
  });

  describe.skipIf(verifySkip !== undefined)("generated units pass systemd-analyze verify", () => {
    async function verify(dir: string, files: string[]): Promise<{ code: number; stderr: string }> {
      const args = ["systemd-analyze", ...(isRoot ? [] : ["--user"]), "verify", ...files.map((f) => join(dir, f))];
      const p = Bun.spawn(args, { cwd: dir, env: { ...process.env, XDG_RUNTIME_DIR: runtimeDir, SYSTEMD_LOG_LEVEL: "warning" }, stdout: "pipe", stderr: "pipe" });
      const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
      return { code, stderr };
    }

    test("Quadlet: .container, .volume, .network, .image (written by the generator, with its install links)", async () => {
      const src = join(work, "quadlet-verify");
      mkdirSync(src, { recursive: true });
      writeFileSync(join(src, "app.container"), ["[Unit]", "Description=App", "[Container]", "Image=app.image", "Volume=data.volume:/data", "Network=net.network", "PublishPort=8080:80", "Environment=A=1", "Notify=yes", "[Service]", "Restart=on-failure", "[Install]", "WantedBy=default.target", ""].join("\n"));
      writeFileSync(join(src, "data.volume"), "[Volume]\nLabel=a=b\n");
      writeFileSync(join(src, "net.network"), "[Network]\nSubnet=10.91.0.0/24\n");
      writeFileSync(join(src, "app.image"), `[Image]\nImage=${image}\n`);
      const out = join(work, "generator-out");
      const gen = await env.run(["systemd-generator", ...(isRoot ? [] : ["--user"]), out, join(work, "early"), join(work, "late")], { env: { SKIFF_QUADLET_UNIT_DIRS: src } });
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
      await env.ok(["create", "--name", "g1", ...NET, "-e", "GREETING=100% $HOME", "-v", "g1data:/data", image, "sh", "-c", "echo $GREETING; sleep 60"]);
      const dir = join(work, "generate-verify");
      mkdirSync(dir, { recursive: true });
      const a = JSON.parse(await env.ok(["generate", "systemd", "--name", "--format", "json", "g1"])) as Record<string, string>;
      const b = JSON.parse(await env.ok(["generate", "systemd", "--name", "--new", "--container-prefix", "new", "--restart-policy", "always", "--format", "json", "g1"])) as Record<string, string>;
      for (const [name, text] of Object.entries({ ...a, ...b })) writeFileSync(join(dir, name), text);
      expect(Object.keys({ ...a, ...b })).toEqual(["container-g1.service", "new-g1.service"]);
      const v = await verify(dir, ["container-g1.service", "new-g1.service"]);
      expect(v.stderr).toBe("");
      expect(v.code).toBe(0);
      await env.ok(["rm", "g1"]);
    });

    test("the README's units, as written (with this build's path for /usr/local/bin/skiff)", async () => {
      const readme = readFileSync(join(import.meta.dir, "..", "..", "README.md"), "utf8");
      const blocks = [...readme.matchAll(/```ini\n# (\S+)\n([\s\S]*?)```/g)].map((m) => ({ path: m[1] as string, body: m[2] as string }));
      const container = blocks.find((b) => b.path.endsWith("hello.container"));
      const service = blocks.find((b) => b.path.endsWith("container-web.service"));
      expect(container && service).toBeDefined();
      const src = join(work, "readme-src");
      const out = join(work, "readme-out");
      mkdirSync(src, { recursive: true });
      writeFileSync(join(src, "hello.container"), container?.body ?? "");
      const gen = await env.run(["systemd-generator", ...(isRoot ? [] : ["--user"]), out], { env: { SKIFF_QUADLET_UNIT_DIRS: src } });
      expect(gen.stderr).toBe("");
      writeFileSync(join(out, "container-web.service"), (service?.body ?? "").replaceAll("/usr/local/bin/skiff", SKIFF_BIN));
      const v = await verify(out, ["hello.service", "container-web.service"]);
      expect(v.stderr).toBe("");
      expect(v.code).toBe(0);
    });

    test("a broken unit is caught (the check is real)", async () => {
      const dir = join(work, "verify-broken");
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "bad.service"), "[Service]\nExecStart=/nonexistent/skiff run busybox\n");
      const v = await verify(dir, ["bad.service"]);
      expect(v.code).not.toBe(0);
      expect(v.stderr).toContain("/nonexistent/skiff");
    });

    test("generate systemd --new: the unit's ExecStart, run as systemd would, creates the container again", async () => {
      await env.ok(["create", "--name", "g2", ...NET, "-e", "GREETING=100% $HOME", image, "sh", "-c", 'trap "exit 0" TERM; echo "$GREETING"; while :; do sleep 1; done']);
      const unit = (JSON.parse(await env.ok(["generate", "systemd", "--name", "--new", "--format", "json", "g2"])) as Record<string, string>)["container-g2.service"] as string;
      await env.ok(["rm", "g2"]);
      const spec = { t: runtimeDir, n: "container-g2.service", N: "container-g2" };
      const [start] = serviceLines(unit, "ExecStart");
      const [stop] = serviceLines(unit, "ExecStop");
      const [post] = serviceLines(unit, "ExecStopPost");
      const r = await harness(unitArgv(start as string, spec), { stop: [unitArgv(stop as string, spec)], stopPost: [unitArgv(post as string, spec)], killMain: "TERM", delay: 1 });
      expect(r.ready).toBe(true);
      expect(r.output).toBe("100% $HOME\n");
      expect(r.commands.map((c) => c.code)).toEqual([0, 0]);
      expect(r.exits[String(r.mainpid)]).toEqual({ code: 0 });
      expect(await gone("g2")).toBe(true);
    });
  });

  describe("auto-update", () => {
    test("--dry-run lists labelled containers; an update pulls the new image and, without systemd, reports the restart as pending", async () => {
      const ref = `${reg.host}/busybox:update`;
      await env.ok(["pull", "-q", ref]);
      await env.ok(["run", "-d", "--name", "au1", "--label", "io.containers.autoupdate=registry", ...NET, ref, "sleep", "60"], { env: { SKIFF_SYSTEMD_UNIT: "au1.service" } });
      await env.ok(["run", "-d", "--name", "au2", "--label", "io.containers.autoupdate=registry", ...NET, ref, "sleep", "60"]);
      const fmt = "{{.Unit}} {{.ContainerName}} {{.Image}} {{.Policy}} {{.Updated}}";
      const fresh = await env.run(["auto-update", "--dry-run", "--format", fmt]);
      expect(fresh.stdout).toBe(`au1.service au1 ${ref} registry false\n au2 ${ref} registry failed\n`);
      expect(fresh.stderr).toContain("no SKIFF_SYSTEMD_UNIT label found");
      expect(fresh.code).toBe(125);
      await env.ok(["rm", "-f", "au2"]);
      // A new image behind the same tag.
      await pushLayout(join(work, "layout"), ref, { tag: "v2" });
      const table = await env.ok(["auto-update", "--dry-run"]);
      expect(table.split("\n")[0]).toMatch(/^UNIT\s+CONTAINER\s+IMAGE\s+POLICY\s+UPDATED$/);
      expect(table).toMatch(/au1\.service\s+[0-9a-f]{12} \(au1\)\s+\S+\s+registry\s+pending/);
      const upd = await env.ok(["auto-update", "--format", fmt]);
      expect(upd).toBe(`au1.service au1 ${ref} registry pending restart\n`);
      // The tag now names the new image locally.
      expect(await env.ok(["run", "--rm", ...NET, ref, "cat", "/etc/version"])).toBe("2\n");
      await env.ok(["rm", "-f", "au1"]);
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
      await env.ok(["create", "--name", "e2e1", ...NET, image, "sh", "-c", 'trap "exit 0" TERM; while :; do sleep 1; done']);
      const unit = (JSON.parse(await env.ok(["generate", "systemd", "--name", "--new", "--format", "json", "e2e1"])) as Record<string, string>)["container-e2e1.service"] as string;
      await env.ok(["rm", "e2e1"]);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, unitName), unit.replace("[Service]\n", `[Service]\nEnvironment=SKIFF_ROOT=${env.root} SKIFF_RUNROOT=${env.runRoot}\n`));
      try {
        expect(sc(["daemon-reload"]).code).toBe(0);
        const started = sc(["start", unitName]);
        expect(started.code, started.out).toBe(0);
        const show = sc(["show", "-p", "ActiveState", "-p", "MainPID", unitName]).out;
        expect(show).toContain("ActiveState=active");
        const main = Number(/MainPID=(\d+)/.exec(show)?.[1]);
        expect(cmdline(main)).toContain("__shim");
        expect(sc(["stop", unitName]).code).toBe(0);
        expect(await gone("e2e1")).toBe(true);
      } finally {
        sc(["stop", unitName]);
        rmSync(join(dir, unitName), { force: true });
        sc(["daemon-reload"]);
      }
    });
  });
});

/**
 * skiff under systemd, end to end without systemd as PID 1: --sdnotify
 * (each mode's messages and MAINPID) and foreground runs as a unit's main
 * process, through tests/helpers/systemd-fixture.ts. CI runs this file as
 * root and as an unprivileged user with a subuid range.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startNotifyListener, type NotifyListener } from "../helpers/notify-socket.ts";
import { SKIFF_BIN } from "../helpers/skiff.ts";
import { cmdline, NET, systemdFixture, type SystemdFixture, systemdSkipReason } from "../helpers/systemd-fixture.ts";

const skip = systemdSkipReason();
if (skip) console.warn(`skipping systemd tests: ${skip}`);

let fx: SystemdFixture;

describe.skipIf(skip !== undefined)("systemd: notification, socket activation, units", () => {
  beforeAll(async () => {
    fx = await systemdFixture("systemd");
  }, 120_000);

  afterAll(async () => {
    await fx?.close();
  });

  describe("--sdnotify", () => {
    let listener: NotifyListener | undefined;
    afterAll(() => listener?.stop());

    test("conmon (the default): one message, MAINPID=<shim> and READY=1, sent by the shim; --pidfile holds the same pid", async () => {
      listener = await startNotifyListener(fx.sockPath());
      const pidfile = join(fx.work, "c1.pid");
      const p = fx.spawnSkiff(["run", "-d", "--rm", "--name", "c1", "--pidfile", pidfile, ...NET, fx.image, "sleep", "60"], { NOTIFY_SOCKET: listener.address });
      expect(await p.exited).toBe(0);
      const msgs = await listener.waitFor((m) => m.length >= 1);
      const shim = Number(readFileSync(pidfile, "utf8").trim());
      expect(msgs.map((m) => m.data)).toEqual([`MAINPID=${shim}\nREADY=1`]);
      expect(msgs[0]?.pid).toBe(shim);
      expect(cmdline(shim)).toContain("__shim");
      // The container does not get the manager's socket.
      expect(await fx.env.ok(["exec", "c1", "sh", "-c", "echo ${NOTIFY_SOCKET:-none}"])).toBe("none\n");
      await fx.env.ok(["rm", "-f", "c1"]);
      await Bun.sleep(300);
      expect(listener.messages.length).toBe(1);
      listener.stop();
      listener = undefined;
    });

    test("an abstract NOTIFY_SOCKET (@name) works the same", async () => {
      listener = await startNotifyListener(`@skiff-test-${process.pid}-${Date.now()}`);
      const pidfile = join(fx.work, "c2.pid");
      const p = fx.spawnSkiff(["run", "-d", "--rm", "--name", "c2", "--pidfile", pidfile, ...NET, fx.image, "sleep", "60"], { NOTIFY_SOCKET: listener.address });
      expect(await p.exited).toBe(0);
      const msgs = await listener.waitFor((m) => m.length >= 1);
      const shim = Number(readFileSync(pidfile, "utf8").trim());
      expect(msgs.map((m) => [m.pid, m.data])).toEqual([[shim, `MAINPID=${shim}\nREADY=1`]]);
      await fx.env.ok(["rm", "-f", "c2"]);
      listener.stop();
      listener = undefined;
    });

    test("container: the container gets its own NOTIFY_SOCKET; its READY/STATUS come through with the shim's MAINPID, its own MAINPID does not", async () => {
      listener = await startNotifyListener(fx.sockPath());
      const pidfile = join(fx.work, "c3.pid");
      // busybox has no systemd-notify: logger speaks datagrams to /dev/log, and a
      // syslog header line without "=" is dropped like any line that is no assignment.
      const script = 'echo "$NOTIFY_SOCKET"; ln -s "$NOTIFY_SOCKET" /dev/log && logger "$(printf "x\\nSTATUS=starting")" && sleep 1 && logger "$(printf "x\\nREADY=1\\nSTATUS=serving\\nMAINPID=1")" && sleep 60';
      const p = fx.spawnSkiff(["run", "-d", "--rm", "--name", "c3", "--sdnotify=container", "--pidfile", pidfile, ...NET, fx.image, "sh", "-c", script], { NOTIFY_SOCKET: listener.address });
      expect(await p.exited).toBe(0);
      const shim = Number(readFileSync(pidfile, "utf8").trim());
      const msgs = await listener.waitFor((m) => m.some((x) => x.data.includes("READY=1")));
      expect(msgs.map((m) => m.data)).toEqual([`MAINPID=${shim}`, "STATUS=starting", `MAINPID=${shim}\nREADY=1\nSTATUS=serving`]);
      expect(msgs.every((m) => m.pid === shim)).toBe(true);
      expect(await fx.env.ok(["logs", "c3"])).toBe("/run/notify/notify.sock\n");
      await fx.env.ok(["rm", "-f", "c3"]);
      listener.stop();
      listener = undefined;
    });

    test("ignore: nothing is sent and the container gets no NOTIFY_SOCKET", async () => {
      listener = await startNotifyListener(fx.sockPath());
      const p = fx.spawnSkiff(["run", "--rm", "--sdnotify=ignore", ...NET, fx.image, "sh", "-c", "echo ${NOTIFY_SOCKET:-none}"], { NOTIFY_SOCKET: listener.address });
      expect(await new Response(p.stdout).text()).toBe("none\n");
      expect(await p.exited).toBe(0);
      await Bun.sleep(300);
      expect(listener.messages).toEqual([]);
      listener.stop();
      listener = undefined;
    });

    test("healthy: MAINPID at start, READY only once the healthcheck first passes", async () => {
      const help = await fx.env.run(["run", "--help"]);
      if (!help.stdout.includes("--health-cmd")) {
        console.warn("skipping --sdnotify=healthy: this build has no --health-cmd");
        return;
      }
      listener = await startNotifyListener(fx.sockPath());
      const pidfile = join(fx.work, "c4.pid");
      const started = Date.now();
      const p = fx.spawnSkiff(
        ["run", "-d", "--rm", "--name", "c4", "--sdnotify=healthy", "--health-cmd", "test -e /tmp/ready", "--health-interval", "1s", "--pidfile", pidfile, ...NET, fx.image, "sh", "-c", "sleep 2; touch /tmp/ready; sleep 60"],
        { NOTIFY_SOCKET: listener.address },
      );
      expect(await p.exited).toBe(0);
      const shim = Number(readFileSync(pidfile, "utf8").trim());
      const first = await listener.waitFor((m) => m.length >= 1);
      expect(first[0]?.data).toBe(`MAINPID=${shim}`);
      const msgs = await listener.waitFor((m) => m.length >= 2, 30_000);
      expect(msgs[1]?.data).toBe("READY=1");
      expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
      await fx.env.ok(["rm", "-f", "c4"]);
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
    const py = join(fx.work, "listen.py");
    writeFileSync(py, script);
    const p = Bun.spawn(["python3", py, SKIFF_BIN, "run", "--rm", ...NET, fx.image, "sh", "-c", 'echo "fds=$LISTEN_FDS pid=$LISTEN_PID names=$LISTEN_FDNAMES" >&3'], {
      env: fx.storageEnv(),
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
    expect(await p.exited, err).toBe(0);
    expect(out).toBe("0 fds=1 pid=1 names=conn\n");
  });

  describe("foreground runs as a unit's main process", () => {
    test("without NOTIFY_SOCKET (Type=simple): SIGTERM is passed to the container and its exit code is ours", async () => {
      const r = await fx.harness([SKIFF_BIN, "run", "--rm", "--name", "fg1", ...NET, fx.image, "sh", "-c", 'trap "echo got TERM; exit 42" TERM; echo up; while :; do sleep 1; done'], {
        notify: false,
        delay: 1.5,
        killStart: "TERM",
      });
      expect(r.exits[String(r.start_pid)]).toEqual({ code: 42 });
      expect(r.output).toBe("up\ngot TERM\n");
      expect(await fx.gone("fg1")).toBe(true);
    });

    test("a SIGTERM while the run is still starting is not lost: the container never runs on alone", async () => {
      for (const delay of [5, 60, 150]) {
        const name = `early${delay}`;
        const p = fx.spawnSkiff(["run", "--rm", "--name", name, ...NET, fx.image, "sh", "-c", 'trap "exit 5" TERM; while :; do sleep 1; done']);
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
        for (let i = 0; i < 50 && !(await fx.gone(name)); i++) await Bun.sleep(100);
        expect(await fx.gone(name)).toBe(true);
      }
    });

    test("a container that fails: the shim (MAINPID) exits with its code, so Restart=on-failure restarts", async () => {
      const r = await fx.harness([SKIFF_BIN, "run", "--rm", "--name", "fg2", ...NET, fx.image, "sh", "-c", "echo bye; exit 3"]);
      expect(r.ready).toBe(true);
      const main = r.mainpid as number;
      expect(r.messages[0]?.pid).toBe(main);
      expect(r.exits[String(r.start_pid)]).toEqual({ code: 3 });
      expect(r.exits[String(main)]).toEqual({ code: 3 });
    });

    test("SIGTERM to MAINPID (KillMode=mixed) stops the container; the shim exits 0, as a service stopped on purpose", async () => {
      const r = await fx.harness([SKIFF_BIN, "run", "--rm", "--name", "fg3", ...NET, fx.image, "sh", "-c", 'trap "exit 7" TERM; while :; do sleep 1; done'], { killMain: "TERM", delay: 1 });
      const main = r.mainpid as number;
      expect(r.ready).toBe(true);
      expect(r.exits[String(main)]).toEqual({ code: 0 });
      expect(r.exits[String(r.start_pid)]).toEqual({ code: 7 });
      expect(await fx.gone("fg3")).toBe(true);
    });
  });
});

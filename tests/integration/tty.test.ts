/**
 * Interactive sessions under a real pseudo-terminal (Bun's terminal
 * support stands in for the user's): `run -it`, its size and job control,
 * Ctrl-P Ctrl-Q and `attach`, `exec -it`; and a foreground `run` passing
 * signals on. The compiled binary, real runc; CI runs it as root and rootless.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Collector, containerFixture, containerSkipReason, until, type ContainerFixture } from "../helpers/containers.ts";
import { SKIFF_BIN } from "../helpers/skiff.ts";

const skip = containerSkipReason();
if (skip) console.warn(`skipping tty tests: ${skip}`);

let fx: ContainerFixture;

/** skiff on the far side of a pty, as a user at a terminal would run it. */
class Terminal {
  text = "";
  readonly proc: Bun.Subprocess;
  #marks = 0;

  constructor(args: string[], size: { cols: number; rows: number } = { cols: 100, rows: 30 }) {
    const dec = new TextDecoder();
    this.proc = Bun.spawn([SKIFF_BIN, ...args], {
      env: { ...fx.vars, TERM: "xterm" },
      terminal: {
        ...size,
        data: (_t, d) => {
          this.text += dec.decode(d, { stream: true });
        },
      },
    });
  }

  write(s: string): void {
    this.proc.terminal?.write(s);
  }

  resize(cols: number, rows: number): void {
    this.proc.terminal?.resize(cols, rows);
  }

  async waitFor(re: RegExp | string, ms = 10_000): Promise<void> {
    const ok = await until(() => (typeof re === "string" ? this.text.includes(re) : re.test(this.text)), ms);
    if (!ok) throw new Error(`timed out waiting for ${String(re)}; the terminal shows ${JSON.stringify(this.text)}`);
  }

  /** Types a shell command and returns what it printed (between two markers the shell expands). */
  async sh(command: string): Promise<string> {
    this.#marks += 1;
    const n = this.#marks;
    // $((n*1000+1)) is typed, the marker only appears once the shell ran it.
    this.write(`echo B$((${n}*1000+1)); ${command}; echo E$((${n}*1000+1))\r`);
    const begin = `B${n * 1000 + 1}\r\n`;
    const end = `E${n * 1000 + 1}\r\n`;
    await this.waitFor(end);
    return this.text.slice(this.text.lastIndexOf(begin) + begin.length, this.text.lastIndexOf(end));
  }

  async exited(ms = 10_000): Promise<number> {
    const code = await Promise.race([this.proc.exited, Bun.sleep(ms).then(() => -1)]);
    if (code === -1) {
      this.proc.kill("SIGKILL");
      throw new Error(`skiff did not exit; the terminal shows ${JSON.stringify(this.text)}`);
    }
    this.proc.terminal?.close();
    return code;
  }
}

async function status(name: string): Promise<string> {
  return (await fx.env.ok(["inspect", "-f", "{{.State.Status}}", name])).trim();
}

describe.skipIf(skip !== undefined)("terminals and signals", () => {
  beforeAll(async () => {
    fx = await containerFixture("tty");
  }, 120_000);

  afterAll(async () => {
    await fx?.close();
  });

  describe("interactive terminals", () => {
    test("run -it: a real terminal with the client's size, job control and the exit code", async () => {
      const t = new Terminal(["run", "-it", "--rm", "--name", "it", fx.image, "sh"], { cols: 100, rows: 30 });
      await t.waitFor("/ # ");
      expect(await t.sh("tty")).toMatch(/^\/dev\/pts\/\d+\r\n$/);
      expect(await t.sh("stty size")).toBe("30 100\r\n");
      // A resize reaches the container (SIGWINCH all the way down).
      t.resize(120, 40);
      expect(await until(async () => (await t.sh("stty size")) === "40 120\r\n", 5000)).toBe(true);
      // Job control: the shell has a controlling terminal and its own process group.
      await t.sh("sleep 30 & :");
      expect(await t.sh("jobs")).toMatch(/\[1\]\+ +Running +sleep 30/);
      expect(await t.sh("kill %1; wait; jobs; echo done")).toContain("done");
      // Raw mode as Docker's: line ends come through once, not doubled.
      expect(t.text).not.toContain("\r\r\n");
      t.write("exit 3\r");
      expect(await t.exited()).toBe(3);
      // --rm: gone once the CLI returns.
      expect((await fx.env.run(["inspect", "it"])).code).not.toBe(0);
    });

    test("Ctrl-P Ctrl-Q detaches, the container runs on, attach takes over", async () => {
      const t = new Terminal(["run", "-it", "--name", "detach-me", fx.image, "sh"]);
      await t.waitFor("/ # ");
      await t.sh("echo first > /tmp/state");
      t.write("\x10\x11");
      expect(await t.exited()).toBe(0);
      expect(await status("detach-me")).toBe("running");
      const a = new Terminal(["attach", "detach-me"], { cols: 90, rows: 25 });
      // Attach shows nothing old: type to see the shell is there.
      expect(await a.sh("cat /tmp/state")).toBe("first\r\n");
      expect(await a.sh("stty size")).toBe("25 90\r\n");
      a.write("exit 4\r");
      expect(await a.exited()).toBe(4);
      expect((await fx.env.ok(["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "detach-me"])).trim()).toBe("exited 4");
      await fx.env.ok(["rm", "detach-me"]);
    });

    test("--detach-keys changes the sequence; a lone Ctrl-P still reaches the container", async () => {
      const t = new Terminal(["run", "-it", "--detach-keys", "ctrl-x,x", "--name", "keys", fx.image, "sh"]);
      await t.waitFor("/ # ");
      // Ctrl-P alone is ordinary input (the shell's line editor sees it).
      t.write("\x10");
      expect(await t.sh("echo alive")).toBe("alive\r\n");
      t.write("\x18x");
      expect(await t.exited()).toBe(0);
      expect(await status("keys")).toBe("running");
      await fx.env.ok(["rm", "-f", "keys"]);
    });

    test("exec -it: a terminal of its own, sized by the client", async () => {
      await fx.env.ok(["run", "-d", "--name", "exec-it", fx.image, "sleep", "300"]);
      const t = new Terminal(["exec", "-it", "exec-it", "sh"], { cols: 70, rows: 20 });
      await t.waitFor("/ # ");
      expect(await t.sh("tty")).toMatch(/^\/dev\/pts\/\d+\r\n$/);
      expect(await until(async () => (await t.sh("stty size")) === "20 70\r\n", 5000)).toBe(true);
      t.resize(110, 35);
      expect(await until(async () => (await t.sh("stty size")) === "35 110\r\n", 5000)).toBe(true);
      t.write("exit 5\r");
      expect(await t.exited()).toBe(5);
      expect(await status("exec-it")).toBe("running");
      await fx.env.ok(["rm", "-f", "exec-it"]);
    });

    test("run -t without a terminal on our side still gives the container one", async () => {
      const r = await fx.env.run(["run", "--rm", "-t", fx.image, "sh", "-c", "tty; test -t 1 && echo is-a-tty"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^\/dev\/pts\/\d+\r\nis-a-tty\r\n$/);
    });
  });

  describe("signals", () => {
    const TRAPS = "trap 'echo got TERM; exit 42' TERM; trap 'echo got INT; exit 43' INT; echo ready; while :; do sleep 0.1; done";

    test("a foreground run passes SIGTERM and SIGINT to the container", async () => {
      for (const [signal, code, said] of [
        ["SIGTERM", 42, "got TERM"],
        ["SIGINT", 43, "got INT"],
      ] as const) {
        const p = fx.spawn(["run", "--rm", fx.image, "sh", "-c", TRAPS]);
        const out = new Collector(p.stdout);
        await out.waitFor("ready\n");
        p.kill(signal);
        expect(await p.exited).toBe(code);
        await out.done;
        expect(out.text).toBe(`ready\n${said}\n`);
      }
    });

    test("--sig-proxy=false: the signal ends only the CLI; the container runs on", async () => {
      const p = fx.spawn(["run", "--sig-proxy=false", "--name", "no-proxy", fx.image, "sh", "-c", TRAPS]);
      const out = new Collector(p.stdout);
      await out.waitFor("ready\n");
      p.kill("SIGTERM");
      await p.exited;
      await Bun.sleep(300);
      expect(await status("no-proxy")).toBe("running");
      expect(await fx.env.ok(["logs", "no-proxy"])).toBe("ready\n");
      await fx.env.ok(["stop", "no-proxy"]);
      expect((await fx.env.ok(["inspect", "-f", "{{.State.ExitCode}}", "no-proxy"])).trim()).toBe("42");
      await fx.env.ok(["rm", "no-proxy"]);
    });

    test("attach passes signals on too", async () => {
      await fx.env.ok(["run", "-d", "--name", "attached", fx.image, "sh", "-c", TRAPS]);
      const p = fx.spawn(["attach", "attached"]);
      await Bun.sleep(300);
      p.kill("SIGINT");
      expect(await p.exited).toBe(43);
      await fx.env.ok(["rm", "attached"]);
    });
  });
});

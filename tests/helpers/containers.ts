/**
 * Shared fixture for the container integration tests: a loopback registry
 * serving busybox (built from the host's /bin/busybox), a private skiff
 * storage with the image pulled, and probes that look at the machine the
 * way an operator would (processes, mounts, runc state, files on disk).
 *
 *   const fx = await containerFixture("run");
 *   const r = await fx.env.run(["run", "--rm", fx.image, "true"]);
 *   ...
 *   await fx.close(); // removes every container by id, then storage and registry
 *
 * Every skip reason is stated; nothing here kills a process by name.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { busyboxImage, pushLayout, writeImageLayout } from "./images.ts";
import { registrySkipReason, startRegistry, type TestRegistry } from "./registry.ts";
import { binaryMissingReason, makeSkiffEnv, SKIFF_BIN, skiffProcessEnv, type SkiffEnv } from "./skiff.ts";

export const isRoot = process.getuid?.() === 0;

/** Why rootless containers cannot run for this user, or undefined (always undefined as root). */
export function rootlessSkipReason(): string | undefined {
  if (isRoot) return undefined;
  if (!Bun.which("newuidmap")) return "newuidmap is not installed (package uidmap)";
  const uid = process.getuid?.() ?? 0;
  const user = Bun.spawnSync(["id", "-un"]).stdout.toString().trim();
  const subuid = existsSync("/etc/subuid") ? readFileSync("/etc/subuid", "utf8") : "";
  if (!subuid.split("\n").some((l) => l.startsWith(`${user}:`) || l.startsWith(`${uid}:`))) return `no /etc/subuid range for ${user}`;
  return undefined;
}

/** Why container tests cannot run here, or undefined. */
export function containerSkipReason(): string | undefined {
  return binaryMissingReason() ?? registrySkipReason() ?? (Bun.which("runc") ? undefined : "runc is not installed") ?? rootlessSkipReason();
}

export interface ContainerFixture {
  env: SkiffEnv;
  reg: TestRegistry;
  /** The busybox image as pulled: "127.0.0.1:PORT/busybox:latest". */
  image: string;
  /** A scratch directory for the test file (host files, bind mount sources). */
  work: string;
  /** Environment for spawning skiff directly (long-running commands, ptys). */
  vars: Record<string, string>;
  /** Starts `skiff <args>` without waiting: for foreground runs, logs -f, signals. */
  spawn(args: string[], opts?: { stdin?: "pipe" | "ignore"; env?: Record<string, string> }): Bun.Subprocess<"pipe" | "ignore", "pipe", "pipe">;
  /** Full id of a container. */
  id(name: string): Promise<string>;
  /** containers/<id>/state.json as stored. */
  state(id: string): Record<string, unknown>;
  /** The container's persistent and volatile directories. */
  dirs(id: string): { container: string; run: string };
  close(): Promise<void>;
}

export async function containerFixture(name: string): Promise<ContainerFixture> {
  const reg = await startRegistry();
  const work = mkdtempSync(join(tmpdir(), `skiff-${name}-work-`));
  let env: SkiffEnv | undefined;
  try {
    const layout = join(work, "layout");
    await writeImageLayout(layout, [{ tag: "latest", spec: busyboxImage() }]);
    const image = `${reg.host}/busybox:latest`;
    await pushLayout(layout, image, { tag: "latest" });
    const e = makeSkiffEnv(`skiff-${name}`);
    env = e;
    await e.ok(["pull", "-q", image]);
    const vars = skiffProcessEnv(e);
    const fx: ContainerFixture = {
      env: e,
      reg,
      image,
      work,
      vars,
      spawn(args, opts = {}) {
        return Bun.spawn([SKIFF_BIN, ...args], {
          env: { ...vars, ...opts.env },
          stdin: opts.stdin ?? "ignore",
          stdout: "pipe",
          stderr: "pipe",
        });
      },
      async id(n) {
        return (await e.ok(["inspect", "--type", "container", "-f", "{{.Id}}", n])).trim();
      },
      state(id) {
        return JSON.parse(readFileSync(join(e.root, "containers", id, "state.json"), "utf8")) as Record<string, unknown>;
      },
      dirs(id) {
        // The run directory is named by the first 16 hex digits (unix socket paths must stay short).
        const run = readdirSync(join(e.runRoot, "containers"), { withFileTypes: true }).find((d) => id.startsWith(d.name));
        return { container: join(e.root, "containers", id), run: join(e.runRoot, "containers", run?.name ?? id.slice(0, 16)) };
      },
      async close() {
        await removeAll(e);
        // Anything still running that names this storage (a shim, runc, a
        // network helper) outlived its container: a leak, reported as a failure.
        const leaked = await until(() => {
          const pids = [...new Set([...processesMentioning(e.runRoot), ...processesMentioning(e.root)])];
          return pids.length === 0 ? true : undefined;
        }, 3000);
        const stray = leaked ? [] : [...new Set([...processesMentioning(e.runRoot), ...processesMentioning(e.root)])];
        const described = stray.map((pid) => describeStray(pid, e));
        for (const pid of stray) {
          try {
            process.kill(pid, "SIGKILL");
          } catch {
            // gone
          }
        }
        await e.cleanup();
        await reg.stop();
        rmSync(work, { recursive: true, force: true });
        if (described.length > 0) throw new Error(`processes outlived their containers:\n${described.join("\n")}`);
      },
    };
    return fx;
  } catch (err) {
    if (env) await env.cleanup();
    await reg.stop();
    rmSync(work, { recursive: true, force: true });
    throw err;
  }
}

/** Removes every container of `env`, by id. */
export async function removeAll(env: SkiffEnv): Promise<void> {
  const ids = (await env.run(["ps", "-aq", "--no-trunc"])).stdout.trim().split("\n").filter(Boolean);
  if (ids.length > 0) await env.run(["rm", "-f", ...ids], { timeoutMs: 60_000 });
}

/** Undoes a hand-made setup (for files whose images do not fit containerFixture): containers by id, storage, registry, scratch. */
export async function tearDown(parts: { env?: SkiffEnv | undefined; reg?: TestRegistry | undefined; work?: string | undefined }): Promise<void> {
  if (parts.env) {
    await removeAll(parts.env);
    await parts.env.cleanup();
  }
  await parts.reg?.stop();
  if (parts.work) rmSync(parts.work, { recursive: true, force: true });
}

/** Polls `fn` until it returns a truthy value or `ms` pass; returns the last value. */
export async function until<T>(fn: () => T | Promise<T>, ms = 5000, stepMs = 25): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > deadline) return v;
    await Bun.sleep(stepMs);
  }
}

/** The start time (clock ticks since boot) of a live pid, or undefined. */
export function startTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Field 22 (starttime) is the 20th after "pid (comm) ".
    if (fields[0] === "Z") return undefined;
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return "(gone)";
  }
}

/**
 * A leaked process and what is left of its container, for the failure
 * message: its parent (a shim still there, or init), and the run directory
 * its command line names (which files remain, the end of shim.log).
 */
function describeStray(pid: number, e: SkiffEnv): string {
  const cmdline = readCmdline(pid);
  const lines = [`${pid}: ${cmdline}`];
  try {
    const ppid = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
    lines.push(`  parent ${ppid}: ${readCmdline(ppid)}`);
  } catch {
    // gone
  }
  const runDir = new RegExp(`${e.runRoot.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/containers/[0-9a-f]+`).exec(cmdline)?.[0];
  if (runDir) {
    try {
      lines.push(`  ${runDir}: ${readdirSync(runDir).join(" ")}`);
      const log = readFileSync(join(runDir, "shim.log"), "utf8").trim().split("\n").slice(-10);
      lines.push(...log.map((l) => `  shim.log: ${l}`));
    } catch {
      lines.push(`  ${runDir}: gone`);
    }
  }
  return lines.join("\n");
}

/** Pids of live processes whose command line mentions `needle`. */
export function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8");
      if (cmd.includes(needle) && startTime(Number(p)) !== undefined) out.push(Number(p));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

/** Mount points, in any mount namespace we can see, whose path contains `needle`. */
export function mountsMentioning(needle: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    let ns: string;
    try {
      ns = readlinkSync(`/proc/${p}/ns/mnt`);
    } catch {
      continue;
    }
    if (seen.has(ns)) continue;
    seen.add(ns);
    try {
      for (const line of readFileSync(`/proc/${p}/mountinfo`, "utf8").split("\n")) {
        const mountPoint = line.split(" ")[4];
        if (mountPoint?.includes(needle)) out.push(`${p}: ${mountPoint}`);
      }
    } catch {
      // not readable
    }
  }
  return out;
}

/** Container ids runc still keeps state for under this run root. */
export function runcStates(runRoot: string): string[] {
  const out: string[] = [];
  for (const rt of ["runc", "crun"]) {
    try {
      out.push(...readdirSync(join(runRoot, rt)).filter((n) => /^[a-f0-9]{64}$/.test(n)));
    } catch {
      // no such runtime root
    }
  }
  return out;
}

/**
 * Everything a removed container could leave behind: its directories,
 * processes (by recorded pid and by id on a command line), mounts, runc
 * state. Empty when nothing is left.
 */
export function leftovers(fx: ContainerFixture, id: string, pids: { pid?: number; pidStart?: number; shimPid?: number; shimStart?: number }): string[] {
  const out: string[] = [];
  const { container } = fx.dirs(id);
  if (existsSync(container)) out.push(`container dir ${container}`);
  for (const run of [join(fx.env.runRoot, "containers", id), join(fx.env.runRoot, "containers", id.slice(0, 16))]) {
    if (existsSync(run)) out.push(`run dir ${run}`);
  }
  for (const [pid, start] of [
    [pids.pid, pids.pidStart],
    [pids.shimPid, pids.shimStart],
  ] as const) {
    if (pid && start && startTime(pid) === start) out.push(`process ${pid} still runs`);
  }
  for (const p of processesMentioning(id.slice(0, 16))) out.push(`process ${p} mentions the id`);
  for (const m of [...mountsMentioning(id.slice(0, 16)), ...mountsMentioning(id)]) out.push(`mount ${m}`);
  if (runcStates(fx.env.runRoot).includes(id)) out.push("runc state");
  return out;
}

/** Reads a subprocess's pipes while it runs (for long-running commands). */
export class Collector {
  text = "";
  readonly done: Promise<void>;
  constructor(stream: ReadableStream<Uint8Array>) {
    const dec = new TextDecoder();
    this.done = (async () => {
      for await (const chunk of stream) this.text += dec.decode(chunk, { stream: true });
    })();
  }
  async waitFor(re: RegExp | string, ms = 10_000): Promise<void> {
    const ok = await until(() => (typeof re === "string" ? this.text.includes(re) : re.test(this.text)), ms);
    if (!ok) throw new Error(`timed out waiting for ${String(re)}; got ${JSON.stringify(this.text)}`);
  }
}

/**
 * Why a process here cannot make a user namespace of its own (some hosts
 * restrict unprivileged ones, e.g. Ubuntu's AppArmor setting): then a test
 * cannot tell a seccomp filter's refusal from the host's.
 */
export function nestedUsernsSkipReason(): string | undefined {
  const r = Bun.spawnSync(["unshare", "--user", "true"], { stdout: "ignore", stderr: "pipe" });
  return r.exitCode === 0 ? undefined : `this host refuses new user namespaces to unprivileged processes (${r.stderr.toString().trim()})`;
}

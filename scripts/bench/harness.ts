/**
 * Shared pieces of the benchmarks: timing commands, a local registry with
 * fixture images, an isolated Podman, and the ratio table every benchmark
 * prints. Benchmarks run as an ordinary user (rootless), like the targets.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dir, "..", "..");
export const SKIFF = process.env.SKIFF_BIN ?? join(REPO, "dist", "skiff");

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export async function run(argv: string[], opts: { env?: Record<string, string | undefined>; stdin?: string } = {}): Promise<RunResult> {
  const t0 = performance.now();
  const p = Bun.spawn(argv, {
    env: { ...process.env, ...opts.env },
    stdin: opts.stdin !== undefined ? new Blob([opts.stdin]) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr, ms: performance.now() - t0 };
}

export async function must(argv: string[], opts: { env?: Record<string, string | undefined>; stdin?: string } = {}): Promise<RunResult> {
  const r = await run(argv, opts);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
  return r;
}

/**
 * Times `measure` `runs` times (after `warmup` untimed runs); `prepare` and
 * `cleanup` run around each sample, untimed.
 */
export async function sample(opts: {
  runs: number;
  warmup?: number;
  prepare?: (i: number) => Promise<void>;
  measure: (i: number) => Promise<void>;
  cleanup?: (i: number) => Promise<void>;
}): Promise<number[]> {
  const out: number[] = [];
  const total = (opts.warmup ?? 1) + opts.runs;
  for (let i = 0; i < total; i++) {
    await opts.prepare?.(i);
    const t0 = performance.now();
    await opts.measure(i);
    const ms = performance.now() - t0;
    await opts.cleanup?.(i);
    if (i >= (opts.warmup ?? 1)) out.push(ms);
  }
  return out;
}

/**
 * Calls `one(k, round)` for each of `count` contestants, `rounds` times,
 * taking turns in an order that reverses every round, so drift in the
 * machine's speed during the run falls on all of them alike: a ratio of two
 * figures measured minutes apart on a shared machine says more about the
 * machine than about the tools. Returns each contestant's results, in order.
 */
export async function inTurns<T>(count: number, rounds: number, one: (k: number, round: number) => Promise<T>): Promise<T[][]> {
  const out: T[][] = Array.from({ length: count }, () => []);
  for (let round = 0; round < rounds; round++) {
    const order = Array.from({ length: count }, (_, k) => k);
    if (round % 2) order.reverse();
    for (const k of order) (out[k] as T[]).push(await one(k, round));
  }
  return out;
}

/** One kind of sample for sampleInTurns: what to time, and untimed work after it. */
export interface Turn {
  measure: (i: number) => Promise<void>;
  cleanup?: (i: number) => Promise<void>;
}

/** Times several things `runs` times each, in turns (inTurns), after `warmup` untimed rounds. */
export async function sampleInTurns(turns: Turn[], opts: { runs: number; warmup?: number }): Promise<number[][]> {
  const warmup = opts.warmup ?? 1;
  const all = await inTurns(turns.length, warmup + opts.runs, async (k, i) => {
    const turn = turns[k] as Turn;
    const t0 = performance.now();
    await turn.measure(i);
    const ms = performance.now() - t0;
    await turn.cleanup?.(i);
    return ms;
  });
  return all.map((samples) => samples.slice(warmup));
}

export interface Row {
  name: string;
  skiff: number;
  podman?: number | undefined;
  floor?: number | undefined;
  /** Target ratio against Podman (e.g. 0.5), or an absolute ms target. */
  /** vsPodman/vsFloor/ms: at most; minVsPodman: at least (throughputs). */
  target?: { vsPodman?: number; minVsPodman?: number; vsFloor?: number; ms?: number } | undefined;
  unit?: string;
}

function fmt(n: number | undefined, unit = "ms"): string {
  if (n === undefined) return "-";
  return unit === "ms" ? `${n.toFixed(1)} ms` : `${n.toFixed(2)} ${unit}`;
}

/** Prints a table: skiff, podman, floor, ratios, and whether each target is met. */
export function report(title: string, rows: Row[]): void {
  console.log(`\n== ${title}`);
  const header = ["measure", "skiff", "podman", "skiff/podman", "runc floor", "skiff/floor", "target", "met"];
  const lines = [header];
  for (const r of rows) {
    const unit = r.unit ?? "ms";
    // A difference (such as added latency) can be zero or negative in noise: no ratio then.
    const vsP = r.podman && r.podman > 0 ? r.skiff / r.podman : undefined;
    const vsF = r.floor ? r.skiff / r.floor : undefined;
    const targets: string[] = [];
    let met = true;
    // Targets that could be checked: one against a missing baseline is not "met".
    let checked = 0;
    if (r.target?.vsPodman !== undefined) {
      targets.push(`<=${r.target.vsPodman}x podman`);
      if (vsP !== undefined) {
        met &&= vsP <= r.target.vsPodman;
        checked++;
      }
    }
    if (r.target?.minVsPodman !== undefined) {
      targets.push(`>=${r.target.minVsPodman}x podman`);
      if (vsP !== undefined) {
        met &&= vsP >= r.target.minVsPodman;
        checked++;
      }
    }
    if (r.target?.vsFloor !== undefined) {
      targets.push(`<=${r.target.vsFloor}x floor`);
      if (vsF !== undefined) {
        met &&= vsF <= r.target.vsFloor;
        checked++;
      }
    }
    if (r.target?.ms !== undefined) {
      targets.push(`<=${r.target.ms} ${unit}`);
      met &&= r.skiff <= r.target.ms;
      checked++;
    }
    lines.push([
      r.name,
      fmt(r.skiff, unit),
      fmt(r.podman, unit),
      vsP !== undefined ? `${vsP.toFixed(2)}x` : "-",
      fmt(r.floor, unit),
      vsF !== undefined ? `${vsF.toFixed(2)}x` : "-",
      targets.join(", ") || "-",
      checked ? (met ? "yes" : "NO") : "-",
    ]);
  }
  const widths = header.map((_, i) => Math.max(...lines.map((l) => (l[i] as string).length)));
  for (const l of lines) console.log(l.map((c, i) => c.padEnd(widths[i] as number)).join("  "));
}

/** An isolated skiff store. */
export function skiffEnv(base: string): Record<string, string> {
  return { SKIFF_ROOT: join(base, "skiff-root"), SKIFF_RUNROOT: join(base, "skiff-run") };
}

/** An isolated rootless Podman: its own storage, run dir, config and home, overlay storage, runc. */
export class Podman {
  readonly dir: string;
  readonly env: Record<string, string>;
  readonly available: boolean;

  /** Kept short: Podman puts slirp4netns's API socket (a 64-hex name) here, and sockaddr_un holds 108 bytes. */
  readonly tmp: string;

  constructor(base: string) {
    this.dir = join(base, "podman");
    this.tmp = mkdtempSync("/tmp/skiff-pt-");
    mkdirSync(join(this.dir, "xdg"), { recursive: true, mode: 0o700 });
    // Podman's exit command (`container cleanup`) fails when $HOME is
    // missing, and an attached `run --rm` then waits out its 20 s conmon timeout.
    mkdirSync(join(this.dir, "home"), { recursive: true });
    writeFileSync(join(this.dir, "containers.conf"), '[network]\nnetwork_backend = "cni"\n[engine]\nevents_logger = "file"\n');
    this.env = {
      HOME: join(this.dir, "home"),
      XDG_CONFIG_HOME: join(this.dir, "config"),
      XDG_DATA_HOME: join(this.dir, "data"),
      XDG_RUNTIME_DIR: join(this.dir, "xdg"),
      CONTAINERS_CONF: join(this.dir, "containers.conf"),
    };
    this.available = Bun.which("podman") !== null;
  }

  args(root = "root", runtime = "runc"): string[] {
    return [
      "podman",
      "--root",
      join(this.dir, root),
      "--runroot",
      join(this.dir, `run-${root}`),
      "--tmpdir",
      this.tmp,
      "--storage-driver",
      "overlay",
      "--runtime",
      runtime,
      "--cgroup-manager",
      "cgroupfs",
      // "none" makes `run --rm` wait 20s for an exit event that never comes.
      "--events-backend",
      "file",
    ];
  }

  cmd(args: string[], root = "root", runtime = "runc"): string[] {
    return [...this.args(root, runtime), ...args];
  }

  /** Removes a store (files owned by sub-ids need the user namespace). */
  async wipe(root = "root"): Promise<void> {
    await run(this.cmd(["unshare", "rm", "-rf", join(this.dir, root), join(this.dir, `run-${root}`)], root), { env: this.env });
    rmSync(join(this.dir, root), { recursive: true, force: true });
  }

  /** Stops the rootless pause process podman leaves behind (by its pid file, never by name). */
  async stopPause(): Promise<void> {
    for (const f of [join(this.tmp, "pause.pid"), join(this.env.XDG_RUNTIME_DIR as string, "libpod", "tmp", "pause.pid")]) {
      if (!existsSync(f)) continue;
      const pid = Number(readFileSync(f, "utf8").trim());
      if (pid > 0) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
    }
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

export async function wipeSkiff(env: Record<string, string>): Promise<void> {
  const root = env.SKIFF_ROOT as string;
  if (existsSync(root)) await run([SKIFF, "unshare", "rm", "-rf", root], { env });
  rmSync(root, { recursive: true, force: true });
  rmSync(env.SKIFF_RUNROOT as string, { recursive: true, force: true });
}

export function benchDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `skiff-bench-${name}-`));
}

/**
 * Removes everything a benchmark made: skiff's containers and store,
 * Podman's containers, store and pause process, the registry, the base dir.
 */
export async function cleanUp(opts: { env: Record<string, string>; podman: Podman; registry: { stop(): Promise<void> }; base: string }): Promise<void> {
  const left = (await run([SKIFF, "ps", "-aq"], { env: opts.env })).stdout.trim().split("\n").filter(Boolean);
  if (left.length > 0) await run([SKIFF, "rm", "-f", ...left], { env: opts.env });
  await wipeSkiff(opts.env);
  if (opts.podman.available) {
    await run(opts.podman.cmd(["rm", "-f", "-a", "-t", "0"]), { env: opts.podman.env });
    await opts.podman.wipe();
  }
  await opts.podman.stopPause();
  await opts.registry.stop();
  await run(["rm", "-rf", opts.base]);
}

/**
 * Runs the compiled skiff binary for integration tests, each test group with
 * its own storage and run directories so tests never share state.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const REPO_ROOT = resolve(import.meta.dir, "..", "..");
export const SKIFF_BIN = process.env.SKIFF_BIN ?? join(REPO_ROOT, "dist", "skiff");

export function binaryMissingReason(): string | undefined {
  return existsSync(SKIFF_BIN) ? undefined : `${SKIFF_BIN} not built: run npm run build`;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface SkiffEnv {
  root: string;
  runRoot: string;
  home: string;
  /** Runs `skiff <args>` with this environment's storage. */
  run(args: string[], opts?: { stdin?: string | Uint8Array; env?: Record<string, string>; timeoutMs?: number }): Promise<RunResult>;
  /** Like run, but throws with stderr when the exit code is not 0. */
  ok(args: string[], opts?: { stdin?: string | Uint8Array; env?: Record<string, string> }): Promise<string>;
  /** Deletes the storage (through `skiff unshare` when rootless, since files belong to sub-ids). */
  cleanup(): Promise<void>;
}

export function makeSkiffEnv(name = "skiff"): SkiffEnv {
  const base = mkdtempSync(join(tmpdir(), `${name}-`));
  const root = join(base, "root");
  const runRoot = join(base, "run");
  const home = join(base, "home");
  const baseEnv: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: home,
    LANG: "C.UTF-8",
    SKIFF_ROOT: root,
    SKIFF_RUNROOT: runRoot,
  };
  if (process.env.XDG_RUNTIME_DIR) baseEnv.XDG_RUNTIME_DIR = process.env.XDG_RUNTIME_DIR;

  async function run(args: string[], opts: { stdin?: string | Uint8Array; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RunResult> {
    const p = Bun.spawn([SKIFF_BIN, ...args], {
      env: { ...baseEnv, ...opts.env },
      stdin: opts.stdin !== undefined ? new Blob([opts.stdin]) : "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const timer = setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    clearTimeout(timer);
    return { code, stdout, stderr };
  }

  return {
    root,
    runRoot,
    home,
    run,
    async ok(args, opts) {
      const r = await run(args, opts);
      if (r.code !== 0) throw new Error(`skiff ${args.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
      return r.stdout;
    },
    async cleanup() {
      if (process.getuid?.() !== 0 && existsSync(root)) {
        await run(["unshare", "rm", "-rf", root]);
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/**
 * The environment a skiff process of `env` runs with when a test spawns it
 * directly (services, foreground runs, ptys); `runtimeDir: false` leaves
 * XDG_RUNTIME_DIR out, for tests that choose their own or none.
 */
export function skiffProcessEnv(env: SkiffEnv, opts: { runtimeDir?: boolean } = {}): Record<string, string> {
  const xdg = opts.runtimeDir !== false ? process.env.XDG_RUNTIME_DIR : undefined;
  return {
    PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: env.home,
    LANG: "C.UTF-8",
    SKIFF_ROOT: env.root,
    SKIFF_RUNROOT: env.runRoot,
    ...(xdg ? { XDG_RUNTIME_DIR: xdg } : {}),
  };
}

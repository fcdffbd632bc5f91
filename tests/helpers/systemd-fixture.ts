/**
 * What the systemd test files share: a registry with busybox (tags v1 and
 * update, and v2 with an extra file), a store, a scratch directory with a
 * private XDG_RUNTIME_DIR, and the pieces that stand in for systemd as PID 1
 * (it is not on these machines): a unix datagram socket for NOTIFY_SOCKET
 * (python3, with SO_PASSCRED, so the sender's pid is the kernel's word) and
 * tests/helpers/unit-harness.py, which runs a unit's ExecStart the way
 * systemd does (environment, a new session, a child subreaper so the main
 * process's exit status is seen), then its stop sequence.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { containerSkipReason, tearDown } from "./containers.ts";
import { busyboxImage, busyboxLayer, DEFAULT_PATH, pushLayout, writeImageLayout } from "./images.ts";
import { HARNESS_SCRIPT, python3SkipReason } from "./notify-socket.ts";
import { startRegistry, type TestRegistry } from "./registry.ts";
import { makeSkiffEnv, SKIFF_BIN, skiffProcessEnv, type SkiffEnv } from "./skiff.ts";

/** Why the systemd tests cannot run here, if they cannot. */
export function systemdSkipReason(): string | undefined {
  return containerSkipReason() ?? python3SkipReason();
}

/** Networking is not what these tests are about. */
export const NET = ["--network", "none"];

export interface HarnessResult {
  start_pid: number;
  messages: { pid: number | null; data: string }[];
  ready: boolean;
  mainpid: number | null;
  exits: Record<string, { code?: number; signal?: number }>;
  commands: { argv: string[]; code: number; stdout: string; stderr: string }[];
  timed_out: boolean;
  output: string;
}

export interface HarnessOptions {
  stop?: string[][];
  stopPost?: string[][];
  killMain?: string;
  killStart?: string;
  noWaitReady?: boolean;
  delay?: number;
  env?: Record<string, string>;
  notify?: boolean;
}

export interface SystemdFixture {
  reg: TestRegistry;
  env: SkiffEnv;
  /** busybox:latest in the registry, pulled into the store. */
  image: string;
  work: string;
  /** A private XDG_RUNTIME_DIR for units (%t). */
  runtimeDir: string;
  /** A fresh socket path in the scratch directory. */
  sockPath(): string;
  /** The environment a skiff of this store runs with (no XDG_RUNTIME_DIR: units get theirs). */
  storageEnv(): Record<string, string>;
  /** Starts `skiff args` with the store's environment (and extra, e.g. NOTIFY_SOCKET). */
  spawnSkiff(args: string[], extra?: Record<string, string>): Bun.Subprocess<"ignore", "pipe", "pipe">;
  /** Runs an ExecStart line as systemd would, with the stop sequence given. */
  harness(argv: string[], opts?: HarnessOptions): Promise<HarnessResult>;
  /** True once `name` is no container any more. */
  gone(name: string): Promise<boolean>;
  /** Writes a Quadlet file into `dir` and returns `skiff quadlet --dryrun` for it. */
  writeQuadlet(dir: string, name: string, body: string): Promise<string>;
  close(): Promise<void>;
}

export async function systemdFixture(name: string): Promise<SystemdFixture> {
  const reg = await startRegistry();
  const work = mkdtempSync(join(tmpdir(), `skiff-${name}-`));
  const runtimeDir = join(work, "xdg-runtime");
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
  const image = `${reg.host}/busybox:latest`;
  await pushLayout(layout, image, { tag: "v1" });
  const env = makeSkiffEnv(`skiff-${name}`);
  await env.ok(["pull", "-q", image]);
  // The image a second tag points at, for auto-update.
  await pushLayout(layout, `${reg.host}/busybox:update`, { tag: "v1" });

  const storageEnv = (): Record<string, string> => skiffProcessEnv(env, { runtimeDir: false });
  let sockSeq = 0;
  const sockPath = (): string => join(work, `n${++sockSeq}.sock`);
  return {
    reg,
    env,
    image,
    work,
    runtimeDir,
    sockPath,
    storageEnv,
    spawnSkiff(args, extra = {}) {
      return Bun.spawn([SKIFF_BIN, ...args], { env: { ...storageEnv(), ...extra }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    },
    async harness(argv, opts = {}) {
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
    },
    async gone(cname) {
      const r = await env.run(["inspect", "--type", "container", cname]);
      return r.code !== 0;
    },
    async writeQuadlet(dir, fname, body) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, fname), body);
      const r = await env.run(["quadlet", "--dryrun"], { env: { SKIFF_QUADLET_UNIT_DIRS: dir } });
      if (r.code !== 0) throw new Error(`quadlet --dryrun: ${r.stderr}`);
      return r.stdout;
    },
    async close() {
      await tearDown({ env, reg, work });
    },
  };
}

export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/**
 * A unit's command line as systemd runs it: specifiers (%t %n %N %%) and $$
 * resolved, quotes and backslashes undone, a leading "-" (ignore failure)
 * dropped. Written here rather than taken from skiff, which made the line.
 */
export function unitArgv(line: string, spec: Record<string, string>): string[] {
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
export function serviceLines(unit: string, key: string): string[] {
  return unit
    .split("\n")
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));
}

/** One unit out of `quadlet --dryrun` output. */
export function unitText(dryrun: string, service: string): string {
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
export function systemctlSkipReason(): string | undefined {
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
  return systemdSkipReason();
}

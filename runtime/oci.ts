/**
 * The OCI runtime adapter: argv for runc or crun built by pure functions, and
 * one place that runs them and turns failures into typed errors. runc and
 * crun differ only in the small capability record below.
 */
import { SkiffError } from "../lib/errors.ts";

export interface RuntimeConfig {
  /** Executable path. */
  path: string;
  /** "runc", "crun" or another runc-compatible name. */
  name: string;
  /** State directory (--root): one per user, on tmpfs. */
  root: string;
  /** Running inside skiff's user namespace (rootless). */
  rootless: boolean;
}

interface Quirks {
  /** Extra global flags. */
  globals(c: RuntimeConfig): string[];
}

const QUIRKS: Record<string, Quirks> = {
  runc: { globals: () => [] },
  // crun refuses hybrid cgroup layouts rootless; without cgroups it works.
  crun: { globals: (c) => (c.rootless ? ["--cgroup-manager=disabled"] : []) },
};

function quirks(c: RuntimeConfig): Quirks {
  return QUIRKS[c.name] ?? QUIRKS.runc!;
}

export function globalArgs(c: RuntimeConfig): string[] {
  return ["--root", c.root, ...quirks(c).globals(c)];
}

export function runArgs(c: RuntimeConfig, id: string, o: { bundle: string; pidFile: string; detach: boolean; preserveFds?: number }): string[] {
  const fds = o.preserveFds ? ["--preserve-fds", String(o.preserveFds)] : [];
  return [c.path, ...globalArgs(c), "run", "--bundle", o.bundle, "--pid-file", o.pidFile, ...fds, ...(o.detach ? ["--detach"] : []), id];
}

/** `create`: the container waits, not yet running, until `start`. */
export function createArgs(c: RuntimeConfig, id: string, o: { bundle: string; pidFile: string; preserveFds?: number }): string[] {
  const fds = o.preserveFds ? ["--preserve-fds", String(o.preserveFds)] : [];
  return [c.path, ...globalArgs(c), "create", "--bundle", o.bundle, "--pid-file", o.pidFile, ...fds, id];
}

export function startArgs(c: RuntimeConfig, id: string): string[] {
  return [c.path, ...globalArgs(c), "start", id];
}

export function execArgs(c: RuntimeConfig, id: string, o: { processFile: string; pidFile: string; detach: boolean; tty: boolean }): string[] {
  return [
    c.path,
    ...globalArgs(c),
    "exec",
    "--process",
    o.processFile,
    "--pid-file",
    o.pidFile,
    ...(o.detach ? ["--detach"] : []),
    ...(o.tty ? ["--tty"] : []),
    id,
  ];
}

export function killArgs(c: RuntimeConfig, id: string, o: { signal: number; all?: boolean }): string[] {
  return [c.path, ...globalArgs(c), "kill", ...(o.all ? ["--all"] : []), id, String(o.signal)];
}

export function deleteArgs(c: RuntimeConfig, id: string, o: { force?: boolean } = {}): string[] {
  return [c.path, ...globalArgs(c), "delete", ...(o.force ? ["--force"] : []), id];
}

export function pauseArgs(c: RuntimeConfig, id: string): string[] {
  return [c.path, ...globalArgs(c), "pause", id];
}

export function resumeArgs(c: RuntimeConfig, id: string): string[] {
  return [c.path, ...globalArgs(c), "resume", id];
}

export function psArgs(c: RuntimeConfig, id: string): string[] {
  return [c.path, ...globalArgs(c), "ps", "--format", "json", id];
}

export function stateArgs(c: RuntimeConfig, id: string): string[] {
  return [c.path, ...globalArgs(c), "state", id];
}

/** Drops runc's log prefix (`time="..." level=error msg="..."`) and keeps the message. */
export function runtimeMessage(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const last = lines[lines.length - 1] ?? "";
  const m = /msg="((?:[^"\\]|\\.)*)"/.exec(last);
  const msg = m?.[1] ? m[1].replace(/\\"/g, '"').replace(/\\\\/g, "\\") : last.replace(/^ERRO\[\d+\]\s*/, "");
  return msg.replace(/^runc (run|create|exec) failed: /, "");
}

/**
 * Exit status Docker reports when the container's command could not start:
 * 127 for a missing command, 126 for one that cannot be executed.
 */
export function startFailureCode(message: string): number {
  if (/executable file not found|no such file or directory/i.test(message)) return 127;
  if (/permission denied|exec format error|is a directory/i.test(message)) return 126;
  return 125;
}

export async function runRuntime(argv: string[], opts: { what: string; env?: Record<string, string | undefined> }): Promise<string> {
  const p = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", ...(opts.env ? { env: opts.env } : {}) });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) {
    const msg = runtimeMessage(err) || `exit status ${code}`;
    const kind = /does not exist|not found/.test(msg) ? "NotFound" : /not running|is stopped|container not/.test(msg) ? "Conflict" : "Internal";
    throw new SkiffError(kind, `${opts.what}: ${msg}`);
  }
  return out;
}

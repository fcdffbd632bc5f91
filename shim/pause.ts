/**
 * pause/unpause, and the container's OOM kills.
 *
 * A container with a cgroup of its own (root; rootless on a delegated
 * cgroup v2) is frozen by the runtime (`runc pause`: the cgroup freezer).
 * Rootless on cgroup v1 there is no cgroup to freeze: every process in the
 * container's PID namespace is stopped with SIGSTOP instead (passes repeat
 * until no new process shows up, so a fork in flight is caught too) and
 * continued with SIGCONT. Unlike the freezer, the processes can see it:
 * their parents get SIGCHLD, a process that waits with WUNTRACED sees its
 * child stop, and one that was stopped before the pause is continued too.
 *
 * The shim runs in the container's user namespace (rootless), where it may
 * signal every process of the container.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { pauseArgs, resumeArgs, runtimeMessage } from "../runtime/oci.ts";
import { cgroupMounts, containerCgroupDirs, mountPoints, oomKillCount } from "../lib/sys/cgroupfs.ts";
import type { ShimConfig } from "./config.ts";

export type PauseResult = { ok: true; how: "freezer" | "signals" } | { ok: false; message: string };

/** The container's own cgroup directories, or undefined (rootless on cgroup v1). */
function ownCgroups(pid: number, id: string): Map<string, string> | undefined {
  return containerCgroupDirs(pid, id, mountPoints(cgroupMounts()));
}

/** Every process (host pids) in the PID namespace of `initPid`, init first. */
export function namespacePids(initPid: number): number[] {
  let target: string;
  try {
    target = readlinkSync(`/proc/${initPid}/ns/pid`);
  } catch {
    return [];
  }
  const out: number[] = [initPid];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === initPid) continue;
    try {
      if (readlinkSync(`/proc/${name}/ns/pid`) === target) out.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return undefined;
  }
}

function send(pid: number, signal: "SIGSTOP" | "SIGCONT"): void {
  try {
    process.kill(pid, signal);
  } catch {
    // exited meanwhile
  }
}

/** SIGSTOP every process of the container, until a pass finds none new; then wait until all show as stopped. */
export async function stopAll(initPid: number): Promise<number> {
  const stopped = new Set<number>();
  for (let pass = 0; pass < 20; pass++) {
    const fresh = namespacePids(initPid).filter((p) => !stopped.has(p));
    if (fresh.length === 0) break;
    for (const p of fresh) {
      send(p, "SIGSTOP");
      stopped.add(p);
    }
  }
  const deadline = Date.now() + 2000;
  for (const p of stopped) {
    while (Date.now() < deadline) {
      const st = processState(p);
      if (st === undefined || st === "T" || st === "t" || st === "Z" || st === "X") break;
      await Bun.sleep(2);
    }
  }
  return stopped.size;
}

export function continueAll(initPid: number): number {
  const pids = namespacePids(initPid);
  for (const p of pids) send(p, "SIGCONT");
  return pids.length;
}

async function runtimeOp(cfg: ShimConfig, op: "pause" | "resume"): Promise<PauseResult> {
  const argv = op === "pause" ? pauseArgs(cfg.runtime, cfg.id) : resumeArgs(cfg.runtime, cfg.id);
  const p = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
  return code === 0 ? { ok: true, how: "freezer" } : { ok: false, message: runtimeMessage(err) || `${op} failed` };
}

/** Pauses or resumes the container whose init is `initPid`: the freezer when it has a cgroup, else signals. */
export async function pauseOrResume(cfg: ShimConfig, initPid: number, op: "pause" | "resume"): Promise<PauseResult> {
  if (ownCgroups(initPid, cfg.id)) return runtimeOp(cfg, op);
  if (initPid <= 0) return { ok: false, message: `container ${cfg.name} is not running` };
  if (op === "pause") await stopAll(initPid);
  else continueAll(initPid);
  return { ok: true, how: "signals" };
}

/**
 * Watches for OOM kills in the container's memory cgroup: call it once the
 * container runs; the returned function, called after it exited (before
 * `runc delete` removes the cgroup), tells whether the kernel OOM-killed
 * one of its processes. Always false without a cgroup of its own.
 */
export function watchOom(initPid: number, id: string): () => boolean {
  const dirs = ownCgroups(initPid, id);
  const dir = dirs?.get("memory") ?? dirs?.get("");
  if (!dir) return () => false;
  const before = oomKillCount(dir);
  return () => oomKillCount(dir) > before;
}

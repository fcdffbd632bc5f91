/** Facts about processes and the boot, read from /proc. No dependencies: the shim uses it. */
import { readFileSync } from "node:fs";

let cachedBootId: string | undefined;

/** Changes on every boot: pids recorded under another boot id are meaningless. */
export function bootId(): string {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    } catch {
      cachedBootId = "";
    }
  }
  return cachedBootId;
}

/** Start time of a live process in clock ticks since boot (field 22 of /proc/PID/stat); undefined if gone or a zombie. */
export function processStartTime(pid: number): number | undefined {
  if (pid <= 0) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may hold spaces and parens: fields start after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const state = rest[0];
    if (state === "Z" || state === "X") return undefined;
    return Number(rest[19]);
  } catch {
    return undefined;
  }
}

/** Is `pid` still the process that started at `start` (0: any)? */
export function sameProcess(pid: number, start: number): boolean {
  const s = processStartTime(pid);
  return s !== undefined && (start === 0 || s === start);
}

/** Waits until the process `pid` (started at `start`) is gone, or `ms` pass; true when gone. Polls /proc (a read costs microseconds). */
export async function waitProcessGone(pid: number, start: number, ms: number, everyMs = 2): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (sameProcess(pid, start)) {
    if (Date.now() > deadline) return false;
    await Bun.sleep(everyMs);
  }
  return true;
}

/**
 * Sends SIGTERM, waits up to `graceMs` for the process to end (a zombie has
 * ended), then sends SIGKILL and waits again: a helper must be gone, not just
 * signalled, before its container counts as stopped or removed.
 */
export async function terminateProcess(pid: number, graceMs = 2000): Promise<void> {
  const start = processStartTime(pid);
  if (start === undefined) return;
  for (const [signal, ms] of [["SIGTERM", graceMs], ["SIGKILL", 1000]] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      return; // gone
    }
    if (await waitProcessGone(pid, start, ms)) return;
  }
}

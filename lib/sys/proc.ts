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

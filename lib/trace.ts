/**
 * Phase timings for performance work: `SKIFF_TRACE=1 skiff pull ...` prints
 * milliseconds since process start at each marked point, on stderr.
 */
import { appendFileSync, readFileSync, writeSync } from "node:fs";

const enabled = process.env.SKIFF_TRACE === "1";
/** Where every process (CLI, shim) appends its marks, instead of its own stderr. */
const file = process.env.SKIFF_TRACE_FILE;

/** Wall-clock ms since this process started, plus the absolute time so processes can be lined up. */
export function trace(label: string): void {
  // Straight to fd 2: an early shim points fd 2 at its log only after start-up.
  if (!enabled) return;
  try {
    const line = `[trace ${performance.now().toFixed(1)} ms @${(Date.now() % 100000).toString().padStart(5, "0")} ${process.pid}] ${label}\n`;
    if (file) appendFileSync(file, line);
    else writeSync(2, line);
  } catch {
    // fd 2 closed
  }
}

/** Anonymous memory of this process in kB (for memory work with SKIFF_TRACE=1). */
export function traceMemory(label: string): void {
  if (!enabled) return;
  try {
    const text = readFileSync("/proc/self/smaps_rollup", "utf8");
    const anon = /^Pss_Anon:\s+(\d+)/m.exec(text)?.[1];
    trace(`${label}: anon ${anon} kB`);
  } catch {
    // no /proc
  }
}

/**
 * Phase timings for performance work: `SKIFF_TRACE=1 skiff pull ...` prints
 * milliseconds since process start at each marked point, on stderr.
 */
const enabled = process.env.SKIFF_TRACE === "1";

/** Wall-clock ms since this process started, plus the absolute time so processes can be lined up. */
export function trace(label: string): void {
  if (enabled) process.stderr.write(`[trace ${performance.now().toFixed(1)} ms @${(Date.now() % 100000).toString().padStart(5, "0")}] ${label}\n`);
}

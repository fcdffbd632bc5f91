/**
 * The network helper (pasta or slirp4netns) of a container whose shim died:
 * the shim stops its helper itself, so a dead one leaves it running, its pid
 * in the run directory. Whoever tidies up after that shim (rm, stop, a new
 * start) stops it here, before the run directory goes.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { terminateProcess } from "../sys/proc.ts";

/** Stops the helper whose pid file is in `runDir`, checking the pid is still that helper (its command line names the directory). */
export async function stopLeftoverHelper(runDir: string): Promise<void> {
  for (const file of ["pasta.pid", "slirp.pid"]) {
    let pid = 0;
    try {
      pid = Number(readFileSync(join(runDir, file), "utf8").trim());
      if (!readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(runDir)) pid = 0;
    } catch {
      pid = 0; // none, or gone
    }
    if (pid > 0) await terminateProcess(pid);
  }
}

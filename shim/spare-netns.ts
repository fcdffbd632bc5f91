/**
 * A network namespace made before anyone asks for one. Making it when the
 * config says so costs a process (`unshare --net`, about 5 ms) on the start
 * path; an early shim has idle time while its CLI creates the container, so
 * it starts `unshare --net cat` then, and a networked container gets that
 * namespace: it is bound to the plan's file from /proc/PID/ns/net and the
 * holder is killed. The holder reads a pipe only we write to, so it ends
 * with us however we end. Anything unexpected and the caller makes a
 * namespace the ordinary way.
 */
import { readlinkSync, writeFileSync } from "node:fs";
import type { Subprocess } from "bun";
import { mount, MS_BIND } from "../lib/sys/libc.ts";

/** How long a claim waits for the holder to be in its own namespace (it normally is, long before). */
const READY_MS = 200;

function netnsOf(pid: number | "self"): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return undefined;
  }
}

export class SpareNetns {
  readonly #proc: Subprocess;
  readonly #own: string | undefined;

  private constructor(proc: Subprocess) {
    this.#proc = proc;
    this.#own = netnsOf("self");
  }

  static start(): SpareNetns | undefined {
    try {
      const proc = Bun.spawn(["unshare", "--net", "--", "cat"], { stdin: "pipe", stdout: "ignore", stderr: "ignore" });
      return new SpareNetns(proc);
    } catch {
      return undefined;
    }
  }

  /** Binds the spare namespace to `path` (made as an empty file); false when it cannot, and the caller makes one. */
  async claim(path: string): Promise<boolean> {
    const pid = this.#proc.pid;
    const deadline = Date.now() + READY_MS;
    for (;;) {
      if (this.#proc.exitCode !== null || this.#proc.signalCode !== null) return false;
      const ns = netnsOf(pid);
      // Still unshare before its unshare(2), or already cat in the new namespace.
      if (ns !== undefined && ns !== this.#own) break;
      if (Date.now() > deadline) return false;
      await Bun.sleep(1);
    }
    try {
      writeFileSync(path, "");
      mount(`/proc/${pid}/ns/net`, path, "", MS_BIND);
      return true;
    } catch {
      return false;
    } finally {
      this.discard();
    }
  }

  /** Ends the holder; a namespace bound to a file lives on. */
  discard(): void {
    try {
      this.#proc.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
}

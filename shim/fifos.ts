/**
 * The FIFOs a shim holds open for as long as its container lives: the
 * container's stdin for `-i` without a terminal, and the gate its runtime's
 * createRuntime hook waits at until the network helper is up. Both are
 * opened read-write here first, so no open ever waits for the other side.
 */
import type { FileSink } from "bun";
import { closeSync, constants, openSync, readSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { mknod } from "../lib/sys/libc.ts";
import { StartError } from "./errors.ts";

const S_IFIFO = 0o010000;

function makeFifo(path: string): void {
  rmSync(path, { force: true });
  mknod(path, S_IFIFO | 0o600, 0n);
}

/**
 * The container's stdin for `-i` without a terminal: a FIFO in the run
 * directory. Bun closes a subprocess's stdin pipe when the subprocess exits,
 * and `runc run --detach` exits at once, handing the pipe to the container;
 * a FIFO's write end is ours for as long as the container lives.
 */
export function stdinFifo(runDir: string): { readFd: number; writer: FileSink } {
  const path = join(runDir, "stdin");
  try {
    makeFifo(path);
  } catch (e) {
    throw new StartError(`cannot make the stdin FIFO: ${(e as Error).message}`, 125);
  }
  const both = openSync(path, "r+");
  try {
    const readFd = openSync(path, "r");
    return { readFd, writer: Bun.file(path).writer() };
  } finally {
    closeSync(both);
  }
}

/**
 * The FIFO the container's createRuntime hook reads (networkReadyPath): what
 * is written here waits in it until the hook reads.
 */
export class NetworkReady {
  readonly #fd: number;

  constructor(path: string) {
    makeFifo(path);
    this.#fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
  }

  /** Drops an answer no hook read (a start that failed before its hook ran). */
  reset(): void {
    const buf = Buffer.alloc(64);
    try {
      while (readSync(this.#fd, buf, 0, buf.length, null) > 0) {
        // drained
      }
    } catch {
      // EAGAIN: empty
    }
  }

  tell(ok: boolean): void {
    try {
      writeSync(this.#fd, ok ? "ok\n" : "no\n");
    } catch {
      // the hook has a timeout
    }
  }
}

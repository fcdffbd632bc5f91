/**
 * What an early shim (started before its container existed, see
 * lib/containers/shim-process.ts EarlyShim) reads on stdin from its CLI: the
 * path of its shim.json, then `go` once the CLI has written the OCI bundle.
 * Between the two the shim mounts the root filesystem and makes the network
 * namespace, while the CLI builds the spec. EOF before a line means the CLI
 * gave up (a bad flag, a spec it could not build): the shim ends quietly.
 */
import { openSync, readSync } from "node:fs";
import { dirname, join } from "node:path";
import { errnoCode } from "../lib/errors.ts";
import { bytesReadable, dup2 } from "../lib/sys/libc.ts";

export const GO = "go";

export class HandOverReader {
  readonly #fd: number;
  #pending = "";
  #eof = false;

  constructor(fd = 0) {
    this.#fd = fd;
  }

  /** The next line (blocking: the shim has nothing else to do), or undefined at EOF. */
  line(): string | undefined {
    const chunk = Buffer.alloc(4096);
    for (;;) {
      const nl = this.#pending.indexOf("\n");
      if (nl >= 0) {
        const line = this.#pending.slice(0, nl);
        this.#pending = this.#pending.slice(nl + 1);
        return line;
      }
      if (this.#eof) return undefined;
      let n: number;
      try {
        n = readSync(this.#fd, chunk, 0, chunk.length, null);
      } catch (e) {
        if (errnoCode(e) === "EAGAIN") {
          Bun.sleepSync(1);
          continue;
        }
        return undefined;
      }
      if (n === 0) this.#eof = true;
      else this.#pending += chunk.toString("utf8", 0, n);
    }
  }

  /**
   * The path of the shim's config; its stderr then goes to the run dir's
   * shim.log, as a late shim's does. Undefined at EOF: the CLI gave up.
   */
  configPath(): string | undefined {
    const path = this.line()?.trim();
    if (!path) return undefined;
    try {
      dup2(openSync(join(dirname(path), "shim.log"), "a", 0o600), 2);
    } catch {
      // stay with what we have
    }
    return path;
  }

  /** Whether the CLI has yet to send anything more (go, or EOF), without waiting for it. */
  nothingYet(): boolean {
    return !this.#pending.includes("\n") && bytesReadable(this.#fd) === 0;
  }

  /** True once the CLI said go (the bundle is written), false when it went away instead; stdin is not read again. */
  awaitGo(): boolean {
    const go = this.line()?.trim() === GO;
    try {
      dup2(openSync("/dev/null", "r"), 0);
    } catch {
      // stay with what we have
    }
    return go;
  }
}

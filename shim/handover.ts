/**
 * What an early shim (started before its container existed, see
 * lib/containers/shim-process.ts EarlyShim) reads on stdin from its CLI: the
 * path of its shim.json, then `go` once the CLI has written the OCI bundle.
 * Between the two the shim mounts the root filesystem and makes the network
 * namespace, while the CLI builds the spec. EOF before a line means the CLI
 * gave up (a bad flag, a spec it could not build): the shim ends quietly.
 */
import { readSync } from "node:fs";
import { errnoCode } from "../lib/errors.ts";

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

  /** True when the CLI said go; false when it went away instead. */
  awaitGo(): boolean {
    return this.line()?.trim() === GO;
  }
}

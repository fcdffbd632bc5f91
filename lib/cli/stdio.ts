/**
 * Writing a container's output to our stdout/stderr synchronously, so order
 * is kept and nothing is lost when the CLI exits right after the last frame.
 */
import { writeSync } from "node:fs";

export function writeFd(fd: number, data: Uint8Array | string): void {
  const buf = typeof data === "string" ? Buffer.from(data) : data;
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === "EAGAIN") {
        Bun.sleepSync(1);
        continue;
      }
      if (code === "EPIPE") return;
      throw e;
    }
  }
}

export const writeStdout = (d: Uint8Array | string): void => writeFd(1, d);
export const writeStderr = (d: Uint8Array | string): void => writeFd(2, d);

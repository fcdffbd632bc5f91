/**
 * Container logs in Docker's json-file format, one object per line:
 *   {"log":"hello\n","stream":"stdout","time":"2024-01-01T00:00:00.123456789Z"}
 * A chunk without a trailing newline is written as a partial entry (its "log"
 * has no "\n"), as Docker does. Files rotate by size: ctr.log, ctr.log.1, ...
 */
import { closeSync, fstatSync, openSync, renameSync, rmSync, writeSync } from "node:fs";

export type LogStream = "stdout" | "stderr";

let lastNs = 0n;

/** RFC 3339 with nanoseconds; strictly increasing within a process so order survives sorting. */
export function logTimestamp(): string {
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  lastNs = nowNs > lastNs ? nowNs : lastNs + 1n;
  const ms = Number(lastNs / 1_000_000n);
  const sub = (lastNs % 1_000_000_000n).toString().padStart(9, "0");
  return `${new Date(ms).toISOString().slice(0, 19)}.${sub}Z`;
}

export function encodeLogEntry(stream: LogStream, text: string, time: string): string {
  return `${JSON.stringify({ log: text, stream, time })}\n`;
}

/** Splits a chunk into log entries: whole lines, then a partial tail if any. */
export function splitEntries(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf("\n", start);
    if (nl < 0) break;
    out.push(text.slice(start, nl + 1));
    start = nl + 1;
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}

export class JsonFileLog {
  readonly #path: string;
  readonly #maxSize: number;
  readonly #maxFiles: number;
  #fd: number;
  #size: number;
  readonly #decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };

  constructor(path: string, opts: { maxSize?: number | undefined; maxFiles?: number | undefined } = {}) {
    this.#path = path;
    this.#maxSize = opts.maxSize ?? 0;
    this.#maxFiles = Math.max(1, opts.maxFiles ?? 1);
    this.#fd = openSync(path, "a", 0o600);
    this.#size = fstatSync(this.#fd).size;
  }

  write(stream: LogStream, chunk: Uint8Array): void {
    const text = this.#decoders[stream].decode(chunk, { stream: true });
    if (text.length === 0) return;
    const time = logTimestamp();
    // Size limits hold per entry, as Docker's: a burst of output read in one
    // chunk still rotates at the right line. Entries between rotations go
    // out in one write.
    let pending = "";
    let pendingBytes = 0;
    for (const entry of splitEntries(text)) {
      const line = encodeLogEntry(stream, entry, time);
      const n = Buffer.byteLength(line);
      if (this.#maxSize > 0 && this.#size + pendingBytes > 0 && this.#size + pendingBytes + n > this.#maxSize) {
        this.#append(pending);
        pending = "";
        pendingBytes = 0;
        this.#rotate();
      }
      pending += line;
      pendingBytes += n;
    }
    this.#append(pending);
  }

  #append(text: string): void {
    if (text.length === 0) return;
    const bytes = Buffer.from(text);
    let off = 0;
    while (off < bytes.length) off += writeSync(this.#fd, bytes, off, bytes.length - off);
    this.#size += bytes.length;
  }

  #rotate(): void {
    closeSync(this.#fd);
    if (this.#maxFiles <= 1) {
      rmSync(this.#path, { force: true });
    } else {
      rmSync(`${this.#path}.${this.#maxFiles - 1}`, { force: true });
      for (let i = this.#maxFiles - 2; i >= 1; i--) {
        try {
          renameSync(`${this.#path}.${i}`, `${this.#path}.${i + 1}`);
        } catch {
          // a gap in the sequence is fine
        }
      }
      renameSync(this.#path, `${this.#path}.1`);
    }
    this.#fd = openSync(this.#path, "a", 0o600);
    this.#size = 0;
  }

  close(): void {
    closeSync(this.#fd);
  }
}

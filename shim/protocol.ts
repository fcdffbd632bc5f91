/**
 * How the CLI (or the API server) and a container's shim talk. A connection
 * to shim.sock starts with one JSON request line and gets one JSON reply
 * line. `attach` and `exec` then switch the connection to frames:
 *
 *   [type: u8][length: u32 big-endian][payload]
 *
 * shim → client: STDOUT, STDERR (data), EXIT ({"exitCode": n}), ERROR ({"message"}).
 * client → shim: STDIN (data), STDIN_EOF, RESIZE ({"rows","cols"}).
 *
 * The first line a shim writes on its stdout (the sync pipe) says whether the
 * container started: {"pid": n} or {"error": "...", "exitCode": n}.
 */
import type { ErrorKind } from "../lib/errors.ts";

export interface ExecProcess {
  args: string[];
  env: string[];
  cwd: string;
  user: { uid: number; gid: number; additionalGids?: number[] };
  terminal: boolean;
  capabilities?: unknown;
  noNewPrivileges?: boolean;
}

export type ShimRequest =
  | { op: "state" }
  | { op: "kill"; signal: number; all?: boolean }
  | { op: "stop"; signal: number; timeoutSeconds: number }
  | { op: "wait" }
  | { op: "resize"; rows: number; cols: number; execId?: string }
  | { op: "attach"; stdin: boolean; stdout: boolean; stderr: boolean; replay: boolean }
  | { op: "exec"; execId: string; process: ExecProcess; stdin: boolean; detach: boolean }
  | { op: "healthcheck" }
  | { op: "pause" }
  | { op: "resume" };

export type ShimReply =
  | { ok: true; status?: string; pid?: number; exitCode?: number; execPid?: number }
  | { ok: false; kind: ErrorKind; message: string };

export type SyncLine = { pid: number } | { error: string; exitCode: number };

export const FRAME = {
  STDIN: 0,
  STDOUT: 1,
  STDERR: 2,
  EXIT: 3,
  ERROR: 4,
  STDIN_EOF: 5,
  RESIZE: 6,
} as const;

export type FrameType = (typeof FRAME)[keyof typeof FRAME];

export function encodeFrame(type: number, payload: Uint8Array | string): Uint8Array {
  const body = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const out = new Uint8Array(5 + body.length);
  out[0] = type;
  // The length big-endian, byte by byte: a DataView needs `.buffer`, which
  // makes JavaScriptCore move a small array's bytes out of line first.
  out[1] = body.length >>> 24;
  out[2] = (body.length >>> 16) & 0xff;
  out[3] = (body.length >>> 8) & 0xff;
  out[4] = body.length & 0xff;
  out.set(body, 5);
  return out;
}

/** Splits a byte stream into frames; feed it chunks as they come. */
export class FrameDecoder {
  #buf = new Uint8Array(0);

  push(chunk: Uint8Array): { type: number; payload: Uint8Array }[] {
    const merged = new Uint8Array(this.#buf.length + chunk.length);
    merged.set(this.#buf, 0);
    merged.set(chunk, this.#buf.length);
    const frames: { type: number; payload: Uint8Array }[] = [];
    let off = 0;
    while (merged.length - off >= 5) {
      const len = (((merged[off + 1] as number) << 24) | ((merged[off + 2] as number) << 16) | ((merged[off + 3] as number) << 8) | (merged[off + 4] as number)) >>> 0;
      if (merged.length - off - 5 < len) break;
      frames.push({ type: merged[off] as number, payload: merged.slice(off + 5, off + 5 + len) });
      off += 5 + len;
    }
    this.#buf = merged.slice(off);
    return frames;
  }
}

/** Splits text into complete lines; keeps the remainder. */
export class LineDecoder {
  #text = "";
  readonly #decoder = new TextDecoder();

  push(chunk: Uint8Array): string[] {
    this.#text += this.#decoder.decode(chunk, { stream: true });
    const lines: string[] = [];
    let nl: number;
    while ((nl = this.#text.indexOf("\n")) >= 0) {
      lines.push(this.#text.slice(0, nl));
      this.#text = this.#text.slice(nl + 1);
    }
    return lines;
  }

  /** What is left after the last newline. */
  rest(): string {
    return this.#text;
  }
}

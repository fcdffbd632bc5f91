/**
 * Docker's stream framing. Without a terminal, attach, exec and logs
 * multiplex stdout and stderr on one connection: each chunk is preceded by
 * an 8-byte header
 *
 *   [stream: u8 (0 stdin, 1 stdout, 2 stderr, 3 systemerr)][0, 0, 0][size: u32 big-endian]
 *
 * (`application/vnd.docker.multiplexed-stream`); with a terminal the bytes
 * are sent as they are (`application/vnd.docker.raw-stream`).
 */

export const STREAM = { stdin: 0, stdout: 1, stderr: 2, systemErr: 3 } as const;

export const MEDIA_RAW = "application/vnd.docker.raw-stream";
export const MEDIA_MULTIPLEXED = "application/vnd.docker.multiplexed-stream";

/** Largest payload in one frame; longer chunks are split (Docker's stdcopy uses 32 KiB buffers). */
const MAX_FRAME = 1 << 20;

/**
 * One chunk as multiplexed frames (split if over 1 MiB).
 * @example encodeMuxFrame(1, new TextEncoder().encode("hi")) // [1,0,0,0,0,0,0,2,104,105]
 */
export function encodeMuxFrame(stream: number, payload: Uint8Array): Uint8Array {
  if (payload.length <= MAX_FRAME) {
    const out = new Uint8Array(8 + payload.length);
    out[0] = stream;
    new DataView(out.buffer).setUint32(4, payload.length, false);
    out.set(payload, 8);
    return out;
  }
  const parts: Uint8Array[] = [];
  for (let off = 0; off < payload.length; off += MAX_FRAME) parts.push(encodeMuxFrame(stream, payload.subarray(off, off + MAX_FRAME)));
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Decodes multiplexed frames fed in arbitrary chunks (the client side; used by tests and tools). */
export class MuxDecoder {
  #buf = new Uint8Array(0);

  push(chunk: Uint8Array): { stream: number; payload: Uint8Array }[] {
    const merged = new Uint8Array(this.#buf.length + chunk.length);
    merged.set(this.#buf, 0);
    merged.set(chunk, this.#buf.length);
    const out: { stream: number; payload: Uint8Array }[] = [];
    let off = 0;
    while (merged.length - off >= 8) {
      const size = new DataView(merged.buffer, merged.byteOffset + off + 4, 4).getUint32(0, false);
      if (merged.length - off - 8 < size) break;
      out.push({ stream: merged[off] as number, payload: merged.slice(off + 8, off + 8 + size) });
      off += 8 + size;
    }
    this.#buf = merged.slice(off);
    return out;
  }

  /** Bytes received that do not yet make a whole frame. */
  get pending(): number {
    return this.#buf.length;
  }
}

/** How a stream's chunks are framed: multiplexed (no terminal) or raw. */
export function framer(tty: boolean): (stream: number, payload: Uint8Array) => Uint8Array {
  return tty ? (_stream, payload) => payload : encodeMuxFrame;
}

/**
 * One client connection to a shim: a JSON request line, a JSON reply line,
 * then (for attach and exec) frames both ways. Writes queue when the socket
 * is full and flush on drain, so a slow client never loses output.
 *
 * A foreground run's CLI is also a client without a socket: it reads the
 * frames on the sync pipe it started the shim with (pipeTransport).
 */
import type { FileSink } from "bun";
import { encodeFrame, FrameDecoder, type ShimReply, type ShimRequest } from "./protocol.ts";

/** Where a connection's bytes go: a unix socket, or the sync pipe. */
export interface Transport {
  /** Writes what it can now; returns how many bytes (the rest waits for flush()). */
  write(bytes: Uint8Array): number;
  end(): void;
}

/**
 * The sync pipe (fd 1) as a transport: Bun's file sink queues what the pipe
 * cannot take yet and writes it as the CLI reads; a CLI that went away
 * makes the writes fail quietly. `closed` runs once everything is written
 * and must let go of the descriptor.
 */
export function pipeTransport(fd: number, closed: () => void): Transport {
  const sink: FileSink = Bun.file(fd).writer();
  let ended = false;
  /** A flush that could not write everything at once, if any. */
  let pending: Promise<unknown> | undefined;
  const flush = (): void => {
    try {
      const r = sink.flush();
      pending = r instanceof Promise ? r.catch(() => {}) : undefined;
    } catch {
      pending = undefined; // EPIPE: nobody reads any more
    }
  };
  return {
    write(bytes) {
      if (ended) return bytes.length;
      try {
        sink.write(bytes);
      } catch {
        // EPIPE
      }
      flush();
      return bytes.length;
    },
    end() {
      if (ended) return;
      ended = true;
      // Let go of the descriptor as soon as all is written (the CLI then sees
      // EOF): at once when the pipe took everything, which is the rule.
      flush();
      const finish = (): void => {
        // The sink writes through a descriptor of its own: end it too, or the pipe stays open until we exit.
        try {
          const r = sink.end();
          if (r instanceof Promise) r.catch(() => {});
        } catch {
          // already gone
        }
        closed();
      };
      if (pending) void pending.finally(finish);
      else finish();
    },
  };
}

export type FrameHandler = (type: number, payload: Uint8Array) => void;

export class Conn {
  readonly socket: Transport;
  #queue: Uint8Array[] = [];
  #head = new Uint8Array(0);
  #request: ShimRequest | undefined;
  #frames: FrameDecoder | undefined;
  #onFrame: FrameHandler | undefined;
  #closing = false;
  closed = false;
  onClose: (() => void) | undefined;

  constructor(socket: Transport) {
    this.socket = socket;
  }

  /** Feeds received bytes; returns the request once its line is complete. */
  receive(chunk: Uint8Array): ShimRequest | undefined {
    if (this.#request === undefined) {
      const merged = new Uint8Array(this.#head.length + chunk.length);
      merged.set(this.#head, 0);
      merged.set(chunk, this.#head.length);
      const nl = merged.indexOf(10);
      if (nl < 0) {
        if (merged.length > 1 << 20) this.end();
        this.#head = merged;
        return undefined;
      }
      const line = new TextDecoder().decode(merged.subarray(0, nl));
      const rest = merged.subarray(nl + 1);
      this.#head = new Uint8Array(0);
      try {
        this.#request = JSON.parse(line) as ShimRequest;
      } catch {
        this.reply({ ok: false, kind: "InvalidArgument", message: "malformed request" });
        this.end();
        return undefined;
      }
      if (rest.length > 0) this.#pendingFrames.push(rest.slice());
      return this.#request;
    }
    this.#dispatchFrames(chunk);
    return undefined;
  }

  #pendingFrames: Uint8Array[] = [];

  /** Switches to frame mode; frames that arrived early are delivered now. */
  onFrames(handler: FrameHandler): void {
    this.#onFrame = handler;
    this.#frames = new FrameDecoder();
    const early = this.#pendingFrames;
    this.#pendingFrames = [];
    for (const c of early) this.#dispatchFrames(c);
  }

  #dispatchFrames(chunk: Uint8Array): void {
    if (!this.#frames || !this.#onFrame) {
      this.#pendingFrames.push(chunk.slice());
      return;
    }
    for (const f of this.#frames.push(chunk)) this.#onFrame(f.type, f.payload);
  }

  reply(r: ShimReply): void {
    this.send(new TextEncoder().encode(`${JSON.stringify(r)}\n`));
  }

  frame(type: number, payload: Uint8Array | string): void {
    this.send(encodeFrame(type, payload));
  }

  send(bytes: Uint8Array): void {
    if (this.closed) return;
    if (this.#queue.length > 0) {
      this.#queue.push(bytes);
      return;
    }
    const n = this.socket.write(bytes);
    if (n < bytes.length) this.#queue.push(bytes.subarray(Math.max(0, n)));
  }

  /** Called on drain: writes what queued up. */
  flush(): void {
    while (this.#queue.length > 0) {
      const b = this.#queue[0] as Uint8Array;
      const n = this.socket.write(b);
      if (n < b.length) {
        this.#queue[0] = b.subarray(Math.max(0, n));
        return;
      }
      this.#queue.shift();
    }
    if (this.#closing) this.socket.end();
  }

  /** Ends the connection once everything queued is written. */
  end(): void {
    this.#closing = true;
    if (this.#queue.length === 0) this.socket.end();
  }

  get pending(): number {
    let n = 0;
    for (const b of this.#queue) n += b.length;
    return n;
  }
}

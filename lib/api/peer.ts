/**
 * The client end of an attach or exec stream, whatever carries it: a
 * hijacked connection (HTTP 101, raw bytes both ways) or, for clients that
 * did not ask to upgrade, a plain streamed response (output only).
 */
import type { Duplex } from "node:stream";
import type { StreamSink } from "./http.ts";

export interface Peer {
  /** Sends bytes to the client; dropped once it is gone. */
  send(bytes: Uint8Array): void;
  /** Ends the stream after what was sent. */
  end(): void;
  readonly closed: boolean;
  /** Bytes from the client (stdin). Early bytes are kept until a handler is set. */
  onInput(cb: (data: Uint8Array) => void): void;
  /** The client closed its sending side (stdin EOF). */
  onInputEnd(cb: () => void): void;
  /** The connection is gone (either side). */
  onClose(cb: () => void): void;
  /** Resolves when the connection is gone. */
  readonly gone: Promise<void>;
}

/** A client that reads more slowly than the container writes is cut off past this much queued output. */
const MAX_QUEUED = 64 << 20;

export class SocketPeer implements Peer {
  readonly #socket: Duplex;
  #closed = false;
  #inputEnded = false;
  #early: Uint8Array[] = [];
  #onInput: ((d: Uint8Array) => void) | undefined;
  #onInputEnd: (() => void) | undefined;
  readonly #onClose: (() => void)[] = [];
  readonly gone: Promise<void>;

  constructor(socket: Duplex, head?: Uint8Array) {
    this.#socket = socket;
    if (head && head.length > 0) this.#early.push(new Uint8Array(head));
    let resolveGone!: () => void;
    this.gone = new Promise((r) => {
      resolveGone = r;
    });
    socket.on("data", (d: Buffer) => {
      const bytes = new Uint8Array(d.buffer, d.byteOffset, d.length).slice();
      if (this.#onInput) this.#onInput(bytes);
      else this.#early.push(bytes);
    });
    socket.on("end", () => {
      this.#inputEnded = true;
      if (this.#onInput) this.#onInputEnd?.();
    });
    const close = (): void => {
      if (this.#closed) return;
      this.#closed = true;
      for (const cb of this.#onClose.splice(0)) cb();
      resolveGone();
    };
    socket.on("close", close);
    socket.on("error", close);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Writes the status line and headers that switch the connection to raw bytes. */
  upgrade(contentType: string, opts: { upgraded: boolean }): void {
    const head = opts.upgraded
      ? `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`
      : `HTTP/1.1 200 OK\r\nContent-Type: ${contentType}\r\n\r\n`;
    this.#socket.write(head);
  }

  send(bytes: Uint8Array): void {
    if (this.#closed || bytes.length === 0) return;
    this.#socket.write(bytes);
    if (this.#socket.writableLength > MAX_QUEUED) this.#socket.destroy();
  }

  end(): void {
    if (this.#closed) return;
    this.#socket.end();
    // A client that never closes its side would keep the socket half-open.
    setTimeout(() => {
      if (!this.#closed) this.#socket.destroy();
    }, 2000).unref?.();
  }

  onInput(cb: (data: Uint8Array) => void): void {
    this.#onInput = cb;
    for (const d of this.#early.splice(0)) cb(d);
    if (this.#inputEnded) this.#onInputEnd?.();
  }

  onInputEnd(cb: () => void): void {
    this.#onInputEnd = cb;
    if (this.#inputEnded && this.#onInput) cb();
  }

  onClose(cb: () => void): void {
    if (this.#closed) cb();
    else this.#onClose.push(cb);
  }
}

/** Output-only peer over a streamed HTTP response (no upgrade asked). */
export class SinkPeer implements Peer {
  readonly #sink: StreamSink;
  readonly #onClose: (() => void)[] = [];
  #closed = false;
  #resolveGone!: () => void;
  readonly gone: Promise<void>;

  constructor(sink: StreamSink) {
    this.#sink = sink;
    this.gone = new Promise((resolve) => {
      this.#resolveGone = resolve;
    });
    if (sink.signal.aborted) this.#close();
    else sink.signal.addEventListener("abort", () => this.#close());
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const cb of this.#onClose.splice(0)) cb();
    this.#resolveGone();
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(bytes: Uint8Array): void {
    if (this.#closed) return;
    void this.#sink.write(bytes).catch(() => {});
  }

  end(): void {
    this.#sink.close();
    this.#close();
  }

  onInput(): void {}
  onInputEnd(): void {}

  onClose(cb: () => void): void {
    if (this.#closed) cb();
    else this.#onClose.push(cb);
  }
}

/**
 * gzip on a worker thread. Bun's zlib streams compress on the calling
 * thread, so compressing a layer while it is being unpacked (import) would
 * take turns with the unpacker instead of using a second core. The worker is
 * made from inline source (a Blob URL), so the single compiled binary needs
 * no extra file. Backpressure: at most MAX_IN_FLIGHT bytes are queued.
 *
 *   const gz = new GzipWorker({ level: 6, onData: (c) => out.write(c) });
 *   for await (const c of input) await gz.write(c);
 *   await gz.end();
 */
import { SkiffError } from "../errors.ts";

const MAX_IN_FLIGHT = 8 << 20;

const WORKER_SOURCE = `
const { createGzip } = require("node:zlib");
let z;
self.onmessage = (e) => {
  const m = e.data;
  if (m.type === "start") {
    z = createGzip({ level: m.level });
    z.on("data", (c) => { const b = new Uint8Array(c).slice(); postMessage({ type: "data", chunk: b }, [b.buffer]); });
    z.on("end", () => postMessage({ type: "end" }));
    z.on("error", (err) => postMessage({ type: "error", message: String((err && err.message) || err) }));
  } else if (m.type === "chunk") {
    const n = m.chunk.byteLength;
    z.write(m.chunk, () => postMessage({ type: "ack", n }));
  } else if (m.type === "end") {
    z.end();
  }
};
`;

type FromWorker =
  | { type: "data"; chunk: Uint8Array }
  | { type: "ack"; n: number }
  | { type: "end" }
  | { type: "error"; message: string };

export class GzipWorker {
  readonly #worker: Worker;
  readonly #url: string;
  readonly #onData: (chunk: Uint8Array) => void;
  #inFlight = 0;
  #failure: Error | undefined;
  #room: (() => void) | undefined;
  readonly #ended: Promise<void>;
  #resolveEnded!: () => void;
  #rejectEnded!: (e: Error) => void;

  constructor(opts: { level: number; onData: (chunk: Uint8Array) => void }) {
    this.#onData = opts.onData;
    this.#ended = new Promise<void>((resolve, reject) => {
      this.#resolveEnded = resolve;
      this.#rejectEnded = reject;
    });
    this.#ended.catch(() => undefined);
    this.#url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" }));
    this.#worker = new Worker(this.#url);
    this.#worker.onmessage = (e: MessageEvent<FromWorker>) => this.#message(e.data);
    this.#worker.onerror = (e: ErrorEvent) => this.#fail(new SkiffError("Internal", `gzip worker: ${e.message}`));
    this.#worker.postMessage({ type: "start", level: opts.level });
  }

  #message(m: FromWorker): void {
    switch (m.type) {
      case "data":
        try {
          this.#onData(m.chunk);
        } catch (e) {
          this.#fail(e instanceof Error ? e : new Error(String(e)));
        }
        return;
      case "ack":
        this.#inFlight -= m.n;
        if (this.#inFlight <= MAX_IN_FLIGHT) this.#wake();
        return;
      case "end":
        this.#close();
        this.#resolveEnded();
        return;
      case "error":
        this.#fail(new SkiffError("Internal", `gzip: ${m.message}`));
    }
  }

  #wake(): void {
    const r = this.#room;
    this.#room = undefined;
    r?.();
  }

  #fail(e: Error): void {
    if (this.#failure) return;
    this.#failure = e;
    this.#close();
    this.#wake();
    this.#rejectEnded(e);
  }

  #close(): void {
    this.#worker.terminate();
    URL.revokeObjectURL(this.#url);
  }

  /** Queues a chunk (copied); resolves when there is room for more. */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.#failure) throw this.#failure;
    // A copy (Buffer#slice would share memory) whose buffer moves to the worker.
    const copy = new Uint8Array(chunk);
    this.#inFlight += copy.byteLength;
    this.#worker.postMessage({ type: "chunk", chunk: copy }, [copy.buffer]);
    while (this.#inFlight > MAX_IN_FLIGHT && !this.#failure) await new Promise<void>((r) => (this.#room = r));
    if (this.#failure) throw this.#failure;
  }

  /** Flushes; resolves once every compressed byte has been passed to onData. */
  async end(): Promise<void> {
    if (this.#failure) throw this.#failure;
    this.#worker.postMessage({ type: "end" });
    await this.#ended;
  }

  /** Stops at once (after a failure elsewhere). */
  destroy(): void {
    this.#fail(new SkiffError("Canceled", "gzip stopped"));
  }
}

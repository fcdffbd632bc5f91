/**
 * Small HTTP helpers shared by the routes: error responses (the status
 * comes from lib/errors.ts httpStatus, the body is Docker's
 * `{"message": "..."}`), capped body reading, and streamed responses with
 * backpressure whose headers go out at once.
 */
import { readAllCapped } from "../streams.ts";
import type { Context as HonoContext } from "hono";
import type { z } from "zod";
import { httpStatus, SkiffError, toSkiffError } from "../errors.ts";
import { MAX_JSON_BODY, parseJsonBody } from "./schemas.ts";

/** Header the bridge uses to tell streamed bodies from whole ones; never sent to clients. */
export const STREAM_MARKER = "x-skiff-stream";

/** `{"message": ...}` with the status of the error's kind (304 has no body). */
export function errorResponse(e: unknown): Response {
  const err = toSkiffError(e);
  const status = httpStatus(err);
  if (status === 304) return new Response(null, { status });
  return new Response(JSON.stringify({ message: err.message }), { status, headers: { "content-type": "application/json" } });
}

export function notImplemented(what: string): never {
  throw new SkiffError("NotImplemented", `${what} is not supported by skiff yet`);
}

/** Reads a request body as text, refusing more than `limit` bytes with 413. */
export async function readBodyText(req: Request, limit = MAX_JSON_BODY): Promise<string> {
  const declared = Number(req.headers.get("content-length") ?? "");
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  if (!req.body) return "";
  const bytes = await readAllCapped(req.body, limit, () => tooLarge(limit));
  return Buffer.from(bytes).toString("utf8");
}

function tooLarge(limit: number): SkiffError {
  return new SkiffError("TooLarge", `request body too large: the limit is ${limit} bytes`);
}

/** The JSON body, checked against `schema` (400 for malformed JSON or wrong types, 413 when too big). */
export async function jsonBody<S extends z.ZodTypeAny>(c: HonoContext, schema: S, opts: { emptyOk?: boolean } = {}): Promise<z.infer<S>> {
  return parseJsonBody(await readBodyText(c.req.raw), schema, opts);
}

/**
 * A byte stream a producer writes into: `write` waits while the client
 * reads slower than we produce (1 MiB queued), and rejects once the
 * client went away (`signal` aborts then).
 */
export class StreamSink {
  readonly stream: ReadableStream<Uint8Array>;
  readonly #abort = new AbortController();
  #ctrl!: ReadableStreamDefaultController<Uint8Array>;
  #waiters: (() => void)[] = [];
  #closed = false;

  constructor() {
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (ctrl) => {
          this.#ctrl = ctrl;
        },
        pull: () => this.#wake(),
        cancel: () => {
          this.#closed = true;
          this.#abort.abort();
          this.#wake();
        },
      },
      { highWaterMark: 1 << 20, size: (chunk) => chunk?.byteLength ?? 0 },
    );
  }

  /** Aborts when the client disconnected (or a linked signal aborted). */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /**
   * Aborts `signal` when any of `signals` does; returns the cleanup that
   * removes the listeners (long-lived signals, like the service's shutdown,
   * would otherwise keep one per finished stream).
   */
  link(signals: readonly AbortSignal[]): () => void {
    const abort = (): void => this.#abort.abort();
    for (const s of signals) {
      if (s.aborted) abort();
      else s.addEventListener("abort", abort, { once: true });
    }
    return () => {
      for (const s of signals) s.removeEventListener("abort", abort);
    };
  }

  get closed(): boolean {
    return this.#closed;
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  async write(chunk: Uint8Array | string): Promise<void> {
    if (this.#closed) throw new SkiffError("Canceled", "the client went away");
    const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
    if (bytes.length === 0) return;
    this.#ctrl.enqueue(bytes);
    while (!this.#closed && (this.#ctrl.desiredSize ?? 1) <= 0) await new Promise<void>((r) => this.#waiters.push(r));
  }

  /** Writes one JSON value and a newline (Docker's progress and event streams). */
  async json(value: unknown): Promise<void> {
    await this.write(`${JSON.stringify(value)}\n`);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#ctrl.close();
    } catch {
      // cancelled meanwhile
    }
    this.#wake();
  }
}

/**
 * A streamed response: headers now, body as `produce` writes it. A failure
 * inside `produce` ends the stream (after `onError` had a chance to write
 * a last message, e.g. Docker's `{"errorDetail": ...}` line).
 */
export function streamResponse(
  produce: (sink: StreamSink) => Promise<void>,
  opts: {
    status?: number;
    headers?: Record<string, string>;
    onError?: (sink: StreamSink, e: unknown) => Promise<void>;
    /** Also end the stream (sink.signal) when one of these aborts: the request's, the service's shutdown. */
    signals?: readonly AbortSignal[];
  } = {},
): Response {
  const sink = new StreamSink();
  const unlink = sink.link(opts.signals ?? []);
  void (async () => {
    try {
      await produce(sink);
    } catch (e) {
      if (!sink.closed && opts.onError) await opts.onError(sink, e).catch(() => {});
    } finally {
      unlink();
      sink.close();
    }
  })();
  return new Response(sink.stream, { status: opts.status ?? 200, headers: { ...opts.headers, [STREAM_MARKER]: "1" } });
}

/** Docker's error line in a JSON message stream. */
export function errorMessage(e: unknown): { errorDetail: { message: string }; error: string } {
  const message = toSkiffError(e).message;
  return { errorDetail: { message }, error: message };
}

/** The raw URL path (before the version prefix is stripped for routing). */
export function rawPath(req: Request): string {
  const url = req.url;
  const start = url.indexOf("/", url.indexOf("//") + 2);
  const q = url.indexOf("?", start);
  return start < 0 ? "/" : url.slice(start, q < 0 ? undefined : q);
}

/**
 * node:http ⇄ fetch: each request becomes a web Request for the Hono app
 * (its body streamed, its signal aborted when the client goes away), and
 * the Response is written back: whole bodies with Content-Length, streamed
 * ones (marked by the routes) with their headers flushed at once and the
 * body piped with backpressure, cancelled if the client disconnects.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { errorResponse, STREAM_MARKER } from "./http.ts";

type FetchLike = (req: Request) => Response | Promise<Response>;

/** The request body as a web stream, paused while the handler is not reading. */
function bodyStream(req: IncomingMessage, state: { ended: boolean; done: boolean }): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      start(ctrl) {
        req.on("data", (d: Buffer) => {
          if (state.done) return;
          ctrl.enqueue(new Uint8Array(d.buffer, d.byteOffset, d.length));
          if ((ctrl.desiredSize ?? 1) <= 0) req.pause();
        });
        req.on("end", () => {
          state.ended = true;
          try {
            ctrl.close();
          } catch {
            // cancelled
          }
        });
        req.on("error", (e) => {
          try {
            ctrl.error(e);
          } catch {
            // cancelled
          }
        });
      },
      pull() {
        req.resume();
      },
      cancel() {
        state.done = true;
        req.resume();
      },
    },
    { highWaterMark: 4 << 20, size: (c) => c?.byteLength ?? 0 },
  );
}

function hasBody(req: IncomingMessage): boolean {
  if (req.method === "GET" || req.method === "HEAD") return false;
  const len = req.headers["content-length"];
  if (len !== undefined) return Number(len) > 0;
  return req.headers["transfer-encoding"] !== undefined;
}

/** Builds the web Request for a node request. */
export function toRequest(req: IncomingMessage, signal: AbortSignal, bodyState: { ended: boolean; done: boolean }): Request {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i] as string, raw[i + 1] as string);
  const method = req.method ?? "GET";
  const withBody = hasBody(req);
  if (!withBody) bodyState.ended = true;
  return new Request(`http://localhost${req.url ?? "/"}`, {
    method,
    headers,
    signal,
    ...(withBody ? { body: bodyStream(req, bodyState), duplex: "half" } : {}),
  } as RequestInit);
}

function headerObject(res: Response): Record<string, string> {
  const out: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    if (k !== STREAM_MARKER) out[k] = v;
  });
  return out;
}

async function pipeBody(body: ReadableStream<Uint8Array>, res: ServerResponse): Promise<void> {
  const reader = body.getReader();
  let gone = false;
  const onClose = (): void => {
    gone = true;
    void reader.cancel().catch(() => {});
  };
  res.on("close", onClose);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || gone) break;
      if (!res.write(value)) {
        await new Promise<void>((resolve) => {
          const go = (): void => {
            res.off("drain", go);
            res.off("close", go);
            resolve();
          };
          res.on("drain", go);
          res.on("close", go);
        });
      }
    }
  } catch {
    // the producer failed after the headers went out: end what we have
  } finally {
    res.off("close", onClose);
    if (!gone) res.end();
  }
}

/** Serves one node request with `fetch`. */
export async function serveNode(req: IncomingMessage, res: ServerResponse, fetch: FetchLike): Promise<void> {
  const controller = new AbortController();
  res.on("close", () => controller.abort());
  const bodyState = { ended: false, done: false };
  let response: Response;
  try {
    response = await fetch(toRequest(req, controller.signal, bodyState));
  } catch (e) {
    response = errorResponse(e);
  }
  const headers = headerObject(response);
  const status = response.status;
  const noBody = req.method === "HEAD" || status === 204 || status === 304 || status < 200;
  // A body the handler did not read (an early error): close rather than parse it as the next request.
  const closeAfter = !bodyState.ended && !response.headers.has(STREAM_MARKER);
  if (closeAfter) headers.connection = "close";
  if (!response.headers.has(STREAM_MARKER) || noBody) {
    const buf = noBody ? Buffer.alloc(0) : Buffer.from(await response.arrayBuffer());
    if (!noBody) headers["content-length"] = String(buf.length);
    res.writeHead(status, headers);
    res.end(buf);
    if (closeAfter) {
      bodyState.done = true;
      req.socket?.destroySoon?.();
    }
    return;
  }
  res.writeHead(status, headers);
  res.flushHeaders();
  if (response.body) await pipeBody(response.body, res);
  else res.end();
}

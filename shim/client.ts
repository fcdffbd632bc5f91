/**
 * The CLI's side of a shim: one-shot requests over shim.sock, and attached
 * sessions (attach, exec) that stream frames both ways.
 */
import type { Socket } from "bun";
import { SkiffError } from "../lib/errors.ts";
import { encodeFrame, FRAME, FrameDecoder, type ShimReply, type ShimRequest } from "./protocol.ts";

export interface SessionHandlers {
  onStdout?: (data: Uint8Array) => void;
  onStderr?: (data: Uint8Array) => void;
}

export interface Session {
  /** Resolves with the exit code from the EXIT frame, or undefined if the shim went away first. */
  readonly done: Promise<number | undefined>;
  /** Resolves when the connection closed (after EXIT: the shim finished, e.g. removed an --rm container). */
  readonly closed: Promise<void>;
  sendStdin(data: Uint8Array): void;
  closeStdin(): void;
  resize(rows: number, cols: number): void;
  close(): void;
}

interface ConnState {
  head: Uint8Array;
  replied: boolean;
  frames: FrameDecoder;
  queue: Uint8Array[];
}

function unavailable(sock: string, e: unknown): SkiffError {
  return new SkiffError("Unavailable", `cannot reach the container's shim at ${sock}: ${(e as Error).message ?? e}`);
}

/** Opens a connection, sends `req`, and calls back with the reply, then with frames. */
async function open(
  sock: string,
  req: ShimRequest,
  cb: { reply: (r: ShimReply) => void; frame: (type: number, payload: Uint8Array) => void; close: () => void },
): Promise<Socket<ConnState>> {
  try {
    return await Bun.connect<ConnState>({
      unix: sock,
      data: { head: new Uint8Array(0), replied: false, frames: new FrameDecoder(), queue: [] },
      socket: {
        open(s) {
          s.write(`${JSON.stringify(req)}\n`);
        },
        data(s, chunk) {
          const st = s.data;
          let rest: Uint8Array = chunk;
          if (!st.replied) {
            const merged = new Uint8Array(st.head.length + chunk.length);
            merged.set(st.head, 0);
            merged.set(chunk, st.head.length);
            const nl = merged.indexOf(10);
            if (nl < 0) {
              st.head = merged;
              return;
            }
            st.replied = true;
            st.head = new Uint8Array(0);
            cb.reply(JSON.parse(new TextDecoder().decode(merged.subarray(0, nl))) as ShimReply);
            rest = merged.subarray(nl + 1);
          }
          for (const f of st.frames.push(rest)) cb.frame(f.type, f.payload);
        },
        drain(s) {
          const q = s.data.queue;
          while (q.length > 0) {
            const b = q[0] as Uint8Array;
            const n = s.write(b);
            if (n < b.length) {
              q[0] = b.subarray(Math.max(0, n));
              return;
            }
            q.shift();
          }
        },
        close() {
          cb.close();
        },
        error() {
          cb.close();
        },
      },
    });
  } catch (e) {
    throw unavailable(sock, e);
  }
}

function send(s: Socket<ConnState>, bytes: Uint8Array): void {
  const q = s.data.queue;
  if (q.length > 0) {
    q.push(bytes);
    return;
  }
  const n = s.write(bytes);
  if (n < bytes.length) q.push(bytes.subarray(Math.max(0, n)));
}

/** A one-shot request: returns the reply, throws a typed error for `ok: false`. */
export async function shimRequest(sock: string, req: ShimRequest): Promise<Extract<ShimReply, { ok: true }>> {
  let resolve!: (r: ShimReply | undefined) => void;
  const got = new Promise<ShimReply | undefined>((r) => {
    resolve = r;
  });
  const s = await open(sock, req, { reply: (r) => resolve(r), frame: () => {}, close: () => resolve(undefined) });
  const reply = await got;
  s.end();
  if (!reply) throw new SkiffError("Unavailable", `the container's shim closed the connection during ${req.op}`);
  if (!reply.ok) throw new SkiffError(reply.kind, reply.message);
  return reply;
}

/** Starts an attach or exec session. Throws if the shim refuses it. */
export async function shimSession(
  sock: string,
  req: Extract<ShimRequest, { op: "attach" | "exec" }>,
  handlers: SessionHandlers,
): Promise<Session> {
  const replied = Promise.withResolvers<ShimReply | undefined>();
  const ends = sessionEnds();
  const s = await open(sock, req, {
    reply: (r) => replied.resolve(r),
    frame: (type, payload) => ends.frame(type, payload, handlers),
    close: () => {
      replied.resolve(undefined);
      ends.close();
    },
  });
  const reply = await replied.promise;
  if (!reply) throw new SkiffError("Unavailable", `the container's shim closed the connection during ${req.op}`);
  if (!reply.ok) {
    s.end();
    throw new SkiffError(reply.kind, reply.message);
  }
  return {
    done: ends.done,
    closed: ends.closed,
    sendStdin: (data) => send(s, encodeFrame(FRAME.STDIN, data)),
    closeStdin: () => send(s, encodeFrame(FRAME.STDIN_EOF, new Uint8Array(0))),
    resize: (rows, cols) => send(s, encodeFrame(FRAME.RESIZE, JSON.stringify({ rows, cols }))),
    close: () => s.end(),
  };
}

/**
 * A session on the sync pipe (StartOptions.attachOnSyncPipe): the shim
 * writes output and exit frames there after its verdict, starting with
 * `head` (bytes read together with the verdict). Nothing goes the other way:
 * signals for the container still go over shim.sock.
 */
export function pipeSession(pipe: { stream: ReadableStream<Uint8Array>; head: Uint8Array }, handlers: SessionHandlers): Session {
  const ends = sessionEnds();
  const frames = new FrameDecoder();
  const deliver = (chunk: Uint8Array): void => {
    for (const f of frames.push(chunk)) ends.frame(f.type, f.payload, handlers);
  };
  const reader = pipe.stream.getReader();
  // The shim process is unref'd (the CLI must not wait for it to end): this keeps us alive until the pipe closes.
  const alive = setInterval(() => {}, 1 << 30);
  void (async () => {
    try {
      deliver(pipe.head);
      for (;;) {
        const { done: end, value } = await reader.read();
        if (end) break;
        deliver(value);
      }
    } catch {
      // the pipe broke: the shim is gone
    } finally {
      clearInterval(alive);
      ends.close();
    }
  })();
  const nothing = (): void => {};
  return { done: ends.done, closed: ends.closed, sendStdin: nothing, closeStdin: nothing, resize: nothing, close: () => void reader.cancel().catch(nothing) };
}

/** A session's two endings, and the frames that lead to them: output to the handlers, the exit code to `done`. */
function sessionEnds(): {
  done: Promise<number | undefined>;
  closed: Promise<void>;
  frame: (type: number, payload: Uint8Array, handlers: SessionHandlers) => void;
  close: () => void;
} {
  const done = Promise.withResolvers<number | undefined>();
  const closed = Promise.withResolvers<void>();
  return {
    done: done.promise,
    closed: closed.promise,
    frame(type, payload, handlers) {
      if (type === FRAME.STDOUT) handlers.onStdout?.(payload);
      else if (type === FRAME.STDERR) handlers.onStderr?.(payload);
      else if (type === FRAME.EXIT) done.resolve((JSON.parse(new TextDecoder().decode(payload)) as { exitCode: number }).exitCode);
    },
    close() {
      done.resolve(undefined);
      closed.resolve();
    },
  };
}

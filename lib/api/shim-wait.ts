/**
 * Waiting on a container's shim for its exit, cancellably: one connection
 * to shim.sock with the `wait` request, closed when the caller gives up, so
 * a client that disconnects from `/wait` leaves no connection behind.
 */
import { SkiffError } from "../errors.ts";

/** Resolves with the exit code, or undefined when the shim went away without one; rejects Unavailable if unreachable. */
export async function shimWait(sock: string, signal?: AbortSignal): Promise<number | undefined> {
  if (signal?.aborted) throw new SkiffError("Canceled", "wait canceled");
  let settle!: (code: number | undefined) => void;
  const result = new Promise<number | undefined>((r) => {
    settle = r;
  });
  let text = "";
  let socket: Awaited<ReturnType<typeof Bun.connect>>;
  try {
    socket = await Bun.connect({
      unix: sock,
      socket: {
        open(s) {
          s.write(`${JSON.stringify({ op: "wait" })}\n`);
        },
        data(_s, chunk) {
          text += new TextDecoder().decode(chunk);
          const nl = text.indexOf("\n");
          if (nl < 0) return;
          try {
            const reply = JSON.parse(text.slice(0, nl)) as { ok: boolean; exitCode?: number };
            settle(reply.ok && typeof reply.exitCode === "number" ? reply.exitCode : undefined);
          } catch {
            settle(undefined);
          }
        },
        close() {
          settle(undefined);
        },
        error() {
          settle(undefined);
        },
      },
    });
  } catch (e) {
    throw new SkiffError("Unavailable", `cannot reach the container's shim at ${sock}: ${(e as Error).message}`);
  }
  const onAbort = (): void => {
    socket.end();
    settle(undefined);
  };
  signal?.addEventListener("abort", onAbort);
  try {
    return await result;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    socket.end();
  }
}

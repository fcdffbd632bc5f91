/**
 * `POST /containers/{id}/attach`: the container's stdio over a client
 * connection. A running container is joined through its shim at once; a
 * created or exited one is waited for (Docker allows attaching before
 * start: `docker run` and `docker start -a` do exactly that). When this
 * service starts it, the attach connects with the shim's replay of early
 * output, so nothing the container wrote before the connection is lost,
 * and start errors end the stream (the client reads them from `start`).
 */
import { join } from "node:path";
import type { ContainerRecord } from "../containers/record.ts";
import { shimSocket } from "../containers/start.ts";
import { readLogs } from "../containers/logs.ts";
import { shimSession, type Session } from "../../shim/client.ts";
import { DetachMatcher } from "./detach-keys.ts";
import { framer, STREAM } from "./frames.ts";
import type { Peer } from "./peer.ts";
import type { ApiState } from "./state.ts";
import { stateIfExists } from "./wait.ts";

export interface AttachParams {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /** Follow the live stream (false: logs only). */
  stream: boolean;
  /** Send the log so far first. */
  logs: boolean;
  /** Detach sequence (terminal with stdin only). */
  detachKeys: Uint8Array;
}

type Started = "ours" | "external" | "gone" | "failed" | "closed";

/** Waits until the container runs with a shim: started by us (replay) or by someone else. */
async function waitForShim(state: ApiState, id: string, peer: Peer): Promise<Started> {
  const waiter = state.attaches.register(id);
  let stop = false;
  const poll = (async (): Promise<Started> => {
    while (!stop) {
      await Bun.sleep(100);
      if (stop) break;
      const s = stateIfExists(state.ctx, id);
      if (!s) return "gone";
      if (state.attaches.isStarting(id)) continue;
      if ((s.status === "running" || s.status === "paused") && s.shimAlive) return "external";
    }
    return "closed";
  })();
  let onShutdown: (() => void) | undefined;
  try {
    return await Promise.race<Started>([
      waiter.promise.then(
        () => "ours" as const,
        () => "failed" as const,
      ),
      poll,
      peer.gone.then(() => "closed" as const),
      new Promise<Started>((r) => {
        onShutdown = () => r("closed");
        state.shutdownSignal.addEventListener("abort", onShutdown, { once: true });
      }),
    ]);
  } finally {
    stop = true;
    waiter.cancel();
    if (onShutdown) state.shutdownSignal.removeEventListener("abort", onShutdown);
  }
}

async function sendLogs(state: ApiState, record: ContainerRecord, params: AttachParams, peer: Peer): Promise<void> {
  const frame = framer(record.options.tty);
  for await (const e of readLogs(join(state.ctx.containers.dir(record.id), "ctr.log"), { follow: false })) {
    if (peer.closed) return;
    if (e.stream === "stdout" && !params.stdout) continue;
    if (e.stream === "stderr" && !params.stderr) continue;
    peer.send(frame(e.stream === "stdout" ? STREAM.stdout : STREAM.stderr, new TextEncoder().encode(e.log)));
  }
}

/** Runs one attach until the container's output ends, the client leaves or detaches. */
export async function runAttach(state: ApiState, record: ContainerRecord, params: AttachParams, peer: Peer): Promise<void> {
  const tty = record.options.tty;
  const frame = framer(tty);
  if (params.logs) await sendLogs(state, record, params, peer);
  if (!params.stream) {
    peer.end();
    return;
  }
  let replay = false;
  const s = stateIfExists(state.ctx, record.id);
  const live = s !== undefined && (s.status === "running" || s.status === "paused") && s.shimAlive;
  if (!live) {
    const how = await waitForShim(state, record.id, peer);
    if (how !== "ours" && how !== "external") {
      peer.end();
      return;
    }
    replay = how === "ours";
  }
  const stdin = params.stdin && record.options.openStdin;
  let session: Session;
  try {
    session = await shimSession(
      shimSocket(state.ctx, record.id),
      { op: "attach", stdin, stdout: params.stdout, stderr: params.stderr, replay },
      {
        onStdout: (d) => peer.send(frame(STREAM.stdout, d)),
        onStderr: (d) => peer.send(frame(STREAM.stderr, d)),
      },
    );
  } catch {
    // The container ended before we reached its shim: its output is in the log.
    peer.end();
    return;
  }
  if (stdin) {
    const matcher = tty ? new DetachMatcher(params.detachKeys) : undefined;
    peer.onInput((data) => {
      const { forward, hit } = matcher ? matcher.feed(data) : { forward: data, hit: false };
      if (forward.length > 0) session.sendStdin(forward);
      if (hit) {
        session.close();
        peer.end();
      }
    });
    peer.onInputEnd(() => session.closeStdin());
  }
  peer.onClose(() => session.close());
  await session.closed;
  peer.end();
}

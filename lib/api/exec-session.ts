/**
 * `POST /exec/{id}/start`: runs an exec instance through the container's
 * shim. Attached, its output goes to the client (multiplexed unless it has a
 * terminal) and its exit code is recorded before the stream ends, so the
 * client's `GET /exec/{id}/json` that follows sees it. Detached, the shim
 * starts it and we return.
 */
import { execProcess } from "../containers/exec.ts";
import { currentState } from "../containers/ops.ts";
import type { ContainerRecord } from "../containers/record.ts";
import { shimSocket } from "../containers/start.ts";
import { SkiffError, toSkiffError } from "../errors.ts";
import { shimRequest, shimSession, type Session } from "../../shim/client.ts";
import type { ExecInstance } from "./exec-store.ts";
import { framer, STREAM } from "./frames.ts";
import type { Peer } from "./peer.ts";
import type { ApiState } from "./state.ts";

/** Checks an exec can start now; throws NotFound / Conflict like Docker. */
export function checkExecStartable(state: ApiState, exec: ExecInstance): ContainerRecord {
  if (exec.started) throw new SkiffError("Conflict", `exec ${exec.id} has already been started`);
  const record = state.ctx.containers.resolve(exec.containerId);
  const s = currentState(state.ctx, record);
  if (s.status === "paused") throw new SkiffError("Conflict", `container ${record.id} is paused, unpause the container before exec`);
  if (s.status !== "running") throw new SkiffError("Conflict", `container ${record.id} is not running`);
  if (!s.shimAlive) throw new SkiffError("FailedPrecondition", `container ${record.name} has no shim: exec needs it (stop and start the container)`);
  return record;
}

function processFor(state: ApiState, record: ContainerRecord, exec: ExecInstance): ReturnType<typeof execProcess> {
  const c = exec.config;
  return execProcess(state.ctx, record, {
    cmd: c.cmd,
    env: c.env,
    ...(c.user ? { user: c.user } : {}),
    ...(c.workdir ? { workdir: c.workdir } : {}),
    tty: c.tty,
  });
}

/** Detached start: returns once the shim started the process. */
export async function startExecDetached(state: ApiState, exec: ExecInstance): Promise<void> {
  const record = checkExecStartable(state, exec);
  const proc = processFor(state, record, exec);
  exec.started = true;
  try {
    await shimRequest(shimSocket(state.ctx, record.id), { op: "exec", execId: exec.id, process: proc, stdin: false, detach: true });
  } catch (e) {
    state.execs.finish(exec, 126);
    throw e;
  }
  // The shim does not report a detached process's end: it counts as finished, code unknown.
  state.execs.finish(exec, null);
  state.containerEvent(record, "exec_start", { execID: exec.id });
}

/** Attached start over `peer`: the caller has written the response head already. */
export async function runExecSession(
  state: ApiState,
  exec: ExecInstance,
  record: ContainerRecord,
  peer: Peer,
  opts: { tty: boolean; consoleSize?: [number, number] | undefined },
): Promise<void> {
  const frame = framer(opts.tty);
  const c = exec.config;
  exec.started = true;
  exec.running = true;
  let session: Session;
  try {
    const proc = processFor(state, record, exec);
    session = await shimSession(
      shimSocket(state.ctx, record.id),
      { op: "exec", execId: exec.id, process: { ...proc, terminal: opts.tty }, stdin: c.attachStdin, detach: false },
      {
        onStdout: (d) => {
          if (c.attachStdout) peer.send(frame(STREAM.stdout, d));
        },
        onStderr: (d) => {
          if (c.attachStderr) peer.send(frame(STREAM.stderr, d));
        },
      },
    );
  } catch (e) {
    // As dockerd: the error goes to the client's output; the exec counts as not runnable.
    peer.send(frame(STREAM.stdout, new TextEncoder().encode(`${toSkiffError(e).message}\r\n`)));
    state.execs.finish(exec, 126);
    peer.end();
    return;
  }
  state.containerEvent(record, "exec_start", { execID: exec.id });
  const size = opts.consoleSize ?? c.consoleSize;
  if (opts.tty && size && size[0] > 0 && size[1] > 0) session.resize(size[0], size[1]);
  if (c.attachStdin) {
    peer.onInput((d) => session.sendStdin(d));
    peer.onInputEnd(() => session.closeStdin());
  }
  peer.onClose(() => session.close());
  const code = await session.done;
  state.execs.finish(exec, code ?? null);
  state.containerEvent(record, "exec_die", { execID: exec.id, exitCode: String(code ?? -1) });
  peer.end();
}

/**
 * Exec instances: create, start (detached here; attached starts are
 * hijacked connections, see ../hijack.ts, or a streamed body for clients
 * that do not upgrade), resize, inspect.
 */
import type { Hono } from "hono";
import { SkiffError } from "../../errors.ts";
import { currentState } from "../../containers/ops.ts";
import { shimSocket } from "../../containers/start.ts";
import { shimRequest } from "../../../shim/client.ts";
import type { ApiEnv } from "../app.ts";
import { checkExecStartable, runExecSession, startExecDetached } from "../exec-session.ts";
import { inspectExec, type ExecConfig } from "../exec-store.ts";
import { MEDIA_RAW } from "../frames.ts";
import { jsonBody, streamResponse } from "../http.ts";
import { SinkPeer } from "../peer.ts";
import { ExecCreateSchema, ExecStartSchema, queryInt, type ExecCreateBody } from "../schemas.ts";
import type { ApiState } from "../state.ts";

export function execConfigOf(body: ExecCreateBody): ExecConfig {
  const cmd = body.Cmd ?? [];
  if (cmd.length === 0) throw new SkiffError("InvalidArgument", "No exec command specified");
  for (const e of body.Env ?? []) if (e.startsWith("=")) throw new SkiffError("InvalidArgument", `invalid environment variable: ${e}`);
  return {
    cmd,
    env: (body.Env ?? []).filter((e) => e.includes("=")),
    user: body.User ?? "",
    workdir: body.WorkingDir ?? "",
    tty: body.Tty ?? false,
    attachStdin: body.AttachStdin ?? false,
    attachStdout: body.AttachStdout ?? false,
    attachStderr: body.AttachStderr ?? false,
    detachKeys: body.DetachKeys ?? "",
    privileged: body.Privileged ?? false,
    consoleSize: body.ConsoleSize ? [body.ConsoleSize[0] as number, body.ConsoleSize[1] as number] : undefined,
  };
}

export function registerExec(app: Hono<ApiEnv>, state: ApiState): void {
  const ctx = state.ctx;

  app.post("/containers/:id/exec", async (c) => {
    const record = ctx.containers.resolve(c.req.param("id"));
    const body = await jsonBody(c, ExecCreateSchema);
    const config = execConfigOf(body);
    const s = currentState(ctx, record);
    if (s.status === "paused") throw new SkiffError("Conflict", `container ${record.id} is paused, unpause the container before exec`);
    if (s.status !== "running") throw new SkiffError("Conflict", `container ${record.id} is not running`);
    if (body.Privileged) throw new SkiffError("InvalidArgument", "privileged exec is not supported yet");
    const exec = state.execs.create(record.id, config);
    state.containerEvent(record, "exec_create", { execID: exec.id });
    return c.json({ Id: exec.id }, 201);
  });

  app.post("/exec/:id/start", async (c) => {
    const exec = state.execs.get(c.req.param("id"));
    const body = await jsonBody(c, ExecStartSchema, { emptyOk: true });
    if (body.Detach) {
      await startExecDetached(state, exec);
      return c.body(null, 200);
    }
    const record = checkExecStartable(state, exec);
    const tty = body.Tty ?? exec.config.tty;
    const consoleSize = body.ConsoleSize ? ([body.ConsoleSize[0], body.ConsoleSize[1]] as [number, number]) : undefined;
    return streamResponse(
      async (sink) => {
        const peer = new SinkPeer(sink);
        await runExecSession(state, exec, record, peer, { tty, consoleSize });
      },
      { headers: { "Content-Type": MEDIA_RAW } },
    );
  });

  app.post("/exec/:id/resize", async (c) => {
    const exec = state.execs.get(c.req.param("id"));
    const rows = queryInt(c.req.query("h"), "h", 0) as number;
    const cols = queryInt(c.req.query("w"), "w", 0) as number;
    if (!exec.started) {
      exec.config.consoleSize = [rows, cols];
      return c.body(null, 200);
    }
    if (!exec.running) throw new SkiffError("Conflict", `exec ${exec.id} is not running`);
    await shimRequest(shimSocket(ctx, exec.containerId), { op: "resize", rows, cols, execId: exec.id });
    return c.body(null, 200);
  });

  app.get("/exec/:id/json", (c) => c.json(inspectExec(state.execs.get(c.req.param("id")))));
}

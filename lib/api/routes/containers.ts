/**
 * Container lifecycle: create, start, stop, kill, restart, wait, remove,
 * rename, resize, pause/unpause, prune, update. Each handler resolves the
 * container, calls the engine verb the CLI uses, records an event and maps
 * the outcome to Docker's status (204, 304 for a no-op start/stop, 409...).
 */
import type { Hono } from "hono";
import { createContainer } from "../../containers/create.ts";
import { currentState, killContainer, removeContainer, stopContainer, stopSignalOf } from "../../containers/ops.ts";
import { shimSocket, startContainer, StartFailure } from "../../containers/start.ts";
import { SkiffError } from "../../errors.ts";
import { parseSignal } from "../../oci/spec.ts";
import { shimRequest } from "../../../shim/client.ts";
import type { ApiEnv } from "../app.ts";
import { planCreate } from "../create-options.ts";
import { jsonBody, streamResponse } from "../http.ts";
import { ContainerCreateSchema, ContainerUpdateSchema, parseFilters, queryBool, queryInt } from "../schemas.ts";
import type { ApiState } from "../state.ts";
import { parseCondition, waitForCondition } from "../wait.ts";
import { registerContainerViews } from "./container-views.ts";

/** Starts a container for the API; a start failure keeps its message (clients map it to 125/126/127). */
export async function startForApi(state: ApiState, id: string): Promise<boolean> {
  const record = state.ctx.containers.resolve(id);
  const hub = state.attaches;
  const attach = hub.hasWaiting(record.id);
  const size = hub.size(record.id);
  hub.beginStart(record.id);
  let started: { alreadyRunning: boolean };
  try {
    started = await startContainer(state.ctx, record, { attach, ...(size ?? {}) });
  } catch (e) {
    hub.endStart(record.id, e);
    if (e instanceof StartFailure) {
      state.containerEvent(record, "die", { exitCode: String(e.exitCode) });
      throw new SkiffError("FailedPrecondition", e.message);
    }
    throw e;
  }
  hub.endStart(record.id);
  if (started.alreadyRunning) return false;
  state.containerEvent(record, "start");
  state.watchExit(record);
  return true;
}

function timeoutParam(v: string | undefined): number | undefined {
  const t = queryInt(v, "t");
  return t === undefined ? undefined : t < 0 ? undefined : t;
}

function signalParam(v: string | undefined, fallback?: number): number | undefined {
  if (v === undefined || v === "") return fallback;
  return parseSignal(v);
}

export function registerContainers(app: Hono<ApiEnv>, state: ApiState): void {
  const ctx = state.ctx;
  const resolve = (id: string) => ctx.containers.resolve(id);

  app.post("/containers/create", async (c) => {
    const body = await jsonBody(c, ContainerCreateSchema);
    const { NetworkStore } = await import("../../network/store.ts");
    const networks = new NetworkStore(ctx.paths);
    const plan = planCreate(body, { networkExists: (n) => networks.find(n) !== undefined });
    const name = c.req.query("name") || undefined;
    const platform = c.req.query("platform") || undefined;
    const record = await createContainer(ctx, {
      image: plan.image,
      name: name?.replace(/^\//, ""),
      options: plan.options,
      pull: "never",
      platform,
      runtime: plan.runtime,
    });
    const size = body.HostConfig?.ConsoleSize;
    if (record.options.tty && size && size.length === 2 && (size[0] ?? 0) > 0 && (size[1] ?? 0) > 0) {
      state.attaches.setSize(record.id, size[0] as number, size[1] as number);
    }
    state.containerEvent(record, "create");
    return c.json({ Id: record.id, Warnings: plan.warnings }, 201);
  });

  app.post("/containers/:id/start", async (c) => {
    const started = await startForApi(state, c.req.param("id"));
    return c.body(null, started ? 204 : 304);
  });

  app.post("/containers/:id/stop", async (c) => {
    const record = resolve(c.req.param("id"));
    const signal = signalParam(c.req.query("signal"));
    const since = Date.now();
    const s = currentState(ctx, record).status;
    if (s !== "running" && s !== "paused") return c.body(null, 304);
    state.containerEvent(record, "kill", { signal: String(signal ?? stopSignalOf(record)) });
    const stopped = await stopContainer(ctx, record, { timeoutSeconds: timeoutParam(c.req.query("t")), signal });
    if (!stopped) return c.body(null, 304);
    await state.exitLearned(record.id, since, 1000);
    state.containerEvent(record, "stop");
    return c.body(null, 204);
  });

  app.post("/containers/:id/restart", async (c) => {
    const record = resolve(c.req.param("id"));
    await stopContainer(ctx, record, { timeoutSeconds: timeoutParam(c.req.query("t")), signal: signalParam(c.req.query("signal")) });
    await startForApi(state, record.id);
    state.containerEvent(record, "restart");
    return c.body(null, 204);
  });

  app.post("/containers/:id/kill", async (c) => {
    const record = resolve(c.req.param("id"));
    const signal = signalParam(c.req.query("signal"), 9) as number;
    await killContainer(ctx, record, signal);
    state.containerEvent(record, "kill", { signal: String(signal) });
    return c.body(null, 204);
  });

  app.post("/containers/:id/wait", (c) => {
    const record = resolve(c.req.param("id"));
    const condition = parseCondition(c.req.query("condition"));
    const signal = c.req.raw.signal;
    // Headers go out now: `docker run` starts the container only once the wait is in place.
    return streamResponse(
      async (sink) => {
        const ended = sink.signal;
        let body: unknown;
        try {
          body = { Error: null, StatusCode: await waitForCondition(ctx, record, condition, { signal: ended, hooks: state.exitHooks(record.id) }) };
        } catch (e) {
          if (ended.aborted) return;
          body = { Error: { Message: (e as Error).message }, StatusCode: -1 };
        }
        await sink.json(body);
      },
      { headers: { "Content-Type": "application/json" }, signals: [signal, state.shutdownSignal] },
    );
  });

  app.delete("/containers/:id", async (c) => {
    const record = resolve(c.req.param("id"));
    const force = queryBool(c.req.query("force"));
    const since = Date.now();
    const wasRunning = currentState(ctx, record).status === "running";
    await removeContainer(ctx, record, { force });
    // Its `die` (logged by the exit watch) comes before `destroy`, as with dockerd.
    if (wasRunning) await state.exitLearned(record.id, since, 1000);
    if (queryBool(c.req.query("v"))) await (await import("../../volumes/mounts.ts")).removeAnonymousVolumes(ctx, record);
    state.containerEvent(record, "destroy");
    return c.body(null, 204);
  });

  app.post("/containers/:id/rename", async (c) => {
    const record = resolve(c.req.param("id"));
    const name = c.req.query("name") ?? "";
    const { renameContainer } = await import("../../containers/rename.ts");
    const updated = await renameContainer(ctx, record, { name });
    state.containerEvent(updated, "rename", { oldName: `/${record.name}` });
    return c.body(null, 204);
  });

  app.post("/containers/:id/resize", async (c) => {
    const record = resolve(c.req.param("id"));
    const rows = queryInt(c.req.query("h"), "h", 0) as number;
    const cols = queryInt(c.req.query("w"), "w", 0) as number;
    const s = currentState(ctx, record);
    if ((s.status === "running" || s.status === "paused") && s.shimAlive) {
      await shimRequest(shimSocket(ctx, record.id), { op: "resize", rows, cols });
    } else if (state.attaches.hasWaiting(record.id) || s.status === "created") {
      // Before start: the size the terminal will be created with.
      state.attaches.setSize(record.id, rows, cols);
    } else {
      throw new SkiffError("Conflict", `container ${record.id} is not running`);
    }
    return c.body(null, 200);
  });

  for (const op of ["pause", "unpause"] as const) {
    app.post(`/containers/:id/${op}`, async (c) => {
      const record = resolve(c.req.param("id"));
      const s = currentState(ctx, record);
      const want = op === "pause" ? "running" : "paused";
      if (s.status !== want) throw new SkiffError("Conflict", `container ${record.id} is not ${want}`);
      if (!s.shimAlive) throw new SkiffError("FailedPrecondition", `container ${record.name} has no shim`);
      await shimRequest(shimSocket(ctx, record.id), { op: op === "pause" ? "pause" : "resume" });
      state.containerEvent(record, op);
      return c.body(null, 204);
    });
  }

  app.post("/containers/prune", async (c) => {
    const filters = parseFilters(c.req.query("filters"));
    const { parsePruneFilters, pruneContainers } = await import("../../containers/prune.ts");
    const list: string[] = [];
    for (const [k, values] of filters) for (const v of values) list.push(`${k}=${v}`);
    const records = new Map(ctx.containers.list().map((r) => [r.id, r]));
    const report = await pruneContainers(ctx, parsePruneFilters(list));
    for (const id of report.deleted) {
      const r = records.get(id);
      if (r) state.containerEvent(r, "destroy");
    }
    state.event("container", "prune", "", { reclaimed: String(report.reclaimed) });
    return c.json({ ContainersDeleted: report.deleted.length > 0 ? report.deleted : null, SpaceReclaimed: report.reclaimed });
  });

  app.post("/containers/:id/update", async (c) => {
    resolve(c.req.param("id"));
    const body = await jsonBody(c, ContainerUpdateSchema, { emptyOk: true });
    const restart = body.RestartPolicy?.Name;
    const asks = Object.entries(body).some(([k, v]) => k !== "RestartPolicy" && v !== null && v !== undefined && v !== 0 && v !== "" && !(Array.isArray(v) && v.length === 0));
    if (asks || (restart && restart !== "no")) throw new SkiffError("NotImplemented", "updating a container's resources or restart policy is not supported by skiff yet");
    return c.json({ Warnings: [] });
  });

  registerContainerViews(app, state);
}

/**
 * Volumes over lib/volumes (the same verbs `skiff volume` uses): list with
 * filters, create, inspect, remove (409 while a container uses it), prune
 * (anonymous ones unless `all=true`, as Docker 23+).
 */
import type { Hono } from "hono";
import { z } from "zod";
import { SkiffError } from "../../errors.ts";
import type { ApiEnv } from "../app.ts";
import { jsonBody } from "../http.ts";
import { parseFilters, queryBool } from "../schemas.ts";
import type { ApiState } from "../state.ts";

const VolumeCreateSchema = z
  .object({ Name: z.string().nullish(), Driver: z.string().nullish(), DriverOpts: z.record(z.string()).nullish(), Labels: z.record(z.string()).nullish() })
  .passthrough();

function filterList(filters: Map<string, string[]>): string[] {
  const out: string[] = [];
  for (const [k, values] of filters) for (const v of values) out.push(`${k}=${v}`);
  return out;
}

export function registerVolumes(app: Hono<ApiEnv>, state: ApiState): void {
  const ctx = state.ctx;
  const meta = () => import("../../volumes/meta.ts");
  const store = async () => (await import("../../volumes/store.ts")).volumeStore(ctx);

  app.get("/volumes", async (c) => {
    const { parseListFilters } = await import("../../volumes/filters.ts");
    const { listVolumes } = await import("../../volumes/ops.ts");
    const filters = parseListFilters(filterList(parseFilters(c.req.query("filters"))));
    const s = await store();
    const { inspectView } = await meta();
    return c.json({ Volumes: listVolumes(ctx, filters).map((m) => inspectView(m, s.dataDir(m.name))), Warnings: null });
  });

  app.post("/volumes/create", async (c) => {
    const body = await jsonBody(c, VolumeCreateSchema, { emptyOk: true });
    if (body.Driver && body.Driver !== "local") throw new SkiffError("InvalidArgument", `volume driver ${JSON.stringify(body.Driver)} is not supported: only "local"`);
    const { createVolume } = await import("../../volumes/ops.ts");
    const m = await createVolume(ctx, { name: body.Name || undefined, labels: body.Labels ?? {}, options: body.DriverOpts ?? {} });
    state.event("volume", "create", m.name, { driver: m.driver });
    return c.json((await meta()).inspectView(m, (await store()).dataDir(m.name)), 201);
  });

  app.post("/volumes/prune", async (c) => {
    const { parsePruneFilters } = await import("../../volumes/filters.ts");
    const { pruneVolumes } = await import("../../volumes/ops.ts");
    const filters = parsePruneFilters(filterList(parseFilters(c.req.query("filters"))));
    const r = await pruneVolumes(ctx, { all: filters.all === true, filters });
    for (const name of r.deleted) state.event("volume", "destroy", name, { driver: "local" });
    return c.json({ VolumesDeleted: r.deleted.length > 0 ? r.deleted : null, SpaceReclaimed: r.reclaimed });
  });

  app.get("/volumes/:name", async (c) => {
    const s = await store();
    const name = c.req.param("name");
    return c.json((await meta()).inspectView(s.get(name), s.dataDir(name)));
  });

  app.delete("/volumes/:name", async (c) => {
    const name = c.req.param("name");
    const { removeVolume } = await import("../../volumes/ops.ts");
    const removed = await removeVolume(ctx, name, { force: queryBool(c.req.query("force")) });
    if (removed) state.event("volume", "destroy", name, { driver: "local" });
    return c.body(null, 204);
  });
}

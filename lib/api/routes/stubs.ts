/**
 * Volumes and networks: skiff has neither yet (issue 4). Listing answers
 * with empty lists, so clients that only look keep working; anything that
 * would create or change one is 501 with a clear message, and a named one
 * is not found. Builds, swarm and plugins are not part of skiff.
 */
import type { Hono } from "hono";
import { SkiffError } from "../../errors.ts";
import type { ApiEnv } from "../app.ts";
import type { ApiState } from "../state.ts";

function missing(what: string): never {
  throw new SkiffError("NotImplemented", `${what} is not supported by skiff yet`);
}

export function registerStubs(app: Hono<ApiEnv>, _state: ApiState): void {
  app.get("/volumes", (c) => c.json({ Volumes: [], Warnings: [] }));
  app.post("/volumes/create", () => missing("creating volumes"));
  app.post("/volumes/prune", (c) => c.json({ VolumesDeleted: null, SpaceReclaimed: 0 }));
  app.get("/volumes/:name", (c) => {
    throw new SkiffError("NotFound", `get ${c.req.param("name")}: no such volume`);
  });
  app.delete("/volumes/:name", (c) => {
    throw new SkiffError("NotFound", `get ${c.req.param("name")}: no such volume`);
  });

  app.get("/networks", (c) => c.json([]));
  app.post("/networks/create", () => missing("creating networks"));
  app.post("/networks/prune", (c) => c.json({ NetworksDeleted: null }));
  app.get("/networks/:id", (c) => {
    throw new SkiffError("NotFound", `network ${c.req.param("id")} not found`);
  });
  app.delete("/networks/:id", (c) => {
    throw new SkiffError("NotFound", `network ${c.req.param("id")} not found`);
  });
  app.post("/networks/:id/connect", () => missing("connecting containers to networks"));
  app.post("/networks/:id/disconnect", () => missing("disconnecting containers from networks"));

  app.post("/build", () => missing("building images"));
  app.post("/build/prune", (c) => c.json({ CachesDeleted: null, SpaceReclaimed: 0 }));
  app.post("/session", () => missing("build sessions"));
  app.get("/swarm", () => {
    throw new SkiffError("FailedPrecondition", "This node is not a swarm manager.");
  });
  app.get("/plugins", (c) => c.json([]));
  app.get("/distribution/:name{.+}/json", () => missing("registry distribution inspection"));
}

/** What skiff does not do: builds, swarm and plugins. Clear 501s (and empty lists where clients only look). */
import type { Hono } from "hono";
import { SkiffError } from "../../errors.ts";
import type { ApiEnv } from "../app.ts";
import type { ApiState } from "../state.ts";

function missing(what: string): never {
  throw new SkiffError("NotImplemented", `${what} is not supported by skiff yet`);
}

export function registerStubs(app: Hono<ApiEnv>, _state: ApiState): void {
  app.post("/build", () => missing("building images"));
  app.post("/build/prune", (c) => c.json({ CachesDeleted: null, SpaceReclaimed: 0 }));
  app.post("/session", () => missing("build sessions"));
  app.get("/swarm", () => {
    throw new SkiffError("FailedPrecondition", "This node is not a swarm manager.");
  });
  app.get("/plugins", (c) => c.json([]));
  app.get("/distribution/:name{.+}/json", () => missing("registry distribution inspection"));
}

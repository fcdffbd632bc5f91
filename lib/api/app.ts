/**
 * The Docker Engine API as a Hono app: version prefixes (`/v1.NN/...`)
 * are stripped for routing and checked, every error becomes
 * `{"message": ...}` with the status lib/errors.ts gives its kind, and the
 * routes are thin handlers over the engine. Tests call `app.request()`
 * with no socket; server.ts serves it on a unix socket.
 */
import { Hono } from "hono";
import { getPath } from "hono/utils/url";
import { API_VERSION, VERSION } from "../version.ts";
import { SkiffError } from "../errors.ts";
import { errorResponse, rawPath } from "./http.ts";
import { registerArchive } from "./routes/archive.ts";
import { registerContainers } from "./routes/containers.ts";
import { registerExec } from "./routes/exec.ts";
import { registerImages } from "./routes/images.ts";
import { registerNetworks } from "./routes/networks.ts";
import { registerVolumes } from "./routes/volumes.ts";
import { registerStubs } from "./routes/stubs.ts";
import { registerSystem } from "./routes/system.ts";
import type { ApiState } from "./state.ts";
import { requestVersion, splitVersion } from "./versioning.ts";

export type ApiEnv = { Variables: { apiVersion: string } };

/** Headers dockerd puts on every response. */
const COMMON_HEADERS: Record<string, string> = {
  "Api-Version": API_VERSION,
  "Docker-Experimental": "false",
  Ostype: "linux",
  Server: `skiff/${VERSION} (linux)`,
};

export function createApp(state: ApiState): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>({ getPath: (req) => splitVersion(getPath(req)).path });
  app.use("*", async (c, next) => {
    c.set("apiVersion", requestVersion(splitVersion(rawPath(c.req.raw)).version));
    await next();
    for (const [k, v] of Object.entries(COMMON_HEADERS)) if (!c.res.headers.has(k)) c.res.headers.set(k, v);
  });
  registerSystem(app, state);
  registerContainers(app, state);
  registerArchive(app, state);
  registerExec(app, state);
  registerImages(app, state);
  registerNetworks(app, state);
  registerVolumes(app, state);
  registerStubs(app, state);
  app.notFound(() => errorResponse(new SkiffError("NotFound", "page not found")));
  app.onError((err) => {
    const res = errorResponse(err);
    for (const [k, v] of Object.entries(COMMON_HEADERS)) res.headers.set(k, v);
    if (res.status === 500) process.stderr.write(`skiff service: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return res;
  });
  return app;
}

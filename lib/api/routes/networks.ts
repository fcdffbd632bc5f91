/**
 * Networks over lib/network, as the `skiff network` verbs use it: the
 * built-in bridge/host/none and user networks (a bridge each, with DNS by
 * container name); create, inspect, list with filters, remove, prune,
 * connect and disconnect.
 */
import type { Hono } from "hono";
import { z } from "zod";
import { SkiffError } from "../../errors.ts";
import type { NetworkView } from "../../network/views.ts";
import type { ApiEnv } from "../app.ts";
import { jsonBody } from "../http.ts";
import { checkFilterKeys, parseFilters } from "../schemas.ts";
import type { ApiState } from "../state.ts";

const NetworkCreateSchema = z
  .object({
    Name: z.string(),
    Driver: z.string().nullish(),
    Internal: z.boolean().nullish(),
    Labels: z.record(z.string()).nullish(),
    Options: z.record(z.string()).nullish(),
    IPAM: z.object({ Config: z.array(z.object({ Subnet: z.string().nullish(), Gateway: z.string().nullish() }).passthrough()).nullish() }).passthrough().nullish(),
    EnableIPv6: z.boolean().nullish(),
  })
  .passthrough();

const ConnectSchema = z
  .object({ Container: z.string(), EndpointConfig: z.object({ Aliases: z.array(z.string()).nullish() }).passthrough().nullish(), Force: z.boolean().nullish() })
  .passthrough();

function matches(n: NetworkView, filters: Map<string, string[]>): boolean {
  for (const [key, values] of filters) {
    if (values.length === 0) continue;
    const ok = values.some((v) => {
      switch (key) {
        case "name":
          return n.name.includes(v);
        case "id":
          return n.id.startsWith(v);
        case "driver":
          return n.driver === v;
        case "scope":
          return v === "local";
        case "type":
          return v === "builtin" ? n.builtin : !n.builtin;
        case "label": {
          const i = v.indexOf("=");
          const k = i < 0 ? v : v.slice(0, i);
          return k in n.labels && (i < 0 || n.labels[k] === v.slice(i + 1));
        }
        default:
          return false;
      }
    });
    if (!ok) return false;
  }
  return true;
}

export function registerNetworks(app: Hono<ApiEnv>, state: ApiState): void {
  const ctx = state.ctx;
  const views = () => import("../../network/views.ts");
  const find = async (input: string): Promise<NetworkView> => {
    const all = (await views()).allNetworks(ctx);
    const hit = all.find((x) => x.name === input || x.id === input) ?? all.filter((x) => x.id.startsWith(input))[0];
    if (!hit) throw new SkiffError("NotFound", `network ${input} not found`);
    return hit;
  };

  app.get("/networks", async (c) => {
    const filters = parseFilters(c.req.query("filters"));
    checkFilterKeys(filters, ["name", "id", "driver", "label", "scope", "type", "dangling"]);
    const v = await views();
    return c.json(v.allNetworks(ctx).filter((n) => matches(n, filters)).map((n) => v.inspectNetwork(ctx, n)));
  });

  app.get("/networks/:id", async (c) => c.json((await views()).inspectNetwork(ctx, await find(c.req.param("id")))));

  app.post("/networks/create", async (c) => {
    const body = await jsonBody(c, NetworkCreateSchema);
    if (body.Driver && body.Driver !== "bridge") throw new SkiffError("InvalidArgument", `network driver ${body.Driver} is not supported (only bridge)`);
    if (body.EnableIPv6) throw new SkiffError("InvalidArgument", "IPv6 networks are not supported");
    const ipam = body.IPAM?.Config?.[0];
    ctx.ensureStorage();
    const { NetworkStore } = await import("../../network/store.ts");
    const rec = await new NetworkStore(ctx.paths).create({
      name: body.Name,
      subnet: ipam?.Subnet ?? undefined,
      gateway: ipam?.Gateway ?? undefined,
      internal: body.Internal ?? false,
      labels: body.Labels ?? {},
      options: body.Options ?? {},
    });
    state.event("network", "create", rec.id, { name: rec.name, type: "bridge" });
    return c.json({ Id: rec.id, Warning: "" }, 201);
  });

  app.delete("/networks/:id", async (c) => {
    const n = await find(c.req.param("id"));
    const { removeNetwork } = await import("../../network/ops.ts");
    await removeNetwork(ctx, n.name);
    state.event("network", "destroy", n.id, { name: n.name, type: n.driver });
    return c.body(null, 204);
  });

  app.post("/networks/prune", async (c) => {
    const filters = parseFilters(c.req.query("filters"));
    checkFilterKeys(filters, ["until", "label", "label!"]);
    if ([...filters.values()].some((v) => v.length > 0)) throw new SkiffError("NotImplemented", "network prune filters are not supported by skiff yet");
    const { pruneNetworks } = await import("../../network/ops.ts");
    const removed = await pruneNetworks(ctx);
    for (const name of removed) state.event("network", "destroy", name, { name });
    return c.json({ NetworksDeleted: removed.length > 0 ? removed : null });
  });

  app.post("/networks/:id/connect", async (c) => {
    const n = await find(c.req.param("id"));
    const body = await jsonBody(c, ConnectSchema);
    const record = ctx.containers.resolve(body.Container);
    const { connectNetwork } = await import("../../network/ops.ts");
    await connectNetwork(ctx, n.name, record, { aliases: body.EndpointConfig?.Aliases ?? [] });
    state.event("network", "connect", n.id, { name: n.name, container: record.id, type: n.driver });
    return c.body(null, 200);
  });

  app.post("/networks/:id/disconnect", async (c) => {
    const n = await find(c.req.param("id"));
    const body = await jsonBody(c, ConnectSchema);
    const record = ctx.containers.resolve(body.Container);
    const { disconnectNetwork } = await import("../../network/ops.ts");
    await disconnectNetwork(ctx, n.name, record, { force: body.Force ?? false });
    state.event("network", "disconnect", n.id, { name: n.name, container: record.id, type: n.driver });
    return c.body(null, 200);
  });
}

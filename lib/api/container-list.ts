/**
 * `GET /containers/json`: Docker's container summaries and list filters
 * (id, name, label, status, ancestor, exited, before, since), values of one
 * key ORed and keys ANDed, as dockerd does.
 */
import { join } from "node:path";
import type { Context } from "../context.ts";
import { SkiffError } from "../errors.ts";
import { currentState } from "../containers/ops.ts";
import { treeSize } from "../containers/prune.ts";
import type { ContainerRecord } from "../containers/record.ts";
import type { LiveState } from "../containers/state.ts";
import { commandOf, statusText } from "../containers/views.ts";
import { familiar } from "../images/views.ts";
import { checkFilterKeys } from "./schemas.ts";

export const LIST_FILTERS = ["id", "name", "label", "status", "ancestor", "exited", "before", "since", "volume", "network", "health", "is-task", "publish", "expose"] as const;

interface Item {
  record: ContainerRecord;
  state: LiveState;
}

function mountSummary(m: ContainerRecord["options"]["mounts"][number]): Record<string, unknown> {
  return {
    Type: m.type,
    ...(m.type === "volume" && m.source ? { Name: m.source } : {}),
    Source: m.source ?? "",
    Destination: m.target,
    Mode: m.readOnly ? "ro" : "",
    RW: !m.readOnly,
    Propagation: m.type === "bind" ? (m.options.find((o) => /^r?(shared|slave|private)$/.test(o)) ?? "rprivate") : "",
  };
}

/** Published ports as `GET /containers/json` lists them (running containers only, as Docker). */
function portSummaries(item: Item): Record<string, unknown>[] {
  const running = item.state.status === "running" || item.state.status === "paused";
  const bindings = running ? item.state.ports : [];
  const out: Record<string, unknown>[] = bindings.map((b) => ({ IP: b.hostIp, PrivatePort: b.containerPort, PublicPort: b.hostPort, Type: b.protocol }));
  for (const key of Object.keys(item.record.imageConfig?.ExposedPorts ?? {})) {
    const [port, proto] = key.split("/") as [string, string | undefined];
    if (!bindings.some((b) => String(b.containerPort) === port && b.protocol === (proto ?? "tcp"))) out.push({ PrivatePort: Number(port), Type: proto ?? "tcp" });
  }
  return out;
}

function networksOf(item: Item): { mode: string; networks: Record<string, unknown> } {
  const o = item.record.options;
  const mode = o.network === "default" ? "bridge" : o.network;
  const running = item.state.status === "running" || item.state.status === "paused";
  const ip = running ? item.state.ipAddress : "";
  const networks: Record<string, unknown> = {};
  if (mode !== "none" && mode !== "host" && !mode.startsWith("container:")) {
    for (const n of [mode, ...o.extraNetworks]) {
      networks[n] = { NetworkID: n, EndpointID: "", Gateway: "", IPAddress: n === mode ? ip : "", IPPrefixLen: n === mode && ip ? 24 : 0, MacAddress: "", Aliases: o.networkAliases.length > 0 ? o.networkAliases : null };
    }
  }
  return { mode, networks };
}

export function containerSummary(ctx: Context, item: Item, opts: { size: boolean; now: number }): Record<string, unknown> {
  const { record: r, state: s } = item;
  const labels = { ...(r.imageConfig?.Labels ?? {}), ...r.options.labels };
  const net = networksOf(item);
  return {
    Id: r.id,
    Names: [`/${r.name}`],
    Image: familiar(r.image.name),
    ImageID: r.image.id,
    Command: commandOf(r).join(" "),
    Created: Math.floor(Date.parse(r.created) / 1000),
    Ports: portSummaries(item),
    ...(opts.size ? { SizeRw: treeSize(join(ctx.containers.dir(r.id), "upper")), SizeRootFs: 0 } : {}),
    Labels: labels,
    State: s.status,
    Status: statusText(s, opts.now),
    HostConfig: { NetworkMode: net.mode },
    NetworkSettings: { Networks: net.networks },
    Mounts: r.options.mounts.map(mountSummary),
  };
}

function ancestorMatches(r: ContainerRecord, v: string): boolean {
  const name = familiar(r.image.name);
  const bare = (n: string): string => n.replace(/:latest$/, "");
  return (
    r.image.name === v ||
    name === v ||
    bare(name) === bare(v) ||
    r.image.id === v ||
    r.image.id.slice(7).startsWith(v.replace(/^sha256:/, ""))
  );
}

/** A predicate for the filters; `before`/`since` are resolved against `all`. */
export function listFilter(filters: Map<string, string[]>, all: Item[]): (item: Item) => boolean {
  checkFilterKeys(filters, LIST_FILTERS);
  const createdOf = (ref: string): number => {
    const hit = all.find((i) => i.record.id.startsWith(ref) || i.record.name === ref.replace(/^\//, ""));
    if (!hit) throw new SkiffError("NotFound", `no such container: ${ref}`);
    return Date.parse(hit.record.created);
  };
  const tests: ((i: Item) => boolean)[] = [];
  for (const [key, values] of filters) {
    if (values.length === 0) continue;
    switch (key) {
      case "status":
        for (const v of values) {
          if (!["created", "restarting", "running", "removing", "paused", "exited", "dead"].includes(v)) {
            throw new SkiffError("InvalidArgument", `invalid filter 'status=${v}'`);
          }
        }
        break;
      case "exited":
        for (const v of values) if (!/^-?\d+$/.test(v)) throw new SkiffError("InvalidArgument", `invalid filter 'exited=${v}'`);
        break;
    }
    const bounds = key === "before" || key === "since" ? values.map(createdOf) : [];
    tests.push((i) =>
      values.some((v, n) => {
        const r = i.record;
        switch (key) {
          case "id":
            return r.id.startsWith(v);
          case "name":
            try {
              return new RegExp(v).test(r.name) || new RegExp(v).test(`/${r.name}`);
            } catch {
              return r.name.includes(v);
            }
          case "status":
            return i.state.status === v;
          case "exited":
            return i.state.status === "exited" && i.state.exitCode === Number(v);
          case "ancestor":
            return ancestorMatches(r, v);
          case "label": {
            const labels = { ...(r.imageConfig?.Labels ?? {}), ...r.options.labels };
            const j = v.indexOf("=");
            const k = j < 0 ? v : v.slice(0, j);
            return k in labels && (j < 0 || labels[k] === v.slice(j + 1));
          }
          case "before":
            return Date.parse(r.created) < (bounds[n] as number);
          case "since":
            return Date.parse(r.created) > (bounds[n] as number);
          case "volume":
            return r.options.mounts.some((m) => m.source === v || m.target === v);
          case "network": {
            const mode = r.options.network === "default" ? "bridge" : r.options.network;
            return mode === v || r.options.extraNetworks.includes(v);
          }
          case "publish":
          case "expose":
            return portSummaries(i).some((p) => String(key === "publish" ? p.PublicPort : p.PrivatePort) === v.split("/")[0]);
          case "health":
            return (i.state.health?.status ?? "none") === v;
          case "is-task":
            return v === "false";
          default:
            return false;
        }
      }),
    );
  }
  return (i) => tests.every((t) => t(i));
}

/** The list as `GET /containers/json` returns it: newest first. */
export function listContainers(
  ctx: Context,
  opts: {
    all: boolean;
    limit?: number | undefined;
    size: boolean;
    filters: Map<string, string[]>;
    /** Records and state readers to use (the service's caches). */
    records?: ContainerRecord[];
    stateOf?: (record: ContainerRecord) => LiveState;
  },
): Record<string, unknown>[] {
  const stateOf = opts.stateOf ?? ((record: ContainerRecord) => currentState(ctx, record));
  const items: Item[] = (opts.records ?? ctx.containers.list()).map((record) => ({ record, state: stateOf(record) }));
  items.sort((a, b) => b.record.created.localeCompare(a.record.created));
  const keep = listFilter(opts.filters, items);
  const statusAsked = (opts.filters.get("status")?.length ?? 0) > 0 || (opts.filters.get("exited")?.length ?? 0) > 0;
  const all = opts.all || (opts.limit !== undefined && opts.limit > 0) || statusAsked;
  let out = items.filter((i) => (all || i.state.status === "running" || i.state.status === "paused") && keep(i));
  if (opts.limit !== undefined && opts.limit > 0) out = out.slice(0, opts.limit);
  const now = Date.now();
  return out.map((i) => containerSummary(ctx, i, { size: opts.size, now }));
}

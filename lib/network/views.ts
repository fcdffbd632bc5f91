/**
 * Networks as Docker shows them: the built-in ones (bridge = skiff's
 * default per-container network, host, none) and user networks, with their
 * attached containers.
 */
import type { Context } from "../context.ts";
import { sha256 } from "../digest.ts";
import { currentState } from "../containers/ops.ts";
import { isLive, networkRunDir, readMembers } from "./members.ts";
import { NetworkStore, type NetworkRecord } from "./store.ts";

export interface NetworkView {
  id: string;
  name: string;
  driver: string;
  created: string;
  subnet?: string;
  gateway?: string;
  internal: boolean;
  labels: Record<string, string>;
  builtin: boolean;
}

function builtinId(name: string): string {
  return sha256(`skiff-builtin-network ${name}`).slice(7);
}

export function builtinNetworks(): NetworkView[] {
  return [
    { id: builtinId("bridge"), name: "bridge", driver: "bridge", created: "0001-01-01T00:00:00Z", internal: false, labels: {}, builtin: true },
    { id: builtinId("host"), name: "host", driver: "host", created: "0001-01-01T00:00:00Z", internal: false, labels: {}, builtin: true },
    { id: builtinId("none"), name: "none", driver: "null", created: "0001-01-01T00:00:00Z", internal: false, labels: {}, builtin: true },
  ];
}

export function viewOf(n: NetworkRecord): NetworkView {
  return { id: n.id, name: n.name, driver: n.driver, created: n.created, subnet: n.subnet, gateway: n.gateway, internal: n.internal, labels: n.labels, builtin: false };
}

export function allNetworks(ctx: Context): NetworkView[] {
  return [...builtinNetworks(), ...new NetworkStore(ctx.paths).list().map(viewOf)];
}

/** Containers (records) that name this network, and the running ones' addresses. */
export function networkContainers(ctx: Context, name: string): { id: string; name: string; running: boolean; ip?: string }[] {
  const members = readMembers(networkRunDir(ctx.paths.runRoot, name)).filter((m) => isLive(m));
  const out: { id: string; name: string; running: boolean; ip?: string }[] = [];
  for (const r of ctx.containers.list()) {
    const on = r.options.network === name || r.options.extraNetworks.includes(name) || (name === "bridge" && r.options.network === "default");
    if (!on) continue;
    const st = currentState(ctx, r);
    const running = st.status === "running" || st.status === "paused";
    const m = members.find((x) => x.id === r.id);
    out.push({ id: r.id, name: r.name, running, ...(m ? { ip: m.ip } : running && st.ipAddress ? { ip: st.ipAddress } : {}) });
  }
  return out;
}

/** `docker network inspect` JSON. */
export function inspectNetwork(ctx: Context, n: NetworkView): Record<string, unknown> {
  const prefix = n.subnet?.split("/")[1] ?? "24";
  const containers: Record<string, unknown> = {};
  for (const c of networkContainers(ctx, n.name)) {
    if (!c.running) continue;
    containers[c.id] = { Name: c.name, EndpointID: "", MacAddress: "", IPv4Address: c.ip ? `${c.ip}/${prefix}` : "", IPv6Address: "" };
  }
  return {
    Name: n.name,
    Id: n.id,
    Created: n.created,
    Scope: "local",
    Driver: n.driver,
    EnableIPv6: false,
    IPAM: { Driver: "default", Options: {}, Config: n.subnet ? [{ Subnet: n.subnet, Gateway: n.gateway }] : [] },
    Internal: n.internal,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: "" },
    ConfigOnly: false,
    Containers: containers,
    Options: n.builtin ? {} : { "skiff.dns": "enabled" },
    Labels: n.labels,
  };
}

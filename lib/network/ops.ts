/**
 * Network verbs beyond create: remove, prune, connect and disconnect. A
 * running container is connected live when its shim lives in the networks'
 * user namespace (rootless) or as root; otherwise the change applies at its
 * next start, and the caller says so.
 */
import { readlinkSync } from "node:fs";
import type { Context } from "../context.ts";
import { SkiffError } from "../errors.ts";
import { acquireLock } from "../lock.ts";
import { currentState } from "../containers/ops.ts";
import type { ContainerRecord } from "../containers/record.ts";
import { containerLock } from "../containers/start.ts";
import { confirmLease, networkRunDir, releaseLease } from "./members.ts";
import { stopNetworkHelper } from "./helper-client.ts";
import { attachment } from "./setup.ts";
import { BUILTIN_NETWORKS, NetworkStore } from "./store.ts";
import { networkContainers } from "./views.ts";

export async function removeNetwork(ctx: Context, input: string): Promise<string> {
  if (BUILTIN_NETWORKS.includes(input)) throw new SkiffError("PermissionDenied", `${input} is a pre-defined network and cannot be removed`);
  const store = new NetworkStore(ctx.paths);
  const net = store.get(input);
  const active = networkContainers(ctx, net.name).filter((c) => c.running);
  if (active.length > 0) {
    throw new SkiffError("Conflict", `error while removing network: network ${net.name} id ${net.id.slice(0, 12)} has active endpoints (${active.map((c) => c.name).join(", ")})`);
  }
  await store.remove(net.name);
  await stopNetworkHelper(ctx, net.name);
  return net.name;
}

/** Removes user networks no container uses; returns their names. */
export async function pruneNetworks(ctx: Context): Promise<string[]> {
  const store = new NetworkStore(ctx.paths);
  const out: string[] = [];
  for (const n of store.list()) {
    if (networkContainers(ctx, n.name).length > 0) continue;
    await store.remove(n.name);
    await stopNetworkHelper(ctx, n.name);
    out.push(n.name);
  }
  return out;
}

async function run(argv: string[]): Promise<{ code: number; err: string }> {
  const p = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
  return { code, err };
}

function usernsOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/user`);
  } catch {
    return undefined;
  }
}

async function updateRecord(ctx: Context, record: ContainerRecord, fn: (r: ContainerRecord) => void): Promise<ContainerRecord> {
  const lock = await acquireLock(containerLock(ctx, record.id));
  try {
    const fresh = ctx.containers.read(record.id) ?? record;
    fn(fresh);
    ctx.containers.write(fresh);
    return fresh;
  } finally {
    lock.release();
  }
}

/** Returns whether the change is already live (false: at the next start). */
export async function connectNetwork(ctx: Context, netName: string, record: ContainerRecord, opts: { aliases?: string[] } = {}): Promise<boolean> {
  const net = new NetworkStore(ctx.paths).get(netName);
  const o = record.options;
  if (o.network === net.name || o.extraNetworks.includes(net.name)) {
    throw new SkiffError("Conflict", `container ${record.name} is already attached to network ${net.name}`);
  }
  if (o.network === "host" || o.network === "none" || o.network.startsWith("container:")) {
    throw new SkiffError("InvalidArgument", `container ${record.name} uses network mode ${o.network}: it cannot join other networks`);
  }
  const updated = await updateRecord(ctx, record, (r) => {
    if (r.options.network === "default" && r.options.extraNetworks.length === 0) {
      // Docker keeps the default network; skiff's default is per container, so the user network is added beside it.
      r.options.extraNetworks.push(net.name);
    } else {
      r.options.extraNetworks.push(net.name);
    }
    for (const a of opts.aliases ?? []) if (!r.options.networkAliases.includes(a)) r.options.networkAliases.push(a);
  });
  const state = currentState(ctx, updated);
  if (state.status !== "running" || !state.shimAlive) return false;
  const ifIndex = updated.options.extraNetworks.length + (updated.options.network !== "default" ? 1 : 0);
  const a = await attachment(ctx, updated, net, `eth${ifIndex}`);
  // Rootless, the container's namespaces must belong to the networks' user namespace.
  if (updated.rootless && usernsOf(state.pid) !== usernsOf(a.helperPid)) {
    await releaseLease(a, updated.id);
    return false;
  }
  const enter = updated.rootless ? ["nsenter", "--user", "--preserve-credentials", "-t", String(a.helperPid), "--"] : [];
  const peer = `veth${Math.random().toString(16).slice(2, 10)}`;
  for (const argv of [
    [...enter, "nsenter", `--net=/proc/${state.pid}/ns/net`, "ip", "link", "add", a.ifname, "type", "veth", "peer", "name", peer, "netns", String(a.helperPid)],
    [...enter, "nsenter", `--net=/proc/${a.helperPid}/ns/net`, "ip", "link", "set", peer, "master", "br0", "up"],
    [...enter, "nsenter", `--net=/proc/${state.pid}/ns/net`, "ip", "addr", "add", `${a.ip}/${a.prefix}`, "dev", a.ifname],
    [...enter, "nsenter", `--net=/proc/${state.pid}/ns/net`, "ip", "link", "set", a.ifname, "up"],
  ]) {
    const r = await run(argv);
    if (r.code !== 0) {
      await releaseLease(a, updated.id);
      throw new SkiffError("Internal", `connect ${updated.name} to ${net.name}: ${r.err.trim()}`);
    }
  }
  await confirmLease(a, updated.id, { pid: state.shimPid, start: state.shimStart });
  return true;
}

export async function disconnectNetwork(ctx: Context, netName: string, record: ContainerRecord, opts: { force?: boolean } = {}): Promise<boolean> {
  const net = new NetworkStore(ctx.paths).get(netName);
  const o = record.options;
  if (o.network !== net.name && !o.extraNetworks.includes(net.name)) {
    if (opts.force) return true;
    throw new SkiffError("NotFound", `container ${record.name} is not connected to network ${net.name}`);
  }
  await updateRecord(ctx, record, (r) => {
    if (r.options.network === net.name) r.options.network = r.options.extraNetworks.shift() ?? "default";
    else r.options.extraNetworks = r.options.extraNetworks.filter((n) => n !== net.name);
  });
  const dir = networkRunDir(ctx.paths.runRoot, net.name);
  const state = currentState(ctx, record);
  if (state.status !== "running") return true;
  // Dropping the lease takes the name out of DNS at once; the interface
  // goes when the container's namespace does.
  await releaseLease({ dir, locks: ctx.paths.locks, network: net.name }, record.id);
  return false;
}

/**
 * Network decisions at `start`: which mode, which helper, which ports (free
 * ones checked before anything runs), and the container's /etc/hosts,
 * /etc/resolv.conf and /etc/hostname.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import type { Context } from "../context.ts";
import type { PortBinding } from "../containers/ports.ts";
import type { ContainerRecord } from "../containers/record.ts";
import { liveState, readState } from "../containers/state.ts";
import { runDir } from "../containers/start.ts";
import { SkiffError } from "../errors.ts";
import type { NetworkMode } from "../oci/spec.ts";
import { findExecutable } from "../../runtime/probe.ts";
import { hostnameFile, hostsFile, parseAddHost, parseResolvConf, resolvConfFile } from "./etcfiles.ts";
import { ensureNetworkHelper } from "./helper-client.ts";
import { leaseAddress, networkRunDir } from "./members.ts";
import { pastaPlan, slirpPlan, type NetworkAttachment, type NetworkPlan } from "./plan.ts";
import { NetworkStore, type NetworkRecord } from "./store.ts";
import { mergeBindings, publishAll, reservePorts } from "./publish.ts";

export interface NetworkSetup {
  plan: NetworkPlan;
  /** What the OCI spec gets. */
  specNetwork: NetworkMode;
  files: { hosts?: string; resolvConf?: string; hostname?: string };
  ports: PortBinding[];
  /** Rootless: the user namespace to join (container:<id>), by its owner's pid. */
  joinUserns?: number;
  /** User networks to plug into. */
  attachments: NetworkAttachment[];
}

function hostResolvConf(): string {
  try {
    return readFileSync("/etc/resolv.conf", "utf8");
  } catch {
    return "";
  }
}

/**
 * The host's default gateway (from /proc/net/route). pasta copies the host's
 * routes into the container and maps this address to the host itself, so it
 * is what `--add-host name:host-gateway` means there.
 */
export function hostDefaultGateway(): string | undefined {
  try {
    for (const line of readFileSync("/proc/net/route", "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[1] !== "00000000" || !f[2]) continue;
      const n = Number.parseInt(f[2], 16);
      return [n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >>> 24) & 255].join(".");
    }
  } catch {
    // no /proc/net/route
  }
  return undefined;
}

/**
 * The IPv4 address of the host's default-route interface: pasta gives the
 * container the same address, so nothing has to be asked of the namespace.
 */
export function hostPrimaryAddress(): string | undefined {
  try {
    for (const line of readFileSync("/proc/net/route", "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[1] !== "00000000" || !f[0]) continue;
      const addr = networkInterfaces()[f[0]]?.find((a) => a.family === "IPv4" && !a.internal);
      if (addr) return addr.address;
    }
  } catch {
    // no /proc/net/route
  }
  return undefined;
}

function writeEtcFiles(dir: string, record: ContainerRecord, dns: string | undefined): NetworkSetup["files"] {
  const o = record.options;
  const hostname = o.hostname || record.id.slice(0, 12);
  const gateway = dns === undefined ? undefined : hostDefaultGateway();
  const hosts = join(dir, "hosts");
  const resolv = join(dir, "resolv.conf");
  const hn = join(dir, "hostname");
  writeFileSync(
    hosts,
    hostsFile({ hostname, domainname: o.domainname, addresses: [], extra: o.addHosts.map((h) => parseAddHost(h, gateway)), aliases: [record.name] }),
  );
  writeFileSync(resolv, resolvConfFile({ host: parseResolvConf(hostResolvConf()), dns: o.dns, dnsSearch: o.dnsSearch, dnsOptions: o.dnsOptions, forwarder: dns }));
  writeFileSync(hn, hostnameFile(hostname));
  return { hosts, resolvConf: resolv, hostname: hn };
}

/** Leases an address on a user network and makes sure its helper runs. */
export async function attachment(ctx: Context, record: ContainerRecord, net: NetworkRecord, ifname: string): Promise<NetworkAttachment> {
  const netDir = networkRunDir(ctx.paths.runRoot, net.name);
  mkdirSync(netDir, { recursive: true, mode: 0o700 });
  // Lease first: a leased address keeps an idle helper from leaving.
  const ip = await leaseAddress(
    { dir: netDir, locks: ctx.paths.locks, network: net.name, subnet: net.subnet, gateway: net.gateway },
    { id: record.id, name: record.name, aliases: [record.name, record.id.slice(0, 12), ...record.options.networkAliases] },
  );
  const helperPid = await ensureNetworkHelper(ctx, net);
  return { network: net.name, helperPid, ip, prefix: Number(net.subnet.split("/")[1]), ifname, dir: netDir, locks: ctx.paths.locks };
}

export async function setUpNetworkPlan(ctx: Context, record: ContainerRecord, dir: string): Promise<NetworkSetup> {
  const o = record.options;
  const mode = o.network || "default";
  const wantsPorts = o.ports.length > 0 || o.publishAll;
  if (mode === "host") {
    if (wantsPorts) process.stderr.write("WARNING: Published ports are discarded when using host network mode\n");
    return { plan: { mode: "host" }, specNetwork: "host", files: {}, ports: [], attachments: [] };
  }
  if (mode === "none") {
    if (wantsPorts) throw new SkiffError("InvalidArgument", "conflicting options: port publishing and the container type network mode");
    return { plan: { mode: "none" }, specNetwork: "none", files: writeEtcFiles(dir, record, undefined), ports: [], attachments: [] };
  }
  if (mode.startsWith("container:")) {
    if (wantsPorts) throw new SkiffError("InvalidArgument", "conflicting options: port publishing and the container type network mode");
    const other = ctx.containers.resolve(mode.slice("container:".length));
    const st = liveState(readState(ctx.containers.dir(other.id)));
    if (st.status !== "running") throw new SkiffError("Conflict", `cannot join the network of container ${other.name}: it is not running`);
    const otherRun = runDir(ctx, other.id);
    return {
      plan: { mode: "join", netns: `/proc/${st.pid}/ns/net`, ownerPid: st.pid },
      specNetwork: { path: `/proc/${st.pid}/ns/net` },
      files: { hosts: join(otherRun, "hosts"), resolvConf: join(otherRun, "resolv.conf"), hostname: join(otherRun, "hostname") },
      ports: [],
      attachments: [],
      ...(record.rootless ? { joinUserns: st.pid } : {}),
    };
  }
  const userNet = mode !== "default" && mode !== "bridge" && mode !== "pasta" && mode !== "slirp4netns" ? new NetworkStore(ctx.paths).get(mode) : undefined;
  const requested = mergeBindings([...o.ports, ...(o.publishAll ? publishAll(record.imageConfig?.ExposedPorts) : [])]);
  // A taken port is a clear error now, before any process exists.
  const ports = await reservePorts(requested);
  const pasta = mode !== "slirp4netns" ? findExecutable("pasta") : undefined;
  const slirp = findExecutable("slirp4netns");
  let plan: NetworkPlan;
  if (userNet?.internal) {
    if (ports.length > 0) throw new SkiffError("InvalidArgument", `network ${userNet.name} is internal: ports cannot be published`);
    plan = { mode: "netns", netns: join(dir, "netns") };
  } else if (pasta) plan = pastaPlan({ pasta, runDir: dir, ports, root: !record.rootless, address: hostPrimaryAddress() });
  else if (slirp) plan = slirpPlan({ slirp, runDir: dir, ports });
  else throw new SkiffError("FailedPrecondition", "no network helper: install passt (pasta) or slirp4netns, or use --network none");
  let dns = plan.mode === "pasta" || plan.mode === "slirp4netns" ? plan.dns : undefined;
  const attachments: NetworkAttachment[] = [];
  let joinUserns: number | undefined;
  const userNets = [...(userNet ? [userNet] : []), ...o.extraNetworks.map((n) => new NetworkStore(ctx.paths).get(n))];
  for (const [i, net] of userNets.entries()) {
    attachments.push(await attachment(ctx, record, net, `eth${i + 1}`));
  }
  if (userNets[0]) {
    // The first network's DNS answers members by name and forwards the rest.
    dns = userNets[0].gateway;
    if (record.rootless) joinUserns = attachments[0]?.helperPid;
  }
  return {
    plan,
    specNetwork: { path: (plan as { netns: string }).netns },
    files: writeEtcFiles(dir, record, dns),
    ports,
    attachments,
    ...(joinUserns !== undefined ? { joinUserns } : {}),
  };
}

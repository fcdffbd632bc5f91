/**
 * How a container is wired, decided by `start` and carried out by its shim:
 *
 * - default: a network namespace of its own (a file the shim bind-mounts, so
 *   it exists before the runtime starts), connected outbound and reachable on
 *   published ports through pasta (package passt), else slirp4netns;
 * - none: its own namespace with loopback only;
 * - host: the host's network (rootless: the user's);
 * - container:<id>: another container's namespace (and user namespace).
 *
 * This file builds the helpers' argv as pure functions; shim/network.ts runs them.
 */
import { join } from "node:path";
import type { PortBinding } from "../containers/ports.ts";

/** pasta answers DNS here and forwards to the host's resolvers. */
export const PASTA_DNS = "169.254.1.1";
/** slirp4netns's built-in DNS forwarder. */
export const SLIRP_DNS = "10.0.2.3";

export type NetworkPlan =
  | { mode: "pasta"; netns: string; argv: string[]; pidFile: string; dns: string; address?: string | undefined }
  | { mode: "slirp4netns"; netns: string; argv: string[]; apiSocket: string; ports: PortBinding[]; dns: string; address?: string | undefined }
  | { mode: "none" }
  /** A namespace of its own with nothing but user-network interfaces (internal networks). */
  | { mode: "netns"; netns: string }
  | { mode: "host" }
  | { mode: "join"; netns: string; userns?: string; ownerPid: number };

function portSpec(b: PortBinding): string {
  const addr = b.hostIp && b.hostIp !== "0.0.0.0" && b.hostIp !== "::" ? `${b.hostIp}/` : "";
  return `${addr}${b.hostPort}:${b.containerPort}`;
}

/** pasta's forwarding flags: -t/-u lists, or "none" so it forwards nothing unasked. */
/** Plans whose helper (pasta, slirp4netns, a user network's veth) must be up before the container's process runs. */
export function needsHelper(plan: NetworkPlan): boolean {
  return plan.mode === "pasta" || plan.mode === "slirp4netns" || plan.mode === "netns";
}

/**
 * The gate between the two: a FIFO in the run directory that the
 * container's createRuntime hook (networkReadyHook) reads while the runtime
 * creates the container; the shim writes "ok" into it once the helper is up,
 * "no" if it failed. One `runtime run` then does what create, a wait and
 * start did (a runtime process less: 6-8 ms).
 */
export function networkReadyPath(runDir: string): string {
  return join(runDir, "net-ready");
}

export function networkReadyHook(runDir: string): { path: string; args: string[]; timeout: number } {
  return { path: "/bin/sh", args: ["sh", "-c", 'read -r ok < "$1" && [ "$ok" = ok ]', "sh", networkReadyPath(runDir)], timeout: 120 };
}

export function pastaPortArgs(ports: PortBinding[]): string[] {
  const tcp = ports.filter((p) => p.protocol === "tcp").map(portSpec);
  const udp = ports.filter((p) => p.protocol === "udp").map(portSpec);
  return ["-t", tcp.length > 0 ? tcp.join(",") : "none", "-u", udp.length > 0 ? udp.join(",") : "none", "-T", "none", "-U", "none"];
}

/** The address slirp4netns gives the container. */
export const SLIRP_ADDRESS = "10.0.2.100";

export function pastaPlan(opts: { pasta: string; runDir: string; ports: PortBinding[]; root?: boolean; address?: string | undefined }): NetworkPlan {
  const netns = join(opts.runDir, "netns");
  const pidFile = join(opts.runDir, "pasta.pid");
  const argv = [
    opts.pasta,
    // As root pasta would switch to "nobody" and then fail to enter the namespace.
    ...(opts.root ? ["--runas", "0:0"] : []),
    "--config-net",
    "--netns",
    netns,
    "--netns-only",
    "-P",
    pidFile,
    "--quiet",
    "-I",
    "eth0",
    "--dns-forward",
    PASTA_DNS,
    ...pastaPortArgs(opts.ports),
  ];
  return { mode: "pasta", netns, argv, pidFile, dns: PASTA_DNS, address: opts.address };
}

export function slirpPlan(opts: { slirp: string; runDir: string; ports: PortBinding[] }): NetworkPlan {
  const netns = join(opts.runDir, "netns");
  const apiSocket = join(opts.runDir, "slirp.sock");
  // Relative to the run directory (the shim starts slirp4netns there): a
  // unix socket path must stay under 108 bytes.
  const argv = [
    opts.slirp,
    "--configure",
    "--mtu=65520",
    "--disable-host-loopback",
    "--enable-sandbox",
    "--netns-type=path",
    "--api-socket",
    "slirp.sock",
    netns,
    "tap0",
  ];
  return { mode: "slirp4netns", netns, argv, apiSocket, ports: opts.ports, dns: SLIRP_DNS, address: SLIRP_ADDRESS };
}

/** slirp4netns API request adding one forward. */
export function slirpForward(b: PortBinding): string {
  return JSON.stringify({
    execute: "add_hostfwd",
    arguments: { proto: b.protocol, host_addr: b.hostIp || "0.0.0.0", host_port: b.hostPort, guest_port: b.containerPort },
  });
}

/** A user network to plug the container into: a veth from its namespace to the network's bridge. */
export interface NetworkAttachment {
  network: string;
  /** The network helper: its namespace holds the bridge. */
  helperPid: number;
  ip: string;
  prefix: number;
  /** Interface name inside the container (eth1, eth2...). */
  ifname: string;
  /** The network's run directory and skiff's lock directory (for the lease). */
  dir: string;
  locks: string;
}

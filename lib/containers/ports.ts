/**
 * `port`: a container's published ports in Docker's words
 * (`80/tcp -> 0.0.0.0:8080`). Publishing itself (`-p`) comes with
 * networking; until then a record carries no bindings and `port` prints
 * nothing. The formatting is pure so the networking code can feed it.
 */
import { SkiffError } from "../errors.ts";

export type PortProtocol = "tcp" | "udp" | "sctp";

/** One published port: container port/protocol forwarded from a host address. */
export interface PortBinding {
  containerPort: number;
  protocol: PortProtocol;
  /** "0.0.0.0", "::", "127.0.0.1"... ("" prints as Docker does: ":8080"). */
  hostIp: string;
  hostPort: number;
}

/** Go's net.JoinHostPort: IPv6 addresses in brackets. */
export function joinHostPort(host: string, port: number | string): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Compares strings with digit runs as numbers (Docker sorts `port` output this way). */
export function naturalCompare(a: string, b: string): number {
  const re = /(\d+)|(\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i] as string;
    const y = pb[i] as string;
    if (x === y) continue;
    const nx = /^\d/.test(x);
    const ny = /^\d/.test(y);
    if (nx && ny) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d;
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

/**
 * Parses `PRIVATE_PORT[/PROTO]` (protocol defaults to tcp).
 * @example parsePortSpec("53/udp") // { port: 53, protocol: "udp" }
 */
export function parsePortSpec(spec: string): { port: number; protocol: string } {
  const i = spec.indexOf("/");
  const port = i < 0 ? spec : spec.slice(0, i);
  const protocol = (i < 0 ? "" : spec.slice(i + 1)) || "tcp";
  if (!/^\d+$/.test(port) || Number(port) > 65535) throw new SkiffError("InvalidArgument", `invalid port (${port})`);
  return { port: Number(port), protocol: protocol.toLowerCase() };
}

/**
 * The lines `port` prints: every binding as `80/tcp -> 0.0.0.0:8080`, or with
 * a private port only the host addresses of that port. NotFound when that
 * port is not published.
 * @example formatPorts([{ containerPort: 80, protocol: "tcp", hostIp: "0.0.0.0", hostPort: 8080 }], {}) // ["80/tcp -> 0.0.0.0:8080"]
 */
export function formatPorts(bindings: PortBinding[], opts: { port?: string; container?: string }): string[] {
  let out: string[];
  if (opts.port !== undefined) {
    const { port, protocol } = parsePortSpec(opts.port);
    const matching = bindings.filter((b) => b.containerPort === port && b.protocol === protocol);
    if (matching.length === 0) {
      throw new SkiffError("NotFound", `no public port '${opts.port}' published for ${opts.container ?? "the container"}`);
    }
    out = matching.map((b) => joinHostPort(b.hostIp, b.hostPort));
  } else {
    out = bindings.map((b) => `${b.containerPort}/${b.protocol} -> ${joinHostPort(b.hostIp, b.hostPort)}`);
  }
  return out.sort(naturalCompare);
}

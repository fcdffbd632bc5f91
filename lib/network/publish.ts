/**
 * `-p/--publish` and `-P`: which host ports forward to which container
 * ports, with Docker's syntax:
 *
 *   -p 8080:80            0.0.0.0:8080 → 80/tcp
 *   -p 127.0.0.1:8080:80  one address only
 *   -p 127.0.0.1::80      a free host port on that address
 *   -p 80                 a free host port
 *   -p 8000-8002:80-82    ranges of equal length
 *   -p 53:53/udp          protocol
 *   -p [::1]:8080:80      IPv6 host address
 */
import { SkiffError } from "../errors.ts";
import type { PortBinding, PortProtocol } from "../containers/ports.ts";

function bad(spec: string, why: string): SkiffError {
  return new SkiffError("InvalidArgument", `invalid publish spec ${JSON.stringify(spec)}: ${why}`);
}

function parseRange(text: string, spec: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text);
  if (!m) throw bad(spec, `invalid port ${JSON.stringify(text)}`);
  const a = Number(m[1]);
  const b = m[2] !== undefined ? Number(m[2]) : a;
  if (a < 1 || b > 65535 || b < a) throw bad(spec, `invalid port range ${text}`);
  return [a, b];
}

/** Parses one -p value into bindings; host port 0 means "pick a free one". */
export function parsePublish(spec: string): PortBinding[] {
  let rest = spec.trim();
  let protocol: PortProtocol = "tcp";
  const slash = rest.lastIndexOf("/");
  if (slash >= 0) {
    const p = rest.slice(slash + 1).toLowerCase();
    if (p !== "tcp" && p !== "udp" && p !== "sctp") throw bad(spec, `unknown protocol ${p}`);
    protocol = p;
    rest = rest.slice(0, slash);
  }
  let hostIp = "";
  if (rest.startsWith("[")) {
    const end = rest.indexOf("]");
    if (end < 0) throw bad(spec, "unclosed [ in IPv6 address");
    hostIp = rest.slice(1, end);
    rest = rest.slice(end + 1);
    if (!rest.startsWith(":")) throw bad(spec, "expected : after the host address");
    rest = rest.slice(1);
  }
  const parts = rest.split(":");
  let hostPart: string | undefined;
  let ctrPart: string;
  if (parts.length === 1) {
    ctrPart = parts[0] as string;
  } else if (parts.length === 2) {
    [hostPart, ctrPart] = parts as [string, string];
  } else if (parts.length === 3 && !hostIp) {
    [hostIp, hostPart, ctrPart] = parts as [string, string, string];
  } else {
    throw bad(spec, "too many colons (use [ADDR] for IPv6)");
  }
  if (hostIp && !/^[0-9.]+$/.test(hostIp) && !hostIp.includes(":")) throw bad(spec, `invalid host address ${hostIp}`);
  const [c0, c1] = parseRange(ctrPart, spec);
  const count = c1 - c0 + 1;
  let h0 = 0;
  if (hostPart !== undefined && hostPart !== "") {
    const [a, b] = parseRange(hostPart, spec);
    if (b - a + 1 !== count && !(a !== b && count === 1)) throw bad(spec, "host and container port ranges differ in length");
    h0 = a;
  }
  const out: PortBinding[] = [];
  for (let i = 0; i < count; i++) {
    out.push({ containerPort: c0 + i, protocol, hostIp: hostIp || "0.0.0.0", hostPort: h0 === 0 ? 0 : h0 + i });
  }
  return out;
}

/** `-P`: every EXPOSE'd port of the image on a free host port. */
export function publishAll(exposed: Record<string, unknown> | null | undefined): PortBinding[] {
  const out: PortBinding[] = [];
  for (const key of Object.keys(exposed ?? {})) {
    const [port, proto] = key.split("/") as [string, string | undefined];
    const p = (proto ?? "tcp").toLowerCase();
    if (!/^\d+$/.test(port) || (p !== "tcp" && p !== "udp" && p !== "sctp")) continue;
    out.push({ containerPort: Number(port), protocol: p, hostIp: "0.0.0.0", hostPort: 0 });
  }
  return out;
}

/** Merges bindings, refusing one host port published twice. */
export function mergeBindings(bindings: PortBinding[]): PortBinding[] {
  const seen = new Map<string, PortBinding>();
  const out: PortBinding[] = [];
  for (const b of bindings) {
    if (b.hostPort !== 0) {
      const key = `${b.hostIp}:${b.hostPort}/${b.protocol}`;
      if (seen.has(key)) throw new SkiffError("InvalidArgument", `host port ${b.hostPort}/${b.protocol} is published twice`);
      seen.set(key, b);
    }
    out.push(b);
  }
  return out;
}

async function tryBind(b: PortBinding): Promise<number> {
  const host = b.hostIp === "" ? "0.0.0.0" : b.hostIp;
  // Loaded here, with ports to check: node:net alone costs a command 3-5 ms to load.
  if (b.protocol === "udp") {
    const { createSocket } = await import("node:dgram");
    return await new Promise<number>((resolve, reject) => {
      const s = createSocket(host.includes(":") ? "udp6" : "udp4");
      s.once("error", reject);
      s.bind(b.hostPort, host, () => {
        const port = s.address().port;
        s.close(() => resolve(port));
      });
    });
  }
  const { createServer: createTcpServer } = await import("node:net");
  return await new Promise<number>((resolve, reject) => {
    const srv = createTcpServer();
    srv.once("error", reject);
    srv.listen({ port: b.hostPort, host, exclusive: true }, () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Checks that every host port is free (a clear error before anything
 * starts) and picks free ports for host port 0. There is a window between
 * this check and the forwarder binding; the forwarder reports a clash too.
 */
export async function reservePorts(bindings: PortBinding[]): Promise<PortBinding[]> {
  const out: PortBinding[] = [];
  for (const b of bindings) {
    try {
      const port = await tryBind(b);
      out.push({ ...b, hostPort: port });
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === "EADDRINUSE") {
        throw new SkiffError("Conflict", `bind for ${b.hostIp || "0.0.0.0"}:${b.hostPort} failed: port is already allocated`);
      }
      if (code === "EACCES") {
        throw new SkiffError(
          "PermissionDenied",
          `cannot publish port ${b.hostPort}: ports below 1024 need root, or as root: sysctl -w net.ipv4.ip_unprivileged_port_start=${b.hostPort}`,
        );
      }
      if (code === "EADDRNOTAVAIL") throw new SkiffError("InvalidArgument", `cannot publish on ${b.hostIp}: no such local address`);
      throw e;
    }
  }
  return out;
}

/**
 * Where `skiff system service` listens: `unix:///path` (the default, a
 * socket private to the user) or `tcp://host:port` (only when asked, with a
 * warning: the API gives full control of the user's containers to anyone
 * who can connect).
 */
import { join } from "node:path";
import { SkiffError } from "../errors.ts";

export type ListenAddress = { kind: "unix"; path: string } | { kind: "tcp"; host: string; port: number };

/**
 * The default socket: `/run/skiff/skiff.sock` as root,
 * `$XDG_RUNTIME_DIR/skiff/skiff.sock` rootless, and without XDG_RUNTIME_DIR
 * (as after `su`) `skiff.sock` in skiff's private run root.
 * @example defaultSocketPath({ uid: 1000, env: { XDG_RUNTIME_DIR: "/run/user/1000" }, runRoot: "/tmp/x" }) // "/run/user/1000/skiff/skiff.sock"
 */
export function defaultSocketPath(input: { uid: number; env: Record<string, string | undefined>; runRoot: string }): string {
  if (input.uid === 0) return "/run/skiff/skiff.sock";
  const xdg = input.env.XDG_RUNTIME_DIR;
  if (xdg) return join(xdg, "skiff", "skiff.sock");
  return join(input.runRoot, "skiff.sock");
}

/**
 * Parses `unix:///abs/path`, `unix:/abs/path`, a bare absolute path, or
 * `tcp://host:port`.
 * @example parseListenAddress("tcp://127.0.0.1:2375") // { kind: "tcp", host: "127.0.0.1", port: 2375 }
 */
export function parseListenAddress(spec: string): ListenAddress {
  if (spec.startsWith("unix://") || spec.startsWith("unix:") || spec.startsWith("/")) {
    const path = spec.startsWith("unix://") ? spec.slice(7) : spec.startsWith("unix:") ? spec.slice(5) : spec;
    if (!path.startsWith("/")) throw new SkiffError("InvalidArgument", `invalid socket address ${JSON.stringify(spec)}: the path must be absolute`);
    if (Buffer.byteLength(path) > 107) throw new SkiffError("InvalidArgument", `socket path ${path} is too long for a unix socket (over 107 bytes)`);
    return { kind: "unix", path };
  }
  if (spec.startsWith("tcp://")) {
    const rest = spec.slice(6).replace(/\/+$/, "");
    const m = /^(\[[^\]]+\]|[^:]*):(\d+)$/.exec(rest);
    if (!m) throw new SkiffError("InvalidArgument", `invalid tcp address ${JSON.stringify(spec)}: expected tcp://HOST:PORT`);
    const port = Number(m[2]);
    if (port < 0 || port > 65535) throw new SkiffError("InvalidArgument", `invalid port in ${JSON.stringify(spec)}`);
    const host = (m[1] as string).replace(/^\[|\]$/g, "") || "127.0.0.1";
    return { kind: "tcp", host, port };
  }
  throw new SkiffError("InvalidArgument", `invalid listen address ${JSON.stringify(spec)}: use unix:///path or tcp://host:port`);
}

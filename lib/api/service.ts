/**
 * The `system service` verb: where to listen and for how long, then
 * serveApi. The default `--time` is 0 (serve until stopped): skiff has no
 * socket activation yet, so a service that exited when idle would leave
 * clients with a dead socket. Podman's default is 5 s because systemd
 * restarts it on the next connection; pass `--time 5` under a supervisor.
 */
import type { Context } from "../context.ts";
import { SkiffError } from "../errors.ts";
import { defaultSocketPath, parseListenAddress } from "./address.ts";

export async function serviceCommand(ctx: Context, address: string | undefined, opts: { time?: string }): Promise<number> {
  const time = Number(opts.time ?? "0");
  if (!Number.isInteger(time) || time < 0) throw new SkiffError("InvalidArgument", `invalid value for --time: ${opts.time}`);
  const uid = process.getuid?.() ?? 0;
  const listen = address ? parseListenAddress(address) : { kind: "unix" as const, path: defaultSocketPath({ uid, env: process.env, runRoot: ctx.paths.runRoot }) };
  if (listen.kind === "tcp") {
    process.stderr.write(
      `WARNING: serving the API on tcp://${listen.host}:${listen.port} without TLS or authentication: anyone who can connect controls your containers (and, rootless, your files)\n`,
    );
  }
  const { serveApi } = await import("./server.ts");
  return serveApi(ctx, {
    address: listen,
    idleSeconds: time,
    onListening: (url) => process.stderr.write(`skiff API listening on ${url}\n`),
  });
}

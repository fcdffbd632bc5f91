/**
 * Hijacked connections. `docker attach`/`run` and `docker exec` ask to
 * upgrade (`Connection: Upgrade`, `Upgrade: tcp`) on
 * `POST /containers/{id}/attach` and `POST /exec/{id}/start`; node:http
 * hands such requests to the `upgrade` event with the raw socket. Errors
 * found before the switch are ordinary JSON responses; then we answer
 * `101 UPGRADED` with the stream's media type and the socket carries raw
 * bytes both ways (the client half-closes it at stdin EOF). Any other
 * request that asks to upgrade is served by the app as usual, on the raw
 * socket, and the connection closed.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Hono } from "hono";
import { SkiffError } from "../errors.ts";
import type { ApiEnv } from "./app.ts";
import { runAttach } from "./attach.ts";
import { toRequest } from "./bridge.ts";
import { detachKeysOf } from "./detach-keys.ts";
import { checkExecStartable, runExecSession, startExecDetached } from "./exec-session.ts";
import { MEDIA_MULTIPLEXED, MEDIA_RAW } from "./frames.ts";
import { errorResponse, STREAM_MARKER } from "./http.ts";
import { SocketPeer } from "./peer.ts";
import { ExecStartSchema, MAX_JSON_BODY, parseJsonBody, queryBool } from "./schemas.ts";
import type { ApiState } from "./state.ts";
import { atLeast, requestVersion, splitVersion } from "./versioning.ts";

export type HijackTarget = { kind: "attach"; id: string } | { kind: "exec"; id: string };

/** Which hijackable endpoint a (version-stripped) path is, if any. */
export function matchHijack(method: string, path: string): HijackTarget | undefined {
  if (method !== "POST") return undefined;
  let m = /^\/containers\/([^/]+)\/attach$/.exec(path);
  if (m) return { kind: "attach", id: decodeURIComponent(m[1] as string) };
  m = /^\/exec\/([^/]+)\/start$/.exec(path);
  if (m) return { kind: "exec", id: decodeURIComponent(m[1] as string) };
  return undefined;
}

const REASONS: Record<number, string> = { 200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified", 400: "Bad Request", 404: "Not Found", 409: "Conflict", 413: "Payload Too Large", 500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable" };

/** Writes a whole response on a raw socket and closes it. */
async function writeRaw(socket: Duplex, res: Response): Promise<void> {
  const body = res.status === 204 || res.status === 304 ? new Uint8Array(0) : new Uint8Array(await res.arrayBuffer());
  let head = `HTTP/1.1 ${res.status} ${REASONS[res.status] ?? "Status"}\r\n`;
  res.headers.forEach((v, k) => {
    if (k !== STREAM_MARKER && k !== "content-length" && k !== "connection") head += `${k}: ${v}\r\n`;
  });
  head += `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
  socket.write(head);
  if (body.length > 0) socket.write(body);
  socket.end();
}

async function readBody(req: IncomingMessage): Promise<string> {
  const len = Number(req.headers["content-length"] ?? "0");
  if (!Number.isFinite(len) || len <= 0) return "";
  if (len > MAX_JSON_BODY) throw new SkiffError("TooLarge", `request body too large: the limit is ${MAX_JSON_BODY} bytes`);
  return await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    req.on("data", (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got >= len) resolve(Buffer.concat(chunks).toString("utf8").slice(0, len));
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function mediaType(tty: boolean, version: string): string {
  return tty || !atLeast(version, "1.42") ? MEDIA_RAW : MEDIA_MULTIPLEXED;
}

/** Handles a node:http `upgrade` event. */
export async function handleUpgrade(state: ApiState, app: Hono<ApiEnv>, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  socket.on("error", () => undefined);
  const url = new URL(req.url ?? "/", "http://localhost");
  const { version, path } = splitVersion(url.pathname);
  const target = matchHijack(req.method ?? "GET", path);
  if (!target) {
    const ctrl = new AbortController();
    socket.on("close", () => ctrl.abort());
    const res = await app.fetch(toRequest(req, ctrl.signal, { ended: false, done: false }));
    await writeRaw(socket, res);
    return;
  }
  let v: string;
  try {
    v = requestVersion(version);
  } catch (e) {
    await writeRaw(socket, errorResponse(e));
    return;
  }
  const q = url.searchParams;
  const flag = (name: string): boolean => queryBool(q.get(name) ?? undefined);
  let upgraded = false;
  try {
    if (target.kind === "attach") {
      const record = state.ctx.containers.resolve(target.id);
      const params = {
        stdin: flag("stdin"),
        stdout: flag("stdout"),
        stderr: flag("stderr"),
        stream: flag("stream"),
        logs: flag("logs"),
        detachKeys: detachKeysOf(q.get("detachKeys") ?? undefined),
      };
      const peer = new SocketPeer(socket, head);
      peer.upgrade(mediaType(record.options.tty, v), { upgraded: true });
      upgraded = true;
      state.containerEvent(record, "attach");
      await runAttach(state, record, params, peer);
      return;
    }
    const exec = state.execs.get(target.id);
    const body = parseJsonBody(await readBody(req), ExecStartSchema, { emptyOk: true });
    if (body.Detach) {
      await startExecDetached(state, exec);
      await writeRaw(socket, new Response(null, { status: 200 }));
      return;
    }
    const record = checkExecStartable(state, exec);
    const tty = body.Tty ?? exec.config.tty;
    const peer = new SocketPeer(socket, head);
    peer.upgrade(mediaType(tty, v), { upgraded: true });
    upgraded = true;
    const consoleSize = body.ConsoleSize ? ([body.ConsoleSize[0], body.ConsoleSize[1]] as [number, number]) : undefined;
    await runExecSession(state, exec, record, peer, { tty, consoleSize });
  } catch (e) {
    if (upgraded) socket.end();
    else if (!socket.destroyed) await writeRaw(socket, errorResponse(e)).catch(() => undefined);
  }
}

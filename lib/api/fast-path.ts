/**
 * `/_ping`, which clients send before almost every command and health
 * checkers poll, answered straight from the node:http handler: no web
 * Request/Response objects, no router. Same headers and body as the Hono
 * route (routes/system.ts), which still serves it for app.request() and
 * for anything unusual (a version prefix out of range gets its 400 there).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { API_VERSION, MIN_API_VERSION, VERSION } from "../version.ts";
import { pingHeaders } from "./routes/system.ts";
import { compareVersions } from "./versioning.ts";

const PING = /^(?:\/v(\d+\.\d+))?\/_ping(?:\?.*)?$/;

let cached: Record<string, string> | undefined;

function headers(): Record<string, string> {
  cached ??= {
    ...pingHeaders(),
    Server: `skiff/${VERSION} (linux)`,
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": "2",
  };
  return cached;
}

/** Serves the request if it is a plain ping; false: not handled. */
export function servePing(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method !== "GET" && req.method !== "HEAD") return false;
  const m = PING.exec(req.url ?? "");
  if (!m) return false;
  const v = m[1];
  if (v !== undefined && (compareVersions(v, API_VERSION) > 0 || compareVersions(v, MIN_API_VERSION) < 0)) return false;
  res.writeHead(200, headers());
  res.end(req.method === "HEAD" ? undefined : "OK");
  return true;
}

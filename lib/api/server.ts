/**
 * `skiff system service`: the Docker Engine API on a unix socket (or, when
 * asked, TCP). One node:http server (Bun implements it natively): ordinary
 * requests go through the Hono app (./bridge.ts), upgrade requests for
 * attach and exec are hijacked (./hijack.ts), because Bun.serve cannot hand
 * over a raw connection. The socket is 0600 in a directory that must belong
 * to us; a stale socket left by a killed service is replaced, a live one is
 * refused. Containers do not depend on the service: stopping it ends
 * attached streams, never containers.
 */
import { createServer, type Server } from "node:http";
import { chmodSync, lstatSync, mkdirSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import type { Duplex } from "node:stream";
import type { Context } from "../context.ts";
import { errnoCode, SkiffError } from "../errors.ts";
import { umask } from "../sys/libc.ts";
import type { ListenAddress } from "./address.ts";
import { createApp } from "./app.ts";
import { serveNode } from "./bridge.ts";
import { servePing } from "./fast-path.ts";
import { handleUpgrade } from "./hijack.ts";
import { ApiState } from "./state.ts";

export interface ServeOptions {
  address: ListenAddress;
  /** Exit after this many seconds without requests or open streams; 0: never. */
  idleSeconds: number;
  /** Called once listening, with the address as a URL. */
  onListening?: (url: string) => void;
  /** Stops the service when aborted (tests, embedding). */
  signal?: AbortSignal;
}

/** Checks (and creates) the socket's directory: ours, not writable by others. */
export function prepareSocketDir(path: string, uid: number): void {
  const dir = dirname(path);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    if (errnoCode(e) !== "EEXIST") throw e;
  }
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new SkiffError("PermissionDenied", `${dir} is not a directory; refusing to put the API socket there`);
  if (st.uid !== uid) throw new SkiffError("PermissionDenied", `${dir} belongs to uid ${st.uid}, not to us (${uid}); refusing to put the API socket there`);
  if ((st.mode & 0o022) !== 0) throw new SkiffError("PermissionDenied", `${dir} is writable by other users; refusing to put the API socket there`);
}

/** Removes a socket nobody listens on; refuses one that answers. */
async function clearStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new SkiffError("AlreadyExists", `${path} exists and is not a socket`);
  const alive = await new Promise<boolean>((resolve) => {
    Bun.connect({
      unix: path,
      socket: {
        open(s) {
          s.end();
          resolve(true);
        },
        data() {},
        error() {
          resolve(false);
        },
        connectError() {
          resolve(false);
        },
      },
    }).catch(() => resolve(false));
  });
  if (alive) throw new SkiffError("AlreadyExists", `another service is listening on ${path}`);
  rmSync(path, { force: true });
}

async function listen(server: Server, address: ListenAddress): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    const done = (): void => {
      server.off("error", reject);
      resolve();
    };
    if (address.kind === "unix") server.listen(address.path, done);
    else server.listen(address.port, address.host, done);
  });
}

/** Serves until a signal, the idle timeout or `opts.signal`; resolves with the exit code. */
export async function serveApi(ctx: Context, opts: ServeOptions): Promise<number> {
  const uid = process.getuid?.() ?? 0;
  ctx.ensureStorage();
  const state = new ApiState(ctx);
  const app = createApp(state);

  let active = 0;
  let lastActivity = Date.now();
  const begin = (): void => {
    active += 1;
    lastActivity = Date.now();
  };
  const finish = (): void => {
    active -= 1;
    lastActivity = Date.now();
  };
  const hijacked = new Set<Duplex>();
  const traceRequests = process.env.SKIFF_API_TRACE === "1";
  const server = createServer((req, res) => {
    begin();
    res.on("close", finish);
    if (traceRequests) res.on("finish", () => process.stderr.write(`${req.method} ${req.url} ${res.statusCode}\n`));
    if (servePing(req, res)) return;
    void serveNode(req, res, (r) => app.fetch(r)).catch(() => {
      try {
        res.destroy();
      } catch {
        // gone
      }
    });
  });
  server.on("upgrade", (req, socket: Duplex, head: Buffer) => {
    begin();
    if (traceRequests) process.stderr.write(`${req.method} ${req.url} upgrade\n`);
    hijacked.add(socket);
    socket.on("close", () => {
      hijacked.delete(socket);
      finish();
    });
    void handleUpgrade(state, app, req, socket, head).catch(() => socket.destroy());
  });
  server.on("clientError", (_e, socket: Duplex) => {
    try {
      socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    } catch {
      // gone
    }
  });
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 60_000;

  const address = opts.address;
  if (address.kind === "unix") {
    prepareSocketDir(address.path, uid);
    await clearStaleSocket(address.path);
    // The socket is created with the process umask: make it private from the first moment.
    const old = umask(0o177);
    try {
      await listen(server, address);
    } finally {
      umask(old);
    }
    chmodSync(address.path, 0o600);
  } else {
    await listen(server, address);
  }
  const url = address.kind === "unix" ? `unix://${address.path}` : `tcp://${address.host}:${address.port}`;
  opts.onListening?.(url);

  return await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (code: number): void => {
      if (stopping) return;
      stopping = true;
      clearInterval(idleTimer);
      state.shutdown();
      server.close();
      for (const s of hijacked) s.destroy();
      if (address.kind === "unix") rmSync(address.path, { force: true });
      // Let streams that were just aborted write their ends.
      setTimeout(() => resolve(code), 100);
    };
    const idleTimer = setInterval(() => {
      if (opts.idleSeconds > 0 && active === 0 && Date.now() - lastActivity >= opts.idleSeconds * 1000) stop(0);
    }, 250);
    for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.once(sig, () => stop(0));
    opts.signal?.addEventListener("abort", () => stop(0));
  });
}

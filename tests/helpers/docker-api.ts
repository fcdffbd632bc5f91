/**
 * Talking to a Docker-compatible API socket from tests: plain requests with
 * fetch({unix}), hijacked connections (attach, exec start) over a raw
 * socket so the 101 upgrade and the bytes after it can be checked exactly,
 * and the real `docker` CLI pointed at the socket.
 */
import { existsSync } from "node:fs";

/** The docker client: $DOCKER_CLI, else the one on PATH (a daemon is not needed). */
export const DOCKER_CLI = process.env.DOCKER_CLI ?? Bun.which("docker") ?? "/usr/bin/docker";

export function dockerMissingReason(): string | undefined {
  return existsSync(DOCKER_CLI) ? undefined : "the docker CLI is missing (apt-get install docker.io, or docker-ce-cli)";
}

export function apiFetch(sock: string, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`http://docker${path}`, { ...init, unix: sock } as RequestInit);
}

export async function apiJson<T = Record<string, unknown>>(sock: string, path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const res = await apiFetch(sock, path, init);
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

export function jsonInit(method: string, body: unknown): RequestInit {
  return { method, body: JSON.stringify(body), headers: { "Content-Type": "application/json" } };
}

export interface Hijacked {
  /** Status code of the response head. */
  status: number;
  headers: Record<string, string>;
  /** Bytes received after the head so far. */
  received(): Uint8Array;
  write(data: Uint8Array | string): void;
  /** Half-closes our side (stdin EOF), keeps reading. */
  shutdownWrite(): void;
  close(): void;
  /** Resolves when the server closed the connection. */
  closed: Promise<void>;
  /** Resolves once `pred(received())` holds (or rejects after `ms`). */
  until(pred: (data: Uint8Array) => boolean, ms?: number): Promise<Uint8Array>;
}

/** Sends a request asking to upgrade, returns once the response head arrived. */
export async function hijack(sock: string, opts: { method?: string; path: string; body?: string; upgrade?: boolean }): Promise<Hijacked> {
  let head = "";
  let headDone = false;
  let body = new Uint8Array(0);
  let resolveHead!: () => void;
  const headP = new Promise<void>((r) => {
    resolveHead = r;
  });
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => {
    resolveClosed = r;
  });
  const waiters = new Set<() => void>();
  const append = (chunk: Uint8Array): void => {
    const merged = new Uint8Array(body.length + chunk.length);
    merged.set(body, 0);
    merged.set(chunk, body.length);
    body = merged;
    for (const w of waiters) w();
  };
  const socket = await Bun.connect({
    unix: sock,
    socket: {
      data(_s, chunk) {
        if (headDone) {
          append(chunk);
          return;
        }
        head += Buffer.from(chunk).toString("latin1");
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        const rest = Buffer.from(head.slice(end + 4), "latin1");
        head = head.slice(0, end);
        headDone = true;
        resolveHead();
        if (rest.length > 0) append(new Uint8Array(rest));
      },
      close() {
        resolveHead();
        resolveClosed();
        for (const w of waiters) w();
      },
      error() {
        resolveClosed();
      },
    },
  });
  const payload = opts.body ?? "";
  const lines = [
    `${opts.method ?? "POST"} ${opts.path} HTTP/1.1`,
    "Host: docker",
    ...(opts.upgrade === false ? [] : ["Connection: Upgrade", "Upgrade: tcp"]),
    ...(payload ? ["Content-Type: application/json"] : []),
    `Content-Length: ${Buffer.byteLength(payload)}`,
    "",
    "",
  ];
  socket.write(lines.join("\r\n") + payload);
  await headP;
  const [statusLine, ...headerLines] = head.split("\r\n");
  const headers: Record<string, string> = {};
  for (const l of headerLines) {
    const i = l.indexOf(":");
    if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return {
    status: Number((statusLine ?? "").split(" ")[1] ?? 0),
    headers,
    received: () => body,
    write: (d) => void socket.write(d),
    shutdownWrite: () => socket.shutdown(),
    close: () => socket.end(),
    closed,
    until(pred, ms = 15_000) {
      return new Promise<Uint8Array>((resolve, reject) => {
        const check = (): void => {
          if (pred(body)) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(body);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out; received ${JSON.stringify(Buffer.from(body).toString())}`));
        }, ms);
        waiters.add(check);
        check();
      });
    },
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the docker CLI with `env`; kills it after `timeoutMs`. */
export async function runDocker(args: string[], env: Record<string, string>, opts: { stdin?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const p = Bun.spawn([DOCKER_CLI, ...args], {
    env,
    stdin: opts.stdin !== undefined ? new Blob([opts.stdin]) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

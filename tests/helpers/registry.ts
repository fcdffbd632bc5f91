/**
 * A real CNCF distribution registry (`docker-registry`, 2.8) on 127.0.0.1 for
 * tests, with no auth, htpasswd (basic) auth, or token auth backed by a tiny
 * token server that signs RS256 JWTs with a throwaway key made by openssl.
 *
 *   const reg = await startRegistry({ auth: "token" });
 *   try { ... reg.host ... } finally { await reg.stop(); }
 */
import { createSign } from "node:crypto";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const REGISTRY_BINARY = "/usr/bin/docker-registry";

export interface TestRegistry {
  /** "127.0.0.1:PORT" */
  host: string;
  /** "http://127.0.0.1:PORT" */
  url: string;
  username?: string;
  password?: string;
  /** Temp dir holding the config, storage and log. */
  dir: string;
  /** For auth "token": the token server's base URL and how many tokens it issued. */
  tokenServer?: { url: string; issued: () => number };
  stop(): Promise<void>;
}

export interface StartRegistryOptions {
  auth?: "none" | "htpasswd" | "token";
}

/** Why registry tests cannot run here, or undefined when they can. */
export function registrySkipReason(): string | undefined {
  if (!existsSync(REGISTRY_BINARY)) {
    return `${REGISTRY_BINARY} is missing (apt-get install docker-registry)`;
  }
  if (!Bun.which("openssl")) return "openssl is missing (apt-get install openssl)";
  return undefined;
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const USERNAME = "skiff";
const PASSWORD = "s3cret:with:colons";
const SERVICE = "skiff-test-registry";
const ISSUER = "skiff-test-issuer";

export async function startRegistry(opts: StartRegistryOptions = {}): Promise<TestRegistry> {
  const auth = opts.auth ?? "none";
  const dir = mkdtempSync(join(tmpdir(), "skiff-registry-"));
  let token: TokenServer | undefined;
  let proc: ReturnType<typeof Bun.spawn> | undefined;
  try {
    const base = [
      "version: 0.1",
      "log:",
      "  level: warn",
      "  accesslog:",
      "    disabled: true",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${join(dir, "storage")}`,
      "  delete:",
      "    enabled: true",
    ];
    if (auth === "htpasswd") {
      const hash = await Bun.password.hash(PASSWORD, { algorithm: "bcrypt", cost: 4 });
      writeFileSync(join(dir, "htpasswd"), `${USERNAME}:${hash}\n`);
      base.push("auth:", "  htpasswd:", "    realm: skiff-test", `    path: ${join(dir, "htpasswd")}`);
    } else if (auth === "token") {
      token = await startTokenServer(dir);
      base.push(
        "auth:",
        "  token:",
        `    realm: ${token.url}/token`,
        `    service: ${SERVICE}`,
        `    issuer: ${ISSUER}`,
        `    rootcertbundle: ${token.certPath}`,
      );
    }
    const configPath = join(dir, "config.yml");
    const logPath = join(dir, "registry.log");
    let host = "";
    let started: ReturnType<typeof Bun.spawn>;
    // The free port may be taken before the registry binds it: try a few.
    for (let attempt = 1; ; attempt++) {
      host = `127.0.0.1:${await freePort()}`;
      writeFileSync(configPath, `${[...base, "http:", `  addr: ${host}`].join("\n")}\n`);
      const logFd = openSync(logPath, "w");
      proc = Bun.spawn([REGISTRY_BINARY, "serve", configPath], { stdin: "ignore", stdout: logFd, stderr: logFd });
      closeSync(logFd);
      try {
        await waitReady(`http://${host}/v2/`, proc, logPath);
        started = proc;
        break;
      } catch (e) {
        const inUse = readLog(logPath).includes("address already in use");
        proc.kill("SIGKILL");
        await proc.exited;
        proc = undefined;
        if (!inUse || attempt >= 3) throw e;
      }
    }
    const tokenServer = token;
    return {
      host,
      url: `http://${host}`,
      ...(auth === "none" ? {} : { username: USERNAME, password: PASSWORD }),
      dir,
      ...(tokenServer ? { tokenServer: { url: tokenServer.url, issued: () => tokenServer.issued } } : {}),
      async stop() {
        started.kill("SIGTERM");
        const timer = setTimeout(() => started.kill("SIGKILL"), 5000);
        await started.exited;
        clearTimeout(timer);
        tokenServer?.server.stop(true);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    if (proc) {
      proc.kill("SIGKILL");
      await proc.exited;
    }
    token?.server.stop(true);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

async function waitReady(url: string, proc: ReturnType<typeof Bun.spawn>, logPath: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`docker-registry exited early: ${readLog(logPath)}`);
    }
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      return;
    } catch {
      await Bun.sleep(50);
    }
  }
  throw new Error(`docker-registry did not answer ${url} within 15s: ${readLog(logPath)}`);
}

function readLog(path: string): string {
  try {
    return readFileSync(path, "utf8").slice(-2000);
  } catch {
    return "(no log)";
  }
}

interface TokenServer {
  url: string;
  certPath: string;
  server: ReturnType<typeof Bun.serve>;
  issued: number;
}

/**
 * Issues registry tokens: checks Basic credentials when given (401 when
 * wrong), grants the requested actions to the test user and only `pull` to
 * anonymous clients.
 */
async function startTokenServer(dir: string): Promise<TokenServer> {
  const keyPath = join(dir, "token.key");
  const certPath = join(dir, "token.crt");
  const gen = Bun.spawnSync(
    ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyPath, "-out", certPath,
      "-days", "2", "-subj", "/CN=skiff-test-token"],
    { stdout: "ignore", stderr: "pipe" },
  );
  if (gen.exitCode !== 0) throw new Error(`openssl failed: ${gen.stderr.toString()}`);
  const keyPem = readFileSync(keyPath, "utf8");
  const certDer = readFileSync(certPath, "utf8").replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
  const state: TokenServer = { url: "", certPath, server: undefined as never, issued: 0 };
  state.server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const url = new URL(req.url);
      if (url.pathname !== "/token") return new Response("not found", { status: 404 });
      let subject = "";
      const authz = req.headers.get("authorization");
      if (authz) {
        const decoded = authz.startsWith("Basic ") ? Buffer.from(authz.slice(6), "base64").toString() : "";
        if (decoded !== `${USERNAME}:${PASSWORD}`) {
          return Response.json({ details: "invalid credentials" }, { status: 401 });
        }
        subject = USERNAME;
      }
      const access = url.searchParams.getAll("scope").flatMap((s) => grant(s, subject !== ""));
      const now = Math.floor(Date.now() / 1000);
      const claims = {
        iss: ISSUER,
        sub: subject,
        aud: url.searchParams.get("service") ?? SERVICE,
        exp: now + 300,
        nbf: now - 10,
        iat: now,
        jti: crypto.randomUUID(),
        access,
      };
      const token = signJwt({ typ: "JWT", alg: "RS256", x5c: [certDer] }, claims, keyPem);
      state.issued += 1;
      return Response.json({ token, expires_in: 300, issued_at: new Date(now * 1000).toISOString() });
    },
  });
  state.url = `http://127.0.0.1:${state.server.port}`;
  return state;
}

function grant(scope: string, authenticated: boolean): { type: string; name: string; actions: string[] }[] {
  // "repository:name:pull,push" (name may hold ':' only in theory; split from both ends).
  const first = scope.indexOf(":");
  const last = scope.lastIndexOf(":");
  if (first < 0 || last <= first) return [];
  const type = scope.slice(0, first);
  const name = scope.slice(first + 1, last);
  const wanted = scope.slice(last + 1).split(",");
  const actions = wanted.filter((a) => authenticated || a === "pull");
  return [{ type, name, actions }];
}

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString("base64url");
}

function signJwt(header: object, claims: object, keyPem: string): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const sig = createSign("RSA-SHA256").update(input).sign(keyPem);
  return `${input}.${b64url(sig)}`;
}

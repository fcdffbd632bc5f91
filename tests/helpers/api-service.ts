/**
 * A `skiff system service` on a private unix socket with its own store, a
 * registry with a busybox image, and the real docker CLI pointed at it: the
 * fixture the API test files share. Every container, the service, the
 * registry and the store are cleaned up by id in close().
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { API_VERSION } from "../../lib/version.ts";
import { apiFetch, apiJson, dockerMissingReason, jsonInit, runDocker, type CliResult } from "./docker-api.ts";
import { busyboxImage, pushLayout, writeImageLayout } from "./images.ts";
import { registrySkipReason, startRegistry, type TestRegistry } from "./registry.ts";
import { binaryMissingReason, makeSkiffEnv, SKIFF_BIN, skiffProcessEnv, type SkiffEnv } from "./skiff.ts";

/** Why the API tests cannot run here, if they cannot. */
export function apiSkipReason(): string | undefined {
  return binaryMissingReason() ?? registrySkipReason() ?? dockerMissingReason();
}

/** The API's path prefix: `/v1.44`. */
export const V = `/v${API_VERSION}`;

export interface ApiService {
  env: SkiffEnv;
  reg: TestRegistry;
  /** Scratch directory next to the store (private to the user). */
  base: string;
  sock: string;
  /** The busybox image in the registry (not pulled into the store). */
  image: string;
  /** Why default networking does not work here, if it does not: then containers use --network none. */
  netSkip: string | undefined;
  /** `docker run`/`create` flags and create-body settings for tests that are not about networking. */
  net: string[];
  netBody: { HostConfig?: Record<string, unknown> };
  /** Containers made through the API, removed at close(). */
  created: Set<string>;
  serviceLog(): string;
  /** Whether the service process still runs. */
  running(): boolean;
  /** The docker CLI's environment: DOCKER_HOST at the socket, a private DOCKER_CONFIG. */
  dockerEnv: Record<string, string>;
  /** `run`/`create` argv with the network flags added, unless the test picks a network itself. */
  withNet(args: string[]): string[];
  docker(args: string[], opts?: { stdin?: string; timeoutMs?: number }): Promise<CliResult>;
  dockerOk(args: string[], opts?: { stdin?: string }): Promise<string>;
  /** Creates a container through the API (remembered for cleanup). */
  createContainer(body: Record<string, unknown>, name?: string): Promise<string>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function waitFor(pred: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await pred()) return;
    await Bun.sleep(50);
  }
  throw new Error("condition not met in time");
}

/**
 * A user network's helper (and its pasta) exit on their own 10 s after the
 * last container left; deleting the store first would orphan them, so stop
 * the ones this run started, by the pids they recorded.
 */
function stopNetworkHelpers(env: SkiffEnv): void {
  const dir = join(env.runRoot, "networks");
  if (!existsSync(dir)) return;
  for (const net of readdirSync(dir)) {
    for (const [file, key] of [["helper.json", "pid"], ["pasta.pid", ""]] as const) {
      try {
        const text = readFileSync(join(dir, net, file), "utf8").trim();
        const pid = key ? Number((JSON.parse(text) as Record<string, unknown>)[key]) : Number(text);
        if (pid > 0) process.kill(pid, "SIGTERM");
      } catch {
        // not there, or gone already
      }
    }
  }
}

/** Why containers cannot use the default network here. */
async function networkProbe(env: SkiffEnv, image: string): Promise<string | undefined> {
  await env.ok(["pull", "-q", image]);
  const r = await env.run(["run", "--rm", image, "true"]);
  await env.ok(["rmi", image]);
  if (r.code === 0) return undefined;
  return `default container networking fails for this user (skiff run: ${r.stderr.trim().split("\n").pop()})`;
}

/**
 * Registry, image, store and network probe; the service starts with
 * start(). Made before a file declares its tests, so the probe can decide
 * what to skip.
 */
export async function prepareApiService(name: string, opts: { networks?: string[] } = {}): Promise<ApiService> {
  const reg = await startRegistry();
  const layout = mkdtempSync(join(tmpdir(), `skiff-${name}-layout-`));
  try {
    await writeImageLayout(layout, [{ tag: "v1", spec: busyboxImage() }]);
    await pushLayout(layout, `${reg.host}/busybox:v1`, { tag: "v1" });
  } finally {
    rmSync(layout, { recursive: true, force: true });
  }
  const image = `${reg.host}/busybox:v1`;
  const env = makeSkiffEnv(`skiff-${name}`);
  const base = dirname(env.root);
  const sock = join(base, "s.sock");
  mkdirSync(join(base, "docker-config"), { mode: 0o700 });
  const dockerEnv = {
    PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: env.home,
    DOCKER_HOST: `unix://${sock}`,
    DOCKER_CONFIG: join(base, "docker-config"),
  };
  const netSkip = await networkProbe(env, image);
  const net = netSkip ? ["--network", "none"] : [];
  const netBody = netSkip ? { HostConfig: { NetworkMode: "none" } } : {};
  const created = new Set<string>();
  let service: ReturnType<typeof Bun.spawn> | undefined;
  let log = "";

  const withNet = (args: string[]): string[] => {
    if ((args[0] !== "run" && args[0] !== "create") || args.some((a) => a === "--network" || a.startsWith("--network="))) return args;
    return [args[0], ...net, ...args.slice(1)];
  };
  const docker = (args: string[], o: { stdin?: string; timeoutMs?: number } = {}): Promise<CliResult> => runDocker(withNet(args), dockerEnv, o);

  return {
    env,
    reg,
    base,
    sock,
    image,
    netSkip,
    net,
    netBody,
    created,
    serviceLog: () => log,
    dockerEnv,
    withNet,
    running: () => service !== undefined && service.exitCode === null,
    docker,
    async dockerOk(args, o = {}) {
      const r = await docker(args, o);
      if (r.code !== 0) throw new Error(`docker ${args.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
      return r.stdout;
    },
    async createContainer(body, cname) {
      const hostConfig = { ...(netBody.HostConfig ?? {}), ...((body.HostConfig as Record<string, unknown> | undefined) ?? {}) };
      const r = await apiJson<{ Id: string }>(sock, `${V}/containers/create${cname ? `?name=${cname}` : ""}`, jsonInit("POST", { Image: image, ...body, HostConfig: hostConfig }));
      if (r.status !== 201) throw new Error(`create: ${r.status} ${JSON.stringify(r.body)}`);
      created.add(r.body.Id);
      return r.body.Id;
    },
    async start() {
      const p = Bun.spawn([SKIFF_BIN, "system", "service", `unix://${sock}`], {
        env: skiffProcessEnv(env),
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
      });
      service = p;
      void (async () => {
        for await (const c of p.stderr as ReadableStream<Uint8Array>) log += new TextDecoder().decode(c);
      })();
      await waitFor(async () => {
        if (p.exitCode !== null) throw new Error(`service exited ${p.exitCode}: ${log}`);
        try {
          return (await apiFetch(sock, "/_ping")).ok;
        } catch {
          return false;
        }
      });
    },
    async close() {
      if (service && service.exitCode === null) {
        for (const id of created) await apiFetch(sock, `${V}/containers/${id}?force=1&v=1`, { method: "DELETE" }).catch(() => undefined);
        for (const n of opts.networks ?? []) await apiFetch(sock, `${V}/networks/${n}`, { method: "DELETE" }).catch(() => undefined);
        service.kill("SIGTERM");
        await Promise.race([service.exited, Bun.sleep(5000)]);
        if (service.exitCode === null) service.kill("SIGKILL");
      }
      stopNetworkHelpers(env);
      await reg.stop();
      await env.cleanup();
    },
  };
}

/** /_ping, /version, /info, /events, /auth, /system/df. */
import type { Hono } from "hono";
import { arch, cpus, hostname, release, totalmem } from "node:os";
import { SkiffError } from "../../errors.ts";
import { readEvents, type EngineEvent } from "../../events.ts";
import { currentState } from "../../containers/ops.ts";
import { registryFromServer } from "../../images/login.ts";
import { registryClient } from "../../images/registry.ts";
import { parseLogTime } from "../../containers/logs.ts";
import { API_VERSION, BUILT, GIT_COMMIT, MIN_API_VERSION, VERSION } from "../../version.ts";
import type { ApiEnv } from "../app.ts";
import { jsonBody, streamResponse } from "../http.ts";
import { AuthSchema, checkFilterKeys, parseFilters } from "../schemas.ts";
import type { ApiState } from "../state.ts";

function goArch(): string {
  const a = arch();
  return a === "x64" ? "amd64" : a;
}

function kernelArch(): string {
  const a = arch();
  return a === "x64" ? "x86_64" : a === "arm64" ? "aarch64" : a;
}

export function pingHeaders(): Record<string, string> {
  return {
    "Api-Version": API_VERSION,
    Ostype: "linux",
    "Builder-Version": "1",
    "Docker-Experimental": "false",
    "Cache-Control": "no-cache, no-store, must-revalidate",
    Pragma: "no-cache",
  };
}

export function versionBody(): Record<string, unknown> {
  const details = { ApiVersion: API_VERSION, Arch: goArch(), BuildTime: BUILT, Experimental: "false", GitCommit: GIT_COMMIT, GoVersion: `bun${Bun.version}`, KernelVersion: release(), MinAPIVersion: MIN_API_VERSION, Os: "linux" };
  return {
    Platform: { Name: "skiff" },
    Components: [{ Name: "Engine", Version: VERSION, Details: details }],
    Version: VERSION,
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: GIT_COMMIT,
    GoVersion: `bun${Bun.version}`,
    Os: "linux",
    Arch: goArch(),
    KernelVersion: release(),
    BuildTime: BUILT,
  };
}

async function infoBody(state: ApiState): Promise<Record<string, unknown>> {
  const ctx = state.ctx;
  const { systemInfo } = await import("../../system/info.ts");
  const info = await systemInfo(ctx);
  let running = 0;
  let paused = 0;
  let stopped = 0;
  const containers = ctx.containers.list();
  for (const r of containers) {
    const s = currentState(ctx, r).status;
    if (s === "running") running++;
    else if (s === "paused") paused++;
    else stopped++;
  }
  const runtime = info.host.ociRuntime;
  return {
    ID: `skiff-${process.getuid?.() ?? 0}`,
    Containers: containers.length,
    ContainersRunning: running,
    ContainersPaused: paused,
    ContainersStopped: stopped,
    Images: info.store.imageCount,
    Driver: info.store.driver,
    DriverStatus: [
      ["Backing Filesystem", "extfs"],
      ["Driver reason", info.store.driverReason],
    ],
    Plugins: { Volume: [], Network: [], Authorization: null, Log: ["json-file"] },
    MemoryLimit: !ctx.rootless,
    SwapLimit: false,
    CpuCfsPeriod: !ctx.rootless,
    CpuCfsQuota: !ctx.rootless,
    CPUShares: !ctx.rootless,
    CPUSet: !ctx.rootless,
    PidsLimit: !ctx.rootless,
    OomKillDisable: false,
    IPv4Forwarding: false,
    Debug: false,
    NFd: 0,
    NGoroutines: 0,
    SystemTime: new Date().toISOString(),
    LoggingDriver: "json-file",
    CgroupDriver: ctx.rootless ? "none" : "cgroupfs",
    CgroupVersion: info.host.cgroupVersion.startsWith("v2") ? "2" : "1",
    NEventsListener: 0,
    KernelVersion: release(),
    OperatingSystem: info.host.distribution,
    OSVersion: "",
    OSType: "linux",
    Architecture: kernelArch(),
    IndexServerAddress: "https://index.docker.io/v1/",
    RegistryConfig: { InsecureRegistryCIDRs: ["127.0.0.0/8", "::1/128"], IndexConfigs: {}, Mirrors: [] },
    NCPU: cpus().length,
    MemTotal: totalmem(),
    DockerRootDir: ctx.paths.root,
    HttpProxy: process.env.HTTP_PROXY ?? process.env.http_proxy ?? "",
    HttpsProxy: process.env.HTTPS_PROXY ?? process.env.https_proxy ?? "",
    NoProxy: process.env.NO_PROXY ?? process.env.no_proxy ?? "",
    Name: hostname(),
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: VERSION,
    Runtimes: runtime ? { [runtime.name]: { path: runtime.path } } : {},
    DefaultRuntime: runtime?.name ?? "runc",
    Swarm: { NodeID: "", NodeAddr: "", LocalNodeState: "inactive", ControlAvailable: false, Error: "", RemoteManagers: null },
    LiveRestoreEnabled: true,
    Isolation: "",
    InitBinary: "",
    ContainerdCommit: { ID: "" },
    RuncCommit: { ID: runtime?.version ?? "" },
    InitCommit: { ID: "" },
    SecurityOptions: ["name=seccomp,profile=default", ...(ctx.rootless ? ["name=rootless"] : [])],
    Warnings: info.hints.map((h) => `WARNING: ${h}`),
  };
}

/** Docker's event message, with the legacy fields (status, id, from) clients still read. */
export function eventMessage(e: EngineEvent): Record<string, unknown> {
  const legacy = e.type === "container" || e.type === "image" ? { status: e.action, id: e.id, ...(e.attributes.image ? { from: e.attributes.image } : {}) } : {};
  return {
    ...legacy,
    Type: e.type,
    Action: e.action,
    Actor: { ID: e.id, Attributes: e.attributes },
    scope: "local",
    time: Math.floor(e.timeNano / 1e9),
    timeNano: e.timeNano,
  };
}

/** Docker's `since`/`until`: Unix seconds (with fraction) or RFC 3339; ms since the epoch. */
function eventTime(value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  return parseLogTime(value);
}

function matchesEvent(filters: Map<string, string[]>, e: EngineEvent): boolean {
  for (const [key, values] of filters) {
    if (values.length === 0) continue;
    const ok = values.some((v) => {
      switch (key) {
        case "type":
          return e.type === v;
        case "event":
          return e.action === v || e.action.startsWith(`${v}:`);
        case "container":
          return e.type === "container" && (e.id === v || e.id.startsWith(v) || e.attributes.name === v);
        case "image":
          return e.attributes.image === v || (e.type === "image" && (e.id === v || e.attributes.name === v));
        case "label": {
          const i = v.indexOf("=");
          const k = i < 0 ? v : v.slice(0, i);
          return k in e.attributes && (i < 0 || e.attributes[k] === v.slice(i + 1));
        }
        case "scope":
          return v === "local";
        default:
          return true;
      }
    });
    if (!ok) return false;
  }
  return true;
}

export function registerSystem(app: Hono<ApiEnv>, state: ApiState): void {
  app.get("/_ping", (c) => {
    const headers = pingHeaders();
    for (const [k, v] of Object.entries(headers)) c.header(k, v);
    c.header("Content-Type", "text/plain; charset=utf-8");
    return c.req.method === "HEAD" ? c.body(null, 200) : c.body("OK", 200);
  });

  app.get("/version", (c) => c.json(versionBody()));

  app.get("/info", async (c) => c.json(await infoBody(state)));

  app.get("/events", (c) => {
    const filters = parseFilters(c.req.query("filters"));
    checkFilterKeys(filters, ["type", "event", "container", "image", "label", "scope", "volume", "network", "daemon", "plugin", "node", "service", "secret", "config"]);
    const since = eventTime(c.req.query("since"));
    const until = eventTime(c.req.query("until"));
    const signal = c.req.raw.signal;
    return streamResponse(
      async (sink) => {
        const ended = sink.signal;
        for await (const e of readEvents(state.ctx.paths.runRoot, { since, until, follow: true, signal: ended })) {
          if (matchesEvent(filters, e)) await sink.json(eventMessage(e));
        }
      },
      { headers: { "Content-Type": "application/json" }, signals: [signal, state.shutdownSignal] },
    );
  });

  app.post("/auth", async (c) => {
    const body = await jsonBody(c, AuthSchema);
    const server = body.serveraddress || "docker.io";
    const registry = registryFromServer(server);
    if (!body.username || !body.password) throw new SkiffError("InvalidArgument", "username and password are required");
    // Checked against the registry only: the client keeps the credentials (as with dockerd).
    await registryClient(state.ctx).checkLogin(registry, { username: body.username, password: body.password });
    return c.json({ Status: "Login Succeeded", IdentityToken: "" });
  });

  app.get("/system/df", async (c) => {
    const { treeSize } = await import("../../containers/prune.ts");
    const ctx = state.ctx;
    const images = ctx.images.list().map((img) => ({
      Id: img.id,
      ParentId: "",
      RepoTags: img.names,
      RepoDigests: img.repoDigests,
      Created: Math.floor(Date.parse(img.created ?? img.added) / 1000),
      Size: img.size,
      SharedSize: -1,
      Labels: {},
      Containers: ctx.containers.list().filter((r) => r.image.id === img.id).length,
    }));
    const containers = ctx.containers.list().map((r) => ({
      Id: r.id,
      Names: [`/${r.name}`],
      Image: r.image.name,
      ImageID: r.image.id,
      Command: "",
      Created: Math.floor(Date.parse(r.created) / 1000),
      State: currentState(ctx, r).status,
      Status: "",
      SizeRw: treeSize(`${ctx.containers.dir(r.id)}/upper`),
      SizeRootFs: 0,
      Labels: r.options.labels,
      Mounts: [],
    }));
    return c.json({ LayersSize: images.reduce((n, i) => n + i.Size, 0), Images: images, Containers: containers, Volumes: [], BuildCache: [] });
  });
}

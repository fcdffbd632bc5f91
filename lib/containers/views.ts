/**
 * Docker-shaped views of containers: `ps` rows and `inspect` JSON, shared by
 * the CLI and the API.
 */
import { join } from "node:path";
import type { Context } from "../context.ts";
import type { Digest } from "../digest.ts";
import { humanDuration } from "../cli/render.ts";
import { processArgs } from "../oci/spec.ts";
import type { ContainerRecord } from "./record.ts";
import { runDir } from "./start.ts";
import { volumeHostPath } from "../volumes/mounts.ts";
import type { LiveState } from "./state.ts";
import { hostConfigResources } from "./resources.ts";

export interface ContainerView {
  record: ContainerRecord;
  state: LiveState;
}

/** Path and Args as Docker reports them (init excluded). */
export function commandOf(record: ContainerRecord): string[] {
  try {
    return processArgs(record.imageConfig, record.options);
  } catch {
    return [];
  }
}

/** `"sh -c 'echo hi'"` as `docker ps` shows it, truncated to 20 characters unless noTrunc. */
export function psCommand(record: ContainerRecord, noTrunc: boolean): string {
  const cmd = commandOf(record)
    .map((a) => (/\s/.test(a) ? `'${a}'` : a))
    .join(" ");
  const shown = noTrunc || cmd.length <= 20 ? cmd : `${cmd.slice(0, 19)}…`;
  return `"${shown}"`;
}

function since(iso: string, now: number): number {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? Math.max(0, now - t) : 0;
}

/** The STATUS column: "Up 5 seconds", "Exited (3) 2 minutes ago", "Created"... */
export function statusText(state: LiveState, now = Date.now()): string {
  switch (state.status) {
    case "created":
      return "Created";
    case "restarting": {
      const ago = state.finishedAt.startsWith("0001") ? "" : ` ${humanDuration(since(state.finishedAt, now))} ago`;
      return `Restarting (${state.exitCode})${ago}`;
    }
    case "removing":
      return "Removal In Progress";
    case "running":
    case "paused": {
      let s = `Up ${humanDuration(since(state.startedAt, now))}`;
      if (state.status === "paused") s += " (Paused)";
      else if (state.health && state.health.status !== "none") s += ` (${state.health.status === "starting" ? "health: starting" : state.health.status})`;
      if (!state.shimAlive) s += " (unsupervised: its shim died)";
      return s;
    }
    case "exited": {
      const ago = state.finishedAt.startsWith("0001") ? "" : ` ${humanDuration(since(state.finishedAt, now))} ago`;
      const note = state.note ? ` (${state.note})` : "";
      return `Exited (${state.exitCode})${ago}${note}`;
    }
  }
}

/** Docker's State.Status words. */
export function dockerStatus(state: LiveState): string {
  return state.status;
}

export interface PsRow {
  ID: string;
  Image: string;
  Command: string;
  CreatedAt: string;
  RunningFor: string;
  Ports: string;
  State: string;
  Status: string;
  Size: string;
  Names: string;
  Labels: string;
  Mounts: string;
  Networks: string;
  LocalVolumes: string;
}

function dockerTime(iso: string): string {
  // Docker prints "2024-01-01 10:00:00 +0000 UTC" in ps.
  const d = new Date(iso);
  const pad = (n: number): string => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000 UTC`;
}

export function psRow(v: ContainerView, opts: { noTrunc: boolean; now?: number }): PsRow {
  const now = opts.now ?? Date.now();
  const r = v.record;
  return {
    ID: opts.noTrunc ? r.id : r.id.slice(0, 12),
    Image: r.image.name,
    Command: psCommand(r, opts.noTrunc),
    CreatedAt: dockerTime(r.created),
    RunningFor: `${humanDuration(since(r.created, now))} ago`,
    Ports: portsText(v.state.ports),
    State: v.state.status,
    Status: statusText(v.state, now),
    Size: "",
    Names: r.name,
    Labels: Object.entries(r.options.labels)
      .map(([k, val]) => `${k}=${val}`)
      .join(","),
    Mounts: r.options.mounts.map((m) => m.source ?? m.target).join(","),
    Networks: "",
    LocalVolumes: String(r.options.mounts.filter((m) => m.type === "volume").length),
  };
}

type Binding = { containerPort: number; protocol: string; hostIp: string; hostPort: number };

/** Docker's `{"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}`. */
function portBindings(bindings: Binding[]): Record<string, { HostIp: string; HostPort: string }[]> {
  const out: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const b of bindings) {
    const key = `${b.containerPort}/${b.protocol}`;
    (out[key] ??= []).push({ HostIp: b.hostIp === "0.0.0.0" ? "" : b.hostIp, HostPort: b.hostPort === 0 ? "" : String(b.hostPort) });
  }
  return out;
}

/** The PORTS column: `0.0.0.0:8080->80/tcp, 53/udp`. */
export function portsText(bindings: Binding[]): string {
  return bindings.map((b) => `${b.hostIp}:${b.hostPort}->${b.containerPort}/${b.protocol}`).join(", ");
}

function networkSettings(r: ContainerRecord, s: LiveState): Record<string, unknown> {
  const running = s.status === "running" || s.status === "paused";
  const ip = running ? s.ipAddress : "";
  const ports: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const key of Object.keys(r.imageConfig?.ExposedPorts ?? {})) ports[key] = null;
  // NetworkSettings shows the addresses bound (0.0.0.0), HostConfig what was asked ("").
  if (running) {
    for (const b of s.ports) (ports[`${b.containerPort}/${b.protocol}`] ??= []) as unknown;
    for (const b of s.ports) {
      const key = `${b.containerPort}/${b.protocol}`;
      const list = ports[key] ?? [];
      list.push({ HostIp: b.hostIp || "0.0.0.0", HostPort: String(b.hostPort) });
      ports[key] = list;
    }
  }
  const name = r.options.network === "default" ? "bridge" : r.options.network;
  const endpoint = { IPAddress: ip, IPPrefixLen: ip ? 24 : 0, Gateway: "", MacAddress: "", Aliases: r.options.networkAliases, NetworkID: name };
  return {
    Bridge: "",
    SandboxID: "",
    Ports: ports,
    IPAddress: ip,
    IPPrefixLen: ip ? 24 : 0,
    Gateway: "",
    MacAddress: "",
    Networks: name === "none" || name === "host" || name.startsWith("container:") ? {} : { [name]: endpoint },
  };
}

function mountView(ctx: Context, m: ContainerRecord["options"]["mounts"][number]): Record<string, unknown> {
  const source = m.type === "volume" && m.source ? (volumeHostPath(ctx, m.source) ?? m.source) : (m.source ?? "");
  return {
    Type: m.type,
    ...(m.type === "volume" && m.source ? { Name: m.source, Driver: "local" } : {}),
    Source: source,
    Destination: m.target,
    Mode: m.readOnly ? "ro" : "",
    RW: !m.readOnly,
    Propagation: m.type === "bind" ? (m.options.find((o) => /^r?(shared|slave|private)$/.test(o)) ?? "rprivate") : "",
  };
}

/** `docker inspect` JSON for one container. */
export function inspectContainer(ctx: Context, v: ContainerView): Record<string, unknown> {
  const { record: r, state: s } = v;
  const o = r.options;
  const img = r.imageConfig ?? {};
  const args = commandOf(r);
  const cdir = ctx.containers.dir(r.id);
  const rdir = runDir(ctx, r.id);
  return {
    Id: r.id,
    Created: r.created,
    Path: args[0] ?? "",
    Args: args.slice(1),
    State: {
      Status: dockerStatus(s),
      Running: s.status === "running" || s.status === "paused",
      Paused: s.status === "paused",
      Restarting: s.status === "restarting",
      OOMKilled: s.oomKilled,
      Dead: false,
      Pid: s.status === "running" || s.status === "paused" ? s.pid : 0,
      ExitCode: s.exitCode,
      Error: s.error,
      StartedAt: s.startedAt,
      FinishedAt: s.finishedAt,
      ...(s.health ? { Health: { Status: s.health.status, FailingStreak: s.health.failingStreak, Log: s.health.log.map((l) => ({ Start: l.start, End: l.end, ExitCode: l.exitCode, Output: l.output })) } } : {}),
      ...(s.note ? { SkiffNote: s.note } : {}),
    },
    Image: r.image.id,
    ResolvConfPath: "",
    HostnamePath: "",
    HostsPath: "",
    LogPath: join(cdir, "ctr.log"),
    Name: `/${r.name}`,
    RestartCount: s.restartCount,
    Driver: r.driver,
    Platform: "linux",
    MountLabel: "",
    ProcessLabel: "",
    AppArmorProfile: "",
    ExecIDs: null,
    HostConfig: {
      Binds: o.mounts.filter((m) => m.type === "bind").map((m) => `${m.source}:${m.target}${m.readOnly ? ":ro" : ""}`),
      ContainerIDFile: "",
      LogConfig: {
        Type: "json-file",
        Config: {
          ...(o.logMaxSize ? { "max-size": String(o.logMaxSize) } : {}),
          ...(o.logMaxFiles ? { "max-file": String(o.logMaxFiles) } : {}),
        },
      },
      NetworkMode: o.network === "default" ? "bridge" : o.network,
      PortBindings: portBindings(o.ports),
      PublishAllPorts: o.publishAll,
      Dns: o.dns,
      DnsSearch: o.dnsSearch,
      DnsOptions: o.dnsOptions,
      ExtraHosts: o.addHosts,
      RestartPolicy: { Name: o.restart.name, MaximumRetryCount: o.restart.maximumRetryCount },
      AutoRemove: o.autoRemove,
      CapAdd: o.capAdd,
      CapDrop: o.capDrop,
      Init: o.init,
      Privileged: o.privileged,
      ReadonlyRootfs: o.readOnly,
      SecurityOpt: o.securityOpt,
      Tmpfs: Object.fromEntries(o.mounts.filter((m) => m.type === "tmpfs").map((m) => [m.target, m.options.join(",")])),
      Ulimits: o.ulimits.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })),
      ShmSize: o.shmSize ?? 67108864,
      Sysctls: o.sysctls,
      GroupAdd: o.groupAdd,
      Runtime: r.runtime,
      ...hostConfigResources(r.resources),
    },
    GraphDriver: {
      Name: r.driver === "overlay" ? "overlay" : r.driver,
      // The copy driver's upper dir is the whole root filesystem, over no lower dirs.
      Data:
        r.driver === "copy"
          ? { UpperDir: join(cdir, "upper"), MergedDir: join(rdir, "rootfs") }
          : {
              LowerDir: [...r.image.chainIds]
                .reverse()
                .map((c) => ctx.snapshots.fsDir(c as Digest))
                .join(":"),
              UpperDir: join(cdir, "upper"),
              WorkDir: join(cdir, "work"),
              MergedDir: join(rdir, "rootfs"),
            },
    },
    Mounts: o.mounts.map((m) => mountView(ctx, m)),
    Config: {
      Hostname: o.hostname ?? r.id.slice(0, 12),
      Domainname: o.domainname ?? "",
      User: o.user ?? img.User ?? "",
      AttachStdin: o.openStdin,
      AttachStdout: true,
      AttachStderr: true,
      Tty: o.tty,
      OpenStdin: o.openStdin,
      StdinOnce: o.openStdin,
      Env: [...(img.Env ?? []), ...o.env],
      Cmd: o.cmd ?? (o.entrypoint ? null : (img.Cmd ?? null)),
      Image: r.image.name,
      Volumes: img.Volumes ?? null,
      WorkingDir: o.workdir ?? img.WorkingDir ?? "",
      Entrypoint: o.entrypoint ?? img.Entrypoint ?? null,
      OnBuild: null,
      Labels: { ...(img.Labels ?? {}), ...o.labels },
      StopSignal: o.stopSignal ?? img.StopSignal ?? "SIGTERM",
      ...(o.stopTimeout !== undefined ? { StopTimeout: o.stopTimeout } : {}),
    },
    NetworkSettings: networkSettings(r, s),
  };
}

/**
 * A Docker `POST /containers/create` body → skiff's CreateOptions, with the
 * same syntax rules as the CLI flags (binds, tmpfs, ulimits), networks,
 * ports, volumes, restart policy and healthcheck, plus the warning dockerd
 * would give for settings skiff accepts but cannot apply here (resource
 * limits). Settings that would silently
 * change what the container is (unknown network modes, devices) are
 * refused with a clear message instead. Named and anonymous volumes are
 * created by the engine at create (lib/volumes).
 */
import { existsSync } from "node:fs";
import { SkiffError } from "../errors.ts";
import { createOptions, type CreateOptions, type MountOption } from "../containers/options.ts";
import { parseVolume, parseTmpfs } from "../cli/run-flags.ts";
import type { PortBinding } from "../containers/ports.ts";
import { parseAddHost } from "../network/etcfiles.ts";
import { mergeBindings } from "../network/publish.ts";
import { parseSignal } from "../oci/spec.ts";
import type { ApiHostConfig, ContainerCreateBody } from "./schemas.ts";

export interface CreatePlan {
  image: string;
  options: CreateOptions;
  runtime: string | undefined;
  warnings: string[];
}

function bad(message: string): SkiffError {
  return new SkiffError("InvalidArgument", message);
}

/** Docker's StrSlice: a JSON string is one element. */
function strSlice(v: string[] | string | null | undefined): string[] | null {
  if (v === null || v === undefined) return null;
  return typeof v === "string" ? [v] : v;
}


function mountsOf(body: ContainerCreateBody, hc: ApiHostConfig): MountOption[] {
  const out: MountOption[] = [];
  for (const b of hc.Binds ?? []) out.push(parseVolume(b));
  for (const m of hc.Mounts ?? []) {
    const readOnly = m.ReadOnly ?? false;
    if (!m.Target.startsWith("/")) throw bad(`invalid mount config: target must be absolute: ${m.Target}`);
    switch (m.Type) {
      case "bind": {
        if (!m.Source || !m.Source.startsWith("/")) throw bad(`invalid mount config for type "bind": source must be an absolute host path`);
        if (!existsSync(m.Source)) throw bad(`invalid mount config for type "bind": bind source path does not exist: ${m.Source}`);
        const prop = m.BindOptions?.Propagation;
        out.push({ type: "bind", source: m.Source, target: m.Target, readOnly, options: prop ? [prop] : [] });
        break;
      }
      case "tmpfs": {
        if (m.Source) throw bad(`invalid mount config for type "tmpfs": source is not allowed`);
        const o = m.TmpfsOptions;
        const options = [...(o?.SizeBytes ? [`size=${o.SizeBytes}`] : []), ...(o?.Mode ? [`mode=${o.Mode.toString(8)}`] : [])];
        out.push({ type: "tmpfs", target: m.Target, readOnly, options });
        break;
      }
      case "volume":
        out.push({ type: "volume", ...(m.Source ? { source: m.Source } : {}), target: m.Target, readOnly, options: m.VolumeOptions?.NoCopy ? ["nocopy"] : [] });
        break;
      default:
        throw bad(`mount type "${m.Type}" is not supported`);
    }
  }
  for (const [target, opts] of Object.entries(hc.Tmpfs ?? {})) out.push(parseTmpfs(opts ? `${target}:${opts}` : target));
  // Anonymous volumes the body declares (`Volumes`: `docker run -v /data` sends them there).
  for (const target of Object.keys(body.Volumes ?? {})) {
    if (!target.startsWith("/")) throw bad(`invalid volume specification: '${target}': the container path must be absolute`);
    if (!out.some((m) => m.target === target)) out.push({ type: "volume", target, readOnly: false, options: [] });
  }
  return out;
}

const DEFAULT_MODES = new Set(["", "default", "bridge"]);

/**
 * Network settings: the mode (bridge/default → skiff's per-container
 * network; none, host, container:ID, or a user network, which must exist),
 * further networks and aliases from EndpointsConfig, published ports,
 * DNS and extra hosts.
 */
function networkOptions(body: ContainerCreateBody, hc: ApiHostConfig, networkExists: (name: string) => boolean): Partial<CreateOptions> {
  const requested = hc.NetworkMode ?? "";
  const endpoints = body.NetworkingConfig?.EndpointsConfig ?? {};
  const endpointNames = Object.keys(endpoints);
  let network = DEFAULT_MODES.has(requested) ? "default" : requested;
  if (network === "default" && endpointNames.length > 0 && !DEFAULT_MODES.has(endpointNames[0] as string)) network = endpointNames[0] as string;
  const isUser = (n: string): boolean => !DEFAULT_MODES.has(n) && n !== "none" && n !== "host" && !n.startsWith("container:");
  const extraNetworks = endpointNames.filter((n) => n !== network && isUser(n));
  for (const n of [network, ...extraNetworks]) {
    if (isUser(n) && !networkExists(n)) throw new SkiffError("NotFound", `network ${n} not found`);
  }
  const aliases: string[] = [];
  for (const n of [network, ...extraNetworks]) {
    const ep = endpoints[n] as { Aliases?: unknown } | null | undefined;
    if (Array.isArray(ep?.Aliases)) for (const a of ep.Aliases) if (typeof a === "string" && !aliases.includes(a)) aliases.push(a);
  }
  const ports: PortBinding[] = [];
  for (const [key, list] of Object.entries(hc.PortBindings ?? {})) {
    const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/i.exec(key);
    if (!m) throw bad(`invalid port specification: ${JSON.stringify(key)}`);
    const containerPort = Number(m[1]);
    const protocol = ((m[2] ?? "tcp").toLowerCase()) as PortBinding["protocol"];
    for (const b of list ?? []) {
      const hostPort = b.HostPort ? Number(b.HostPort) : 0;
      if (!Number.isInteger(hostPort) || hostPort < 0 || hostPort > 65535) throw bad(`invalid host port ${JSON.stringify(b.HostPort)} for ${key}`);
      ports.push({ containerPort, protocol, hostIp: b.HostIp || "0.0.0.0", hostPort });
    }
  }
  if ((network === "none" || network === "host" || network.startsWith("container:")) && ports.length > 0) {
    throw bad(`published ports are discarded when using the ${network.startsWith("container:") ? "container" : network} network mode`);
  }
  for (const h of hc.ExtraHosts ?? []) parseAddHost(h, "0.0.0.0");
  return {
    network,
    extraNetworks,
    networkAliases: aliases,
    ports: mergeBindings(ports),
    publishAll: hc.PublishAllPorts ?? false,
    dns: hc.Dns ?? [],
    dnsSearch: hc.DnsSearch ?? [],
    dnsOptions: hc.DnsOptions ?? [],
    addHosts: hc.ExtraHosts ?? [],
  };
}

function logOptions(hc: ApiHostConfig): { logMaxSize?: number; logMaxFiles?: number } {
  const lc = hc.LogConfig;
  if (!lc) return {};
  if (lc.Type && lc.Type !== "json-file" && lc.Type !== "local" && lc.Type !== "k8s-file") throw bad(`log driver "${lc.Type}" is not supported: skiff writes json-file logs`);
  const out: { logMaxSize?: number; logMaxFiles?: number } = {};
  const size = lc.Config?.["max-size"];
  if (size) {
    const m = /^(\d+)([kmg]?)b?$/i.exec(size.trim());
    if (!m) throw bad(`invalid max-size: ${size}`);
    out.logMaxSize = Number(m[1]) * ({ "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[(m[2] ?? "").toLowerCase()]!;
  }
  const files = lc.Config?.["max-file"];
  if (files) {
    const n = Number(files);
    if (!Number.isInteger(n) || n < 1) throw bad(`invalid value for max-file: ${files}`);
    out.logMaxFiles = n;
  }
  return out;
}

const RESTART_NAMES = ["no", "on-failure", "always", "unless-stopped"] as const;

/** RestartPolicy and Healthcheck (durations: Docker's nanoseconds → ms). */
function restartAndHealth(body: ContainerCreateBody, hc: ApiHostConfig): Partial<CreateOptions> {
  const out: Partial<CreateOptions> = {};
  const name = hc.RestartPolicy?.Name || "no";
  if (!(RESTART_NAMES as readonly string[]).includes(name)) throw bad(`invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure' or 'unless-stopped'`);
  if (name !== "no" && hc.AutoRemove) throw bad("can't create 'AutoRemove' container with restart policy");
  const retries = hc.RestartPolicy?.MaximumRetryCount ?? 0;
  if (retries < 0) throw bad("invalid restart policy: maximum retry count can't be negative");
  if (retries > 0 && name !== "on-failure") throw bad(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
  out.restart = { name: name as (typeof RESTART_NAMES)[number], maximumRetryCount: retries };
  const h = body.Healthcheck;
  if (h) {
    const ms = (ns: number | null | undefined): number | undefined => (typeof ns === "number" && ns > 0 ? Math.round(ns / 1e6) : undefined);
    if (h.Test && h.Test[0] === "NONE") out.noHealthcheck = true;
    else {
      const hc2: NonNullable<CreateOptions["healthcheck"]> = {};
      if (h.Test && h.Test.length > 0) hc2.test = h.Test;
      const interval = ms(h.Interval);
      const timeout = ms(h.Timeout);
      const start = ms(h.StartPeriod);
      const startInterval = ms(h.StartInterval);
      if (interval !== undefined) hc2.intervalMs = interval;
      if (timeout !== undefined) hc2.timeoutMs = timeout;
      if (start !== undefined) hc2.startPeriodMs = start;
      if (startInterval !== undefined) hc2.startIntervalMs = startInterval;
      if (typeof h.Retries === "number" && h.Retries > 0) hc2.retries = h.Retries;
      out.healthcheck = hc2;
    }
  }
  return out;
}

function resourceWarnings(hc: ApiHostConfig): string[] {
  const limited = [hc.Memory, hc.MemorySwap, hc.MemoryReservation, hc.NanoCpus, hc.CpuShares, hc.CpuPeriod, hc.CpuQuota, hc.PidsLimit, hc.BlkioWeight].some((v) => typeof v === "number" && v > 0) || Boolean(hc.CpusetCpus);
  return limited ? ["Resource limits are not supported by skiff yet and were ignored."] : [];
}

/** Builds what createContainer needs from a create body. */
export function planCreate(body: ContainerCreateBody, opts: { networkExists?: (name: string) => boolean } = {}): CreatePlan {
  if (!body.Image) throw bad("config cannot be empty in order to create a container: no image given");
  const hc: ApiHostConfig = body.HostConfig ?? {};
  const net = networkOptions(body, hc, opts.networkExists ?? (() => false));
  const warnings = resourceWarnings(hc);
  if ((hc.Devices ?? []).length > 0) throw bad("--device is not supported yet");
  if (body.StopSignal) parseSignal(body.StopSignal);
  const entry = strSlice(body.Entrypoint);
  const env = (body.Env ?? []).filter((e) => {
    if (e.startsWith("=")) throw bad(`invalid environment variable: ${e}`);
    return e.includes("=");
  });
  const options = createOptions({
    cmd: strSlice(body.Cmd),
    entrypoint: entry === null ? null : entry.length === 1 && entry[0] === "" ? [] : entry,
    env,
    ...(body.WorkingDir ? { workdir: body.WorkingDir } : {}),
    ...(body.User ? { user: body.User } : {}),
    ...(body.Hostname ? { hostname: body.Hostname } : {}),
    ...(body.Domainname ? { domainname: body.Domainname } : {}),
    labels: body.Labels ?? {},
    tty: body.Tty ?? false,
    openStdin: body.OpenStdin ?? false,
    init: hc.Init ?? false,
    readOnly: hc.ReadonlyRootfs ?? false,
    mounts: mountsOf(body, hc),
    capAdd: hc.CapAdd ?? [],
    capDrop: hc.CapDrop ?? [],
    privileged: hc.Privileged ?? false,
    securityOpt: hc.SecurityOpt ?? [],
    ulimits: (hc.Ulimits ?? []).map((u) => ({ name: u.Name.replace(/^RLIMIT_/i, "").toLowerCase(), soft: u.Soft, hard: u.Hard })),
    ...(body.StopSignal ? { stopSignal: body.StopSignal } : {}),
    ...(typeof body.StopTimeout === "number" ? { stopTimeout: body.StopTimeout } : {}),
    autoRemove: hc.AutoRemove ?? false,
    ...(hc.ShmSize && hc.ShmSize > 0 ? { shmSize: hc.ShmSize } : {}),
    ...logOptions(hc),
    sysctls: hc.Sysctls ?? {},
    groupAdd: hc.GroupAdd ?? [],
    ...net,
    ...restartAndHealth(body, hc),
  });
  return { image: body.Image, options, runtime: hc.Runtime || undefined, warnings };
}

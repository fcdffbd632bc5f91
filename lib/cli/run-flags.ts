/**
 * `run`/`create` flags → CreateOptions, with Docker's syntax and error
 * messages. Pure apart from reading --env-file and the host environment,
 * which are passed in.
 */
import { isAbsolute } from "node:path";
import { SkiffError } from "../errors.ts";
import { defaultedOptions, type CreateOptions, type MountOption, type Ulimit } from "../containers/options.ts";
import { parseSignal } from "../oci/spec.ts";
import { parseDuration, parseSize } from "./render/units.ts";
import { parseRestartPolicy } from "../containers/health.ts";
import { parseAddHost } from "../network/etcfiles.ts";
import { mergeBindings, parsePublish } from "../network/publish.ts";
import { parseSdNotifyMode } from "../systemd/notify.ts";
import { resourcesFromFlags, type ResourceFlags } from "./resource-flags.ts";

export interface RunFlags extends ResourceFlags {
  detach?: boolean;
  interactive?: boolean;
  tty?: boolean;
  rm?: boolean;
  name?: string;
  env?: string[];
  envFile?: string[];
  workdir?: string;
  user?: string;
  entrypoint?: string;
  hostname?: string;
  domainname?: string;
  label?: string[];
  init?: boolean;
  readOnly?: boolean;
  tmpfs?: string[];
  volume?: string[];
  mount?: string[];
  capAdd?: string[];
  capDrop?: string[];
  securityOpt?: string[];
  ulimit?: string[];
  stopSignal?: string;
  stopTimeout?: string;
  privileged?: boolean;
  shmSize?: string;
  logOpt?: string[];
  sysctl?: string[];
  groupAdd?: string[];
  publish?: string[];
  publishAll?: boolean;
  network?: string;
  /** Docker's older spelling of --network. */
  net?: string;
  networkAlias?: string[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOption?: string[];
  addHost?: string[];
  /** --sdnotify conmon|container|healthy|ignore */
  sdnotify?: string;
  restart?: string;
  healthCmd?: string;
  healthInterval?: string;
  healthTimeout?: string;
  healthStartPeriod?: string;
  healthStartInterval?: string;
  healthRetries?: string;
  healthcheck?: boolean;
  healthOnFailure?: string;
}

function bad(msg: string): SkiffError {
  return new SkiffError("InvalidArgument", msg);
}

/** `KEY=VALUE` stays; `KEY` takes the host's value, or is dropped when the host has none (as Docker). */
export function resolveEnv(entries: string[], hostEnv: Record<string, string | undefined>): string[] {
  const out: string[] = [];
  for (const e of entries) {
    if (e.startsWith("=")) throw bad(`invalid environment variable: ${e}`);
    if (e.includes("=")) out.push(e);
    else if (hostEnv[e] !== undefined) out.push(`${e}=${hostEnv[e]}`);
  }
  return out;
}

/** Lines of an --env-file: comments and blank lines skipped. */
export function parseEnvFile(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.replace(/^\s+/, ""))
    .filter((l) => l.length > 0 && !l.startsWith("#"));
}

export function parseLabels(entries: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of entries) {
    const i = l.indexOf("=");
    if (i === 0) throw bad(`invalid label: ${l}`);
    if (i < 0) out[l] = "";
    else out[l.slice(0, i)] = l.slice(i + 1);
  }
  return out;
}

export function parseUlimit(s: string): Ulimit {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(s);
  if (!m) throw bad(`invalid ulimit argument: ${s}`);
  const soft = Number(m[2]);
  const hard = m[3] !== undefined ? Number(m[3]) : soft;
  if (soft > hard && hard !== -1) throw bad(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { name: m[1] as string, soft, hard };
}

const VOLUME_MODES = new Set(["ro", "rw", "z", "Z", "shared", "slave", "private", "rshared", "rslave", "rprivate", "nocopy", "U", "O", "exec", "noexec", "suid", "nosuid", "dev", "nodev"]);

/** `-v SRC:DST[:MODE]`, `-v NAME:DST`, `-v DST` (anonymous volume). */
export function parseVolume(spec: string): MountOption {
  const parts = spec.split(":");
  if (parts.some((p) => p === "") || parts.length > 3) throw bad(`invalid volume specification: '${spec}'`);
  if (parts.length === 1) {
    const target = parts[0] as string;
    if (!isAbsolute(target)) throw bad(`invalid volume specification: '${spec}': the container path must be absolute`);
    return { type: "volume", target, readOnly: false, options: [] };
  }
  const [source, target, mode] = parts as [string, string, string | undefined];
  if (!isAbsolute(target)) throw bad(`invalid volume specification: '${spec}': the container path must be absolute`);
  const modes = mode ? mode.split(",") : [];
  for (const m of modes) if (!VOLUME_MODES.has(m)) throw bad(`invalid mode: ${m}`);
  const readOnly = modes.includes("ro");
  const options = modes.filter((m) => m !== "ro" && m !== "rw" && m !== "z" && m !== "Z");
  if (isAbsolute(source)) return { type: "bind", source, target, readOnly, options };
  if (source.startsWith(".")) throw bad(`invalid volume specification: '${spec}': a host path must be absolute`);
  return { type: "volume", source, target, readOnly, options };
}

/** `--mount type=bind,source=/a,target=/b,readonly` (Docker's CSV syntax). */
export function parseMount(spec: string): MountOption {
  let type: MountOption["type"] = "volume";
  let source: string | undefined;
  let target: string | undefined;
  let readOnly = false;
  const options: string[] = [];
  for (const field of spec.split(",")) {
    const i = field.indexOf("=");
    const key = (i < 0 ? field : field.slice(0, i)).trim().toLowerCase();
    const value = i < 0 ? undefined : field.slice(i + 1);
    switch (key) {
      case "type":
        if (value !== "bind" && value !== "volume" && value !== "tmpfs") throw bad(`invalid mount type: ${value}`);
        type = value;
        break;
      case "source":
      case "src":
        source = value;
        break;
      case "target":
      case "destination":
      case "dst":
        target = value;
        break;
      case "readonly":
      case "ro":
        readOnly = value === undefined || value === "true" || value === "1";
        break;
      case "bind-propagation":
        options.push(value ?? "");
        break;
      case "tmpfs-size":
        options.push(`size=${parseSize(value ?? "")}`);
        break;
      case "tmpfs-mode":
        options.push(`mode=${value}`);
        break;
      case "volume-nocopy":
        options.push("nocopy");
        break;
      case "consistency":
      case "bind-nonrecursive":
      case "volume-driver":
      case "volume-opt":
      case "volume-label":
        break;
      default:
        throw bad(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (!target) throw bad(`invalid mount config: target is required in '${spec}'`);
  if (!isAbsolute(target)) throw bad(`invalid mount config: target must be absolute in '${spec}'`);
  if (type === "bind" && (!source || !isAbsolute(source))) throw bad(`invalid mount config for type "bind": source must be an absolute host path`);
  if (type === "tmpfs" && source) throw bad(`invalid mount config for type "tmpfs": source is not allowed`);
  return { type, ...(source ? { source } : {}), target, readOnly, options };
}

/** `--tmpfs /run:rw,size=64m` */
export function parseTmpfs(spec: string): MountOption {
  const i = spec.indexOf(":");
  const target = i < 0 ? spec : spec.slice(0, i);
  if (!isAbsolute(target)) throw bad(`invalid tmpfs destination: ${target}`);
  const opts = i < 0 ? [] : spec.slice(i + 1).split(",").filter((o) => o.length > 0);
  const readOnly = opts.includes("ro");
  return { type: "tmpfs", target, readOnly, options: opts.filter((o) => o !== "ro" && o !== "rw") };
}

/** --shm-size: 0 leaves Docker's default (64 MiB). */
function shmSizeOption(value: string | undefined): { shmSize?: number } {
  const size = value ? parseSize(value) : 0;
  return size > 0 ? { shmSize: size } : {};
}

function parseLogOpts(entries: string[]): { logMaxSize?: number; logMaxFiles?: number } {
  const out: { logMaxSize?: number; logMaxFiles?: number } = {};
  for (const e of entries) {
    const [k, v] = e.split("=", 2) as [string, string | undefined];
    if (v === undefined) throw bad(`invalid log option: ${e}`);
    if (k === "max-size") {
      // -1: no limit, as Docker's json-file reads it.
      if (v === "-1") continue;
      const size = parseSize(v);
      if (size <= 0) throw bad("max-size must be a positive number");
      out.logMaxSize = size;
    } else if (k === "max-file") {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw bad(`invalid value for max-file: ${v}`);
      out.logMaxFiles = n;
    } else if (k !== "mode" && k !== "compress" && k !== "labels" && k !== "env" && k !== "tag") throw bad(`unknown log opt '${k}' for json-file log driver`);
  }
  return out;
}

function parseSysctls(entries: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of entries) {
    const i = e.indexOf("=");
    if (i <= 0) throw bad(`invalid sysctl: ${e}`);
    out[e.slice(0, i)] = e.slice(i + 1);
  }
  return out;
}

function duration(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms < 0) throw bad(`${flag} cannot be negative`);
  return Math.round(ms);
}

function healthFlags(flags: RunFlags): CreateOptions["healthcheck"] {
  const out: CreateOptions["healthcheck"] = {};
  if (flags.healthCmd !== undefined) out.test = flags.healthCmd === "" || flags.healthCmd === "none" ? ["NONE"] : ["CMD-SHELL", flags.healthCmd];
  const interval = duration(flags.healthInterval, "--health-interval");
  const timeout = duration(flags.healthTimeout, "--health-timeout");
  const startPeriod = duration(flags.healthStartPeriod, "--health-start-period");
  const startInterval = duration(flags.healthStartInterval, "--health-start-interval");
  if (interval !== undefined) out.intervalMs = interval;
  if (timeout !== undefined) out.timeoutMs = timeout;
  if (startPeriod !== undefined) out.startPeriodMs = startPeriod;
  if (startInterval !== undefined) out.startIntervalMs = startInterval;
  if (flags.healthRetries !== undefined) {
    const n = Number(flags.healthRetries);
    if (!Number.isInteger(n) || n < 0) throw bad(`invalid --health-retries: ${flags.healthRetries}`);
    out.retries = n;
  }
  return out;
}

function parseHealthOnFailure(v: string | undefined): CreateOptions["healthOnFailure"] {
  if (v === undefined) return "none";
  if (v === "none" || v === "kill" || v === "restart" || v === "stop") return v;
  throw bad(`invalid --health-on-failure ${JSON.stringify(v)}: use none, kill, restart or stop`);
}

/**
 * `seccomp=<file>` becomes `seccomp=<its JSON>`, as Docker's CLI sends it:
 * the container keeps the profile it was created with, whatever happens to
 * the file later.
 */
export function inlineSeccompProfile(opt: string, readFile: (path: string) => string): string {
  const m = /^seccomp[=:](.*)$/s.exec(opt.trim());
  const value = m?.[1];
  if (value === undefined || value === "unconfined" || value.trimStart().startsWith("{")) return opt;
  let text: string;
  try {
    text = readFile(value);
  } catch (e) {
    throw bad(`--security-opt seccomp: open ${value}: ${(e as { code?: string }).code === "ENOENT" ? "no such file or directory" : (e as Error).message}`);
  }
  try {
    return `seccomp=${JSON.stringify(JSON.parse(text))}`;
  } catch (e) {
    throw bad(`--security-opt seccomp: ${value} is not JSON (${(e as Error).message})`);
  }
}

export function createOptionsFromFlags(
  flags: RunFlags,
  command: string[],
  io: { hostEnv: Record<string, string | undefined>; readFile: (path: string) => string },
): CreateOptions {
  const env: string[] = [];
  for (const f of flags.envFile ?? []) {
    let text: string;
    try {
      text = io.readFile(f);
    } catch (e) {
      throw bad(`open ${f}: ${(e as { code?: string }).code === "ENOENT" ? "no such file or directory" : (e as Error).message}`);
    }
    env.push(...resolveEnv(parseEnvFile(text), io.hostEnv));
  }
  env.push(...resolveEnv(flags.env ?? [], io.hostEnv));
  if (flags.stopSignal) parseSignal(flags.stopSignal);
  let stopTimeout: number | undefined;
  if (flags.stopTimeout !== undefined) {
    stopTimeout = Number(flags.stopTimeout);
    if (!Number.isInteger(stopTimeout)) throw bad(`invalid stop timeout: ${flags.stopTimeout}`);
  }
  const mounts: MountOption[] = [
    ...(flags.volume ?? []).map(parseVolume),
    ...(flags.mount ?? []).map(parseMount),
    ...(flags.tmpfs ?? []).map(parseTmpfs),
  ];
  if (flags.rm && flags.restart && flags.restart !== "no") throw bad("conflicting options: --restart and --rm");
  return defaultedOptions({
    cmd: command.length > 0 ? command : null,
    entrypoint: flags.entrypoint === undefined ? null : flags.entrypoint === "" ? [] : [flags.entrypoint],
    env,
    ...(flags.workdir !== undefined ? { workdir: flags.workdir } : {}),
    ...(flags.user !== undefined ? { user: flags.user } : {}),
    ...(flags.hostname !== undefined ? { hostname: flags.hostname } : {}),
    ...(flags.domainname !== undefined ? { domainname: flags.domainname } : {}),
    labels: parseLabels(flags.label ?? []),
    tty: flags.tty ?? false,
    openStdin: flags.interactive ?? false,
    init: flags.init ?? false,
    readOnly: flags.readOnly ?? false,
    mounts,
    capAdd: flags.capAdd ?? [],
    capDrop: flags.capDrop ?? [],
    privileged: flags.privileged ?? false,
    securityOpt: (flags.securityOpt ?? []).map((o) => inlineSeccompProfile(o, io.readFile)),
    ulimits: (flags.ulimit ?? []).map(parseUlimit),
    ...(flags.stopSignal ? { stopSignal: flags.stopSignal } : {}),
    ...(stopTimeout !== undefined ? { stopTimeout } : {}),
    autoRemove: flags.rm ?? false,
    ...shmSizeOption(flags.shmSize),
    ...parseLogOpts(flags.logOpt ?? []),
    sysctls: parseSysctls(flags.sysctl ?? []),
    groupAdd: flags.groupAdd ?? [],
    network: flags.network ?? flags.net ?? "default",
    networkAliases: flags.networkAlias ?? [],
    ports: mergeBindings((flags.publish ?? []).flatMap(parsePublish)),
    publishAll: flags.publishAll ?? false,
    dns: flags.dns ?? [],
    dnsSearch: flags.dnsSearch ?? [],
    dnsOptions: flags.dnsOption ?? [],
    ...(flags.sdnotify ? { sdNotify: parseSdNotifyMode(flags.sdnotify) } : {}),
    addHosts: (flags.addHost ?? []).map((h) => {
      parseAddHost(h, "0.0.0.0");
      return h;
    }),
    resources: resourcesFromFlags(flags),
    restart: parseRestartPolicy(flags.restart ?? "no"),
    healthcheck: healthFlags(flags),
    noHealthcheck: flags.healthcheck === false,
    healthOnFailure: parseHealthOnFailure(flags.healthOnFailure),
  });
}

/**
 * What Docker does with missing bind sources before anything is created:
 * `--mount type=bind` refuses ("bind source path does not exist"), while
 * `-v /host:/ctr` creates the host directory. IO is passed in.
 */
export function prepareBindSources(
  flags: Pick<RunFlags, "volume" | "mount">,
  io: { exists: (path: string) => boolean; mkdirp: (path: string) => void },
): void {
  for (const m of (flags.mount ?? []).map(parseMount)) {
    if (m.type === "bind" && m.source && !io.exists(m.source)) {
      throw bad(`invalid mount config for type "bind": bind source path does not exist: ${m.source}`);
    }
  }
  for (const m of (flags.volume ?? []).map(parseVolume)) {
    if (m.type === "bind" && m.source && !io.exists(m.source)) io.mkdirp(m.source);
  }
}

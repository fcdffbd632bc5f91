/**
 * Every request shape the API accepts, in one place: zod schemas for JSON
 * bodies, query parameters and headers. Bodies are checked for the types of
 * the fields skiff uses; unknown fields pass (Docker ignores them too), so
 * newer clients keep working.
 */
import { z } from "zod";
import { SkiffError } from "../errors.ts";

const str = z.string().nullish();
const strs = z.array(z.string()).nullish();
const bool = z.boolean().nullish();
const int = z.number().int().nullish();
const strMap = z.record(z.string()).nullish();
const objMap = z.record(z.object({}).passthrough()).nullish();

/** A command: Docker accepts a string (split later by the shell form) or a list. */
const command = z.union([z.array(z.string()), z.string()]).nullish();

export const HealthConfigSchema = z
  .object({ Test: strs, Interval: int, Timeout: int, Retries: int, StartPeriod: int, StartInterval: int })
  .passthrough();

/** `Config` of a container (create body, commit body). */
export const ContainerConfigSchema = z
  .object({
    Hostname: str,
    Domainname: str,
    User: str,
    AttachStdin: bool,
    AttachStdout: bool,
    AttachStderr: bool,
    ExposedPorts: objMap,
    Tty: bool,
    OpenStdin: bool,
    StdinOnce: bool,
    Env: strs,
    Cmd: command,
    Healthcheck: HealthConfigSchema.nullish(),
    ArgsEscaped: bool,
    Image: str,
    Volumes: objMap,
    WorkingDir: str,
    Entrypoint: command,
    NetworkDisabled: bool,
    MacAddress: str,
    OnBuild: strs,
    Labels: strMap,
    StopSignal: str,
    StopTimeout: int,
    Shell: strs,
  })
  .passthrough();
export type ApiContainerConfig = z.infer<typeof ContainerConfigSchema>;

const PortBindingSchema = z.object({ HostIp: str, HostPort: str }).passthrough();

export const MountSchema = z
  .object({
    Target: z.string(),
    Source: str,
    Type: z.enum(["bind", "volume", "tmpfs", "npipe", "cluster", "image"]),
    ReadOnly: bool,
    Consistency: str,
    BindOptions: z.object({ Propagation: str, NonRecursive: bool }).passthrough().nullish(),
    VolumeOptions: z.object({ NoCopy: bool }).passthrough().nullish(),
    TmpfsOptions: z.object({ SizeBytes: int, Mode: int }).passthrough().nullish(),
  })
  .passthrough();

export const HostConfigSchema = z
  .object({
    Binds: strs,
    ContainerIDFile: str,
    LogConfig: z.object({ Type: str, Config: strMap }).passthrough().nullish(),
    NetworkMode: str,
    PortBindings: z.record(z.array(PortBindingSchema).nullable()).nullish(),
    RestartPolicy: z.object({ Name: str, MaximumRetryCount: int }).passthrough().nullish(),
    AutoRemove: bool,
    VolumeDriver: str,
    VolumesFrom: strs,
    Mounts: z.array(MountSchema).nullish(),
    CapAdd: strs,
    CapDrop: strs,
    Dns: strs,
    DnsOptions: strs,
    DnsSearch: strs,
    ExtraHosts: strs,
    GroupAdd: strs,
    IpcMode: str,
    Links: strs,
    OomScoreAdj: int,
    PidMode: str,
    Privileged: bool,
    PublishAllPorts: bool,
    ReadonlyRootfs: bool,
    SecurityOpt: strs,
    Tmpfs: strMap,
    UTSMode: str,
    UsernsMode: str,
    ShmSize: int,
    Sysctls: strMap,
    Runtime: str,
    Init: bool,
    Ulimits: z.array(z.object({ Name: z.string(), Soft: z.number().int(), Hard: z.number().int() })).nullish(),
    Memory: int,
    MemorySwap: int,
    MemoryReservation: int,
    NanoCpus: int,
    CpuShares: int,
    CpuPeriod: int,
    CpuQuota: int,
    CpusetCpus: str,
    PidsLimit: int,
    BlkioWeight: int,
    Devices: z.array(z.object({}).passthrough()).nullish(),
    /** [height, width] of the terminal at start (API 1.42+). */
    ConsoleSize: z.array(z.number().int().nonnegative()).nullish(),
  })
  .passthrough();
export type ApiHostConfig = z.infer<typeof HostConfigSchema>;

export const ContainerCreateSchema = ContainerConfigSchema.extend({
  HostConfig: HostConfigSchema.nullish(),
  NetworkingConfig: z.object({ EndpointsConfig: z.record(z.object({}).passthrough().nullable()).nullish() }).passthrough().nullish(),
  Platform: str,
}).passthrough();
export type ContainerCreateBody = z.infer<typeof ContainerCreateSchema>;

export const ContainerUpdateSchema = HostConfigSchema.partial().passthrough();

export const ExecCreateSchema = z
  .object({
    AttachStdin: bool,
    AttachStdout: bool,
    AttachStderr: bool,
    ConsoleSize: z.array(z.number().int().nonnegative()).length(2).nullish(),
    DetachKeys: str,
    Tty: bool,
    Env: strs,
    Cmd: strs,
    Privileged: bool,
    User: str,
    WorkingDir: str,
  })
  .passthrough();
export type ExecCreateBody = z.infer<typeof ExecCreateSchema>;

export const ExecStartSchema = z
  .object({ Detach: bool, Tty: bool, ConsoleSize: z.array(z.number().int().nonnegative()).length(2).nullish() })
  .passthrough();
export type ExecStartBody = z.infer<typeof ExecStartSchema>;

export const AuthSchema = z
  .object({ username: str, password: str, email: str, serveraddress: str, identitytoken: str, registrytoken: str, auth: str })
  .passthrough();
export type AuthBody = z.infer<typeof AuthSchema>;

/** `filters`: `{"key":["v1","v2"]}` or the legacy `{"key":{"v1":true}}`. */
const FiltersSchema = z.record(z.union([z.array(z.string()), z.record(z.boolean())]));

/** Parses the `filters` query parameter into key → values. */
export function parseFilters(raw: string | undefined): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (raw === undefined || raw.trim() === "") return out;
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch {
    throw new SkiffError("InvalidArgument", `invalid filters: ${raw}`);
  }
  const parsed = FiltersSchema.safeParse(doc);
  if (!parsed.success) throw new SkiffError("InvalidArgument", `invalid filters: ${raw}`);
  for (const [k, v] of Object.entries(parsed.data)) {
    const values = Array.isArray(v) ? v : Object.entries(v).filter(([, on]) => on).map(([name]) => name);
    out.set(k, values);
  }
  return out;
}

/** Refuses filter keys outside `allowed`, as Docker does. */
export function checkFilterKeys(filters: Map<string, string[]>, allowed: readonly string[]): void {
  for (const k of filters.keys()) {
    if (!allowed.includes(k)) throw new SkiffError("InvalidArgument", `invalid filter '${k}'`);
  }
}

/** Docker's boolean query values: 1/true/True → true; 0/false/"" → false. */
export function queryBool(value: string | undefined, fallback = false): boolean {
  if (value === undefined) return fallback;
  const v = value.trim().toLowerCase();
  if (v === "1" || v === "true" || v === "yes") return true;
  if (v === "0" || v === "false" || v === "no" || v === "") return false;
  throw new SkiffError("InvalidArgument", `invalid boolean value ${JSON.stringify(value)}`);
}

/** An integer query value, or `fallback` when absent or empty. */
export function queryInt(value: string | undefined, name: string, fallback?: number): number | undefined {
  if (value === undefined || value === "") return fallback;
  if (!/^-?\d+$/.test(value.trim())) throw new SkiffError("InvalidArgument", `invalid value for ${name}: ${JSON.stringify(value)}`);
  return Number(value);
}

/** X-Registry-Auth: base64url (or std base64) JSON of AuthConfig; "" and "e30=" ({}) mean anonymous. */
export function parseRegistryAuth(header: string | undefined | null): AuthBody | undefined {
  if (!header) return undefined;
  let text: string;
  try {
    text = Buffer.from(header.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("utf8");
  } catch {
    throw new SkiffError("InvalidArgument", "invalid X-Registry-Auth header: not base64");
  }
  if (text.trim() === "" || text.trim() === "{}") return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new SkiffError("InvalidArgument", "invalid X-Registry-Auth header: not JSON");
  }
  const parsed = AuthSchema.safeParse(doc);
  if (!parsed.success) throw new SkiffError("InvalidArgument", "invalid X-Registry-Auth header");
  return parsed.data;
}

/** Largest JSON body accepted (bigger ones get 413). */
export const MAX_JSON_BODY = 4 << 20;

/** Parses and validates a JSON body; an empty body is `{}` when `emptyOk`. */
export function parseJsonBody<S extends z.ZodTypeAny>(text: string, schema: S, opts: { emptyOk?: boolean } = {}): z.infer<S> {
  let doc: unknown;
  if (text.trim() === "") {
    if (!opts.emptyOk) throw new SkiffError("InvalidArgument", "invalid JSON: the request body is empty");
    doc = {};
  } else {
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new SkiffError("InvalidArgument", `invalid JSON: ${(e as Error).message}`);
    }
  }
  if (doc === null && opts.emptyOk) doc = {};
  const parsed = schema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join(".") : "body";
    throw new SkiffError("InvalidArgument", `invalid request: ${where}: ${issue?.message ?? "invalid"}`);
  }
  return parsed.data as z.infer<S>;
}

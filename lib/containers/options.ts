/**
 * What a user asked for when creating a container (`run`/`create` flags or an
 * API body), in one shape. Stored in the container's config.json and fed to
 * the OCI spec builder; zod-checked when read back from disk.
 */
import { z } from "zod";
import { noResources, resourcesSchema } from "./resources.ts";

export const mountSchema = z.lazy(() =>
  z.object({
    type: z.enum(["bind", "volume", "tmpfs"]),
    /** Host path (bind) or volume name (volume); absent for tmpfs and anonymous volumes. */
    source: z.string().optional(),
    /** Path inside the container (absolute). */
    target: z.string(),
    readOnly: z.boolean().default(false),
    /** Extra mount options: bind propagation, tmpfs size/mode, `z`/`Z` are ignored. */
    options: z.array(z.string()).default([]),
  }),
);
export type MountOption = z.infer<typeof mountSchema>;

export const ulimitSchema = z.lazy(() =>
  z.object({
    /** Docker's name without the RLIMIT_ prefix, lower case: nofile, nproc, core... */
    name: z.string(),
    soft: z.number().int(),
    hard: z.number().int(),
  }),
);
export type Ulimit = z.infer<typeof ulimitSchema>;

export const portBindingSchema = z.lazy(() =>
  z.object({
    containerPort: z.number().int().min(1).max(65535),
    protocol: z.enum(["tcp", "udp", "sctp"]).default("tcp"),
    /** Host address; "0.0.0.0" for all. */
    hostIp: z.string().default("0.0.0.0"),
    /** 0: a free port picked at each start. */
    hostPort: z.number().int().min(0).max(65535),
  }),
);

export const createOptionsSchema = z.lazy(() =>
  z.object({
    /** Replaces the image's Cmd when set. */
    cmd: z.array(z.string()).nullable().default(null),
    /** Replaces the image's Entrypoint when set; `[]` clears it (`--entrypoint ""`). */
    entrypoint: z.array(z.string()).nullable().default(null),
    /** KEY=VALUE, applied over the image's Env. */
    env: z.array(z.string()).default([]),
    workdir: z.string().optional(),
    /** user, uid, user:group, uid:gid. */
    user: z.string().optional(),
    hostname: z.string().optional(),
    domainname: z.string().optional(),
    labels: z.record(z.string()).default({}),
    tty: z.boolean().default(false),
    /** -i: keep stdin open. */
    openStdin: z.boolean().default(false),
    /** --init: a tiny init as PID 1 that reaps zombies and forwards signals. */
    init: z.boolean().default(false),
    readOnly: z.boolean().default(false),
    mounts: z.array(mountSchema).default([]),
    capAdd: z.array(z.string()).default([]),
    capDrop: z.array(z.string()).default([]),
    privileged: z.boolean().default(false),
    /** --security-opt values, e.g. no-new-privileges, no-new-privileges:true. */
    securityOpt: z.array(z.string()).default([]),
    ulimits: z.array(ulimitSchema).default([]),
    /** Overrides the image's StopSignal. */
    stopSignal: z.string().optional(),
    /** Seconds between the stop signal and SIGKILL (default 10). */
    stopTimeout: z.number().int().optional(),
    /** --rm */
    autoRemove: z.boolean().default(false),
    /** /dev/shm size in bytes (default 64 MiB). */
    shmSize: z.number().int().positive().optional(),
    /** json-file log rotation: bytes per file and files kept. */
    logMaxSize: z.number().int().positive().optional(),
    logMaxFiles: z.number().int().positive().optional(),
    /** sysctls applied in the container's namespaces. */
    sysctls: z.record(z.string()).default({}),
    /** Extra groups for the process (--group-add). */
    groupAdd: z.array(z.string()).default([]),
    /**
     * --network: "default" (own namespace, outbound through pasta or
     * slirp4netns), "none", "host", "container:<id>", or a user network name.
     */
    network: z.string().default("default"),
    /** User networks joined besides the first (`network connect`, repeated --network). */
    extraNetworks: z.array(z.string()).default([]),
    /** --network-alias: extra names on user networks. */
    networkAliases: z.array(z.string()).default([]),
    /** -p, resolved to bindings (host port 0: pick one at start). */
    ports: z.array(portBindingSchema).default([]),
    /** -P: publish every EXPOSE'd port on a free host port. */
    publishAll: z.boolean().default(false),
    dns: z.array(z.string()).default([]),
    dnsSearch: z.array(z.string()).default([]),
    dnsOptions: z.array(z.string()).default([]),
    /** --add-host name:ip */
    addHosts: z.array(z.string()).default([]),
    /** --sdnotify: how systemd learns the container is ready (lib/systemd/notify.ts); unset: conmon under a unit. */
    sdNotify: z.enum(["conmon", "container", "healthy", "ignore"]).optional(),
    /** Resource limits asked for (--memory, --cpus, --pids-limit...); what is in force is record.resources. */
    resources: resourcesSchema.default({}),
    /** --restart: what the shim does when the container exits. */
    restart: z
      .object({
        name: z.enum(["no", "on-failure", "always", "unless-stopped"]),
        /** on-failure:N (0: no limit). */
        maximumRetryCount: z.number().int().nonnegative().default(0),
      })
      .default({ name: "no", maximumRetryCount: 0 }),
    /** --health-* flags, merged over the image's HEALTHCHECK field by field; durations in ms. */
    healthcheck: z
      .object({
        test: z.array(z.string()).optional(),
        intervalMs: z.number().int().nonnegative().optional(),
        timeoutMs: z.number().int().nonnegative().optional(),
        startPeriodMs: z.number().int().nonnegative().optional(),
        startIntervalMs: z.number().int().nonnegative().optional(),
        retries: z.number().int().nonnegative().optional(),
      })
      .default({}),
    /** --no-healthcheck */
    noHealthcheck: z.boolean().default(false),
    /** --health-on-failure: what to do when the container turns unhealthy. */
    healthOnFailure: z.enum(["none", "kill", "restart", "stop"]).default("none"),
  }),
);
export type CreateOptions = z.infer<typeof createOptionsSchema>;

export type CreateOptionsInput = z.input<typeof createOptionsSchema>;

/** Options with every default filled in, checked against the schema: for input from outside (API bodies, kube YAML). */
export function createOptions(partial: CreateOptionsInput = {}): CreateOptions {
  return createOptionsSchema.parse(partial);
}

/** `o` without its undefined fields, so that spreading it keeps the defaults under them. */
function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The same options as createOptions, defaults filled in the same way, but
 * without building the schema: zod takes 3-4 ms to build and first run it,
 * on the path of every `skiff run`. For input our own parsers have checked
 * (the CLI's flags); the unit tests hold the two equal.
 */
export function defaultedOptions(partial: CreateOptionsInput = {}): CreateOptions {
  const given = defined(partial);
  return {
    cmd: null,
    entrypoint: null,
    env: [],
    labels: {},
    tty: false,
    openStdin: false,
    init: false,
    readOnly: false,
    capAdd: [],
    capDrop: [],
    privileged: false,
    securityOpt: [],
    ulimits: [],
    autoRemove: false,
    sysctls: {},
    groupAdd: [],
    network: "default",
    extraNetworks: [],
    networkAliases: [],
    publishAll: false,
    dns: [],
    dnsSearch: [],
    dnsOptions: [],
    addHosts: [],
    noHealthcheck: false,
    healthOnFailure: "none",
    ...given,
    mounts: (given.mounts ?? []).map((m) => ({ ...m, readOnly: m.readOnly ?? false, options: m.options ?? [] })),
    ports: (given.ports ?? []).map((p) => ({ ...p, protocol: p.protocol ?? "tcp", hostIp: p.hostIp ?? "0.0.0.0" })),
    resources: { ...noResources(), ...defined(given.resources ?? {}) },
    restart: given.restart ? { ...given.restart, maximumRetryCount: given.restart.maximumRetryCount ?? 0 } : { name: "no", maximumRetryCount: 0 },
    healthcheck: given.healthcheck ?? {},
  };
}

/**
 * The OCI runtime config (config.json) for a container, as a pure function of
 * the image config and the user's options: no IO, no environment, no clock.
 * What it produces follows Docker's defaults for runc (moby `oci` and
 * `daemon/oci_linux.go`), with the changes running rootless needs.
 *
 * The seccomp filter is seccomp.ts's default (or the profile asked for).
 * Known gaps: no AppArmor/SELinux profile is set; resource limits and the cgroup path
 * come from the caller (input.resources, input.cgroupsPath) unchecked;
 * Docker's per-CPU thermal_throttle masked paths are left out (they depend on
 * the host); `--privileged` gives every capability, no masked paths, writable
 * /sys and an open device cgroup, but does not create the host's device
 * nodes; rootless, runc 1.1 cannot set `--domainname` (crun can).
 *
 *   const spec = buildSpec({ id, options, image: config.config, rootfs: "/run/skiff/x/merged", rootless: true, passwd, group });
 *   await Bun.write(join(bundle, "config.json"), serializeSpec(spec));
 */
import type { CreateOptions } from "../containers/options.ts";
import { SkiffError } from "../errors.ts";
import type { ContainerConfig } from "../images/manifest.ts";
import { capabilities } from "./caps.ts";
import {
  DEFAULT_DEVICE_RULES,
  DOCKER_MASKED_PATHS,
  DOCKER_READONLY_PATHS,
  namespaces,
  type NetworkMode,
  PRIVILEGED_DEVICE_RULES,
  securityOptions,
  sysctls,
} from "./linux.ts";
import { defaultMounts, etcFileMounts, INIT_PATH, initMount, userMounts, withoutOverridden } from "./mounts.ts";
import { mergeEnv, processArgs, rlimits, workingDir } from "./process.ts";
import { ociResources } from "./resources.ts";
import type { Resources } from "../containers/resources.ts";
import { OCI_VERSION, type OciLinux, type OciSpec } from "./types.ts";
import { resolveUser } from "./user.ts";
import { defaultSeccomp, seccompFromProfile } from "./seccomp.ts";

export { capabilities, capabilitiesFromMask, capabilityMask, DOCKER_DEFAULT_CAPABILITIES, ALL_CAPABILITIES, normalizeCapability } from "./caps.ts";
export { parseSignal } from "./signals.ts";
export { resolveUser, parsePasswd, parseGroup, type ResolvedUser } from "./user.ts";
export { processArgs, mergeEnv, workingDir, rlimits, DEFAULT_PATH } from "./process.ts";
export type { NetworkMode } from "./linux.ts";
export * from "./types.ts";

export interface SpecInput {
  id: string;
  options: CreateOptions;
  image: ContainerConfig | null | undefined;
  /** Path of the container's root filesystem as the runtime sees it (an overlay mount made by the shim). */
  rootfs: string;
  /** Contents of the image's /etc/passwd and /etc/group, when present, to resolve user and group names. */
  passwd?: string;
  group?: string;
  /** Runtime runs as root of a user namespace skiff made (rootless): no cgroup writes, sysfs/cgroup handled as rootless runc needs. */
  rootless: boolean;
  /** Host files bind-mounted over /etc/hosts, /etc/resolv.conf, /etc/hostname when given. */
  files?: { hosts?: string; resolvConf?: string; hostname?: string };
  /** Host path of a static init (tini) for --init, mounted at /sbin/docker-init. */
  initPath?: string;
  /** Network namespace: "private" (a new one, default), "host" (share the host's; rootless: the user namespace's owner's), "none" (new, loopback only), or a path to join (/proc/PID/ns/net). */
  network?: NetworkMode;
  /** Other namespaces to join (IPC/UTS/PID of another container), optional. */
  join?: { ipc?: string; uts?: string; pid?: string };
  /** Hard limit for the process's rlimits when nothing is asked (the shim's own RLIMIT_NOFILE hard, e.g. 1048576). */
  defaultNofile?: { soft: number; hard: number };
  /** Annotations to record. */
  annotations?: Record<string, string>;
  /**
   * Capabilities the runtime can grant: the bounding set of the process that
   * runs it (`capabilitiesFromMask` of /proc/self/status CapBnd). "ALL" and
   * --privileged expand to these; default: every capability Linux defines.
   */
  availableCapabilities?: readonly string[];
  /**
   * Resource limits to enforce (lib/containers/cgroups.ts decides which the
   * host can), and the container's cgroup (e.g. /skiff/<id>). Without a
   * cgroupsPath, root containers get runc's default cgroup and rootless
   * ones none.
   */
  resources?: Resources;
  cgroupsPath?: string;
  /** process.arch of the host: which architectures the seccomp filter covers (default: the runtime's native one only). */
  arch?: string;
  /** The host's kernel release (os.release()): a seccomp profile's minKernel conditions are checked against it. */
  kernel?: string;
}

/** Linux's HOST_NAME_MAX, the limit Docker checks too. */
const MAX_HOSTNAME = 64;

function hostnameOf(input: SpecInput, network: NetworkMode): string | undefined {
  const given = input.options.hostname;
  if (given !== undefined && given !== "") {
    if (new TextEncoder().encode(given).length > MAX_HOSTNAME) {
      throw new SkiffError("InvalidArgument", `hostname ${JSON.stringify(given)} is too long (maximum ${MAX_HOSTNAME} bytes)`);
    }
    return given;
  }
  // With the host's network, Docker uses the host's name: the new UTS
  // namespace starts with it, so the spec sets none (the caller may pass
  // options.hostname to also get HOSTNAME in the environment).
  if (network === "host") return undefined;
  if (input.id === "") throw new SkiffError("InvalidArgument", "container id is empty");
  return input.id.slice(0, 12);
}

/**
 * Refuses `--security-opt` values the spec could not be built with (an
 * unknown option, a seccomp profile that is not one), so a container is
 * never created with them.
 */
export function checkSecurityOptions(opts: readonly string[]): void {
  const security = securityOptions(opts);
  if (typeof security.seccomp === "object") seccompFromProfile(security.seccomp.profile, { caps: [], arch: "" });
}

/**
 * Builds the OCI runtime config for one container. Invalid options
 * (unknown capabilities, users, ulimits, sysctls, mount targets...) are
 * InvalidArgument; a spec that comes back is one runc 1.1 accepts.
 */
export function buildSpec(input: SpecInput): OciSpec {
  const { options, image } = input;
  if (input.rootfs === "") throw new SkiffError("InvalidArgument", `container ${input.id}: empty rootfs path`);
  const network = input.network ?? "private";
  const joinPid = input.join?.pid;
  const security = securityOptions(options.securityOpt);

  let args = processArgs(image, options);
  // Docker adds its init only in a PID namespace of the container's own.
  const withInit = options.init && joinPid === undefined;
  if (withInit) {
    if (!input.initPath) throw new SkiffError("FailedPrecondition", "--init: no init binary available (install tini)");
    args = [INIT_PATH, "--", ...args];
  }

  const hostname = hostnameOf(input, network);
  // A joined UTS namespace belongs to another container: setting a name there would rename it.
  const ownUts = input.join?.uts === undefined;
  const user = resolveUser(options.user || image?.User || "", { passwd: input.passwd, group: input.group }, { groupAdd: options.groupAdd });
  const envHostname = hostname ?? (options.hostname || undefined);
  const env = mergeEnv(image?.Env, options.env, { tty: options.tty, home: user.home, ...(envHostname !== undefined ? { hostname: envHostname } : {}) });
  const caps = capabilities(options, input.availableCapabilities ? { available: input.availableCapabilities } : {});
  const limits = rlimits(options.ulimits, input.defaultNofile);

  const fromUser = userMounts(options.mounts);
  const defaults = defaultMounts({
    rootless: input.rootless,
    privileged: options.privileged,
    hostNetwork: network === "host",
    ...(options.shmSize !== undefined ? { shmSize: options.shmSize } : {}),
  });
  const etc = etcFileMounts(input.files ?? {}, options.readOnly);
  const mounts = [
    ...withoutOverridden(defaults, fromUser.mounts),
    ...(withInit ? [initMount(input.initPath as string)] : []),
    ...withoutOverridden(etc, fromUser.mounts),
    ...fromUser.mounts,
  ];

  const linux: OciLinux = { namespaces: namespaces({ network, join: input.join, rootless: input.rootless }) };
  // Rootless, the device cgroup cannot be written (runc ignores the rules on
  // cgroup v1, crun refuses them on v2), so none are given, as Docker's
  // rootless mode does.
  const cgroupLimits = input.resources ? ociResources(input.resources) : {};
  if (!input.rootless) linux.resources = { devices: [...(options.privileged ? PRIVILEGED_DEVICE_RULES : DEFAULT_DEVICE_RULES)], ...cgroupLimits };
  else if (Object.keys(cgroupLimits).length > 0) linux.resources = cgroupLimits;
  if (input.cgroupsPath) linux.cgroupsPath = input.cgroupsPath;
  const sysctl = sysctls(options.sysctls, { network, rootless: input.rootless });
  // runc 1.1 ignores the spec's domainname field (runc 1.2 and crun set it
  // with setdomainname(2)). As root, the kernel.domainname sysctl, which runc
  // 1.1 accepts with a UTS namespace of the container's own, sets it for
  // every runtime. Rootless, /proc/sys/kernel/domainname belongs to the
  // initial user namespace and cannot be written, so runc 1.1 cannot set a
  // domain name there at all.
  if (options.domainname && ownUts && !input.rootless) sysctl["kernel.domainname"] = options.domainname;
  if (Object.keys(sysctl).length > 0) linux.sysctl = sysctl;
  if (!options.privileged && !security.unconfinedPaths) {
    linux.maskedPaths = [...DOCKER_MASKED_PATHS];
    linux.readonlyPaths = [...DOCKER_READONLY_PATHS];
  }
  if (fromUser.rootfsPropagation) linux.rootfsPropagation = fromUser.rootfsPropagation;
  if (!options.privileged && security.seccomp !== "unconfined") {
    const arch = input.arch ?? "";
    linux.seccomp = security.seccomp === "default" ? defaultSeccomp(caps, arch) : seccompFromProfile(security.seccomp.profile, { caps, arch, kernel: input.kernel });
  }

  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: options.tty,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      args,
      env,
      cwd: workingDir(image, options.workdir),
      // Inheritable and ambient stay empty, as Docker since 23 (CVE-2022-24769).
      capabilities: { bounding: caps, effective: [...caps], inheritable: [], permitted: [...caps], ambient: [] },
      ...(limits.length > 0 ? { rlimits: limits } : {}),
      ...(security.noNewPrivileges ? { noNewPrivileges: true } : {}),
    },
    root: { path: input.rootfs, readonly: options.readOnly },
    ...(hostname !== undefined && ownUts ? { hostname } : {}),
    ...(options.domainname && ownUts ? { domainname: options.domainname } : {}),
    mounts,
    linux,
    ...(input.annotations && Object.keys(input.annotations).length > 0 ? { annotations: { ...input.annotations } } : {}),
  };
}

const U64 = /"\\u0000u64:([0-9]+)"/g;

/**
 * config.json text for a spec: JSON with two-space indents, where bigint
 * values (unlimited rlimits) are written as exact integers, which
 * `JSON.stringify` cannot do.
 */
export function serializeSpec(spec: OciSpec): string {
  const text = JSON.stringify(spec, (_key, value: unknown) => (typeof value === "bigint" ? `\u0000u64:${value.toString()}` : value), 2);
  return `${text.replace(U64, "$1")}\n`;
}

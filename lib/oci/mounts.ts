/**
 * The container's mount table: Docker's default filesystems, the generated
 * /etc files, the user's binds, volumes and tmpfs mounts, and the init
 * binary, with the rootless adjustments runc needs.
 */
import { posix } from "node:path";
import type { MountOption } from "../containers/options.ts";
import { SkiffError } from "../errors.ts";
import type { OciMount } from "./types.ts";

/** Docker's /dev/shm size: 64 MiB. */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/** Where `--init` puts the init binary, as Docker. */
export const INIT_PATH = "/sbin/docker-init";

export interface DefaultMountsInput {
  rootless: boolean;
  privileged: boolean;
  /** The container shares the network namespace of skiff's own process (`--network host`). */
  hostNetwork: boolean;
  shmSize?: number;
}

/**
 * Docker's default filesystems (moby `oci.DefaultLinuxSpec`), in its order.
 *
 * Rootless with `--network host`: the kernel refuses a sysfs mount from a
 * user namespace that does not own the network namespace (runc 1.1: "mount
 * sysfs ... operation not permitted"), so /sys is a recursive bind of the
 * host's /sys instead, made read-only recursively ("rro", kernel >= 5.12)
 * because a plain "ro" leaves the host's submounts (cgroup hierarchies)
 * writable. The cgroup mount works rootless on a cgroup v1 host too (runc
 * binds the hierarchies read-only under a tmpfs), so it stays.
 * Privileged: /sys and /sys/fs/cgroup are writable, as Docker.
 */
export function defaultMounts(input: DefaultMountsInput): OciMount[] {
  const ro = input.privileged ? [] : ["ro"];
  const sys: OciMount =
    input.rootless && input.hostNetwork
      ? { destination: "/sys", type: "bind", source: "/sys", options: ["rbind", "nosuid", "noexec", "nodev", ...(input.privileged ? [] : ["rro"])] }
      : { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", ...ro] };
  // Writable cgroups conflict with user namespaces (moby withMounts); keep them read-only rootless.
  const cgroupRo = input.privileged && !input.rootless ? [] : ["ro"];
  return [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      // gid=5 (tty) is mapped in skiff's user namespace, which always covers a subgid range.
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
    },
    sys,
    { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: [...cgroupRo, "nosuid", "noexec", "nodev"] },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    {
      destination: "/dev/shm",
      type: "tmpfs",
      source: "shm",
      options: ["nosuid", "noexec", "nodev", "mode=1777", `size=${input.shmSize ?? DEFAULT_SHM_SIZE}`],
    },
  ];
}

/**
 * Bind mounts of the generated /etc/hosts, /etc/resolv.conf and
 * /etc/hostname (Docker's order: resolv.conf, hostname, hosts). Read-only
 * with a read-only root, as Docker. nosuid/nodev/noexec are always set: they
 * change nothing for a plain file, and a remount in a user namespace must
 * keep them when the source filesystem (a tmpfs run directory) has them
 * locked, or runc gets EPERM.
 */
export function etcFileMounts(files: { hosts?: string; resolvConf?: string; hostname?: string }, readOnly: boolean): OciMount[] {
  const out: OciMount[] = [];
  const add = (destination: string, source: string | undefined): void => {
    if (source === undefined) return;
    if (!source.startsWith("/")) throw new SkiffError("InvalidArgument", `${destination}: source ${JSON.stringify(source)} is not an absolute path`);
    out.push({ destination, type: "bind", source, options: ["rbind", ...(readOnly ? ["ro"] : []), "nosuid", "nodev", "noexec", "rprivate"] });
  };
  add("/etc/resolv.conf", files.resolvConf);
  add("/etc/hostname", files.hostname);
  add("/etc/hosts", files.hosts);
  return out;
}

/** The init binary for `--init`, read-only (nosuid/nodev for the same reason as the /etc files). */
export function initMount(initPath: string): OciMount {
  if (!initPath.startsWith("/")) throw new SkiffError("InvalidArgument", `init binary ${JSON.stringify(initPath)} is not an absolute path`);
  return { destination: INIT_PATH, type: "bind", source: initPath, options: ["bind", "ro", "nosuid", "nodev"] };
}

const PROPAGATION: ReadonlySet<string> = new Set(["private", "rprivate", "shared", "rshared", "slave", "rslave"]);
/** Flags a caller may pass through, e.g. the locked flags of the source mount that a rootless remount must keep. */
const BIND_FLAGS: ReadonlySet<string> = new Set(["nosuid", "suid", "nodev", "dev", "noexec", "exec"]);
/** Accepted for compatibility and ignored: SELinux relabelling, volume copy-up. */
const IGNORED: ReadonlySet<string> = new Set(["z", "Z", "nocopy", "copy"]);

/** mount(8) flags for tmpfs, each with the key that a later option overrides (moby MergeTmpfsOptions). */
const TMPFS_FLAGS: Readonly<Record<string, string>> = {
  ro: "ro", rw: "ro",
  nosuid: "suid", suid: "suid",
  nodev: "dev", dev: "dev",
  noexec: "exec", exec: "exec",
  sync: "sync", async: "sync",
  dirsync: "dirsync",
  mand: "mand", nomand: "mand",
  atime: "atime", noatime: "atime",
  diratime: "diratime", nodiratime: "diratime",
  relatime: "relatime", norelatime: "relatime",
  strictatime: "strictatime", nostrictatime: "strictatime",
  private: "propagation", rprivate: "propagation", shared: "propagation", rshared: "propagation",
  slave: "propagation", rslave: "propagation", unbindable: "propagation", runbindable: "propagation",
};
const TMPFS_DATA: ReadonlySet<string> = new Set(["size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol"]);

/**
 * tmpfs options: Docker's defaults (noexec, nosuid, nodev, rprivate) then
 * the user's, a later option replacing an earlier one of the same kind
 * (`exec` undoes `noexec`, a second `size=` wins). Unknown options are
 * InvalidArgument.
 */
export function tmpfsOptions(user: readonly string[], opts: { readOnly: boolean; target: string }): string[] {
  const { readOnly, target } = opts;
  const all = ["noexec", "nosuid", "nodev", "rprivate", ...user.filter((o) => !IGNORED.has(o) && o !== "defaults")];
  if (readOnly) all.push("ro");
  const seen = new Set<string>();
  const out: string[] = [];
  for (let i = all.length - 1; i >= 0; i--) {
    const option = all[i] as string;
    const eq = option.indexOf("=");
    const key = TMPFS_FLAGS[option] ?? (eq > 0 && TMPFS_DATA.has(option.slice(0, eq)) ? `data:${option.slice(0, eq)}` : undefined);
    if (key === undefined) throw new SkiffError("InvalidArgument", `tmpfs mount at ${target}: invalid option ${JSON.stringify(option)}`);
    if (seen.has(key)) continue;
    seen.add(key);
    out.unshift(option);
  }
  return out;
}

/** An absolute path normalised as Go's filepath.Clean does: no ".", "..", doubled or trailing slashes. */
function cleanPath(p: string): string {
  const clean = posix.normalize(p);
  return clean.length > 1 ? clean.replace(/\/+$/, "") : clean;
}

function cleanTarget(target: string): string {
  if (!target.startsWith("/")) throw new SkiffError("InvalidArgument", `invalid mount target ${JSON.stringify(target)}: it must be an absolute path`);
  const clean = cleanPath(target);
  if (clean === "/") throw new SkiffError("InvalidArgument", "invalid mount target /: cannot mount over the container's root");
  return clean;
}

function bindMount(m: MountOption, target: string): { mount: OciMount; propagation?: string } {
  const kind = m.type === "volume" ? "volume" : "bind";
  if (m.source === undefined || m.source === "") {
    throw new SkiffError("InvalidArgument", `${kind} mount at ${target}: no source${kind === "volume" ? " (volumes must be resolved to a host path first)" : ""}`);
  }
  if (!m.source.startsWith("/")) {
    throw new SkiffError("InvalidArgument", `${kind} mount at ${target}: source ${JSON.stringify(m.source)} is not an absolute path`);
  }
  let readOnly = m.readOnly;
  let recursive = true;
  let propagation: string | undefined;
  const flags: string[] = [];
  for (const o of m.options) {
    if (IGNORED.has(o) || o === "rw" || o === "rbind") continue;
    if (o === "ro") readOnly = true;
    else if (o === "bind") recursive = false;
    else if (PROPAGATION.has(o)) {
      if (propagation !== undefined && propagation !== o) throw new SkiffError("InvalidArgument", `${kind} mount at ${target}: conflicting propagation ${propagation} and ${o}`);
      propagation = o;
    } else if (BIND_FLAGS.has(o)) {
      if (!flags.includes(o)) flags.push(o);
    } else {
      throw new SkiffError("InvalidArgument", `${kind} mount at ${target}: invalid option ${JSON.stringify(o)}`);
    }
  }
  // Read-only recursively (mount_setattr, kernel >= 5.12; runc 1.1 and crun 1.8 know "rro"), as Docker 25+ does.
  const ro = readOnly ? [recursive ? "rro" : "ro"] : [];
  const options = [recursive ? "rbind" : "bind", ...ro, ...flags, propagation ?? "rprivate"];
  return { mount: { destination: target, type: "bind", source: cleanPath(m.source), options }, propagation };
}

/** Number of path components: parents sort before their children (moby sortMounts). */
function depth(p: string): number {
  return p.split("/").length - 1;
}

/**
 * The user's mounts as OCI mounts, validated (absolute targets, no
 * duplicates, sources for binds and resolved volumes) and sorted so a parent
 * is mounted before its children (stable: equal depths keep their order).
 * Returns the rootfs propagation the mounts need: "shared" for a shared
 * bind, "rslave" for a slave one.
 */
export function userMounts(mounts: readonly MountOption[]): { mounts: OciMount[]; rootfsPropagation?: string } {
  const seen = new Set<string>();
  const out: OciMount[] = [];
  let shared = false;
  let slave = false;
  for (const m of mounts) {
    const target = cleanTarget(m.target);
    if (seen.has(target)) throw new SkiffError("InvalidArgument", `duplicate mount target ${target}`);
    seen.add(target);
    if (m.type === "tmpfs") {
      out.push({ destination: target, type: "tmpfs", source: "tmpfs", options: tmpfsOptions(m.options, { readOnly: m.readOnly, target }) });
      continue;
    }
    const { mount, propagation } = bindMount(m, target);
    if (propagation === "shared" || propagation === "rshared") shared = true;
    if (propagation === "slave" || propagation === "rslave") slave = true;
    out.push(mount);
  }
  const sorted = out.map((m, i) => ({ m, i })).sort((a, b) => depth(a.m.destination) - depth(b.m.destination) || a.i - b.i);
  const rootfsPropagation = shared ? "shared" : slave ? "rslave" : undefined;
  return { mounts: sorted.map((x) => x.m), ...(rootfsPropagation ? { rootfsPropagation } : {}) };
}

/**
 * Default mounts minus those the user's replace: a user mount at the same
 * target wins, and a user mount at /dev replaces everything under /dev (as
 * moby's withMounts).
 */
export function withoutOverridden(defaults: readonly OciMount[], user: readonly OciMount[]): OciMount[] {
  const targets = new Set(user.map((m) => m.destination));
  return defaults.filter((m) => !targets.has(m.destination) && !(targets.has("/dev") && m.destination.startsWith("/dev/")));
}

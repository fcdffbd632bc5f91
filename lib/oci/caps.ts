/**
 * Linux capabilities as Docker hands them out: its default set, plus
 * `--cap-add` / `--cap-drop` (with "ALL"), or every capability when privileged.
 */
import type { CreateOptions } from "../containers/options.ts";
import { SkiffError } from "../errors.ts";

/** Docker's default capability set, in Docker's order (moby `oci/caps` DefaultCapabilities). */
export const DOCKER_DEFAULT_CAPABILITIES: readonly string[] = Object.freeze([
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
]);

/**
 * Every capability the kernel defines, in bit order (bit 0 = CAP_CHOWN ...
 * bit 40 = CAP_CHECKPOINT_RESTORE, Linux 5.9). This is a fixed table rather
 * than /proc/sys/kernel/cap_last_cap so the spec stays a pure function; runc
 * 1.1 and crun skip names the running kernel lacks, with a warning.
 */
export const ALL_CAPABILITIES: readonly string[] = Object.freeze([
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
]);

const KNOWN: ReadonlySet<string> = new Set(ALL_CAPABILITIES);

/**
 * `net_admin`, `NET_ADMIN`, `cap_net_admin` → `CAP_NET_ADMIN`; "all" → "ALL".
 * Unknown names are InvalidArgument.
 */
export function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === "ALL") return "ALL";
  const full = upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
  if (!KNOWN.has(full)) throw new SkiffError("InvalidArgument", `unknown capability: ${JSON.stringify(name)}`);
  return full;
}

/**
 * The capabilities in a /proc/PID/status mask ("CapBnd: 000001fffeffffff"),
 * in bit order; bits the table does not name are ignored.
 */
export function capabilitiesFromMask(hex: string): string[] {
  const trimmed = hex.trim();
  if (!/^[0-9a-fA-F]{1,16}$/.test(trimmed)) throw new SkiffError("InvalidArgument", `invalid capability mask ${JSON.stringify(hex)}`);
  const mask = BigInt(`0x${trimmed}`);
  return ALL_CAPABILITIES.filter((_c, bit) => (mask >> BigInt(bit)) & 1n);
}

/** The bitmask the kernel shows in /proc/PID/status (CapEff...) for a set, as 16 hex digits. */
export function capabilityMask(caps: readonly string[]): string {
  let mask = 0n;
  for (const c of caps) {
    const bit = ALL_CAPABILITIES.indexOf(normalizeCapability(c));
    if (bit >= 0) mask |= 1n << BigInt(bit);
  }
  return mask.toString(16).padStart(16, "0");
}

/**
 * The process's capability list, with Docker's rules: privileged → all;
 * `--cap-add ALL` → all minus the drops; `--cap-drop ALL` → only the adds;
 * otherwise the defaults minus the drops plus the adds. Names are
 * case-insensitive, with or without CAP_. "All" means every capability in
 * `available` (what the runtime can grant: the bounding set skiff runs with,
 * see capabilitiesFromMask; default every capability Linux defines), and
 * adding one outside it is InvalidArgument, as Docker does.
 *
 *   capabilities({ capAdd: ["net_admin"], capDrop: ["CAP_MKNOD"], privileged: false })
 */
export function capabilities(
  options: Pick<CreateOptions, "capAdd" | "capDrop" | "privileged">,
  opts: { available?: readonly string[] } = {},
): string[] {
  const adds = options.capAdd.map(normalizeCapability);
  const drops = options.capDrop.map(normalizeCapability);
  const available = opts.available ? ALL_CAPABILITIES.filter((c) => opts.available?.includes(c)) : ALL_CAPABILITIES;
  if (options.privileged) return [...available];
  for (const c of adds) {
    if (c !== "ALL" && !available.includes(c)) {
      throw new SkiffError("InvalidArgument", `capability not available in the current environment: ${JSON.stringify(c)}`);
    }
  }
  let result: string[];
  if (adds.includes("ALL")) {
    result = available.filter((c) => !drops.includes(c));
  } else if (drops.includes("ALL")) {
    result = adds;
  } else {
    result = [...DOCKER_DEFAULT_CAPABILITIES.filter((c) => !drops.includes(c)), ...adds];
  }
  return [...new Set(result)];
}

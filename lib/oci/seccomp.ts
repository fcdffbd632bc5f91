/**
 * The seccomp filter a container gets (OCI `linux.seccomp`).
 *
 * The default allows every system call except those that reach kernel state
 * no namespace isolates, or that only make sense with a capability the
 * container was not given: keyrings, modules, kexec and reboot, the clock,
 * accounting, raw I/O ports, file handles (the "shocker" escape), BPF and
 * perf events, userfaultfd and io_uring, mounting and new namespaces. Each
 * capability-bound group is allowed again when the container holds that
 * capability (`--cap-add SYS_ADMIN` allows mount, unshare, setns and
 * namespace flags to clone). Denied calls fail with EPERM; clone3 fails
 * with ENOSYS so C libraries fall back to clone, whose flags a filter can
 * read (clone3's are behind a pointer). A deny list is a deliberate choice
 * over an allow list: a system call newer than this table keeps working.
 *
 * `--security-opt seccomp=<profile>` takes a profile in the JSON format
 * Docker and Podman read (defaultAction, architectures or archMap, syscalls
 * with names, action, errnoRet, args, and includes/excludes by caps,
 * arches and minKernel). `seccomp=unconfined` and --privileged
 * set no filter. Pure: the caller reads any profile file.
 */
import { z } from "zod";
import { SkiffError } from "../errors.ts";

export interface OciSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

export interface OciSyscallRule {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: OciSeccompArg[];
}

export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  syscalls?: OciSyscallRule[];
}

const EPERM = 1;
const ENOSYS = 38;

/** Groups of calls denied unless the container holds the capability (undefined: always denied). */
const DENIED: readonly { cap?: string; names: readonly string[] }[] = [
  // Keyrings are not namespaced; the others are obsolete or host-only.
  {
    names: [
      "add_key",
      "keyctl",
      "request_key",
      "create_module",
      "get_kernel_syms",
      "query_module",
      "nfsservctl",
      "uselib",
      "ustat",
      "sysfs",
      "_sysctl",
      "vm86",
      "vm86old",
      "io_uring_setup",
      "io_uring_enter",
      "io_uring_register",
    ],
  },
  {
    cap: "CAP_SYS_ADMIN",
    names: [
      "mount",
      "umount",
      "umount2",
      "pivot_root",
      "unshare",
      "setns",
      "open_tree",
      "move_mount",
      "fsopen",
      "fsconfig",
      "fsmount",
      "fspick",
      "mount_setattr",
      "fanotify_init",
      "lookup_dcookie",
      "quotactl",
      "quotactl_fd",
      "swapon",
      "swapoff",
      "bpf",
      "perf_event_open",
    ],
  },
  { cap: "CAP_SYS_BOOT", names: ["reboot", "kexec_load", "kexec_file_load"] },
  { cap: "CAP_SYS_MODULE", names: ["init_module", "finit_module", "delete_module"] },
  { cap: "CAP_SYS_TIME", names: ["settimeofday", "stime", "clock_settime", "clock_settime64", "clock_adjtime", "clock_adjtime64"] },
  { cap: "CAP_SYS_PACCT", names: ["acct"] },
  { cap: "CAP_SYS_RAWIO", names: ["iopl", "ioperm"] },
  { cap: "CAP_DAC_READ_SEARCH", names: ["open_by_handle_at"] },
  { cap: "CAP_SYS_PTRACE", names: ["userfaultfd"] },
  { cap: "CAP_SYSLOG", names: ["syslog"] },
];

/** clone(2) flags that make namespaces (not CLONE_NEWTIME: in clone's flags that bit is part of the exit signal). */
const CLONE_NAMESPACE_FLAGS: readonly number[] = [
  0x00020000, // CLONE_NEWNS
  0x02000000, // CLONE_NEWCGROUP
  0x04000000, // CLONE_NEWUTS
  0x08000000, // CLONE_NEWIPC
  0x10000000, // CLONE_NEWUSER
  0x20000000, // CLONE_NEWPID
  0x40000000, // CLONE_NEWNET
];

/** Node's process.arch → libseccomp architectures the filter covers (the native one first). */
export function seccompArchitectures(arch: string): string[] | undefined {
  switch (arch) {
    case "x64":
      return ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"];
    case "arm64":
      return ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"];
    case "arm":
      return ["SCMP_ARCH_ARM"];
    case "ppc64":
      return ["SCMP_ARCH_PPC64LE"];
    case "s390x":
      return ["SCMP_ARCH_S390X", "SCMP_ARCH_S390"];
    case "riscv64":
      return ["SCMP_ARCH_RISCV64"];
    default:
      return undefined;
  }
}

/** Docker's names for architectures in a profile's includes/excludes. */
function dockerArch(arch: string): string {
  return arch === "x64" ? "amd64" : arch === "ia32" ? "386" : arch;
}

/** skiff's default filter for a container holding `caps`, on `arch` (process.arch). */
export function defaultSeccomp(caps: readonly string[], arch: string): OciSeccomp {
  const held = new Set(caps);
  const syscalls: OciSyscallRule[] = [];
  for (const group of DENIED) {
    if (group.cap !== undefined && held.has(group.cap)) continue;
    syscalls.push({ names: [...group.names], action: "SCMP_ACT_ERRNO", errnoRet: EPERM });
  }
  if (!held.has("CAP_SYS_ADMIN")) {
    // One rule per flag: rules for one call are alternatives, and "(flags & f) == f" is what an argument test can say.
    for (const flag of CLONE_NAMESPACE_FLAGS) {
      syscalls.push({ names: ["clone"], action: "SCMP_ACT_ERRNO", errnoRet: EPERM, args: [{ index: 0, value: flag, valueTwo: flag, op: "SCMP_CMP_MASKED_EQ" }] });
    }
    syscalls.push({ names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: ENOSYS });
  }
  const architectures = seccompArchitectures(arch);
  return { defaultAction: "SCMP_ACT_ALLOW", ...(architectures ? { architectures } : {}), syscalls };
}

// ---- profiles given with --security-opt seccomp=<json> -------------------------

// Built on first use (z.lazy): a run without a profile never pays for them.
const ACTION = z.lazy(() => z.string().regex(/^SCMP_ACT_[A-Z_]+$/, "an SCMP_ACT_* action"));

const ArgSchema = z.lazy(() =>
  z.object({
    index: z.number().int().min(0).max(5),
    value: z.number().int().min(0),
    valueTwo: z.number().int().min(0).optional(),
    op: z.string().regex(/^SCMP_CMP_[A-Z_]+$/, "an SCMP_CMP_* operator"),
  }),
);

const FilterSchema = z.lazy(() =>
  z
    .object({
      caps: z.array(z.string()).optional(),
      arches: z.array(z.string()).optional(),
      minKernel: z.string().regex(/^\d+\.\d+(\.\d+)?$/, 'a kernel version "major.minor"').optional(),
    })
    .passthrough(),
);

const RuleSchema = z.lazy(() =>
  z
    .object({
      names: z.array(z.string()).optional(),
      name: z.string().optional(),
      action: ACTION,
      errnoRet: z.number().int().min(0).optional(),
      args: z.array(ArgSchema).nullable().optional(),
      includes: FilterSchema.optional(),
      excludes: FilterSchema.optional(),
    })
    .passthrough(),
);

const ProfileSchema = z.lazy(() =>
  z
    .object({
      defaultAction: ACTION,
      defaultErrnoRet: z.number().int().min(0).optional(),
      architectures: z.array(z.string()).nullable().optional(),
      archMap: z.array(z.object({ architecture: z.string(), subArchitectures: z.array(z.string()).nullable().optional() })).nullable().optional(),
      syscalls: z.array(RuleSchema).nullable().optional(),
      flags: z.array(z.string()).nullable().optional(),
    })
    .passthrough(),
);

function fullCap(name: string): string {
  const upper = name.toUpperCase();
  return upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
}

/** Whether kernel release `release` ("6.1.0-18-amd64") is at least `min` ("4.8"); an unreadable release counts as new enough. */
export function kernelAtLeast(release: string, min: string): boolean {
  const have = /^(\d+)\.(\d+)/.exec(release);
  const want = /^(\d+)\.(\d+)/.exec(min);
  if (!have || !want) return true;
  const [hMajor, hMinor, wMajor, wMinor] = [have[1], have[2], want[1], want[2]].map(Number) as [number, number, number, number];
  return hMajor !== wMajor ? hMajor > wMajor : hMinor >= wMinor;
}

/** The container a profile is applied for: its capabilities, Node's arch name, and the host's kernel release (none: minKernel is not checked). */
export interface SeccompTarget {
  caps: readonly string[];
  arch: string;
  kernel?: string | undefined;
}

/** As Docker: a rule applies when its includes all hold (caps held, arch, kernel at least minKernel) and none of its excludes does. */
function applies(filter: z.infer<typeof FilterSchema> | undefined, held: Set<string>, target: { arch: string; kernel?: string | undefined }, want: boolean): boolean {
  if (!filter) return true;
  const caps = filter.caps ?? [];
  const arches = filter.arches ?? [];
  const newEnough = filter.minKernel !== undefined && target.kernel !== undefined ? kernelAtLeast(target.kernel, filter.minKernel) : undefined;
  if (want) return caps.every((c) => held.has(fullCap(c))) && (arches.length === 0 || arches.includes(target.arch)) && newEnough !== false;
  return !caps.some((c) => held.has(fullCap(c))) && !arches.includes(target.arch) && newEnough !== true;
}

/**
 * A profile in Docker's JSON format (the text given to --security-opt
 * seccomp=), for `target`. InvalidArgument when it is not one.
 */
export function seccompFromProfile(text: string, target: SeccompTarget): OciSeccomp {
  const { caps, arch } = target;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new SkiffError("InvalidArgument", `seccomp profile: not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const parsed = ProfileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SkiffError("InvalidArgument", `seccomp profile: ${issue?.path.join(".") || "profile"}: ${issue?.message ?? "invalid"}`);
  }
  const p = parsed.data;
  const held = new Set(caps);
  const darch = dockerArch(arch);
  let architectures = p.architectures ?? undefined;
  if (p.archMap && p.archMap.length > 0) {
    const native = seccompArchitectures(arch)?.[0];
    const entry = p.archMap.find((m) => m.architecture === native);
    architectures = entry ? [entry.architecture, ...(entry.subArchitectures ?? [])] : undefined;
  }
  const syscalls: OciSyscallRule[] = [];
  for (const r of p.syscalls ?? []) {
    const where = { arch: darch, kernel: target.kernel };
    if (!applies(r.includes, held, where, true) || !applies(r.excludes, held, where, false)) continue;
    const names = [...(r.names ?? []), ...(r.name ? [r.name] : [])];
    if (names.length === 0) throw new SkiffError("InvalidArgument", "seccomp profile: a syscalls entry names no system call");
    syscalls.push({
      names,
      action: r.action,
      ...(r.errnoRet !== undefined ? { errnoRet: r.errnoRet } : {}),
      ...(r.args && r.args.length > 0 ? { args: r.args.map((a) => ({ index: a.index, value: a.value, ...(a.valueTwo !== undefined ? { valueTwo: a.valueTwo } : {}), op: a.op })) } : {}),
    });
  }
  return {
    defaultAction: p.defaultAction,
    ...(p.defaultErrnoRet !== undefined ? { defaultErrnoRet: p.defaultErrnoRet } : {}),
    ...(architectures && architectures.length > 0 ? { architectures } : {}),
    ...(p.flags && p.flags.length > 0 ? { flags: p.flags } : {}),
    syscalls,
  };
}

/**
 * Entering a user namespace from a multi-threaded runtime. unshare(2) with
 * CLONE_NEWUSER is refused to threaded processes, so skiff spawns
 * `unshare --user [--mount] sh -c 'read <&3; exec skiff ...'`: the shell
 * waits until this (parent) process has written the uid/gid maps with the
 * setuid helpers newuidmap/newgidmap, then execs skiff. The exec must come
 * after the maps: execve recomputes capabilities from the euid, and before the
 * maps are written the euid is unmapped, so a process exec'd then would run
 * without any capability in its own namespace.
 */
import { accessSync, closeSync, constants, existsSync, readFileSync, readlinkSync } from "node:fs";
import { currentUserName } from "../lib/sys/user.ts";
import { SkiffError } from "../lib/errors.ts";
import { buildIdMap, idMapArgs, maxMappedId, noRangeError, readSubIds, type IdMapping } from "./subid.ts";
import { WAIT_ENV } from "./userns-child.ts";

/** Set in the environment of a child started in a fresh user namespace (see userns-child.ts). */
export { WAIT_ENV };

/** Holds the child until fd 3 is written or closed, then runs the real command with fd 3 closed. */
const TRAMPOLINE = 'read -r _ <&3; exec 3<&- "$@"';

export interface UserNamespaceConfig {
  user: string;
  uid: number;
  gid: number;
  uidMap: IdMapping[];
  gidMap: IdMapping[];
}

function findHelper(name: string): string | undefined {
  for (const dir of ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"]) {
    const p = `${dir}/${name}`;
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

export function newuidmapPath(): string | undefined {
  return findHelper("newuidmap");
}

export function newgidmapPath(): string | undefined {
  return findHelper("newgidmap");
}

export function unsharePath(): string | undefined {
  return findHelper("unshare");
}

/** The id maps this user gets; throws a one-line, actionable error when something is missing. */
export function rootlessConfig(): UserNamespaceConfig {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const user = currentUserName();
  const subuids = readSubIds("/etc/subuid", { name: user, id: uid });
  if (subuids.length === 0) throw noRangeError("subuid", user);
  const subgids = readSubIds("/etc/subgid", { name: user, id: uid });
  if (subgids.length === 0) throw noRangeError("subgid", user);
  return { user, uid, gid, uidMap: buildIdMap(uid, subuids), gidMap: buildIdMap(gid, subgids) };
}

export function highestMappedId(cfg: UserNamespaceConfig): number {
  return Math.min(maxMappedId(cfg.uidMap), maxMappedId(cfg.gidMap));
}

/** argv that starts this same program again (compiled binary, or bun + script in development). */
export function selfCommand(): string[] {
  // Tests that drive the engine in-process point this at the built binary.
  const override = process.env.SKIFF_SELF;
  if (override) return override.split(" ").filter((x) => x.length > 0);
  const main = Bun.main;
  if (main.startsWith("/$bunfs/") || main.startsWith("B:/~BUN/")) {
    // Replaced under us (an upgrade)? Our own image is still reachable
    // through /proc while we run, and we outlive the exec of the child.
    return [existsSync(process.execPath) ? process.execPath : `/proc/${process.pid}/exe`];
  }
  return [process.execPath, main];
}

function readNs(pid: number | "self"): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/user`);
  } catch {
    return undefined;
  }
}

export interface NamespaceSpawnOptions {
  /** Also a new mount namespace with private propagation. */
  mount?: boolean;
  /** Also a new network namespace. */
  net?: boolean;
  env?: Record<string, string | undefined>;
  cwd?: string;
  stdin?: "pipe" | "inherit" | "ignore" | number;
  stdout?: "pipe" | "inherit" | "ignore" | number;
  stderr?: "pipe" | "inherit" | "ignore" | number;
  /** Start a new session (detach from the terminal). */
  detached?: boolean;
  /** Our descriptors the child also gets, as fds 4.. (fd 3 is the trampoline's gate). */
  extraFds?: number[];
}

/**
 * Spawns `argv` (which must be skiff itself, so it honours WAIT_ENV) in a new
 * user namespace with the rootless id maps written.
 */
export async function spawnInUserNamespace(
  argv: string[],
  cfg: UserNamespaceConfig,
  opts: NamespaceSpawnOptions = {},
): Promise<Bun.Subprocess<"pipe" | "inherit" | "ignore", "pipe" | "inherit" | "ignore", "pipe" | "inherit" | "ignore">> {
  const unshare = unsharePath();
  if (!unshare) throw new SkiffError("FailedPrecondition", "unshare not found: install util-linux");
  const newuidmap = newuidmapPath();
  const newgidmap = newgidmapPath();
  if (!newuidmap || !newgidmap) {
    throw new SkiffError("FailedPrecondition", "newuidmap/newgidmap not found: install the uidmap package (apt-get install uidmap)");
  }
  const nsArgs = ["--user", ...(opts.mount ? ["--mount", "--propagation", "private"] : []), ...(opts.net ? ["--net"] : [])];
  const env = { ...(opts.env ?? process.env), [WAIT_ENV]: "1" };
  const child = Bun.spawn([unshare, ...nsArgs, "--", "/bin/sh", "-c", TRAMPOLINE, "sh", ...argv], {
    env,
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    stdio: [opts.stdin ?? "ignore", opts.stdout ?? "inherit", opts.stderr ?? "inherit", "pipe", ...(opts.extraFds ?? [])],
    ...(opts.detached ? { detached: true } : {}),
  });
  const gate = child.stdio[3];
  try {
    await writeIdMaps(child, cfg, { newuidmap, newgidmap });
  } catch (e) {
    child.kill("SIGKILL");
    throw e;
  } finally {
    // Releases the trampoline (on failure the child is already killed).
    if (typeof gate === "number") closeSync(gate);
  }
  return child as Bun.Subprocess<"pipe" | "inherit" | "ignore", "pipe" | "inherit" | "ignore", "pipe" | "inherit" | "ignore">;
}

async function writeIdMaps(
  child: Bun.Subprocess,
  cfg: UserNamespaceConfig,
  helpers: { newuidmap: string; newgidmap: string },
): Promise<void> {
  const own = readNs("self");
  const deadline = Date.now() + 5000;
  // Wait until unshare(2) has happened in the child: its user namespace
  // differs from ours. Writing maps earlier would target our namespace.
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new SkiffError(
        "FailedPrecondition",
        "cannot create a user namespace: unprivileged user namespaces may be disabled (sysctl kernel.unprivileged_userns_clone or user.max_user_namespaces)",
      );
    }
    const ns = readNs(child.pid);
    if (ns !== undefined && ns !== own) break;
    if (Date.now() > deadline) throw new SkiffError("Unavailable", "timed out waiting for the user namespace helper");
    await Bun.sleep(1);
  }
  const pid = String(child.pid);
  const [u, g] = await Promise.all([
    run([helpers.newuidmap, pid, ...idMapArgs(cfg.uidMap)]),
    run([helpers.newgidmap, pid, ...idMapArgs(cfg.gidMap)]),
  ]);
  for (const r of [u, g]) {
    if (r.code !== 0) {
      throw new SkiffError("FailedPrecondition", `${r.argv0} failed: ${r.stderr.trim() || `exit ${r.code}`}: check /etc/subuid and /etc/subgid`);
    }
  }
}

async function run(argv: string[]): Promise<{ argv0: string; code: number; stderr: string }> {
  const p = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const [code, stderr] = await Promise.all([p.exited, new Response(p.stderr).text()]);
  return { argv0: argv[0]?.split("/").pop() ?? "", code, stderr };
}

/**
 * Child side: the trampoline only lets us run once the maps are written, or
 * when the parent died trying; in that case stop here.
 */
export function checkIdMaps(): void {
  let text = "";
  try {
    text = readFileSync("/proc/self/gid_map", "utf8");
  } catch {
    // treated as missing
  }
  if (text.trim().length === 0) {
    process.stderr.write("skiff: user namespace has no id maps (the parent process failed to set them up)\n");
    process.exit(125);
  }
}

/** True when this process runs in a user namespace other than the initial one. */
export function inUserNamespace(): boolean {
  try {
    const text = readFileSync("/proc/self/uid_map", "utf8").trim();
    return !/^0\s+0\s+4294967295$/.test(text);
  } catch {
    return false;
  }
}

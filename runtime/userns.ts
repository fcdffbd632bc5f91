/**
 * Entering a user namespace from a multi-threaded runtime. unshare(2) with
 * CLONE_NEWUSER is refused to threaded processes, so skiff spawns
 * `unshare --user [--mount] sh -c '...' skiff ...`: the shell waits until the
 * uid/gid maps are written with the setuid helpers newuidmap/newgidmap, then
 * execs skiff. The exec must come after the maps: execve recomputes
 * capabilities from the euid, and before the maps are written the euid is
 * unmapped, so a process exec'd then would run without any capability in
 * its own namespace.
 *
 * The maps are written by a second small shell (the mapper), spawned beside
 * the first and talking to it over a socket pair, not by this process: its
 * event loop is busy loading the engine while a shim starts, and a hand-off
 * that needed turns of it took 10-15 ms where the shells take about 3.
 */
import { accessSync, closeSync, constants, existsSync, readFileSync } from "node:fs";
import { socketPair } from "../lib/sys/libc.ts";
import { currentUserName } from "../lib/sys/user.ts";
import { SkiffError } from "../lib/errors.ts";
import { buildIdMap, idMapArgs, maxMappedId, noRangeError, readSubIds, type IdMapping } from "./subid.ts";
import { WAIT_ENV } from "./userns-child.ts";

/** Set in the environment of a child started in a fresh user namespace (see userns-child.ts). */
export { WAIT_ENV };

const NO_USERNS_HINT =
  "skiff: cannot create a user namespace: unprivileged user namespaces may be disabled (sysctl kernel.unprivileged_userns_clone or user.max_user_namespaces)";
const MAPS_HINT = "skiff: writing the user namespace's id maps failed: check /etc/subuid and /etc/subgid";

/**
 * The command's shell, run by unshare in the new namespace: says so on fd 3
 * (its end of the socket pair), waits for the mapper's answer there (EOF: the
 * maps could not be written), then runs the command.
 */
const INNER = 'echo >&3; read -r _ <&3 || exit 125; exec 3<&- "$@"';

/**
 * The mapper, with its end of the socket on fd 3. Arguments: newuidmap,
 * newgidmap, the command's pid, the uid map, the gid map. Both helpers run
 * at once.
 */
const MAPPER = [
  `read -r _ <&3 || { echo "${NO_USERNS_HINT}" >&2; exit 1; }`,
  '"$1" "$3" $4 & u=$!',
  '"$2" "$3" $5; g=$?',
  `if wait $u && [ $g = 0 ]; then echo >&3; else echo "${MAPS_HINT}" >&2; exit 1; fi`,
].join("\n");

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
 * Spawns `argv` in a new user namespace whose id maps are written before it
 * runs. Returns at once; the command waits for its maps by itself. When they
 * cannot be written it exits 125 (or 1 when no user namespace can be made),
 * the reason on the stderr given for it.
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
  const [ours, theirs] = socketPair();
  try {
    const child = Bun.spawn([unshare, ...nsArgs, "--", "/bin/sh", "-c", INNER, "sh", ...argv], {
      env,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      stdio: [opts.stdin ?? "ignore", opts.stdout ?? "inherit", opts.stderr ?? "inherit", ours, ...(opts.extraFds ?? [])],
      ...(opts.detached ? { detached: true } : {}),
    });
    // Its complaints go where the command's would (a pipe of ours would need reading: our stderr then).
    const mapperErr = typeof opts.stderr === "number" || opts.stderr === "ignore" ? opts.stderr : "inherit";
    const mapper = Bun.spawn(["/bin/sh", "-c", MAPPER, "sh", newuidmap, newgidmap, String(child.pid), idMapArgs(cfg.uidMap).join(" "), idMapArgs(cfg.gidMap).join(" ")], {
      stdio: ["ignore", "ignore", mapperErr, theirs],
    });
    mapper.unref();
    return child as Bun.Subprocess<"pipe" | "inherit" | "ignore", "pipe" | "inherit" | "ignore", "pipe" | "inherit" | "ignore">;
  } finally {
    // Only the two shells may hold the socket: an end left open here would keep a waiting side from seeing EOF.
    closeSync(ours);
    closeSync(theirs);
  }
}

/**
 * Child side: the shell before us execs only once the maps are written; this
 * checks it, for a command started some other way with WAIT_ENV set.
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

/**
 * The container's process: its argv from Entrypoint/Cmd, its environment,
 * working directory and rlimits, with Docker's rules.
 */
import { posix } from "node:path";
import type { CreateOptions, Ulimit } from "../containers/options.ts";
import { SkiffError } from "../errors.ts";
import type { ContainerConfig } from "../images/manifest.ts";
import { type OciRlimit, RLIM_INFINITY } from "./types.ts";

/** Docker's PATH when neither the image nor the user sets one. */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * The argv Docker would run: Entrypoint followed by Cmd. A user entrypoint
 * replaces the image's and drops the image's Cmd unless a cmd is given too;
 * `--entrypoint ""` (`[]`) clears the entrypoint and keeps the image's Cmd
 * when no cmd is given (moby's config merge). Nothing left is
 * InvalidArgument "no command specified".
 *
 *   processArgs({ Entrypoint: ["/init"], Cmd: ["serve"] }, { entrypoint: null, cmd: ["sh"] }) // ["/init", "sh"]
 */
export function processArgs(
  image: ContainerConfig | null | undefined,
  options: Pick<CreateOptions, "cmd" | "entrypoint">,
): string[] {
  const userEntrypoint = options.entrypoint;
  let entrypoint: string[];
  let cmd: string[];
  if (userEntrypoint !== null && userEntrypoint.length > 0) {
    entrypoint = userEntrypoint;
    cmd = options.cmd ?? [];
  } else {
    entrypoint = userEntrypoint ?? image?.Entrypoint ?? [];
    cmd = options.cmd !== null && options.cmd.length > 0 ? options.cmd : (image?.Cmd ?? []);
  }
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) throw new SkiffError("InvalidArgument", "no command specified");
  return args;
}

function envKey(entry: string): string {
  const eq = entry.indexOf("=");
  return eq >= 0 ? entry.slice(0, eq) : entry;
}

/** Applies `overrides` to `base` by key (in place, else appended); an override without "=" unsets the key. */
function applyEnv(base: string[], overrides: readonly string[], what: string): string[] {
  const out = [...base];
  for (const entry of overrides) {
    const key = envKey(entry);
    if (key === "") throw new SkiffError("InvalidArgument", `invalid ${what} environment variable ${JSON.stringify(entry)}`);
    const i = out.findIndex((e) => envKey(e) === key);
    if (!entry.includes("=")) {
      if (i >= 0) out.splice(i, 1);
    } else if (i >= 0) {
      out[i] = entry;
    } else {
      out.push(entry);
    }
  }
  return out;
}

/**
 * The container's environment, as Docker builds it: PATH (default when
 * none), HOSTNAME and, with a terminal, TERM=xterm; then the image's Env,
 * then the user's; a later value replaces an earlier one with the same key
 * in place, and a user entry without "=" (`-e NAME` with nothing to take)
 * removes the key. HOME is added when nothing set it.
 *
 *   mergeEnv(["PATH=/bin", "A=1"], ["A=2"], { hostname: "abc", tty: true })
 *   // ["PATH=/bin", "HOSTNAME=abc", "TERM=xterm", "A=2"]
 */
export function mergeEnv(
  imageEnv: readonly string[] | null | undefined,
  userEnv: readonly string[],
  opts: { hostname?: string; tty?: boolean; home?: string } = {},
): string[] {
  const base = [`PATH=${DEFAULT_PATH}`];
  if (opts.hostname !== undefined) base.push(`HOSTNAME=${opts.hostname}`);
  if (opts.tty) base.push("TERM=xterm");
  let env = applyEnv(base, imageEnv ?? [], "image");
  env = applyEnv(env, userEnv, "user");
  if (opts.home !== undefined && !env.some((e) => envKey(e) === "HOME")) env.push(`HOME=${opts.home}`);
  return env;
}

/**
 * The process's working directory: the user's, else the image's, else "/".
 * It must be absolute (InvalidArgument otherwise); it is normalised.
 */
export function workingDir(image: ContainerConfig | null | undefined, workdir: string | undefined): string {
  const dir = workdir || image?.WorkingDir || "/";
  if (!dir.startsWith("/")) {
    throw new SkiffError("InvalidArgument", `working directory ${JSON.stringify(dir)} is invalid: it must be an absolute path`);
  }
  const clean = posix.normalize(dir);
  return clean.length > 1 ? clean.replace(/\/+$/, "") : clean;
}

const RLIMITS: ReadonlySet<string> = new Set([
  "as",
  "core",
  "cpu",
  "data",
  "fsize",
  "locks",
  "memlock",
  "msgqueue",
  "nice",
  "nofile",
  "nproc",
  "rss",
  "rtprio",
  "rttime",
  "sigpending",
  "stack",
]);

function limitValue(n: number, name: string): number | bigint {
  if (n === -1) return RLIM_INFINITY;
  if (n < 0) throw new SkiffError("InvalidArgument", `invalid ulimit ${name}: ${n} is negative`);
  return n;
}

/**
 * `--ulimit` values as OCI rlimits (later entries for the same name win);
 * -1 means unlimited. RLIMIT_NOFILE defaults to `defaultNofile` when the
 * user sets none. Unknown names and soft > hard are InvalidArgument.
 */
export function rlimits(ulimits: readonly Ulimit[], defaultNofile?: { soft: number; hard: number }): OciRlimit[] {
  const byName = new Map<string, OciRlimit>();
  for (const u of ulimits) {
    const name = u.name.trim().toLowerCase();
    if (!RLIMITS.has(name)) throw new SkiffError("InvalidArgument", `invalid ulimit ${JSON.stringify(u.name)}: unknown resource`);
    if (u.hard !== -1 && (u.soft === -1 || u.soft > u.hard)) {
      throw new SkiffError("InvalidArgument", `invalid ulimit ${name}: soft limit ${u.soft} is above hard limit ${u.hard}`);
    }
    byName.set(name, { type: `RLIMIT_${name.toUpperCase()}`, hard: limitValue(u.hard, name), soft: limitValue(u.soft, name) });
  }
  if (!byName.has("nofile") && defaultNofile) {
    byName.set("nofile", { type: "RLIMIT_NOFILE", hard: defaultNofile.hard, soft: defaultNofile.soft });
  }
  return [...byName.values()];
}

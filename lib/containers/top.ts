/**
 * `top`: the processes of a running container, as Docker shows them: every
 * process in the PID namespace of the container's init, listed by the host's
 * `ps` with the user's options (default `-ef`), keeping ps's own header.
 *
 * Membership is read from /proc/PID/ns/pid. Rootless, the container's
 * processes run as the user or as its subordinate ids; the user owns their
 * user namespace, so the kernel lets it read those links. Should one be
 * refused anyway (EACCES), the links are read again from inside that user
 * namespace (`nsenter --user --preserve-credentials`), where we have every
 * capability.
 */
import { readdirSync, readlinkSync } from "node:fs";
import type { Context } from "../context.ts";
import { errnoCode, SkiffError } from "../errors.ts";
import { sameProcess } from "../sys/proc.ts";
import { currentState } from "./ops.ts";
import type { ContainerRecord } from "./record.ts";

export interface TopResult {
  titles: string[];
  processes: string[][];
}

/** Refuses `ps` options that Docker refuses: `-o x=PID` style renames of other columns to PID. */
export function validatePsArgs(args: string[]): void {
  const text = ` ${args.join(" ")}`;
  for (const m of text.matchAll(/\s+(\S*)=\s*(PID\S*)/g)) {
    if (m[1] !== "pid") throw new SkiffError("InvalidArgument", `specifying "${m[1]}=${m[2]}" is not allowed`);
  }
}

/**
 * argv for ps: the user's options (default -ef), restricted with `-q PIDS`
 * (procps' quick pid selection). Some options (forest listings) refuse -q;
 * then ps runs unrestricted and parsePsOutput filters.
 * @example psArgv([], [12, 15]) // ["ps", "-ef", "-q", "12,15"]
 */
export function psArgv(args: string[], pids: number[], opts: { restrict: boolean } = { restrict: true }): string[] {
  const base = args.length > 0 ? args : ["-ef"];
  return opts.restrict && pids.length > 0 ? ["ps", ...base, "-q", pids.join(",")] : ["ps", ...base];
}

/**
 * Keeps the lines of ps output whose PID column is one of `pids`. The last
 * column (the command) may hold spaces: extra fields are joined into it.
 * Thread lines (`-L`/`-T`, PID "-") follow their process.
 */
export function parsePsOutput(output: string, pids: number[]): TopResult {
  const lines = output.split("\n").filter((l) => l.trim() !== "");
  const header = lines[0];
  if (header === undefined) throw new SkiffError("Internal", "ps printed nothing");
  const titles = header.trim().split(/\s+/);
  const pidIndex = titles.indexOf("PID");
  if (pidIndex < 0) throw new SkiffError("InvalidArgument", "couldn't find PID field in ps output");
  const wanted = new Set(pids);
  const processes: string[][] = [];
  let keepThreads = false;
  for (const line of lines.slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length > titles.length) {
      const head = fields.slice(0, titles.length - 1);
      // Keep the command's own spacing: cut it from the line after the other fields.
      let rest = line.trimStart();
      for (const f of head) rest = rest.slice(rest.indexOf(f) + f.length).trimStart();
      fields.splice(0, fields.length, ...head, rest);
    }
    const pidField = fields[pidIndex];
    if (pidField === "-") {
      if (keepThreads) processes.push(fields);
      continue;
    }
    const pid = Number(pidField);
    keepThreads = Number.isInteger(pid) && wanted.has(pid);
    if (keepThreads) processes.push(fields);
  }
  return { titles, processes };
}

function pidNs(pid: number | string): string | undefined | "denied" {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch (e) {
    return errnoCode(e) === "EACCES" || errnoCode(e) === "EPERM" ? "denied" : undefined;
  }
}

/** Reads pid namespace links of `pids` from inside the user namespace of `initPid`. */
async function nsLinksInside(initPid: number, pids: number[]): Promise<Map<number, string>> {
  const script = 'for p in "$@"; do l=$(readlink "/proc/$p/ns/pid") && echo "$p $l"; done; true';
  const p = Bun.spawn(["nsenter", "--user", "--preserve-credentials", "-t", String(initPid), "--", "/bin/sh", "-c", script, "sh", ...pids.map(String)], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "ignore",
  });
  const [out] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  const links = new Map<number, string>();
  for (const line of out.split("\n")) {
    const [pid, link] = line.split(" ");
    if (pid && link) links.set(Number(pid), link);
  }
  return links;
}

/** Every process (host pids, ascending) in the PID namespace of `initPid`. */
export async function pidsInNamespace(initPid: number, opts: { rootless: boolean }): Promise<number[]> {
  const target = pidNs(initPid);
  if (target === undefined) throw new SkiffError("Conflict", `process ${initPid} is gone`);
  const pids: number[] = [];
  const denied: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const ns: string | undefined = target === "denied" ? "denied" : pidNs(pid);
    if (ns === "denied") denied.push(pid);
    else if (ns === target) pids.push(pid);
  }
  if (denied.length > 0 && opts.rootless) {
    const inside = await nsLinksInside(initPid, [initPid, ...denied]);
    const t = inside.get(initPid);
    for (const pid of denied) if (t !== undefined && inside.get(pid) === t) pids.push(pid);
  }
  return pids.sort((a, b) => a - b);
}

/** `top CONTAINER [ps OPTIONS]`; Conflict when the container is not running. */
export async function topContainer(ctx: Context, record: ContainerRecord, opts: { psOptions?: string[] } = {}): Promise<TopResult> {
  const psOptions = opts.psOptions ?? [];
  validatePsArgs(psOptions);
  const state = currentState(ctx, record);
  if ((state.status !== "running" && state.status !== "paused") || !sameProcess(state.pid, state.pidStart)) {
    throw new SkiffError("Conflict", `container ${record.id} is not running`);
  }
  const pids = await pidsInNamespace(state.pid, { rootless: record.rootless });
  let run = await runPs(psArgv(psOptions, pids));
  // Some options cannot be combined with -q: list everything and filter.
  if (run.code !== 0) run = await runPs(psArgv(psOptions, pids, { restrict: false }));
  if (run.code !== 0) throw new SkiffError("InvalidArgument", `ps ${psOptions.join(" ")}: ${run.stderr.trim() || `exit ${run.code}`}`);
  return parsePsOutput(run.stdout, pids);
}

async function runPs(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, LC_ALL: "C" } });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

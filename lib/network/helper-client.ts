/**
 * Starting a user network's helper when the first container needs it. The
 * helper's pid is also how a container's shim joins the shared user
 * namespace (rootless) and reaches the network's namespace.
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Context } from "../context.ts";
import { SkiffError } from "../errors.ts";
import { acquireLock } from "../lock.ts";
import { sameProcess, waitProcessGone } from "../sys/proc.ts";
import { findExecutable } from "../../runtime/probe.ts";
import { selfCommand, spawnInUserNamespace } from "../../runtime/userns.ts";
import type { HelperConfig } from "./helper.ts";
import { networkRunDir } from "./members.ts";
import { PASTA_DNS } from "./plan.ts";
import type { NetworkRecord } from "./store.ts";

function liveHelper(dir: string): number | undefined {
  try {
    const h = JSON.parse(readFileSync(join(dir, "helper.json"), "utf8")) as { pid: number; start: number };
    return sameProcess(h.pid, h.start) ? h.pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Stops a removed network's helper (it would otherwise idle on for its
 * grace time) and deletes the network's run directory. The helper leaves
 * as when idle: its DNS server and its pasta go with it.
 */
export async function stopNetworkHelper(ctx: Context, name: string): Promise<void> {
  const dir = networkRunDir(ctx.paths.runRoot, name);
  let helper: { pid: number; start: number } | undefined;
  try {
    helper = JSON.parse(readFileSync(join(dir, "helper.json"), "utf8")) as { pid: number; start: number };
  } catch {
    helper = undefined;
  }
  if (helper && sameProcess(helper.pid, helper.start)) {
    try {
      process.kill(helper.pid, "SIGTERM");
    } catch {
      // gone meanwhile
    }
    await waitProcessGone(helper.pid, helper.start, 3000, 20);
  }
  rmSync(dir, { recursive: true, force: true });
}

/** Any running network helper: rootless, new helpers join its user namespace. */
function anyLiveHelper(runRoot: string): number | undefined {
  let names: string[];
  try {
    names = readdirSync(join(runRoot, "networks"));
  } catch {
    return undefined;
  }
  for (const n of names) {
    const pid = liveHelper(join(runRoot, "networks", n));
    if (pid) return pid;
  }
  return undefined;
}

async function readLine(stdout: ReadableStream<Uint8Array>): Promise<string> {
  let text = "";
  for await (const chunk of stdout) {
    text += new TextDecoder().decode(chunk);
    if (text.includes("\n")) break;
  }
  return text.split("\n")[0] ?? "";
}

/**
 * Gives the network's namespace outbound access (for its DNS forwarder)
 * with pasta. pasta must start from the host's network to find the host's
 * interfaces; it joins the helper's user and network namespaces by pid.
 */
async function connectOutbound(helperPid: number, dir: string): Promise<void> {
  const pasta = findExecutable("pasta");
  if (!pasta) return; // names of members still resolve; other names do not
  const root = process.getuid?.() === 0;
  const argv = [pasta, ...(root ? ["--runas", "0:0"] : []), "--config-net", "-P", join(dir, "pasta.pid"), "--quiet", "-I", "eth0", "--dns-forward", PASTA_DNS];
  argv.push("-t", "none", "-u", "none", "-T", "none", "-U", "none", String(helperPid));
  const p = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
  if (code !== 0) process.stderr.write(`WARNING: network outbound access (pasta): ${err.trim().split("\n").pop()}\n`);
}

/** The pid of the network's helper, started if needed. */
export async function ensureNetworkHelper(ctx: Context, net: NetworkRecord): Promise<number> {
  const dir = networkRunDir(ctx.paths.runRoot, net.name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lock = await acquireLock(join(ctx.paths.locks, `net-${net.name}-helper.lock`));
  try {
    const running = liveHelper(dir);
    if (running) return running;
    const cfg: HelperConfig = {
      name: net.name,
      runDir: dir,
      subnet: net.subnet,
      gateway: net.gateway,
      internal: net.internal,
      idleMs: 10_000,
      locks: ctx.paths.locks,
    };
    const argv = [...selfCommand(), "__netns", JSON.stringify(cfg)];
    const logFd = openSync(join(dir, "helper.log"), "a", 0o600);
    try {
      const join_ = ctx.rootless ? anyLiveHelper(ctx.paths.runRoot) : undefined;
      const ns = ["unshare", "--net", "--mount", "--propagation", "private", "--"];
      const child = !ctx.rootless
        ? Bun.spawn([...ns, ...argv], { detached: true, stdin: "ignore", stdout: "pipe", stderr: logFd })
        : join_ !== undefined
          ? Bun.spawn(["nsenter", "--user", "--preserve-credentials", "-t", String(join_), "--", ...ns, ...argv], {
              detached: true,
              stdin: "ignore",
              stdout: "pipe",
              stderr: logFd,
            })
          : await spawnInUserNamespace(argv, ctx.userns, { mount: true, net: true, detached: true, stdin: "ignore", stdout: "pipe", stderr: logFd });
      const line = await readLine(child.stdout as ReadableStream<Uint8Array>);
      child.unref();
      let msg: { pid?: number; error?: string } = {};
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        // reported below
      }
      if (!msg.pid) throw new SkiffError("Internal", `network ${net.name}: its helper failed to start${msg.error ? `: ${msg.error}` : ""}`);
      if (!net.internal) await connectOutbound(msg.pid, dir);
      return msg.pid;
    } finally {
      closeSync(logFd);
    }
  } finally {
    lock.release();
  }
}

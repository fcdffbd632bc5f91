/**
 * The shim's part of networking: before the runtime starts, create the
 * container's network namespace (bound to a file in the run directory, in
 * the shim's mount namespace, where the runtime sees it), connect it with
 * pasta or slirp4netns, and write the container's address into its hosts
 * file; after the container exits, stop the helper.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { NetworkAttachment, NetworkPlan } from "../lib/network/plan.ts";
import { slirpForward } from "../lib/network/plan.ts";
import { StartError } from "./errors.ts";
import { trace } from "../lib/trace.ts";
import { terminateProcess } from "../lib/sys/proc.ts";
import type { SpareNetns } from "./spare-netns.ts";

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code, out, err };
}

async function createNetns(path: string): Promise<void> {
  writeFileSync(path, "");
  const r = await run(["unshare", `--net=${path}`, "true"]);
  if (r.code !== 0) throw new StartError(`cannot create a network namespace: ${r.err.trim()}`, 125);
}

/** The first IPv4 address of eth0 (or tap0) inside the namespace. */
async function addressIn(netns: string): Promise<string | undefined> {
  const r = await run(["nsenter", `--net=${netns}`, "ip", "-4", "-o", "addr", "show", "scope", "global"]);
  const m = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(r.out);
  return m?.[1];
}

async function slirpApi(socket: string, request: string): Promise<string> {
  // Loaded for slirp4netns's port forwards only: node:net costs a shim 3-5 ms (and memory) to load.
  const { connect } = await import("node:net");
  return await new Promise<string>((resolve, reject) => {
    const c = connect(socket);
    let data = "";
    c.on("connect", () => c.end(request));
    c.on("data", (d) => {
      data += d.toString();
    });
    c.on("end", () => resolve(data));
    c.on("error", reject);
  });
}

async function waitFor(path: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!existsSync(path)) {
    if (Date.now() > deadline) return false;
    await Bun.sleep(2);
  }
  return true;
}

export interface NetworkHandle {
  address?: string | undefined;
  stop(): Promise<void>;
}

/**
 * Plugs the container's namespace into a user network: a veth pair whose
 * host end joins the network's bridge in the helper's namespace.
 */
async function attach(netns: string, a: NetworkAttachment): Promise<void> {
  const peer = `veth${Math.random().toString(16).slice(2, 10)}`;
  const inCtr = (args: string[]): string[] => ["nsenter", `--net=${netns}`, "ip", ...args];
  const inNet = (args: string[]): string[] => ["nsenter", `--net=/proc/${a.helperPid}/ns/net`, "ip", ...args];
  for (const argv of [
    inCtr(["link", "add", a.ifname, "type", "veth", "peer", "name", peer, "netns", String(a.helperPid)]),
    inNet(["link", "set", peer, "master", "br0", "up"]),
    inCtr(["addr", "add", `${a.ip}/${a.prefix}`, "dev", a.ifname]),
    inCtr(["link", "set", a.ifname, "up"]),
  ]) {
    const r = await run(argv);
    if (r.code !== 0) throw new StartError(`network ${a.network}: ${r.err.trim() || argv.join(" ")}`, 125);
  }
}

/** Creates the namespace file the runtime needs before it can create the container (from `spare` when it can). */
export async function prepareNetns(plan: NetworkPlan, spare?: SpareNetns): Promise<void> {
  if (plan.mode === "netns" || plan.mode === "pasta" || plan.mode === "slirp4netns") {
    if (!(await spare?.claim(plan.netns))) await createNetns(plan.netns);
  }
  spare?.discard();
  trace("net: netns created");
}

/**
 * Connects a prepared namespace (helper, user networks, hosts file). Runs
 * while the runtime creates the container: the process starts only after.
 */
export async function connectNetwork(plan: NetworkPlan, hostsFile: string | undefined, attachments: NetworkAttachment[] = []): Promise<NetworkHandle> {
  if (plan.mode === "netns") {
    await run(["nsenter", `--net=${plan.netns}`, "ip", "link", "set", "lo", "up"]);
    for (const a of attachments) await attach(plan.netns, a);
    return { address: attachments[0]?.ip, stop: async () => {} };
  }
  if (plan.mode !== "pasta" && plan.mode !== "slirp4netns") return { stop: async () => {} };
  let stop: () => Promise<void>;
  if (plan.mode === "pasta") {
    const r = await run(plan.argv);
    if (r.code !== 0) {
      const msg = r.err.trim().split("\n").pop() ?? `exit ${r.code}`;
      const inUse = /in use|Address already/i.test(r.err);
      throw new StartError(inUse ? `publishing ports failed: ${msg}: port is already allocated` : `pasta: ${msg}`, 125);
    }
    stop = async () => {
      let pid = 0;
      try {
        pid = Number(readFileSync(plan.pidFile, "utf8").trim());
      } catch {
        // never written: nothing to stop
      }
      if (pid > 0) await terminateProcess(pid);
    };
  } else {
    const p = Bun.spawn(plan.argv, { cwd: dirname(plan.apiSocket), stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    // So `rm` can stop it if this shim is killed.
    writeFileSync(join(dirname(plan.apiSocket), "slirp.pid"), String(p.pid));
    if (!(await waitFor(plan.apiSocket, 5000))) {
      p.kill("SIGKILL");
      throw new StartError("slirp4netns did not start", 125);
    }
    // Connect by a relative name, from the socket's directory: sockaddr_un holds 108 bytes.
    const prev = process.cwd();
    process.chdir(dirname(plan.apiSocket));
    try {
      for (const b of plan.ports) {
        const reply = await slirpApi(basename(plan.apiSocket), slirpForward(b));
        if (reply.includes("error")) {
          p.kill("SIGTERM");
          throw new StartError(`publishing ${b.hostIp}:${b.hostPort} failed: ${reply.trim()}`, 125);
        }
      }
    } finally {
      process.chdir(prev);
    }
    stop = async () => {
      await terminateProcess(p.pid);
      rmSync(plan.apiSocket, { force: true });
    };
  }
  try {
    for (const a of attachments) await attach(plan.netns, a);
  } catch (e) {
    await stop();
    throw e;
  }
  trace("net: helper ready");
  // On a user network the container is known by its address there.
  const address = attachments[0]?.ip ?? plan.address ?? (await addressIn(plan.netns));
  if (address && hostsFile && existsSync(hostsFile)) {
    // The placeholder line for the container's own name gets its real address.
    const text = readFileSync(hostsFile, "utf8").replace(/^127\.0\.1\.1\t/m, `${address}\t`);
    writeFileSync(hostsFile, text);
  }
  return { address, stop };
}

export async function setUpNetwork(plan: NetworkPlan, hostsFile: string | undefined, attachments: NetworkAttachment[] = []): Promise<NetworkHandle> {
  await prepareNetns(plan);
  return connectNetwork(plan, hostsFile, attachments);
}

/**
 * `skiff __netns <json>`: the process behind one user network while
 * containers use it. It runs in a network namespace of its own holding the
 * network's bridge, answers DNS for the members on the bridge's address
 * (forwarding other names through pasta, which the starter attaches from the
 * host's network), and exits once no
 * container has used the network for a while. Containers attach to the
 * bridge with a veth pair made by their shims. Rootless, every network
 * helper shares one user namespace (the first creates it, later ones join),
 * so a container can be on several networks and its shim can reach them all.
 */
import { openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { acquireLock } from "../lock.ts";
import { dup2 } from "../sys/libc.ts";
import { processStartTime } from "../sys/proc.ts";
import { startDnsServer } from "./dns.ts";
import { isLive, readMembers } from "./members.ts";
import { PASTA_DNS } from "./plan.ts";

export interface HelperConfig {
  name: string;
  runDir: string;
  subnet: string;
  gateway: string;
  internal: boolean;
  /** Exit after this long without members. */
  idleMs: number;
  /** skiff's lock directory: the exit decision is taken under the network's lock. */
  locks: string;
}

async function sh(argv: string[]): Promise<void> {
  const p = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
  if (code !== 0) throw new Error(`${argv.join(" ")}: ${err.trim() || `exit ${code}`}`);
}

export async function netnsHelperMain(argv: string[]): Promise<number> {
  const cfg = JSON.parse(argv[0] ?? "{}") as HelperConfig;
  for (const sig of ["SIGHUP", "SIGINT", "SIGPIPE"] as const) process.on(sig, () => {});
  const bits = cfg.subnet.split("/")[1] ?? "24";
  try {
    await sh(["ip", "link", "set", "lo", "up"]);
    await sh(["ip", "link", "add", "br0", "type", "bridge"]);
    await sh(["ip", "addr", "add", `${cfg.gateway}/${bits}`, "dev", "br0"]);
    await sh(["ip", "link", "set", "br0", "up"]);
  } catch (e) {
    process.stdout.write(`${JSON.stringify({ error: (e as Error).message })}\n`);
    return 1;
  }
  const dns = await startDnsServer({ listen: cfg.gateway, runDir: cfg.runDir, upstream: PASTA_DNS });
  writeFileSync(join(cfg.runDir, "helper.json"), JSON.stringify({ pid: process.pid, start: processStartTime(process.pid) ?? 0 }));
  process.stdout.write(`${JSON.stringify({ pid: process.pid })}\n`);
  try {
    dup2(openSync("/dev/null", "w"), 1);
  } catch {
    // best effort
  }

  // SIGTERM: the network was removed (stopNetworkHelper); leave as when idle.
  let stopping = false;
  let wake: (() => void) | undefined;
  process.on("SIGTERM", () => {
    stopping = true;
    wake?.();
  });
  let idleSince = Date.now();
  for (;;) {
    await Promise.race([Bun.sleep(1000), new Promise<void>((r) => (wake = r))]);
    if (stopping) {
      rmSync(join(cfg.runDir, "helper.json"), { force: true });
      break;
    }
    const live = readMembers(cfg.runDir).filter((m) => isLive(m));
    if (live.length > 0) {
      idleSince = Date.now();
      continue;
    }
    if (Date.now() - idleSince <= cfg.idleMs) continue;
    // Decide under the lock a starting container takes to lease an address,
    // and withdraw helper.json before letting go: nobody picks a helper that is leaving.
    const lock = await acquireLock(join(cfg.locks, `net-${cfg.name}.lock`));
    try {
      if (readMembers(cfg.runDir).some((m) => isLive(m))) {
        idleSince = Date.now();
        continue;
      }
      rmSync(join(cfg.runDir, "helper.json"), { force: true });
    } finally {
      lock.release();
    }
    break;
  }
  dns.stop();
  // pasta (started by whoever started us, from the host's network) ends with us.
  try {
    const pid = Number(readFileSync(join(cfg.runDir, "pasta.pid"), "utf8").trim());
    if (pid > 0) process.kill(pid, "SIGTERM");
  } catch {
    // none, or gone
  }
  return 0;
}

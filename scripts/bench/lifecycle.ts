/**
 * Container lifecycle benchmark (issue 3), rootless, runc for both tools,
 * no network for both (networking is measured by network.sh): run --rm,
 * run -d, exec, ps with 50 running, stop -t 0, rm, each against Podman and
 * against raw `runc run` of a prepared bundle (the floor); and each shim's
 * memory beside conmon's with 50 containers running.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startRegistry } from "../../tests/helpers/registry.ts";
import { publishBenchImages } from "./fixtures.ts";
import { benchDir, cleanUp, must, Podman, report, run, sample, sampleInTurns, SKIFF, skiffEnv, type Row } from "./harness.ts";
import { median } from "./stats.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const MANY = Number(process.env.BENCH_MANY ?? 50);

/** RSS and PSS in kB from /proc/PID/smaps_rollup. */
function memory(pid: number): { rss: number; pss: number } {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const get = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0);
    return { rss: get("Rss"), pss: get("Pss") };
  } catch {
    return { rss: 0, pss: 0 };
  }
}

/** A runc bundle with the host's static busybox, as the user: the floor. */
async function prepareFloor(base: string): Promise<{ bundle: string; root: string }> {
  const bundle = join(base, "floor");
  const rootfs = join(bundle, "rootfs");
  mkdirSync(join(rootfs, "bin"), { recursive: true });
  await must(["cp", "/bin/busybox", join(rootfs, "bin", "busybox")]);
  await must(["ln", "-s", "busybox", join(rootfs, "bin", "true")]);
  await must(["runc", "spec", "--rootless", "--bundle", bundle]);
  const cfgPath = join(bundle, "config.json");
  const cfg = JSON.parse(readFileSync(cfgPath, "utf8")) as { process: { args: string[]; terminal: boolean } };
  cfg.process.args = ["/bin/true"];
  cfg.process.terminal = false;
  writeFileSync(cfgPath, JSON.stringify(cfg));
  const root = join(base, "floor-state");
  mkdirSync(root, { recursive: true });
  return { bundle, root };
}

/**
 * `run --rm` and `run -d` again with crun for both tools, for information
 * (the targets are for runc): how much of each tool's time is the runtime's.
 * No crun floor: rootless crun started directly refuses this host's hybrid
 * cgroup layout (skiff runs it inside its own user namespace, with cgroups
 * disabled).
 */
async function crunRows(o: { busybox: string; env: Record<string, string>; podman: Podman }): Promise<void> {
  const { busybox, env, podman } = o;
  const rm = await sample({ runs: RUNS, measure: async () => void (await must([SKIFF, "run", "--runtime", "crun", "--network", "none", "--rm", busybox, "true"], { env })) });
  let id = "";
  const detached = (cmd: string[], e: Record<string, string>) => ({
    runs: RUNS,
    measure: async () => void (id = String((await must(cmd, { env: e })).stdout).trim()),
    cleanup: async () => void (await run(cmd[0] === SKIFF ? [SKIFF, "rm", "-f", id] : podman.cmd(["rm", "-f", "-t", "0", id], "root", "crun"), { env: e })),
  });
  const d = await sample(detached([SKIFF, "run", "--runtime", "crun", "--network", "none", "-d", busybox, "sleep", "1000"], env));
  let pd: number[] | undefined;
  let podmanError = "";
  if (podman.available) {
    try {
      pd = await sample(detached(podman.cmd(["run", "--network", "none", "--log-driver", "k8s-file", "-d", busybox, "sleep", "1000"], "root", "crun"), podman.env));
    } catch (e) {
      // Podman 4.3 runs rootless crun itself, which refuses a hybrid cgroup host.
      podmanError = (e instanceof Error ? e.message : String(e)).split("\n")[0]?.replace(/^.*exited \d+: /, "") ?? "";
    }
  }
  report(`the same with crun for both tools (information: the targets are for runc; medians of ${RUNS})`, [
    { name: "run --rm true", skiff: median(rm) },
    { name: "run -d", skiff: median(d), podman: pd && median(pd) },
  ]);
  if (podmanError) console.log(`podman with crun failed here: ${podmanError}`);
}

async function main(): Promise<void> {
  const base = benchDir("lifecycle");
  const reg = await startRegistry();
  const podman = new Podman(base);
  const env = skiffEnv(base);
  const rows: Row[] = [];
  const P = (args: string[]): Promise<unknown> => must(podman.cmd(args), { env: podman.env });
  try {
    const { busybox } = await publishBenchImages(reg.host);
    await must([SKIFF, "pull", "-q", busybox], { env });
    if (podman.available) await P(["pull", "-q", "--tls-verify=false", busybox]);
    const floor = await prepareFloor(base);
    const podmanRun = ["run", "--network", "none", "--log-driver", "k8s-file"];

    // run --rm true: the floor (raw runc run of a prepared bundle), skiff and Podman in turns
    const [floorRun, s1, p1] = (await sampleInTurns(
      [
        {
          measure: async (i) => void (await must(["runc", "--root", floor.root, "run", "--bundle", floor.bundle, `floor${i}`])),
          cleanup: async (i) => void (await run(["runc", "--root", floor.root, "delete", "-f", `floor${i}`])),
        },
        { measure: async () => void (await must([SKIFF, "run", "--network", "none", "--rm", busybox, "true"], { env })) },
        ...(podman.available ? [{ measure: async () => void (await P([...podmanRun, "--rm", busybox, "true"])) }] : []),
      ],
      { runs: RUNS },
    )) as [number[], number[], number[] | undefined];
    const floorMs = median(floorRun);
    rows.push({ name: "run --rm true", skiff: median(s1), podman: p1 && median(p1), floor: floorMs, target: { vsPodman: 0.4, vsFloor: 2 } });

    // run -d, the tools in turns
    const ids: string[] = [];
    const pids: string[] = [];
    const [s2, p2] = await sampleInTurns(
      [
        { measure: async () => void ids.push((await must([SKIFF, "run", "--network", "none", "-d", busybox, "sleep", "1000"], { env })).stdout.trim()) },
        ...(podman.available ? [{ measure: async () => void pids.push(String((await must(podman.cmd([...podmanRun, "-d", busybox, "sleep", "1000"]), { env: podman.env })).stdout).trim()) }] : []),
      ],
      { runs: RUNS },
    );
    rows.push({ name: "run -d", skiff: median(s2 as number[]), podman: p2 && median(p2), floor: floorMs, target: { vsPodman: 0.5 } });

    // exec true into a running container
    const target = ids[0] as string;
    const s3 = await sample({ runs: RUNS, measure: async () => void (await must([SKIFF, "exec", target, "true"], { env })) });
    const p3 = podman.available ? await sample({ runs: RUNS, measure: async () => void (await P(["exec", pids[0] as string, "true"])) }) : undefined;
    rows.push({ name: "exec true", skiff: median(s3), podman: p3 && median(p3), target: { vsPodman: 0.4 } });

    // ps with MANY running
    while (ids.length < MANY) ids.push((await must([SKIFF, "run", "--network", "none", "-d", busybox, "sleep", "1000"], { env })).stdout.trim());
    if (podman.available) while (pids.length < MANY) pids.push(String((await must(podman.cmd([...podmanRun, "-d", busybox, "sleep", "1000"]), { env: podman.env })).stdout).trim());
    const s4 = await sample({ runs: RUNS * 2, warmup: 3, measure: async () => void (await must([SKIFF, "ps"], { env })) });
    const p4 = podman.available ? await sample({ runs: RUNS * 2, warmup: 3, measure: async () => void (await P(["ps"])) }) : undefined;
    rows.push({ name: `ps (${MANY} running)`, skiff: median(s4), podman: p4 && median(p4), target: { vsPodman: 0.5 } });

    // memory of supervisors
    const shimMem = ids.map((id) => {
      const st = JSON.parse(readFileSync(join(env.SKIFF_ROOT as string, "containers", id, "state.json"), "utf8")) as { shimPid: number };
      return memory(st.shimPid);
    });
    const conmonMem: { rss: number; pss: number }[] = [];
    if (podman.available) {
      for (const id of pids) {
        const pid = Number(String((await must(podman.cmd(["inspect", "-f", "{{.State.ConmonPid}}", id]), { env: podman.env })).stdout).trim());
        conmonMem.push(memory(pid));
      }
    }
    const avg = (xs: { rss: number; pss: number }[], k: "rss" | "pss"): number => xs.reduce((a, b) => a + b[k], 0) / Math.max(1, xs.length) / 1024;
    rows.push({ name: `shim PSS (${MANY} running)`, skiff: avg(shimMem, "pss"), podman: podman.available ? avg(conmonMem, "pss") : undefined, unit: "MB", target: { ms: 6 } });
    rows.push({ name: `shim RSS (${MANY} running)`, skiff: avg(shimMem, "rss"), podman: podman.available ? avg(conmonMem, "rss") : undefined, unit: "MB" });

    // stop -t 0 and rm
    let k = 0;
    const s5 = await sample({ runs: RUNS, measure: async () => void (await must([SKIFF, "stop", "-t", "0", ids[k++] as string], { env })) });
    let j = 0;
    const p5 = podman.available ? await sample({ runs: RUNS, measure: async () => void (await P(["stop", "-t", "0", pids[j++] as string])) }) : undefined;
    rows.push({ name: "stop -t 0", skiff: median(s5), podman: p5 && median(p5), target: { vsPodman: 0.5 } });
    k = 0;
    const s6 = await sample({ runs: RUNS, measure: async () => void (await must([SKIFF, "rm", ids[k++] as string], { env })) });
    j = 0;
    const p6 = podman.available ? await sample({ runs: RUNS, measure: async () => void (await P(["rm", pids[j++] as string])) }) : undefined;
    rows.push({ name: "rm", skiff: median(s6), podman: p6 && median(p6), target: { vsPodman: 0.5 } });

    report(`lifecycle benchmark, rootless as ${process.env.USER ?? process.getuid?.()}, runc, no network (medians of ${RUNS})`, rows);
    console.log(`raw runc run true (floor): ${floorMs.toFixed(1)} ms`);
    if (Bun.which("crun")) await crunRows({ busybox, env, podman });
    if (!podman.available) console.log("podman not installed: run scripts/bench/lifecycle.sh as root to install it");
  } finally {
    await cleanUp({ env, podman, registry: reg, base });
  }
}

await main();

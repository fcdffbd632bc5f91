/**
 * Image-side benchmark (issue 2), rootless: pull busybox and the 3-layer
 * ~38 MB image into an empty store from a registry on loopback, `images` with
 * 50 images, and cold start of `skiff version`; each against Podman in the
 * same run. The 38 MB pull is measured again with both stores on tmpfs, which
 * takes the disk out of it. Run through scripts/bench/pull.sh.
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startRegistry } from "../../tests/helpers/registry.ts";
import { publishBenchImages } from "./fixtures.ts";
import { benchDir, must, Podman, report, run, sample, SKIFF, skiffEnv, wipeSkiff, type Row } from "./harness.ts";
import { median } from "./stats.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);

/** Pulls each image into an empty store, skiff then Podman; every sample starts after `sync`, so no earlier write-back is paid for. */
async function comparePulls(refs: { busybox?: string; big: string }, env: Record<string, string>, podman: Podman, where: string): Promise<Row[]> {
  const rows: Row[] = [];
  const cases: [string, string][] = [];
  if (refs.busybox) cases.push([`pull busybox (${where})`, refs.busybox]);
  cases.push([`pull 3-layer 38 MB (${where})`, refs.big]);
  const prepare = async (): Promise<void> => void (await run(["sync"]));
  for (const [label, ref] of cases) {
    const runs = label.includes("busybox") ? RUNS * 2 : RUNS;
    const s = await sample({
      runs,
      prepare,
      measure: async () => void (await must([SKIFF, "pull", "-q", ref], { env })),
      cleanup: async () => wipeSkiff(env),
    });
    let p: number[] | undefined;
    if (podman.available) {
      p = await sample({
        runs,
        prepare,
        measure: async () => void (await must(podman.cmd(["pull", "-q", "--tls-verify=false", ref]), { env: podman.env })),
        cleanup: async () => podman.wipe(),
      });
    }
    rows.push({ name: label, skiff: median(s), podman: p ? median(p) : undefined, target: { vsPodman: 0.5 } });
  }
  return rows;
}

async function main(): Promise<void> {
  const base = benchDir("pull");
  const reg = await startRegistry();
  const podman = new Podman(base);
  const rows: Row[] = [];
  try {
    const refs = await publishBenchImages(reg.host);
    const env = skiffEnv(base);
    rows.push(...(await comparePulls(refs, env, podman, "empty store")));
    // This VM's disk write-back makes file-heavy pulls vary 2-4x from run to
    // run; on tmpfs the same pulls show the work each tool itself does.
    const shm = existsSync("/dev/shm") ? mkdtempSync("/dev/shm/skiff-bench-pull-") : undefined;
    if (shm) {
      const shmPodman = new Podman(shm);
      try {
        rows.push(...(await comparePulls({ big: refs.big }, skiffEnv(shm), shmPodman, "store on tmpfs")));
      } finally {
        await wipeSkiff(skiffEnv(shm));
        if (shmPodman.available) await shmPodman.wipe();
        await shmPodman.stopPause();
        await run(["rm", "-rf", shm]);
      }
    }

    // `images` with 50 images: 50 imports of tiny distinct root filesystems.
    const tarDir = join(base, "tars");
    mkdirSync(tarDir, { recursive: true });
    for (let i = 0; i < 50; i++) {
      const dir = join(tarDir, `r${i}`);
      mkdirSync(join(dir, "etc"), { recursive: true });
      writeFileSync(join(dir, "etc", "id"), `image ${i}\n`);
      await must(["tar", "-C", dir, "-cf", join(tarDir, `r${i}.tar`), "."]);
    }
    for (let i = 0; i < 50; i++) {
      await must([SKIFF, "import", join(tarDir, `r${i}.tar`), `bench/img${i}:latest`], { env });
      if (podman.available) await must(podman.cmd(["import", "-q", join(tarDir, `r${i}.tar`), `bench/img${i}:latest`]), { env: podman.env });
    }
    const si = await sample({ runs: 20, warmup: 3, measure: async () => void (await must([SKIFF, "images"], { env })) });
    const pi = podman.available ? await sample({ runs: 20, warmup: 3, measure: async () => void (await must(podman.cmd(["images"]), { env: podman.env })) }) : undefined;
    rows.push({ name: "images (50 images)", skiff: median(si), podman: pi ? median(pi) : undefined, target: { vsPodman: 0.5 } });

    const sv = await sample({ runs: 30, warmup: 5, measure: async () => void (await run([SKIFF, "version"])) });
    const pv = podman.available ? await sample({ runs: 30, warmup: 5, measure: async () => void (await run(["podman", "version"], { env: podman.env })) }) : undefined;
    rows.push({ name: "version (cold start)", skiff: median(sv), podman: pv ? median(pv) : undefined, target: { ms: 15 } });

    report(`pull benchmark, rootless as ${process.env.USER ?? process.getuid?.()} (medians; ${RUNS} runs per pull)`, rows);
    if (!podman.available) console.log("podman not installed: run scripts/bench/pull.sh as root to install it");
    await wipeSkiff(env);
    if (podman.available) await podman.wipe();
  } finally {
    await podman.stopPause();
    await reg.stop();
    await run(["rm", "-rf", base]);
  }
}

await main();

/**
 * Docker API service benchmark (issue 5), rootless: `skiff system service`
 * against `podman system service` on the same machine in the same run, each
 * with 10 busybox containers running. For GET /containers/json, GET
 * /version and GET /_ping (Docker API v1.41, which both speak) a
 * closed-loop client (./load.ts: 10 connections, BENCH_SECONDS each)
 * measures the request rate and the p99 latency.
 *
 * Targets (issue 5): at least 5x Podman's request rate on /containers/json
 * and /version (shown as time per request, 1/rate, so lower is better:
 * <= 0.2x Podman's), p99 under 20 ms; /_ping's rate is shown for
 * orientation (both answer it from memory).
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { busyboxImage, pushLayout, writeImageLayout } from "../../tests/helpers/images.ts";
import { startRegistry } from "../../tests/helpers/registry.ts";
import { benchDir, must, Podman, report, SKIFF, skiffEnv, type Row } from "./harness.ts";
import { cleanUp } from "./harness.ts";
import { load, type LoadResult } from "./load.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 10);
const RUNNING = 10;
const PATHS = ["/v1.41/containers/json", "/v1.41/version", "/_ping"] as const;

async function waitForSocket(path: string, proc: ReturnType<typeof Bun.spawn>, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${what} exited with ${proc.exitCode}`);
    try {
      const res = await fetch("http://localhost/_ping", { unix: path } as RequestInit);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not yet
    }
    await Bun.sleep(100);
  }
  throw new Error(`${what} did not answer on ${path}`);
}

async function measure(socket: string): Promise<Map<string, LoadResult>> {
  const out = new Map<string, LoadResult>();
  for (const p of PATHS) out.set(p, await load(socket, p, { concurrency: CONCURRENCY, seconds: SECONDS }));
  return out;
}

function stop(proc: ReturnType<typeof Bun.spawn> | undefined): Promise<unknown> {
  if (!proc || proc.exitCode !== null) return Promise.resolve();
  proc.kill("SIGTERM");
  return Promise.race([proc.exited, Bun.sleep(5000).then(() => proc.kill("SIGKILL"))]);
}

async function main(): Promise<void> {
  const base = benchDir("api");
  const reg = await startRegistry();
  const podman = new Podman(base);
  const env = skiffEnv(base);
  let skiffService: ReturnType<typeof Bun.spawn> | undefined;
  let podmanService: ReturnType<typeof Bun.spawn> | undefined;
  try {
    const layout = mkdtempSync(join(tmpdir(), "skiff-bench-api-layout-"));
    await writeImageLayout(layout, [{ tag: "v1", spec: busyboxImage() }]);
    await pushLayout(layout, `${reg.host}/busybox:v1`, { tag: "v1" });
    rmSync(layout, { recursive: true, force: true });
    const busybox = `${reg.host}/busybox:v1`;

    await must([SKIFF, "pull", "-q", busybox], { env });
    for (let i = 0; i < RUNNING; i++) await must([SKIFF, "run", "-d", busybox, "sleep", "100000"], { env });
    const sockDir = join(base, "sockets");
    mkdirSync(sockDir, { mode: 0o700 });
    const skiffSock = join(sockDir, "skiff.sock");
    skiffService = Bun.spawn([SKIFF, "system", "service", `unix://${skiffSock}`], { env: { ...process.env, ...env }, stdout: "ignore", stderr: "ignore" });
    await waitForSocket(skiffSock, skiffService, "skiff system service");
    const skiff = await measure(skiffSock);

    let pod: Map<string, LoadResult> | undefined;
    if (podman.available) {
      await must(podman.cmd(["pull", "-q", "--tls-verify=false", busybox]), { env: podman.env });
      for (let i = 0; i < RUNNING; i++) await must(podman.cmd(["run", "-d", "--network", "none", "--log-driver", "k8s-file", busybox, "sleep", "100000"]), { env: podman.env });
      const podmanSock = join(sockDir, "podman.sock");
      podmanService = Bun.spawn(podman.cmd(["system", "service", "--time", "0", `unix://${podmanSock}`]), { env: { ...process.env, ...podman.env }, stdout: "ignore", stderr: "ignore" });
      await waitForSocket(podmanSock, podmanService, "podman system service");
      pod = await measure(podmanSock);
    }

    const rows: Row[] = [];
    const names: Record<string, string> = { "/v1.41/containers/json": `GET /containers/json (${RUNNING} running)`, "/v1.41/version": "GET /version", "/_ping": "GET /_ping" };
    for (const p of PATHS) {
      const s = skiff.get(p) as LoadResult;
      const q = pod?.get(p);
      // The 5x target is for the endpoints that do work; /_ping is measured for orientation.
      const target = p === "/_ping" ? undefined : { vsPodman: 0.2 };
      rows.push({ name: `${names[p]}: time per request (1/rate)`, skiff: 1000 / s.rate, podman: q ? 1000 / q.rate : undefined, target });
      rows.push({ name: `${names[p]}: p99 latency`, skiff: s.p99, podman: q?.p99, target: { ms: 20 } });
    }
    report(`API service benchmark, rootless as ${process.env.USER ?? process.getuid?.()}, ${CONCURRENCY} clients, ${SECONDS} s per measure`, rows);
    console.log("\nrequest rates (requests/s; errors):");
    for (const p of PATHS) {
      const s = skiff.get(p) as LoadResult;
      const q = pod?.get(p);
      const ratio = q ? ` -> ${(s.rate / q.rate).toFixed(1)}x` : "";
      console.log(`  ${names[p]}: skiff ${s.rate.toFixed(0)} (${s.errors}), podman ${q ? `${q.rate.toFixed(1)} (${q.errors})` : "-"}${ratio}; p50 skiff ${s.p50.toFixed(2)} ms, podman ${q ? q.p50.toFixed(2) : "-"} ms`);
    }
    if (!podman.available) console.log("podman not installed: run scripts/bench/api.sh as root to install it");
  } finally {
    await stop(skiffService);
    await stop(podmanService);
    await cleanUp({ env, podman, registry: reg, base });
  }
}

await main();

/**
 * The `skiff system service` process itself: where it listens by default,
 * what it refuses, the idle timeout, a clean stop (socket removed,
 * containers left running), TCP only with a warning, and no descriptors
 * leaked by clients that come and go. Runs as root and as an unprivileged
 * user (without XDG_RUNTIME_DIR, as after su).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { apiFetch, apiJson, hijack, jsonInit } from "../helpers/docker-api.ts";
import { busyboxImage, dockerArchive } from "../helpers/images.ts";
import { freePort } from "../helpers/registry.ts";
import { binaryMissingReason, makeSkiffEnv, SKIFF_BIN, skiffProcessEnv, type SkiffEnv } from "../helpers/skiff.ts";

const skip = binaryMissingReason();
if (skip) console.warn(`skipping API service tests: ${skip}`);
const isRoot = process.getuid?.() === 0;

let env: SkiffEnv;
let base: string;
const services: ReturnType<typeof Bun.spawn>[] = [];

function serviceEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { ...skiffProcessEnv(env, { runtimeDir: false }), ...extra };
}

interface Service {
  proc: ReturnType<typeof Bun.spawn>;
  stderr: () => string;
}

function spawnService(args: string[], extra: Record<string, string> = {}): Service {
  const proc = Bun.spawn([SKIFF_BIN, "system", "service", ...args], { env: serviceEnv(extra), stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  services.push(proc);
  let text = "";
  void (async () => {
    for await (const c of proc.stderr as ReadableStream<Uint8Array>) text += new TextDecoder().decode(c);
  })();
  return { proc, stderr: () => text };
}

async function until(pred: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await pred()) return;
    await Bun.sleep(25);
  }
  throw new Error("condition not met in time");
}

async function answers(sock: string): Promise<boolean> {
  try {
    return (await apiFetch(sock, "/_ping")).ok;
  } catch {
    return false;
  }
}

function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}

describe.skipIf(skip !== undefined)("skiff system service (the process)", () => {
  beforeAll(async () => {
    env = makeSkiffEnv("skiff-api-svc");
    base = dirname(env.root);
    // A runnable image without a registry: load a docker archive of busybox.
    const tar = await dockerArchive(busyboxImage(), "busybox:svc");
    await env.ok(["load"], { stdin: tar });
  });

  afterAll(async () => {
    for (const p of services) if (p.exitCode === null) p.kill("SIGKILL");
    const left = (await env.run(["ps", "-aq"])).stdout.trim().split("\n").filter(Boolean);
    if (left.length > 0) await env.run(["rm", "-f", ...left]);
    await env.cleanup();
  });

  test.skipIf(isRoot)("rootless without XDG_RUNTIME_DIR the default socket is in the run root", async () => {
    const sock = join(env.runRoot, "skiff.sock");
    const s = spawnService([]);
    await until(() => answers(sock));
    expect(s.stderr()).toContain(`listening on unix://${sock}`);
    s.proc.kill("SIGTERM");
    expect(await s.proc.exited).toBe(0);
    expect(existsSync(sock)).toBe(false);
  });

  test("a socket whose directory others can write to is refused", async () => {
    const open = join(base, "open");
    mkdirSync(open);
    chmodSync(open, 0o777);
    const s = spawnService([`unix://${join(open, "s.sock")}`]);
    expect(await s.proc.exited).toBe(125);
    expect(s.stderr()).toContain("writable by other users");
  });

  test("a socket in a directory owned by someone else is refused", async () => {
    const dir = isRoot ? join(base, "other") : "/";
    if (isRoot) {
      mkdirSync(dir);
      Bun.spawnSync(["chown", "65534", dir]);
    }
    const s = spawnService([`unix://${join(dir, "s.sock")}`]);
    expect(await s.proc.exited).toBe(125);
    expect(s.stderr()).toMatch(/belongs to uid|refusing/);
  });

  test("--time: exits after the idle timeout and removes its socket", async () => {
    const sock = join(base, "idle.sock");
    const s = spawnService([`unix://${sock}`, "--time", "1"]);
    await until(() => answers(sock));
    const t0 = Date.now();
    expect(await s.proc.exited).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(700);
    expect(existsSync(sock)).toBe(false);
  });

  test("--time does not end a service while a stream is open", async () => {
    const sock = join(base, "busy.sock");
    const s = spawnService([`unix://${sock}`, "--time", "1"]);
    await until(() => answers(sock));
    const ctrl = new AbortController();
    const events = await apiFetch(sock, "/events", { signal: ctrl.signal });
    expect(events.status).toBe(200);
    // Keep reading: an unread response may be collected, which closes the connection.
    const reader = events.body?.getReader();
    const pending = reader?.read().catch(() => undefined);
    await Bun.sleep(2000);
    expect(s.proc.exitCode).toBeNull();
    ctrl.abort();
    await pending;
    expect(await s.proc.exited).toBe(0);
  });

  test("tcp only when asked, with a warning", async () => {
    const port = await freePort();
    const s = spawnService([`tcp://127.0.0.1:${port}`]);
    await until(async () => {
      try {
        return (await fetch(`http://127.0.0.1:${port}/_ping`)).ok;
      } catch {
        return false;
      }
    });
    expect(s.stderr()).toContain("WARNING");
    expect(s.stderr()).toContain("without TLS");
    s.proc.kill("SIGTERM");
    expect(await s.proc.exited).toBe(0);
  });

  test("stopping the service leaves containers running; no descriptors leak", async () => {
    const sock = join(base, "fd.sock");
    const s = spawnService([`unix://${sock}`]);
    await until(() => answers(sock));
    const create = await apiJson<{ Id: string }>(sock, "/v1.44/containers/create?name=outlives", jsonInit("POST", { Image: "busybox:svc", Cmd: ["sleep", "300"], HostConfig: { NetworkMode: "none" } }));
    expect(create.status).toBe(201);
    const id = create.body.Id;
    expect((await apiFetch(sock, `/v1.44/containers/${id}/start`, { method: "POST" })).status).toBe(204);
    const pid = s.proc.pid;
    // Warm up every path once, then count.
    const round = async (): Promise<void> => {
      for (let i = 0; i < 5; i++) {
        const ctrl = new AbortController();
        const res = await apiFetch(sock, `/v1.44/containers/${id}/logs?follow=1&stdout=1`, { signal: ctrl.signal });
        ctrl.abort();
        await res.body?.cancel().catch(() => undefined);
        const conn = await hijack(sock, { path: `/v1.44/containers/${id}/attach?stream=1&stdout=1` });
        conn.close();
        const ex = await apiJson<{ Id: string }>(sock, `/v1.44/containers/${id}/exec`, jsonInit("POST", { Cmd: ["true"], AttachStdout: true }));
        const run = await hijack(sock, { path: `/v1.44/exec/${ex.body.Id}/start`, body: "{}" });
        await Promise.race([run.closed, Bun.sleep(5000)]);
        await Promise.all(Array.from({ length: 20 }, () => apiFetch(sock, "/v1.44/containers/json").then((r) => r.arrayBuffer())));
      }
      await Bun.sleep(500);
    };
    await round();
    const before = openFds(pid);
    await round();
    await round();
    const after = openFds(pid);
    expect(before).toBeGreaterThan(0);
    expect(after - before).toBeLessThanOrEqual(4);
    s.proc.kill("SIGTERM");
    expect(await s.proc.exited).toBe(0);
    expect(existsSync(sock)).toBe(false);
    expect((await env.ok(["inspect", "-f", "{{.State.Running}}", "outlives"])).trim()).toBe("true");
    await env.ok(["rm", "-f", "outlives"]);
  });

  test("system service --help documents the default and --time", async () => {
    const r = await env.run(["system", "service", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("--time");
    expect(r.stdout).toContain("skiff.sock");
  });
});

afterAll(() => {
  if (base && existsSync(join(base, "other"))) rmSync(join(base, "other"), { recursive: true, force: true });
});

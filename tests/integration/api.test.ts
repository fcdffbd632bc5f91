/**
 * `skiff system service` end to end: the compiled binary serves the Docker
 * Engine API on a private unix socket with an isolated store; requests over
 * the real socket pin Docker's exact semantics (101 upgrade and stream
 * framing, wait ordering, error shapes, version negotiation), and the real
 * `docker` CLI drives it for the everyday verbs. Runs as root and as an
 * unprivileged user; every container, the service and the registry are
 * cleaned up by id.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { MuxDecoder } from "../../lib/api/frames.ts";
import { API_VERSION } from "../../lib/version.ts";
import { apiFetch, apiJson, DOCKER_CLI, dockerMissingReason, hijack, jsonInit, runDocker, type CliResult } from "../helpers/docker-api.ts";
import { busyboxImage, pushLayout, writeImageLayout } from "../helpers/images.ts";
import { freePort, registrySkipReason, startRegistry, type TestRegistry } from "../helpers/registry.ts";
import { binaryMissingReason, makeSkiffEnv, SKIFF_BIN, type SkiffEnv } from "../helpers/skiff.ts";

const skip = binaryMissingReason() ?? registrySkipReason() ?? dockerMissingReason();
if (skip) console.warn(`skipping API tests: ${skip}`);

const V = `/v${API_VERSION}`;
let reg: TestRegistry;
let env: SkiffEnv;
let base: string;
let sock: string;
let IMG: string;
let service: ReturnType<typeof Bun.spawn> | undefined;
let serviceLog = "";
let dockerEnv: Record<string, string>;
const created = new Set<string>();

/** `run`/`create` get NET unless the test picks a network itself. */
function withNet(args: string[]): string[] {
  if ((args[0] !== "run" && args[0] !== "create") || args.some((a) => a === "--network" || a.startsWith("--network="))) return args;
  return [args[0], ...NET, ...args.slice(1)];
}

function docker(args: string[], opts: { stdin?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return runDocker(withNet(args), dockerEnv, opts);
}

async function dockerOk(args: string[], opts: { stdin?: string } = {}): Promise<string> {
  const r = await docker(args, opts);
  if (r.code !== 0) throw new Error(`docker ${args.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Creates a container through the API; remembered for cleanup. */
async function createContainer(body: Record<string, unknown>, name?: string): Promise<string> {
  const hostConfig = { ...(NET_BODY.HostConfig ?? {}), ...((body.HostConfig as Record<string, unknown> | undefined) ?? {}) };
  const r = await apiJson<{ Id: string }>(sock, `${V}/containers/create${name ? `?name=${name}` : ""}`, jsonInit("POST", { Image: IMG, ...body, HostConfig: hostConfig }));
  if (r.status !== 201) throw new Error(`create: ${r.status} ${JSON.stringify(r.body)}`);
  created.add(r.body.Id);
  return r.body.Id;
}

async function waitFor(pred: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await pred()) return;
    await Bun.sleep(50);
  }
  throw new Error("condition not met in time");
}

/**
 * A user network's helper (and its pasta) exit on their own 10 s after the
 * last container left; deleting the store first would orphan them, so stop
 * the ones this run started, by the pids they recorded.
 */
function stopNetworkHelpers(): void {
  const dir = join(env?.runRoot ?? "/nonexistent", "networks");
  if (!existsSync(dir)) return;
  for (const net of readdirSync(dir)) {
    for (const [file, key] of [["helper.json", "pid"], ["pasta.pid", ""]] as const) {
      try {
        const text = readFileSync(join(dir, net, file), "utf8").trim();
        const pid = key ? Number((JSON.parse(text) as Record<string, unknown>)[key]) : Number(text);
        if (pid > 0) process.kill(pid, "SIGTERM");
      } catch {
        // not there, or gone already
      }
    }
  }
}

async function startService(): Promise<void> {
  const p = Bun.spawn([SKIFF_BIN, "system", "service", `unix://${sock}`], {
    env: {
      PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
      HOME: env.home,
      LANG: "C.UTF-8",
      SKIFF_ROOT: env.root,
      SKIFF_RUNROOT: env.runRoot,
      ...(process.env.XDG_RUNTIME_DIR ? { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR } : {}),
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  service = p;
  void (async () => {
    for await (const c of p.stderr as ReadableStream<Uint8Array>) serviceLog += new TextDecoder().decode(c);
  })();
  await waitFor(async () => {
    if (p.exitCode !== null) throw new Error(`service exited ${p.exitCode}: ${serviceLog}`);
    try {
      return (await apiFetch(sock, "/_ping")).ok;
    } catch {
      return false;
    }
  });
}

/** Registry, image and store, made before the tests are declared so the network probe can decide what to skip. */
async function prepare(): Promise<void> {
  reg = await startRegistry();
  const layout = mkdtempSync(join(tmpdir(), "skiff-api-layout-"));
  try {
    await writeImageLayout(layout, [{ tag: "v1", spec: busyboxImage() }]);
    await pushLayout(layout, `${reg.host}/busybox:v1`, { tag: "v1" });
  } finally {
    rmSync(layout, { recursive: true, force: true });
  }
  IMG = `${reg.host}/busybox:v1`;
  env = makeSkiffEnv("skiff-api");
  base = dirname(env.root);
  sock = join(base, "s.sock");
  mkdirSync(join(base, "docker-config"), { mode: 0o700 });
  dockerEnv = {
    PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: env.home,
    DOCKER_HOST: `unix://${sock}`,
    DOCKER_CONFIG: join(base, "docker-config"),
  };
}

/** Why containers cannot use the default network here (then the other tests use --network none). */
async function networkProbe(): Promise<string | undefined> {
  await env.ok(["pull", "-q", IMG]);
  const r = await env.run(["run", "--rm", IMG, "true"]);
  await env.ok(["rmi", IMG]);
  if (r.code === 0) return undefined;
  return `default container networking fails for this user (skiff run: ${r.stderr.trim().split("\n").pop()})`;
}

if (!skip) await prepare();
const netSkip = skip ? undefined : await networkProbe();
if (netSkip) console.warn(`API tests: ${netSkip}; containers use --network none and the network tests skip`);
/** Extra `docker run` flags and create-body settings for tests that are not about networking. */
const NET = netSkip ? ["--network", "none"] : [];
const NET_BODY = netSkip ? { HostConfig: { NetworkMode: "none" } } : {};

describe.skipIf(skip !== undefined)("skiff system service", () => {
  beforeAll(async () => {
    await startService();
  });

  afterAll(async () => {
    if (service && service.exitCode === null) {
      for (const id of created) await apiFetch(sock, `${V}/containers/${id}?force=1&v=1`, { method: "DELETE" }).catch(() => undefined);
      await apiFetch(sock, `${V}/networks/apinet`, { method: "DELETE" }).catch(() => undefined);
      service.kill("SIGTERM");
      await Promise.race([service.exited, Bun.sleep(5000)]);
      if (service.exitCode === null) service.kill("SIGKILL");
    }
    stopNetworkHelpers();
    await reg?.stop();
    await env?.cleanup();
  });

  describe("socket and negotiation", () => {
    test("the socket is 0600 in a private directory", () => {
      const st = statSync(sock);
      expect(st.isSocket()).toBe(true);
      expect(st.mode & 0o777).toBe(0o600);
      expect(statSync(base).mode & 0o077).toBe(0);
    });

    test("a second service on the same socket is refused", async () => {
      const r = Bun.spawnSync([SKIFF_BIN, "system", "service", `unix://${sock}`], {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: env.home, SKIFF_ROOT: env.root, SKIFF_RUNROOT: env.runRoot },
        stderr: "pipe",
        timeout: 20_000,
      });
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr.toString()).toContain("another service is listening");
    });

    test("GET and HEAD /_ping carry the negotiation headers", async () => {
      for (const method of ["GET", "HEAD"]) {
        const res = await apiFetch(sock, "/_ping", { method });
        expect(res.status).toBe(200);
        expect(res.headers.get("api-version")).toBe(API_VERSION);
        expect(res.headers.get("ostype")).toBe("linux");
        expect(res.headers.get("builder-version")).toBe("1");
        expect(await res.text()).toBe(method === "GET" ? "OK" : "");
      }
    });

    test("versioned paths: ours and older work, newer is 400 with Docker's message", async () => {
      expect((await apiFetch(sock, "/v1.24/version")).status).toBe(200);
      expect((await apiFetch(sock, "/version")).status).toBe(200);
      const r = await apiJson(sock, "/v1.99/version");
      expect(r.status).toBe(400);
      expect(r.body).toEqual({ message: `client version 1.99 is too new. Maximum supported API version is ${API_VERSION}` });
    });

    test("docker version negotiates down to our API version", async () => {
      const out = await dockerOk(["version"]);
      expect(out).toContain("Server: skiff");
      expect(out).toMatch(new RegExp(`API version:\\s+${API_VERSION.replace(".", "\\.")} \\(downgraded from`));
    });

    test("docker info", async () => {
      const out = await dockerOk(["info", "--format", "{{.OSType}} {{.Driver}} {{.LoggingDriver}}"]);
      expect(out.trim()).toMatch(/^linux \S+ json-file$/);
    });
  });

  describe("images", () => {
    test("docker pull from the local registry streams progress", async () => {
      const r = await docker(["pull", IMG]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("Pulling from busybox");
      expect(r.stdout).toContain("Digest: sha256:");
      expect(r.stdout).toContain(`Status: Downloaded newer image for ${IMG}`);
      const again = await dockerOk(["pull", IMG]);
      expect(again).toContain("Image is up to date");
    });

    test("a missing image: pull fails, create is 404 so the CLI pulls first", async () => {
      const missing = `${reg.host}/nosuch:1`;
      const pull = await docker(["pull", missing]);
      expect(pull.code).not.toBe(0);
      expect(pull.stderr).toContain("manifest unknown");
      const res = await apiJson(sock, `${V}/containers/create`, jsonInit("POST", { Image: missing }));
      expect(res.status).toBe(404);
      expect(typeof res.body.message).toBe("string");
      const run = await docker(["run", "--rm", missing, "true"]);
      expect(run.code).toBe(125);
      expect(run.stderr).toContain(`Unable to find image '${missing}' locally`);
    });

    test("images, inspect, history, tag, rmi", async () => {
      const tagged = `${reg.host}/tagged:x`;
      await dockerOk(["tag", IMG, tagged]);
      expect(await dockerOk(["images", "--format", "{{.Repository}}:{{.Tag}}"])).toContain(tagged);
      const id = (await dockerOk(["image", "inspect", "-f", "{{.Id}}", tagged])).trim();
      expect(id).toMatch(/^sha256:[a-f0-9]{64}$/);
      expect(await dockerOk(["history", "-q", IMG])).toContain(id.slice(7, 19));
      const rmi = await dockerOk(["rmi", tagged]);
      expect(rmi).toContain(`Untagged: ${tagged}`);
      const missing = await docker(["image", "inspect", tagged]);
      expect(missing.code).not.toBe(0);
    });

    test("push to the registry", async () => {
      const target = `${reg.host}/pushed:1`;
      await dockerOk(["tag", IMG, target]);
      const out = await dockerOk(["push", target]);
      expect(out).toContain(`The push refers to repository [${reg.host}/pushed]`);
      expect(out).toMatch(/1: digest: sha256:[a-f0-9]{64} size: \d+/);
      const res = await fetch(`${reg.url}/v2/pushed/tags/list`);
      expect(((await res.json()) as { tags: string[] }).tags).toContain("1");
    });

    test("save and load", async () => {
      const tar = join(base, "saved.tar");
      await dockerOk(["save", "-o", tar, IMG]);
      expect(statSync(tar).size).toBeGreaterThan(100_000);
      await dockerOk(["rmi", IMG]);
      const out = await dockerOk(["load", "-i", tar]);
      expect(out).toContain(`Loaded image: ${IMG}`);
      expect(await dockerOk(["images", "-q", IMG])).not.toBe("");
    });

    test("import from a tarball (fromSrc)", async () => {
      const root = join(base, "import-root");
      mkdirSync(join(root, "etc"), { recursive: true });
      writeFileSync(join(root, "etc", "release"), "imported\n");
      const tarPath = join(base, "import.tar");
      expect(Bun.spawnSync(["tar", "-C", root, "-cf", tarPath, "."]).exitCode).toBe(0);
      const out = await dockerOk(["import", tarPath, "imported:1"]);
      expect(out.trim()).toMatch(/^sha256:[a-f0-9]{64}$/);
      expect(await dockerOk(["images", "-q", "imported:1"])).not.toBe("");
      await dockerOk(["rmi", "imported:1"]);
    });
  });

  describe("running containers with the docker CLI", () => {
    test("run --rm echo: output and exit 0, container gone", async () => {
      const r = await docker(["run", "--rm", "--name", "rm-echo", IMG, "echo", "hi"]);
      expect(r).toMatchObject({ code: 0, stdout: "hi\n" });
      expect((await docker(["inspect", "rm-echo"])).code).not.toBe(0);
    });

    test("exit codes pass through, with and without --rm", async () => {
      expect((await docker(["run", "--rm", IMG, "sh", "-c", "exit 3"])).code).toBe(3);
      const r = await docker(["run", "--name", "exit-4", IMG, "sh", "-c", "echo out; echo err >&2; exit 4"]);
      expect(r).toMatchObject({ code: 4, stdout: "out\n", stderr: "err\n" });
      await dockerOk(["rm", "exit-4"]);
    });

    test("seccomp: the default filter, a profile file the docker CLI sends as JSON, unconfined", async () => {
      const userns = ["busybox", "unshare", "-U", "true"];
      const denied = await docker(["run", "--rm", IMG, ...userns]);
      expect(denied.code).toBe(1);
      expect(denied.stderr).toContain("Operation not permitted");
      expect((await docker(["run", "--rm", "--security-opt", "seccomp=unconfined", IMG, ...userns])).code).toBe(0);
      const profile = join(base, "no-mkdir.json");
      writeFileSync(profile, JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1 }] }));
      const r = await docker(["run", "--rm", "--security-opt", `seccomp=${profile}`, IMG, "busybox", "mkdir", "/tmp/x"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("Operation not permitted");
      writeFileSync(profile, JSON.stringify({ defaultAction: "ALLOW" }));
      const bad = await docker(["run", "--rm", "--security-opt", `seccomp=${profile}`, IMG, "true"]);
      expect(bad.code).toBe(125);
      expect(bad.stderr).toContain("defaultAction");
    });

    test("a missing command exits 127, with and without --rm", async () => {
      const a = await docker(["run", "--rm", IMG, "nosuchcommand"]);
      expect(a.code).toBe(127);
      expect(a.stderr).toContain("executable file not found");
      const b = await docker(["run", "--name", "no-cmd", IMG, "nosuchcommand"]);
      expect(b.code).toBe(127);
      await dockerOk(["rm", "no-cmd"]);
    });

    test("run -d, ps, logs -f until the container stops", async () => {
      const id = (await dockerOk(["run", "-d", "--name", "ticker", IMG, "sh", "-c", "for i in 1 2 3; do echo tick $i; sleep 1; done"])).trim();
      created.add(id);
      expect(id).toMatch(/^[a-f0-9]{64}$/);
      const ps = await dockerOk(["ps", "--format", "{{.Names}} {{.Status}}"]);
      expect(ps).toMatch(/ticker Up/);
      const logs = await docker(["logs", "-f", "ticker"], { timeoutMs: 20_000 });
      expect(logs.stdout).toBe("tick 1\ntick 2\ntick 3\n");
      expect(await dockerOk(["ps", "-a", "--filter", "name=ticker", "--format", "{{.Status}}"])).toMatch(/^Exited \(0\)/);
      expect((await dockerOk(["logs", "--tail", "1", "ticker"])).trim()).toBe("tick 3");
      await dockerOk(["rm", "ticker"]);
    });

    test("exec with and without -i; the exit code comes from exec inspect", async () => {
      const id = (await dockerOk(["run", "-d", "--name", "execd", IMG, "sleep", "300"])).trim();
      created.add(id);
      expect(await dockerOk(["exec", "execd", "echo", "from exec"])).toBe("from exec\n");
      expect(await dockerOk(["exec", "-i", "execd", "sh", "-c", "cat; echo end"], { stdin: "piped\n" })).toBe("piped\nend\n");
      expect((await docker(["exec", "execd", "sh", "-c", "exit 7"])).code).toBe(7);
      expect((await docker(["exec", "execd", "nosuchcommand"])).code).toBe(127);
      expect((await docker(["exec", "-e", "A=b", "-w", "/tmp", "execd", "sh", "-c", "echo $A $(pwd)"])).stdout).toBe("b /tmp\n");
      await dockerOk(["rm", "-f", "execd"]);
    });

    test("run -it and exec -it under a pty", async () => {
      const runTerminal = async (args: string[], input: string[]): Promise<{ out: string; code: number }> => {
        let out = "";
        const p = Bun.spawn([DOCKER_CLI, ...withNet(args)], {
          env: dockerEnv,
          terminal: { cols: 100, rows: 30, data: (_t, d) => void (out += new TextDecoder().decode(d)) },
        });
        await waitFor(async () => out.includes("# "), 20_000);
        for (const line of input) {
          p.terminal?.write(`${line}\r`);
          await Bun.sleep(300);
        }
        const code = await Promise.race([p.exited, Bun.sleep(20_000).then(() => -1)]);
        if (code === -1) p.kill("SIGKILL");
        return { out, code };
      };
      const run = await runTerminal(["run", "-it", "--rm", IMG, "sh"], ["tty; stty size; echo m-$((6*7))", "exit 5"]);
      expect(run.code).toBe(5);
      expect(run.out).toContain("/dev/pts/");
      expect(run.out).toContain("30 100");
      expect(run.out).toContain("m-42");
      const id = (await dockerOk(["run", "-d", "--name", "ttyexec", IMG, "sleep", "300"])).trim();
      created.add(id);
      const ex = await runTerminal(["exec", "-it", "ttyexec", "sh"], ["stty size; echo e-$((6*7))", "exit 6"]);
      expect(ex.code).toBe(6);
      expect(ex.out).toContain("30 100");
      expect(ex.out).toContain("e-42");
      await dockerOk(["rm", "-f", "ttyexec"]);
    });

    test("stop, start, restart, kill, rm and their errors", async () => {
      const id = (await dockerOk(["run", "-d", "--name", "life", IMG, "sleep", "300"])).trim();
      created.add(id);
      const rmRunning = await docker(["rm", "life"]);
      expect(rmRunning.code).not.toBe(0);
      expect(rmRunning.stderr).toContain("container is running");
      await dockerOk(["stop", "-t", "1", "life"]);
      expect(await dockerOk(["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "life"])).toBe("exited 137\n");
      const kill = await docker(["kill", "life"]);
      expect(kill.code).not.toBe(0);
      expect(kill.stderr).toContain("is not running");
      await dockerOk(["start", "life"]);
      await dockerOk(["restart", "-t", "0", "life"]);
      expect((await dockerOk(["inspect", "-f", "{{.State.Running}}", "life"])).trim()).toBe("true");
      await dockerOk(["kill", "life"]);
      await waitFor(async () => (await dockerOk(["inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", "life"])).trim() === "false 137");
      await dockerOk(["rm", "-f", "life"]);
      expect((await docker(["inspect", "life"])).code).not.toBe(0);
      const missing = await docker(["rm", "nosuch"]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain("no such container");
    });

    test("bind mounts both ways", async () => {
      const dir = join(base, "bind");
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "in.txt"), "from host\n");
      if (process.getuid?.() !== 0) Bun.spawnSync(["chmod", "0777", dir]);
      expect(await dockerOk(["run", "--rm", "-v", `${dir}:/data`, IMG, "cat", "/data/in.txt"])).toBe("from host\n");
      await dockerOk(["run", "--rm", "--mount", `type=bind,source=${dir},target=/data`, IMG, "sh", "-c", "echo from container > /data/out.txt"]);
      expect(readFileSync(join(dir, "out.txt"), "utf8")).toBe("from container\n");
      const ro = await docker(["run", "--rm", "-v", `${dir}:/data:ro`, IMG, "sh", "-c", "echo x > /data/x"]);
      expect(ro.code).not.toBe(0);
    });

    test("cp both ways, and a missing path", async () => {
      const id = (await dockerOk(["run", "-d", "--name", "cpd", IMG, "sleep", "300"])).trim();
      created.add(id);
      const src = join(base, "cp-in.txt");
      writeFileSync(src, "copied in\n");
      await dockerOk(["cp", src, "cpd:/tmp/"]);
      expect(await dockerOk(["exec", "cpd", "cat", "/tmp/cp-in.txt"])).toBe("copied in\n");
      await dockerOk(["exec", "cpd", "sh", "-c", "mkdir -p /out/sub && echo deep > /out/sub/f"]);
      const dest = join(base, "cp-out");
      await dockerOk(["cp", "cpd:/out", dest]);
      expect(readFileSync(join(dest, "sub", "f"), "utf8")).toBe("deep\n");
      await dockerOk(["cp", "cpd:/etc/passwd", join(base, "passwd.copy")]);
      expect(readFileSync(join(base, "passwd.copy"), "utf8")).toContain("root:x:0:0");
      const missing = await docker(["cp", "cpd:/nonexistent", join(base, "x")]);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toContain("could not find the file /nonexistent");
      // HEAD archive: the stat header docker cp reads.
      const head = await apiFetch(sock, `${V}/containers/cpd/archive?path=/tmp/cp-in.txt`, { method: "HEAD" });
      expect(head.status).toBe(200);
      const stat = JSON.parse(Buffer.from(head.headers.get("x-docker-container-path-stat") ?? "", "base64").toString()) as Record<string, unknown>;
      expect(stat).toMatchObject({ name: "cp-in.txt", size: 10, linkTarget: "" });
      await dockerOk(["rm", "-f", "cpd"]);
    });

    test("commit (empty body) gives a runnable image with the changes", async () => {
      const id = (await dockerOk(["run", "-d", "--name", "tocommit", IMG, "sh", "-c", "echo committed > /marker; rm /etc/group; sleep 300"])).trim();
      created.add(id);
      await waitFor(async () => (await docker(["exec", "tocommit", "test", "-f", "/marker"])).code === 0);
      const diff = await dockerOk(["diff", "tocommit"]);
      expect(diff).toContain("A /marker");
      expect(diff).toContain("D /etc/group");
      const res = await apiJson<{ Id: string }>(sock, `${V}/commit?container=tocommit&repo=committed&tag=1&comment=hello`, { method: "POST" });
      expect(res.status).toBe(201);
      expect(res.body.Id).toMatch(/^sha256:/);
      expect(await dockerOk(["run", "--rm", "committed:1", "cat", "/marker"])).toBe("committed\n");
      expect((await docker(["run", "--rm", "committed:1", "test", "-e", "/etc/group"])).code).toBe(1);
      const hist = await dockerOk(["history", "--format", "{{.Comment}}", "committed:1"]);
      expect(hist.split("\n")[0]).toBe("hello");
      await dockerOk(["commit", "-c", "CMD [\"echo\",\"from cli commit\"]", "tocommit", "committed:2"]);
      expect(await dockerOk(["run", "--rm", "committed:2"])).toBe("from cli commit\n");
      await dockerOk(["rm", "-f", "tocommit"]);
      await dockerOk(["rmi", "committed:1", "committed:2"]);
    });

    test("inspect, rename, top, stats", async () => {
      const id = (await dockerOk(["run", "-d", "--name", "named", "-l", "team=a", IMG, "sleep", "300"])).trim();
      created.add(id);
      expect(await dockerOk(["inspect", "-f", "{{.Name}} {{.Config.Labels.team}} {{.State.Running}}", "named"])).toBe("/named a true\n");
      await dockerOk(["rename", "named", "renamed"]);
      expect(await dockerOk(["inspect", "-f", "{{.Name}}", id])).toBe("/renamed\n");
      const top = await dockerOk(["top", "renamed"]);
      expect(top).toContain("sleep 300");
      const stats = await dockerOk(["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "renamed"]);
      expect(stats.trim()).toBe("renamed 1");
      const raw = await apiJson(sock, `${V}/containers/renamed/stats?stream=0&one-shot=1`);
      expect(raw.status).toBe(200);
      expect(raw.body).toMatchObject({ name: "/renamed", id, pids_stats: { current: 1 } });
      expect(await dockerOk(["ps", "--filter", "label=team=a", "--format", "{{.Names}}"])).toBe("renamed\n");
      await dockerOk(["rm", "-f", "renamed"]);
    });

    test("events: create, start, die, destroy of a run --rm, filtered", async () => {
      const since = Math.floor(Date.now() / 1000) - 1;
      await dockerOk(["run", "--rm", "--name", "evented", IMG, "true"]);
      await Bun.sleep(300);
      const until = Math.floor(Date.now() / 1000) + 1;
      const out = await dockerOk(["events", "--since", String(since), "--until", String(until), "--filter", "container=evented", "--format", "{{.Type}} {{.Action}}"]);
      const actions = out.trim().split("\n");
      expect(actions).toEqual(expect.arrayContaining(["container create", "container start", "container die", "container destroy"]));
      expect(actions.indexOf("container create")).toBeLessThan(actions.indexOf("container start"));
      expect(actions.indexOf("container die")).toBeLessThan(actions.indexOf("container destroy"));
    });

    test("docker login checks credentials with the registry (/auth)", async () => {
      const authReg = await startRegistry({ auth: "htpasswd" });
      try {
        const bad = await docker(["login", "-u", "skiff", "--password-stdin", authReg.host], { stdin: "wrong\n" });
        expect(bad.code).not.toBe(0);
        const good = await docker(["login", "-u", authReg.username ?? "", "--password-stdin", authReg.host], { stdin: `${authReg.password}\n` });
        expect(good.code).toBe(0);
        expect(good.stdout).toContain("Login Succeeded");
        // The CLI keeps the credentials and sends them with the push (X-Registry-Auth).
        const target = `${authReg.host}/authed:1`;
        await dockerOk(["tag", IMG, target]);
        expect((await docker(["push", target])).code).toBe(0);
        await dockerOk(["rmi", target]);
      } finally {
        await authReg.stop();
      }
    });

    test("named and anonymous volumes: create, use, in-use refusal, rm -v, prune", async () => {
      expect((await dockerOk(["volume", "create", "data"])).trim()).toBe("data");
      await dockerOk(["run", "--rm", "-v", "data:/data", IMG, "sh", "-c", "echo kept > /data/f"]);
      expect(await dockerOk(["run", "--rm", "-v", "data:/data:ro", IMG, "cat", "/data/f"])).toBe("kept\n");
      expect(await dockerOk(["volume", "ls", "--format", "{{.Name}}"])).toContain("data");
      expect(await dockerOk(["volume", "inspect", "-f", "{{.Driver}} {{.Name}}", "data"])).toBe("local data\n");
      const id = (await dockerOk(["run", "-d", "--name", "voluser", "-v", "data:/data", "-v", "/anon", IMG, "sleep", "300"])).trim();
      created.add(id);
      const busy = await docker(["volume", "rm", "data"]);
      expect(busy.code).not.toBe(0);
      const anon = (await dockerOk(["inspect", "-f", "{{range .Mounts}}{{if eq .Destination \"/anon\"}}{{.Name}}{{end}}{{end}}", "voluser"])).trim();
      expect(anon).toMatch(/^[a-f0-9]{64}$/);
      await dockerOk(["rm", "-f", "-v", "voluser"]);
      expect(await dockerOk(["volume", "ls", "-q"])).not.toContain(anon);
      await dockerOk(["volume", "rm", "data"]);
      const missing = await docker(["volume", "inspect", "data"]);
      expect(missing.code).not.toBe(0);
      expect((await apiJson(sock, `${V}/volumes/prune`, { method: "POST" })).status).toBe(200);
    });

    test.skipIf(netSkip !== undefined)("-p publishes a port on the host", async () => {
      const port = await freePort();
      const id = (await dockerOk(["run", "-d", "--name", "published", "-p", `127.0.0.1:${port}:80`, IMG, "sh", "-c", "mkdir /www && echo published > /www/index.html && httpd -f -p 80 -h /www"])).trim();
      created.add(id);
      expect(await dockerOk(["ps", "--filter", "name=published", "--format", "{{.Ports}}"])).toBe(`127.0.0.1:${port}->80/tcp\n`);
      let body = "";
      await waitFor(async () => {
        body = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text()).catch(() => "");
        return body !== "";
      });
      expect(body).toBe("published\n");
      await dockerOk(["rm", "-f", "published"]);
    });

    test.skipIf(netSkip !== undefined)("a user network: containers reach each other by name", async () => {
      const netId = (await dockerOk(["network", "create", "apinet"])).trim();
      expect(netId).toMatch(/^[a-f0-9]{64}$/);
      expect(await dockerOk(["network", "ls", "--format", "{{.Name}}"])).toContain("apinet");
      const id = (await dockerOk(["run", "-d", "--network", "apinet", "--name", "websrv", IMG, "sh", "-c", "mkdir /www && echo by-name > /www/index.html && httpd -f -p 80 -h /www"])).trim();
      created.add(id);
      let got: CliResult | undefined;
      await waitFor(async () => {
        got = await docker(["run", "--rm", "--network", "apinet", IMG, "wget", "-qO-", "http://websrv/"]);
        return got.code === 0;
      }, 20_000);
      expect(got?.stdout).toBe("by-name\n");
      expect(await dockerOk(["network", "inspect", "-f", "{{range .Containers}}{{.Name}}{{end}}", "apinet"])).toBe("websrv\n");
      const busy = await docker(["network", "rm", "apinet"]);
      expect(busy.code).not.toBe(0);
      await dockerOk(["rm", "-f", "websrv"]);
      await dockerOk(["network", "rm", "apinet"]);
      const gone = await docker(["run", "--rm", "--network", "apinet", IMG, "true"]);
      expect(gone.code).toBe(125);
      expect(gone.stderr).toContain("network apinet not found");
    });
  });

  describe("exact semantics over the socket", () => {
    test("attach before start: 101 upgrade, multiplexed frames, then the stream ends", async () => {
      const id = await createContainer({ Cmd: ["sh", "-c", "echo out; echo err >&2; exit 2"], AttachStdout: true, AttachStderr: true });
      const conn = await hijack(sock, { path: `${V}/containers/${id}/attach?stream=1&stdout=1&stderr=1` });
      expect(conn.status).toBe(101);
      expect(conn.headers["content-type"]).toBe("application/vnd.docker.multiplexed-stream");
      expect(conn.headers.upgrade).toBe("tcp");
      expect((await apiFetch(sock, `${V}/containers/${id}/start`, { method: "POST" })).status).toBe(204);
      await Promise.race([conn.closed, Bun.sleep(15_000)]);
      const frames = new MuxDecoder().push(conn.received());
      const text = (s: number): string => frames.filter((f) => f.stream === s).map((f) => new TextDecoder().decode(f.payload)).join("");
      expect(text(1)).toBe("out\n");
      expect(text(2)).toBe("err\n");
      const w = await apiJson(sock, `${V}/containers/${id}/wait`, { method: "POST" });
      expect(w.body).toEqual({ Error: null, StatusCode: 2 });
    });

    test("a terminal's attach is a raw stream", async () => {
      const id = await createContainer({ Cmd: ["sh", "-c", "echo tty-out"], Tty: true });
      const conn = await hijack(sock, { path: `${V}/containers/${id}/attach?stream=1&stdout=1&stderr=1` });
      expect(conn.headers["content-type"]).toBe("application/vnd.docker.raw-stream");
      await apiFetch(sock, `${V}/containers/${id}/start`, { method: "POST" });
      await Promise.race([conn.closed, Bun.sleep(15_000)]);
      expect(new TextDecoder().decode(conn.received())).toBe("tty-out\r\n");
    });

    test("wait: headers at once, next-exit before start, removed with the real exit code", async () => {
      const id = await createContainer({ Cmd: ["sh", "-c", "sleep 0.3; exit 9"], HostConfig: { AutoRemove: true } });
      const t0 = Date.now();
      const nextExit = await apiFetch(sock, `${V}/containers/${id}/wait?condition=next-exit`, { method: "POST" });
      const removed = await apiFetch(sock, `${V}/containers/${id}/wait?condition=removed`, { method: "POST" });
      // The responses (headers) came before the container even started.
      expect(nextExit.status).toBe(200);
      expect(removed.status).toBe(200);
      expect(Date.now() - t0).toBeLessThan(2000);
      expect((await apiFetch(sock, `${V}/containers/${id}/start`, { method: "POST" })).status).toBe(204);
      expect(await nextExit.json()).toEqual({ Error: null, StatusCode: 9 });
      expect(await removed.json()).toEqual({ Error: null, StatusCode: 9 });
      expect((await apiFetch(sock, `${V}/containers/${id}/json`)).status).toBe(404);
      created.delete(id);
    });

    test("start twice is 304, stop of a stopped container is 304, kill is 409", async () => {
      const id = await createContainer({ Cmd: ["sleep", "300"] });
      expect((await apiFetch(sock, `${V}/containers/${id}/start`, { method: "POST" })).status).toBe(204);
      expect((await apiFetch(sock, `${V}/containers/${id}/start`, { method: "POST" })).status).toBe(304);
      expect((await apiFetch(sock, `${V}/containers/${id}/stop?t=0`, { method: "POST" })).status).toBe(204);
      expect((await apiFetch(sock, `${V}/containers/${id}/stop`, { method: "POST" })).status).toBe(304);
      const kill = await apiJson(sock, `${V}/containers/${id}/kill`, { method: "POST" });
      expect(kill.status).toBe(409);
      expect(String(kill.body.message)).toContain("is not running");
      const conflict = await apiJson(sock, `${V}/containers/create?name=dup`, jsonInit("POST", { Image: IMG }));
      created.add((conflict.body as { Id: string }).Id);
      const dup = await apiJson(sock, `${V}/containers/create?name=dup`, jsonInit("POST", { Image: IMG }));
      expect(dup.status).toBe(409);
    });

    test("exec over a hijacked connection: stdin, half-close, exit code via inspect", async () => {
      const id = await createContainer({ Cmd: ["sleep", "300"] });
      await apiFetch(sock, `${V}/containers/${id}/start`, { method: "POST" });
      const ex = await apiJson<{ Id: string }>(sock, `${V}/containers/${id}/exec`, jsonInit("POST", { Cmd: ["sh", "-c", "cat; exit 3"], AttachStdin: true, AttachStdout: true, AttachStderr: true }));
      expect(ex.status).toBe(201);
      const conn = await hijack(sock, { path: `${V}/exec/${ex.body.Id}/start`, body: JSON.stringify({ Detach: false, Tty: false }) });
      expect(conn.status).toBe(101);
      conn.write("through stdin\n");
      conn.shutdownWrite();
      await Promise.race([conn.closed, Bun.sleep(15_000)]);
      const frames = new MuxDecoder().push(conn.received());
      expect(frames.map((f) => [f.stream, new TextDecoder().decode(f.payload)])).toEqual([[1, "through stdin\n"]]);
      const inspect = await apiJson(sock, `${V}/exec/${ex.body.Id}/json`);
      expect(inspect.body).toMatchObject({ Running: false, ExitCode: 3, ContainerID: id });
    });

    test("error shapes: 404, 400 for malformed JSON, 413 for a huge body, unknown fields accepted", async () => {
      expect(await apiJson(sock, `${V}/containers/nosuch/json`)).toEqual({ status: 404, body: { message: "no such container: nosuch" } });
      const bad = await apiJson(sock, `${V}/containers/create`, { method: "POST", body: "{oops", headers: { "Content-Type": "application/json" } });
      expect(bad.status).toBe(400);
      expect(String(bad.body.message)).toStartWith("invalid JSON");
      const huge = await apiFetch(sock, `${V}/containers/create`, { method: "POST", body: `{"Image":"${"x".repeat(5 << 20)}"}`, headers: { "Content-Type": "application/json" } });
      expect(huge.status).toBe(413);
      const id = await createContainer({ Cmd: ["true"], SomethingNew: { a: 1 }, HostConfig: { AlsoNew: [1, 2] } });
      expect(id).toMatch(/^[a-f0-9]{64}$/);
      // Still serving after all that.
      expect((await apiFetch(sock, "/_ping")).status).toBe(200);
    });

    test("clients that disconnect mid-stream leave the service and containers alone", async () => {
      const id = await createContainer({ Cmd: ["sh", "-c", "while true; do echo x; sleep 0.05; done"] });
      await apiFetch(sock, `${V}/containers/${id}/start`, { method: "POST" });
      for (const path of [`/containers/${id}/logs?follow=1&stdout=1`, "/events", `/containers/${id}/stats`, `/containers/${id}/wait`]) {
        const ctrl = new AbortController();
        const res = await apiFetch(sock, `${V}${path}`, { method: path.endsWith("/wait") ? "POST" : "GET", signal: ctrl.signal });
        expect(res.status).toBe(200);
        ctrl.abort();
      }
      const conn = await hijack(sock, { path: `${V}/containers/${id}/attach?stream=1&stdout=1` });
      await conn.until((d) => d.length > 0);
      conn.close();
      await Bun.sleep(300);
      expect(await apiJson(sock, `${V}/containers/${id}/json`)).toMatchObject({ status: 200, body: { State: { Running: true } } });
      // Many concurrent requests while streams come and go.
      const many = await Promise.all(Array.from({ length: 50 }, () => apiFetch(sock, `${V}/containers/json`).then((r) => r.status)));
      expect(many.every((s) => s === 200)).toBe(true);
      expect((await apiFetch(sock, `${V}/containers/${id}?force=1`, { method: "DELETE" })).status).toBe(204);
      created.delete(id);
      expect(existsSync(sock)).toBe(true);
    });

    test("containers made through the API are the ones `skiff ps` lists", async () => {
      const id = await createContainer({ Cmd: ["true"] }, "seen-by-cli");
      const ps = await env.ok(["ps", "-a", "--format", "{{.Names}}"]);
      expect(ps.split("\n")).toContain("seen-by-cli");
      expect((await apiFetch(sock, `${V}/containers/${id}`, { method: "DELETE" })).status).toBe(204);
      created.delete(id);
    });
  });
});

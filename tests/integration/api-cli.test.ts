/**
 * The real `docker` CLI driving `skiff system service` for the everyday
 * container verbs: run, exec, logs, ps, cp, ports, networks, volumes...
 * Runs as root and as an unprivileged user; every container, the service
 * and the registry are cleaned up by id (tests/helpers/api-service.ts).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { apiFetch, apiJson, DOCKER_CLI, type CliResult } from "../helpers/docker-api.ts";
import { freePort, startRegistry } from "../helpers/registry.ts";
import { apiSkipReason, prepareApiService, V, waitFor, type ApiService } from "../helpers/api-service.ts";
import { nestedUsernsSkipReason } from "../helpers/containers.ts";

const skip = apiSkipReason();
if (skip) console.warn(`skipping API tests: ${skip}`);

const api = skip ? undefined : await prepareApiService("api-cli", { networks: ["apinet"] });
if (api?.netSkip) console.warn(`API tests: ${api.netSkip}; containers use --network none and the network tests skip`);
const { base, sock, image: IMG, created, netSkip, docker, dockerOk, withNet, dockerEnv } = api ?? ({} as ApiService);

describe.skipIf(skip !== undefined)("skiff system service: the docker CLI", () => {
  beforeAll(async () => {
    await api?.start();
  });

  afterAll(async () => {
    await api?.close();
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
      // Where the host itself refuses new user namespaces, only the profile part says something.
      if (nestedUsernsSkipReason() === undefined) {
        const denied = await docker(["run", "--rm", IMG, ...userns]);
        expect(denied.code).toBe(1);
        expect(denied.stderr).toContain("Operation not permitted");
        expect((await docker(["run", "--rm", "--security-opt", "seccomp=unconfined", IMG, ...userns])).code).toBe(0);
      }
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
});

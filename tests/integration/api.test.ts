/**
 * `skiff system service` end to end: the compiled binary serves the Docker
 * Engine API on a private unix socket with an isolated store; requests over
 * the real socket pin Docker's exact semantics (101 upgrade and stream
 * framing, wait ordering, error shapes, version negotiation) and the image
 * verbs. Runs as root and as an unprivileged user; the docker CLI's
 * container verbs are in api-cli.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MuxDecoder } from "../../lib/api/frames.ts";
import { apiFetch, apiJson, hijack, jsonInit } from "../helpers/docker-api.ts";
import { SKIFF_BIN } from "../helpers/skiff.ts";
import { API_VERSION } from "../../lib/version.ts";
import { apiSkipReason, prepareApiService, V, type ApiService } from "../helpers/api-service.ts";

const skip = apiSkipReason();
if (skip) console.warn(`skipping API tests: ${skip}`);

const api = skip ? undefined : await prepareApiService("api");
if (api?.netSkip) console.warn(`API tests: ${api.netSkip}; containers use --network none and the network tests skip`);
const { env, base, sock, image: IMG, created, docker, dockerOk, createContainer } = api ?? ({} as ApiService);

describe.skipIf(skip !== undefined)("skiff system service", () => {
  beforeAll(async () => {
    await api?.start();
  });

  afterAll(async () => {
    await api?.close();
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
      const missing = `${api?.reg.host}/nosuch:1`;
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
      const tagged = `${api?.reg.host}/tagged:x`;
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
      const target = `${api?.reg.host}/pushed:1`;
      await dockerOk(["tag", IMG, target]);
      const out = await dockerOk(["push", target]);
      expect(out).toContain(`The push refers to repository [${api?.reg.host}/pushed]`);
      expect(out).toMatch(/1: digest: sha256:[a-f0-9]{64} size: \d+/);
      const res = await fetch(`${api?.reg.url}/v2/pushed/tags/list`);
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

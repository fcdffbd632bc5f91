/**
 * top, rename, cp, container prune and port, end to end: the compiled binary
 * with real runc against a fixture busybox image from a local registry.
 * CI runs this file as root and as an unprivileged user with a subuid range
 * (rootless: the container's files belong to sub-ids, cp works through the
 * container's user namespace).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { containerFixture, containerSkipReason, isRoot, startTime, type ContainerFixture } from "../helpers/containers.ts";
import { PASSWD } from "../helpers/images.ts";
import type { SkiffEnv } from "../helpers/skiff.ts";
import { makeTar } from "../lib/layers/helpers.ts";

const uid = process.getuid?.() ?? 0;

const skip = containerSkipReason();
if (skip) console.warn(`skipping container-extras tests: ${skip}`);

let fx: ContainerFixture;
let env: SkiffEnv;
let image: string;
let work: string;

function tarEntries(tar: Uint8Array): string[] {
  const dir = mkdtempSync(join(work, "tar-"));
  writeFileSync(join(dir, "t.tar"), tar);
  const r = Bun.spawnSync(["tar", "-tvnf", join(dir, "t.tar")]);
  rmSync(dir, { recursive: true, force: true });
  return r.stdout.toString().trim().split("\n");
}

async function runDetached(name: string, script: string, extra: string[] = []): Promise<string> {
  return (await env.ok(["run", "-d", "--name", name, ...extra, image, "sh", "-c", script])).trim();
}

async function rawCp(args: string[], stdin?: Uint8Array): Promise<{ code: number; stdout: Uint8Array; stderr: string }> {
  const { SKIFF_BIN } = await import("../helpers/skiff.ts");
  const p = Bun.spawn([SKIFF_BIN, "cp", ...args], {
    env: { ...process.env, SKIFF_ROOT: env.root, SKIFF_RUNROOT: env.runRoot, HOME: env.home },
    stdin: stdin ? new Blob([stdin]) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(p.stdout).arrayBuffer(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout: new Uint8Array(out), stderr: err };
}

describe.skipIf(skip !== undefined)("container extras", () => {
  beforeAll(async () => {
    fx = await containerFixture("extras");
    ({ env, image, work } = fx);
  }, 120_000);

  afterAll(async () => {
    await fx?.close();
  });

  describe("top", () => {
    test("lists every process of the container under ps's header", async () => {
      await runDetached("top1", "sleep 1001 & sleep 1002 & wait");
      const out = await env.ok(["top", "top1"]);
      const lines = out.trim().split("\n");
      expect(lines[0]).toMatch(/^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/);
      expect(out).toContain("sleep 1001");
      expect(out).toContain("sleep 1002");
      expect(out).toContain("sh -c sleep 1001 & sleep 1002 & wait");
      expect(lines).toHaveLength(4);
      // Docker's layout: columns at least 20 wide.
      expect(lines[0]?.indexOf("PID")).toBe(20);
    });

    test("passes ps options, under `container top` too", async () => {
      const out = await env.ok(["container", "top", "top1", "-o", "pid,args"]);
      const lines = out.trim().split("\n");
      expect(lines[0]).toMatch(/^PID\s+COMMAND$/);
      expect(lines.slice(1).map((l) => l.replace(/^\d+\s+/, "")).sort()).toEqual(["sh -c sleep 1001 & sleep 1002 & wait", "sleep 1001", "sleep 1002"]);
      // Options that refuse -q (a forest listing) still work.
      const forest = await env.ok(["top", "top1", "-ef", "--forest"]);
      expect(forest).toContain("\\_ sleep 1001");
    });

    test("a stopped container is an error", async () => {
      await env.ok(["create", "--name", "top2", image, "true"]);
      const id = (await env.ok(["inspect", "-f", "{{.Id}}", "top2"])).trim();
      const r = await env.run(["top", "top2"]);
      expect(r.code).toBe(125);
      expect(r.stderr).toBe(`Error: container ${id} is not running\n`);
    });
  });

  describe("rename", () => {
    test("a running container: ps, inspect and lookups follow the new name", async () => {
      const id = await runDetached("ren1", "sleep 1000");
      expect(await env.ok(["rename", "ren1", "ren2"])).toBe("");
      expect((await env.ok(["ps", "--filter", `id=${id}`, "--format", "{{.Names}}"])).trim()).toBe("ren2");
      expect((await env.ok(["inspect", "-f", "{{.Name}}", id])).trim()).toBe("/ren2");
      expect((await env.run(["inspect", "ren1"])).code).not.toBe(0);
      expect((await env.ok(["exec", "ren2", "echo", "hi"])).trim()).toBe("hi");
      // The old name is free again.
      await env.ok(["create", "--name", "ren1", image, "true"]);
      await env.ok(["rm", "-f", "ren2", "ren1"]);
    });

    test("refuses a name in use (exit 125), an invalid name and the same name", async () => {
      await env.ok(["create", "--name", "ren3", image, "true"]);
      await env.ok(["create", "--name", "ren4", image, "true"]);
      const taken = await env.run(["container", "rename", "ren3", "ren4"]);
      expect(taken.code).toBe(125);
      expect(taken.stderr).toContain('the container name "/ren4" is already in use');
      const bad = await env.run(["rename", "ren3", "no/slash"]);
      expect(bad.code).toBe(125);
      expect(bad.stderr).toContain("invalid container name");
      expect((await env.run(["rename", "ren3", "ren3"])).code).toBe(125);
      expect((await env.run(["rename", "nosuch", "x"])).code).toBe(125);
      await env.ok(["rm", "ren3", "ren4"]);
    });

    test("--rm releases the new name when the container ends", async () => {
      const id = await runDetached("ren5", "sleep 1000", ["--rm"]);
      await env.ok(["rename", "ren5", "ren6"]);
      await env.ok(["stop", "-t", "0", "ren6"]);
      for (let i = 0; i < 100 && existsSync(join(env.root, "containers", id)); i++) await Bun.sleep(50);
      expect(existsSync(join(env.root, "containers", id))).toBe(false);
      expect(existsSync(join(env.root, "containers", ".names", "ren6"))).toBe(false);
      expect(existsSync(join(env.root, "containers", ".names", "ren5"))).toBe(false);
      // Both names can be used again.
      await env.ok(["create", "--name", "ren6", image, "true"]);
      await env.ok(["create", "--name", "ren5", image, "true"]);
      await env.ok(["rm", "ren5", "ren6"]);
    });
  });

  describe("cp", () => {
    const SETUP = "mkdir -p /data/sub/deep && echo hello > /data/f.txt && echo deep > /data/sub/deep/d.txt && ln -s f.txt /data/link && chmod 750 /data/sub";

    for (const running of [true, false]) {
      const state = running ? "running" : "stopped";

      test(`out of a ${state} container: a file, a directory, its contents, a tar stream`, async () => {
        const name = `cpout-${state}`;
        await runDetached(name, `${SETUP} && sleep 1000`);
        await env.ok(["exec", name, "true"]);
        if (!running) await env.ok(["stop", "-t", "0", name]);
        const out = mkdtempSync(join(work, `out-${state}-`));

        await env.ok(["cp", `${name}:/data/f.txt`, join(out, "copy.txt")]);
        expect(readFileSync(join(out, "copy.txt"), "utf8")).toBe("hello\n");
        // Owned by whoever copied it out.
        expect(lstatSync(join(out, "copy.txt")).uid).toBe(uid);

        // Into an existing directory, under the source's name; relative container paths are from /.
        await env.ok(["cp", `${name}:data`, out]);
        expect(readFileSync(join(out, "data", "sub", "deep", "d.txt"), "utf8")).toBe("deep\n");
        expect(readlinkSync(join(out, "data", "link"))).toBe("f.txt");
        expect(lstatSync(join(out, "data", "sub")).mode & 0o777).toBe(0o750);
        expect(lstatSync(join(out, "data", "sub", "deep", "d.txt")).uid).toBe(uid);

        // To a new path: the directory is created under that name.
        await env.ok(["cp", `${name}:/data`, join(out, "renamed")]);
        expect(readFileSync(join(out, "renamed", "f.txt"), "utf8")).toBe("hello\n");

        // /. copies the contents into an existing directory.
        mkdirSync(join(out, "contents"));
        await env.ok(["cp", `${name}:/data/.`, join(out, "contents")]);
        expect(readFileSync(join(out, "contents", "f.txt"), "utf8")).toBe("hello\n");
        expect(existsSync(join(out, "contents", "data"))).toBe(false);

        // A symlink is copied as a link; -L copies its target, under the link's name.
        await env.ok(["cp", `${name}:/data/link`, join(out, "l1")]);
        expect(readlinkSync(join(out, "l1"))).toBe("f.txt");
        await env.ok(["cp", "-L", `${name}:/data/link`, join(out, "l2")]);
        expect(readFileSync(join(out, "l2"), "utf8")).toBe("hello\n");

        // "-": a tar stream on stdout, entries named after the source, container ids kept.
        const tar = await rawCp([`${name}:/data`, "-"]);
        expect(tar.code).toBe(0);
        const entries = tarEntries(tar.stdout);
        expect(entries.some((l) => /^-rw-r--r-- 0\/0 .* data\/f\.txt$/.test(l))).toBe(true);
        expect(entries.some((l) => l.endsWith("data/sub/deep/d.txt"))).toBe(true);

        // Docker's errors.
        const dirOnFile = await env.run(["cp", `${name}:/data`, join(out, "copy.txt")]);
        expect(dirOnFile.code).toBe(125);
        expect(dirOnFile.stderr).toContain("cannot copy a directory to a file");
        const missing = await env.run(["cp", `${name}:/nonexistent`, out]);
        expect(missing.code).toBe(125);
        expect(missing.stderr).toContain(`could not find the file /nonexistent in container ${name}`);
        const noParent = await env.run(["cp", `${name}:/data/f.txt`, join(out, "no", "such", "x")]);
        expect(noParent.code).toBe(125);
        expect(noParent.stderr).toContain("invalid output path");
        const fileToMissingDir = await env.run(["cp", `${name}:/data/f.txt`, `${join(out, "nodir")}/`]);
        expect(fileToMissingDir.code).toBe(125);
        expect(fileToMissingDir.stderr).toContain("must exist");
        await env.ok(["rm", "-f", name]);
      });

      test(`into a ${state} container: a file, a directory, contents, a tar stream`, async () => {
        const name = `cpin-${state}`;
        await runDetached(name, "mkdir -p /dst && sleep 1000");
        await env.ok(["exec", name, "true"]);
        if (!running) await env.ok(["stop", "-t", "0", name]);
        const src = mkdtempSync(join(work, `in-${state}-`));
        mkdirSync(join(src, "tree", "sub"), { recursive: true });
        writeFileSync(join(src, "tree", "a.txt"), "A\n");
        writeFileSync(join(src, "tree", "sub", "b.txt"), "B\n");
        writeFileSync(join(src, "one.txt"), "one\n");

        await env.ok(["cp", join(src, "one.txt"), `${name}:/dst/`]);
        await env.ok(["cp", join(src, "one.txt"), `${name}:/dst/two.txt`]);
        await env.ok(["cp", join(src, "tree"), `${name}:/dst`]);
        await env.ok(["cp", join(src, "tree"), `${name}:/dst/newtree`]);
        await env.ok(["cp", `${join(src, "tree")}/.`, `${name}:/dst`]);
        const tar = await makeTar([
          { name: "streamed/", type: "directory", mode: 0o755 },
          { name: "streamed/s.txt", content: "S\n", mode: 0o600, uid: 1000, gid: 1000 },
        ]);
        const streamed = await rawCp(["-", `${name}:/dst`], tar);
        expect(streamed.stderr).toBe("");
        expect(streamed.code).toBe(0);
        const notDir = await rawCp(["-", `${name}:/dst/one.txt`], tar);
        expect(notDir.code).toBe(125);
        expect(notDir.stderr).toContain(`destination "${name}:/dst/one.txt" must be a directory`);
        const noParent = await env.run(["cp", join(src, "one.txt"), `${name}:/nonexistent/x`]);
        expect(noParent.code).toBe(125);
        expect(noParent.stderr).toContain(`could not find the file /nonexistent in container ${name}`);

        // Read it back through cp itself (works stopped or running).
        const back = mkdtempSync(join(work, `back-${state}-`));
        await env.ok(["cp", `${name}:/dst`, join(back, "dst")]);
        const d = join(back, "dst");
        expect(readFileSync(join(d, "one.txt"), "utf8")).toBe("one\n");
        expect(readFileSync(join(d, "two.txt"), "utf8")).toBe("one\n");
        expect(readFileSync(join(d, "tree", "sub", "b.txt"), "utf8")).toBe("B\n");
        expect(readFileSync(join(d, "newtree", "a.txt"), "utf8")).toBe("A\n");
        expect(readFileSync(join(d, "a.txt"), "utf8")).toBe("A\n");
        expect(readFileSync(join(d, "sub", "b.txt"), "utf8")).toBe("B\n");
        expect(readFileSync(join(d, "streamed", "s.txt"), "utf8")).toBe("S\n");

        // Ownership as the container sees it: root unless -a, which keeps the archive's ids.
        const owners = tarEntries((await rawCp([`${name}:/dst`, "-"])).stdout);
        const owner = (suffix: string): string | undefined => owners.find((l) => l.endsWith(suffix))?.split(/\s+/)[1];
        expect(owner("dst/one.txt")).toBe("0/0");
        expect(owner("dst/streamed/s.txt")).toBe("0/0");
        await rawCp(["-a", "-", `${name}:/dst`], tar).then((r) => expect(r.code).toBe(0));
        const kept = tarEntries((await rawCp([`${name}:/dst/streamed`, "-"])).stdout);
        expect(kept.find((l) => l.endsWith("streamed/s.txt"))?.split(/\s+/)[1]).toBe("1000/1000");
        if (!isRoot) {
          // Rootless: container root is the user, container uid 1000 a subordinate id.
          const upper = join(env.root, "containers", (await env.ok(["inspect", "-f", "{{.Id}}", name])).trim(), "upper", "dst");
          expect(lstatSync(join(upper, "one.txt")).uid).toBe(uid);
          expect(lstatSync(join(upper, "streamed", "s.txt")).uid).not.toBe(uid);
        }
        await env.ok(["rm", "-f", name]);
      });

      test(`symlinks never lead out of a ${state} container`, async () => {
        const name = `cpesc-${state}`;
        const secret = randomBytes(16).toString("hex");
        const hostDir = mkdtempSync(join(work, "host-"));
        const marker = join(hostDir, "marker");
        writeFileSync(marker, `${secret}\n`);
        await runDetached(
          name,
          [
            "mkdir -p /data",
            `ln -s ${marker} /data/abs`,
            "ln -s / /data/rootlink",
            "ln -s /etc /a",
            "ln -s ../../../../../../../.. /data/up",
            `mkdir -p ${hostDir}`,
            "sleep 1000",
          ].join(" && "),
        );
        await env.ok(["exec", name, "true"]);
        if (!running) await env.ok(["stop", "-t", "0", name]);
        const out = mkdtempSync(join(work, `esc-${state}-`));

        // -L follows the link inside the container, where the marker does not exist.
        const followed = await env.run(["cp", "-L", `${name}:/data/abs`, join(out, "x")]);
        expect(followed.code).toBe(125);
        expect(existsSync(join(out, "x"))).toBe(false);
        for (const path of [`/data/rootlink${marker}`, `/data/up${marker}`, `/a/../../../..${marker}`]) {
          const r = await env.run(["cp", `${name}:${path}`, join(out, "y")]);
          expect(r.code).toBe(125);
          expect(r.stderr).toContain("could not find the file");
        }
        expect(existsSync(join(out, "y"))).toBe(false);
        // An absolute link to /etc is the container's /etc.
        await env.ok(["cp", `${name}:/a/passwd`, join(out, "passwd")]);
        expect(readFileSync(join(out, "passwd"), "utf8")).toBe(PASSWD);

        // Copying in through links lands inside the container, never on the host.
        writeFileSync(join(out, "drop.txt"), "dropped\n");
        await env.ok(["cp", join(out, "drop.txt"), `${name}:/data/rootlink${hostDir}/`]);
        await env.ok(["cp", join(out, "drop.txt"), `${name}:/a/`]);
        expect(existsSync(join(hostDir, "drop.txt"))).toBe(false);
        // A tar that plants a link and then writes through it stays inside too.
        const evil = await makeTar([
          { name: "evil", type: "symlink", linkname: hostDir },
          { name: "evil/owned", content: "pwned" },
        ]);
        const planted = await rawCp(["-", `${name}:/data`], evil);
        expect(planted.stderr).toBe("");
        expect(existsSync(join(hostDir, "owned"))).toBe(false);
        const back = join(out, "back");
        await env.ok(["cp", `${name}:/`, back]);
        expect(readFileSync(join(back, hostDir.slice(1), "drop.txt"), "utf8")).toBe("dropped\n");
        expect(readFileSync(join(back, hostDir.slice(1), "owned"), "utf8")).toBe("pwned");
        expect(readFileSync(join(back, "etc", "drop.txt"), "utf8")).toBe("dropped\n");
        // Copied out, the links are links again; nothing was followed on the host.
        expect(readlinkSync(join(back, "data", "abs"))).toBe(marker);
        expect(readFileSync(marker, "utf8")).toBe(`${secret}\n`);
        await env.ok(["rm", "-f", name]);
      });
    }

    test("argument errors", async () => {
      const r1 = await env.run(["cp", "a", "b"]);
      expect(r1.code).toBe(125);
      expect(r1.stderr).toContain("must specify at least one container source");
      const r2 = await env.run(["cp", "x:/a", "y:/b"]);
      expect(r2.stderr).toContain("copying between containers is not supported");
      const r3 = await env.run(["cp", "nosuch:/a", work]);
      expect(r3.code).toBe(125);
      expect(r3.stderr).toContain("no such container: nosuch");
    });

    test("the host side can be a symlink to a directory", async () => {
      await runDetached("cplink", "echo hi > /hi.txt && sleep 1000");
      await env.ok(["exec", "cplink", "true"]);
      const out = mkdtempSync(join(work, "hostlink-"));
      mkdirSync(join(out, "real"));
      symlinkSync(join(out, "real"), join(out, "link"));
      await env.ok(["cp", "cplink:/hi.txt", join(out, "link")]);
      expect(readFileSync(join(out, "real", "hi.txt"), "utf8")).toBe("hi\n");
      await env.ok(["rm", "-f", "cplink"]);
    });
  });

  describe("container prune", () => {
    test("removes stopped containers and incomplete records, keeps running ones", async () => {
      const idsBefore = (await env.ok(["ps", "-aq", "--no-trunc"])).trim().split("\n").filter(Boolean);
      if (idsBefore.length > 0) await env.ok(["rm", "-f", ...idsBefore]);
      const created = (await env.ok(["create", "--name", "pr-created", image, "true"])).trim();
      await env.ok(["run", "--name", "pr-exited", image, "sh", "-c", "echo 12345 > /payload"]);
      const exited = (await env.ok(["inspect", "-f", "{{.Id}}", "pr-exited"])).trim();
      const running = await runDetached("pr-running", "sleep 1000");

      // What a create that crashed half-way leaves: a record marked incomplete, its name taken.
      const ghost = randomBytes(32).toString("hex");
      const record = JSON.parse(readFileSync(join(env.root, "containers", created, "config.json"), "utf8")) as Record<string, unknown>;
      mkdirSync(join(env.root, "containers", ghost));
      writeFileSync(join(env.root, "containers", ghost, "config.json"), JSON.stringify({ ...record, id: ghost, name: "ghost", incomplete: true, created: "2020-01-01T00:00:00Z" }));
      symlinkSync(ghost, join(env.root, "containers", ".names", "ghost"));

      const refused = await env.run(["container", "prune"], { stdin: "n\n" });
      expect(refused.code).toBe(0);
      expect(refused.stdout).toContain("WARNING! This will remove all stopped containers.");
      expect(existsSync(join(env.root, "containers", created))).toBe(true);

      const r = await env.ok(["container", "prune", "-f"]);
      const lines = r.trim().split("\n");
      expect(lines[0]).toBe("Deleted Containers:");
      expect(lines.slice(1, -2).sort()).toEqual([created, exited, ghost].sort());
      expect(lines.at(-2)).toBe("");
      expect(lines.at(-1)).toMatch(/^Total reclaimed space: \d+(\.\d+)?[kMG]?B$/);
      expect(lines.at(-1)).not.toBe("Total reclaimed space: 0B");
      expect((await env.ok(["ps", "-aq", "--no-trunc"])).trim()).toBe(running);
      expect(existsSync(join(env.root, "containers", ghost))).toBe(false);
      expect(existsSync(join(env.root, "containers", ".names", "ghost"))).toBe(false);

      const again = await env.ok(["container", "prune", "-f"]);
      expect(again).toBe("Total reclaimed space: 0B\n");
      await env.ok(["rm", "-f", running]);
    });

    test("--filter label= and until=", async () => {
      const keep = (await env.ok(["create", "--label", "keep=yes", image, "true"])).trim();
      const drop = (await env.ok(["create", "--label", "drop=yes", image, "true"])).trim();
      const r = await env.ok(["container", "prune", "-f", "--filter", "label=drop"]);
      expect(r).toContain(drop);
      expect(r).not.toContain(keep);
      const none = await env.ok(["container", "prune", "-f", "--filter", "until=1h"]);
      expect(none).toBe("Total reclaimed space: 0B\n");
      const bad = await env.run(["container", "prune", "-f", "--filter", "color=red"]);
      expect(bad.code).toBe(125);
      expect(bad.stderr).toContain("invalid filter 'color'");
      await env.ok(["rm", keep]);
    });

    test("the trash of a removal whose shim was killed goes with an unfiltered prune, once that shim is gone", async () => {
      // What `run --rm` leaves when its shim dies between hiding the directory and deleting it.
      const trash = join(env.root, "containers", `.trash-${randomBytes(32).toString("hex")}`);
      mkdirSync(join(trash, "upper"), { recursive: true });
      writeFileSync(join(trash, "upper", "data"), "x".repeat(4096));
      const shim = Bun.spawn(["sleep", "60"]);
      try {
        writeFileSync(join(trash, "state.json"), JSON.stringify({ shimPid: shim.pid, shimStart: startTime(shim.pid) }));
        expect(await env.ok(["container", "prune", "-f"])).toBe("Total reclaimed space: 0B\n");
        expect(existsSync(trash)).toBe(true);
        await env.ok(["container", "prune", "-f", "--filter", "label=any"]);
        expect(existsSync(trash)).toBe(true);
      } finally {
        shim.kill();
        await shim.exited;
      }
      const r = await env.ok(["container", "prune", "-f"]);
      expect(existsSync(trash)).toBe(false);
      expect(r).not.toBe("Total reclaimed space: 0B\n");
    });
  });

  describe("port", () => {
    test("no published ports: nothing, and a private port is an error", async () => {
      await runDetached("port1", "sleep 1000");
      const all = await env.run(["port", "port1"]);
      expect(all).toEqual({ code: 0, stdout: "", stderr: "" });
      const one = await env.run(["container", "port", "port1", "80/tcp"]);
      expect(one.code).toBe(125);
      expect(one.stderr).toBe("Error: no public port '80/tcp' published for port1\n");
      const bad = await env.run(["port", "port1", "http"]);
      expect(bad.stderr).toContain("invalid port (http)");
      await env.ok(["rm", "-f", "port1"]);
    });
  });
});

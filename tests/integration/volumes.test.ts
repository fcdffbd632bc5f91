/**
 * `skiff volume` end to end with the compiled binary: create, ls, inspect,
 * rm and prune on a private storage root. CI runs this file as root and as
 * an unprivileged user with a subuid range (rootless: files that belong to
 * sub-ids are removed through the user namespace).
 *
 * Container-facing behaviour (in-use refusal, rm -v, --rm, copy-up and its
 * ownership rootless, image VOLUMEs) is in volumes-containers.test.ts, with
 * real containers; it skips, saying why, until create/start/rm are wired
 * to lib/volumes/mounts.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isRoot, rootlessSkipReason } from "../helpers/containers.ts";
import { binaryMissingReason, makeSkiffEnv, type SkiffEnv } from "../helpers/skiff.ts";

const uid = process.getuid?.() ?? 0;


const skip = binaryMissingReason();
if (skip) console.warn(`skipping volume tests: ${skip}`);
const nsSkip = skip ?? rootlessSkipReason();

let env: SkiffEnv;

function volumesDir(): string {
  return join(env.root, "volumes");
}

async function names(): Promise<string[]> {
  return (await env.ok(["volume", "ls", "-q"])).split("\n").filter(Boolean);
}

describe.skipIf(skip !== undefined)("skiff volume", () => {
  beforeAll(() => {
    env = makeSkiffEnv("skiff-volumes");
  });

  afterAll(async () => {
    await env?.cleanup();
  });

  test("create prints the name, makes _data and is idempotent", async () => {
    expect(await env.ok(["volume", "create", "web-data"])).toBe("web-data\n");
    expect(lstatSync(join(volumesDir(), "web-data", "_data")).isDirectory()).toBe(true);
    expect(lstatSync(join(volumesDir(), "web-data", "_data")).mode & 0o7777).toBe(0o755);
    expect(await env.ok(["volume", "create", "--name", "web-data"])).toBe("web-data\n");
    const ls = await names();
    expect(ls.filter((n) => n === "web-data").length).toBe(1);
  });

  test("create refuses bad names, other drivers and options that differ", async () => {
    let r = await env.run(["volume", "create", "bad/name"]);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed');
    r = await env.run(["volume", "create", "-d", "nfs", "v-nfs"]);
    expect(r.code).toBe(125);
    r = await env.run(["volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "v-tmpfs"]);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain("not supported yet");
    await env.ok(["volume", "create", "-o", "type=none", "-o", "o=bind", "-o", `device=${env.home}`, "v-bind"]);
    r = await env.run(["volume", "create", "v-bind"]);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain("already exists with different options");
    r = await env.run(["volume", "create", "--name", "a1", "a2"]);
    expect(r.code).toBe(125);
    expect(await names()).not.toContain("a1");
  });

  test("create without a name gives 64 hex digits", async () => {
    const name = (await env.ok(["volume", "create", "-l", "kind=random"])).trim();
    expect(name).toMatch(/^[a-f0-9]{64}$/);
    expect(await env.ok(["volume", "inspect", "-f", "{{.Labels.kind}}", name])).toBe("random\n");
  });

  test("inspect is Docker-shaped", async () => {
    await env.ok(["volume", "create", "-l", "env=ci", "-l", "flag", "labelled"]);
    const out = JSON.parse(await env.ok(["volume", "inspect", "labelled"])) as Record<string, unknown>[];
    expect(out.length).toBe(1);
    const v = out[0] as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(["CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"]);
    expect(v).toMatchObject({ Driver: "local", Labels: { env: "ci", flag: "" }, Name: "labelled", Options: {}, Scope: "local" });
    expect(v.Mountpoint).toBe(join(volumesDir(), "labelled", "_data"));
    expect(String(v.CreatedAt)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(await env.ok(["volume", "inspect", "--format", "{{.Name}} {{.Driver}} {{.Scope}}", "labelled", "web-data"])).toBe("labelled local local\nweb-data local local\n");
    const bind = JSON.parse(await env.ok(["volume", "inspect", "v-bind"])) as { Options: Record<string, string> }[];
    expect(bind[0]?.Options).toEqual({ type: "none", o: "bind", device: env.home });
  });

  test("inspect of a missing volume: 1 when some exist, 125 when none do", async () => {
    let r = await env.run(["volume", "inspect", "labelled", "nosuch"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no such volume: nosuch");
    expect((JSON.parse(r.stdout) as unknown[]).length).toBe(1);
    r = await env.run(["volume", "inspect", "nosuch"]);
    expect(r.code).toBe(125);
  });

  test("ls: table, quiet, templates, json and filters", async () => {
    const table = await env.ok(["volume", "ls"]);
    const lines = table.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^DRIVER\s+VOLUME NAME$/);
    expect(lines).toContainEqual(expect.stringMatching(/^local\s+web-data$/));
    const q = await names();
    expect(q).toContain("labelled");
    expect(await env.ok(["volume", "ls", "--filter", "label=env=ci", "--format", "{{.Name}}\t{{.Labels}}"])).toBe("labelled\tenv=ci,flag=\n");
    expect(await env.ok(["volume", "ls", "-f", "name=^web", "-q"])).toBe("web-data\n");
    expect(await env.ok(["volume", "ls", "-f", "name=nothing-like-this", "-q"])).toBe("");
    expect(await env.ok(["volume", "ls", "-f", "label=env", "--format", "table {{.Name}}\t{{.Driver}}"])).toMatch(/^VOLUME NAME\s+DRIVER\nlabelled\s+local\n$/);
    // No container exists: every volume is dangling.
    expect((await env.ok(["volume", "ls", "-q", "-f", "dangling=true"])).split("\n").filter(Boolean).sort()).toEqual([...q].sort());
    expect(await env.ok(["volume", "ls", "-q", "-f", "dangling=false"])).toBe("");
    const json = (await env.ok(["volume", "ls", "--format", "json", "-f", "name=labelled"])).trim();
    expect(JSON.parse(json)).toMatchObject({ Name: "labelled", Driver: "local", Scope: "local", Labels: "env=ci,flag=" });
    expect(await env.ok(["volume", "ls", "-f", "name=labelled", "--format", "{{.Links}}"])).toBe("0\n");
    const bad = await env.run(["volume", "ls", "-f", "until=1h"]);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain("invalid filter 'until'");
  });

  test("names sort naturally", async () => {
    for (const n of ["nat10", "nat2", "nat1"]) await env.ok(["volume", "create", n]);
    expect(await env.ok(["volume", "ls", "-q", "-f", "name=^nat"])).toBe("nat1\nnat2\nnat10\n");
    await env.ok(["volume", "rm", "nat1", "nat2", "nat10"]);
  });

  test("rm prints what it removed; exit 1 for a missing one, 0 with -f", async () => {
    await env.ok(["volume", "create", "gone1"]);
    await env.ok(["volume", "create", "gone2"]);
    writeFileSync(join(volumesDir(), "gone1", "_data", "file"), "data");
    let r = await env.run(["volume", "rm", "gone1", "nosuch", "gone2"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("gone1\ngone2\n");
    expect(r.stderr).toContain("no such volume: nosuch");
    expect(existsSync(join(volumesDir(), "gone1"))).toBe(false);
    r = await env.run(["volume", "rm", "-f", "nosuch"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(readdirSync(volumesDir()).filter((n) => n.startsWith("."))).not.toContainEqual(expect.stringMatching(/^\.(trash|tmp)-/));
  });

  test.skipIf(nsSkip !== undefined)("rm removes files that belong to container users (through the user namespace rootless)", async () => {
    await env.ok(["volume", "create", "owned"]);
    const data = join(volumesDir(), "owned", "_data");
    // As container uid 1000 (a sub-id rootless), in a 0700 directory the user cannot enter.
    const r = await env.run(["unshare", "sh", "-c", `mkdir -p ${data}/d/e && echo x > ${data}/d/e/f && chown -R 1000:1000 ${data}/d && chmod 700 ${data}/d ${data}/d/e`]);
    expect(r.code).toBe(0);
    expect(lstatSync(join(data, "d")).uid).toBe(isRoot ? 1000 : lstatSync(join(data, "d")).uid);
    if (!isRoot) expect(lstatSync(join(data, "d")).uid).not.toBe(uid);
    expect(await env.ok(["volume", "rm", "owned"])).toBe("owned\n");
    expect(existsSync(join(volumesDir(), "owned"))).toBe(false);
  });

  test("a bind volume's device survives rm", async () => {
    const device = mkdtempSync(join(tmpdir(), "skiff-vol-device-"));
    try {
      writeFileSync(join(device, "keep"), "x");
      await env.ok(["volume", "create", "-o", "type=none", "-o", "o=bind", "-o", `device=${device}`, "bind2"]);
      expect(await env.ok(["volume", "rm", "bind2"])).toBe("bind2\n");
      expect(readFileSync(join(device, "keep"), "utf8")).toBe("x");
    } finally {
      rmSync(device, { recursive: true, force: true });
    }
  });

  test("prune asks first; plain prune keeps named volumes; -a removes unused ones", async () => {
    await env.ok(["volume", "create", "-l", "tmp", "p-tmp"]);
    await env.ok(["volume", "create", "-l", "keep", "p-keep"]);
    writeFileSync(join(volumesDir(), "p-tmp", "_data", "blob"), "x".repeat(2048));
    let r = await env.run(["volume", "prune"], { stdin: "n\n" });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("WARNING! This will remove anonymous local volumes not used by at least one container.");
    expect(r.stdout).not.toContain("Deleted Volumes");
    // Named volumes are not anonymous: a plain prune (Docker 23+) keeps them.
    expect(await env.ok(["volume", "prune", "-f"])).toBe("Total reclaimed space: 0B\n");
    expect(await names()).toContain("p-tmp");
    r = await env.run(["volume", "prune", "-a", "--filter", "label=tmp"], { stdin: "y\n" });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("WARNING! This will remove all local volumes not used by at least one container.");
    expect(r.stdout).toContain("Deleted Volumes:\np-tmp\n\nTotal reclaimed space: 2.05kB\n");
    expect(await names()).not.toContain("p-tmp");
    const out = await env.ok(["volume", "prune", "-f", "--filter", "all=true", "--filter", "label!=keep"]);
    expect(out).toContain("Deleted Volumes:\n");
    expect(await names()).toEqual(["p-keep"]);
    expect(await env.ok(["volume", "prune", "-af"])).toBe("Deleted Volumes:\np-keep\n\nTotal reclaimed space: 0B\n");
    expect(await names()).toEqual([]);
  });

  test("concurrent creates of one name all succeed with one volume", async () => {
    const rs = await Promise.all(Array.from({ length: 6 }, () => env.run(["volume", "create", "raced"])));
    expect(rs.map((r) => r.code)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(rs.map((r) => r.stdout)).toEqual(Array(6).fill("raced\n"));
    expect(readdirSync(volumesDir()).filter((n) => n.includes("raced"))).toEqual(["raced"]);
    await env.ok(["volume", "rm", "raced"]);
  });
});

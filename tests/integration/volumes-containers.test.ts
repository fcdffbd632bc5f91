/**
 * Volumes with real containers: the compiled binary, runc and a fixture
 * busybox image from a local registry, as root and rootless (an
 * unprivileged user with a subuid range: volume files belong to sub-ids).
 *
 * Skipped, with the reason, while `create` still refuses named and
 * anonymous volumes (lib/volumes/mounts.ts not wired into create/start/rm).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { containerSkipReason, isRoot, tearDown } from "../helpers/containers.ts";
import { busyboxLayer, DEFAULT_PATH, pushLayout, writeImageLayout, type ImageSpec } from "../helpers/images.ts";
import { startRegistry, type TestRegistry } from "../helpers/registry.ts";
import { makeSkiffEnv, type SkiffEnv } from "../helpers/skiff.ts";

const uid = process.getuid?.() ?? 0;
const user = Bun.spawnSync(["id", "-un"]).stdout.toString().trim();

/** The subuid range start of this user (rootless), where container uid 1 lands. */
function subuidBase(): number | undefined {
  const lines = existsSync("/etc/subuid") ? readFileSync("/etc/subuid", "utf8").split("\n") : [];
  const line = lines.find((l) => l.startsWith(`${user}:`) || l.startsWith(`${uid}:`));
  return line ? Number(line.split(":")[1]) : undefined;
}

/** The host uid of a container uid. */
function hostUid(containerUid: number): number {
  if (isRoot) return containerUid;
  if (containerUid === 0) return uid;
  return (subuidBase() as number) + containerUid - 1;
}


const skip = containerSkipReason();
if (skip) console.warn(`skipping volume container tests: ${skip}`);

/** busybox plus an app directory owned by uid 1000, and an image VOLUME over it. */
function appImage(withVolume: boolean): ImageSpec {
  return {
    layers: [
      busyboxLayer(),
      {
        compression: "gzip",
        parents: "omit",
        entries: [
          { type: "dir", path: "srv", mode: 0o755 },
          { type: "dir", path: "srv/app", mode: 0o750, uid: 1000, gid: 1000 },
          { type: "file", path: "srv/app/config.ini", content: "answer=42\n", mode: 0o640, uid: 1000, gid: 1000 },
          { type: "dir", path: "srv/app/cache", mode: 0o700, uid: 1000, gid: 1000 },
          { type: "file", path: "srv/app/cache/old", content: "stale" },
          { type: "symlink", path: "srv/app/current", target: "config.ini" },
          { type: "file", path: "srv/app/root-owned", content: "r", mode: 0o600 },
        ],
      },
      {
        compression: "gzip",
        parents: "omit",
        entries: [{ type: "whiteout", path: "srv/app/cache/old" }, { type: "file", path: "srv/app/cache/new", content: "fresh", uid: 1000, gid: 1000 }],
      },
    ],
    config: { Cmd: ["sh"], Env: [DEFAULT_PATH], ...(withVolume ? { Volumes: { "/srv/app": {} } } : {}) },
  };
}

/** Networking is not what these tests are about. */
const NET = ["--network", "none"];

let reg: TestRegistry;
let env: SkiffEnv;
let work: string;
let image: string;
let volImage: string;

async function volumeNames(): Promise<string[]> {
  return (await env.ok(["volume", "ls", "-q"])).split("\n").filter(Boolean);
}

/** A command in skiff's user namespace (rootless; as root, just the command): files show container owners. */
async function inNs(argv: string[]): Promise<string> {
  return env.ok(["unshare", ...argv]);
}

function dataDir(name: string): string {
  return join(env.root, "volumes", name, "_data");
}

describe.skipIf(skip !== undefined)("volumes with containers", () => {
  beforeAll(async () => {
    reg = await startRegistry();
    work = mkdtempSync(join(tmpdir(), "skiff-volctr-work-"));
    const layout = join(work, "layout");
    await writeImageLayout(layout, [
      { tag: "plain", spec: appImage(false) },
      { tag: "vol", spec: appImage(true) },
    ]);
    image = `${reg.host}/app:plain`;
    volImage = `${reg.host}/app:vol`;
    await pushLayout(layout, image, { tag: "plain" });
    await pushLayout(layout, volImage, { tag: "vol" });
    env = makeSkiffEnv("skiff-volctr");
    await env.ok(["pull", "-q", image]);
    await env.ok(["pull", "-q", volImage]);
  }, 120_000);

  afterAll(async () => {
    await tearDown({ env, reg, work });
  });

  test("a volume a container uses cannot be removed (exit 2) until the container is gone", async () => {
    await env.ok(["volume", "create", "used"]);
    const id = (await env.ok(["create", ...NET, "--name", "user1", "-v", "used:/mnt", image, "true"])).trim();
    const r = await env.run(["volume", "rm", "used"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`Error: remove used: volume is in use - [${id}]\n`);
    expect(await env.ok(["volume", "ls", "-q", "-f", "dangling=false"])).toBe("used\n");
    expect(await env.ok(["volume", "ls", "-f", "name=^used$", "--format", "{{.Name}} {{.Links}}"])).toBe("used 1\n");
    const plainPrune = await env.ok(["volume", "prune", "-af"]);
    expect(plainPrune).not.toContain("used");
    await env.ok(["rm", "user1"]);
    expect(await env.ok(["volume", "rm", "used"])).toBe("used\n");
  });

  test("-v name:/path makes the volume; its data outlives the container", async () => {
    await env.ok(["run", ...NET, "--rm", "-v", "keep:/mnt", image, "sh", "-c", "echo hello > /mnt/f"]);
    expect(await volumeNames()).toContain("keep");
    expect(await env.ok(["run", ...NET, "--rm", "-v", "keep:/mnt:ro", image, "cat", "/mnt/f"])).toBe("hello\n");
    const ro = await env.run(["run", ...NET, "--rm", "-v", "keep:/mnt:ro", image, "sh", "-c", "echo x > /mnt/g"]);
    expect(ro.code).not.toBe(0);
    expect(readFileSync(join(dataDir("keep"), "f"), "utf8")).toBe("hello\n");
  });

  test("copy-up: the image's directory with its owners; a container user can write the volume", async () => {
    await env.ok(["run", ...NET, "--rm", "-u", "1000", "-v", "appdata:/srv/app", image, "sh", "-c", "echo mine > /srv/app/by-user && ls /srv/app/cache"]);
    const d = dataDir("appdata");
    // On the host, the volume's root belongs to container uid 1000 (a sub-id rootless), mode as in the image.
    expect(lstatSync(d).uid).toBe(hostUid(1000));
    expect(lstatSync(d).mode & 0o7777).toBe(0o750);
    // In skiff's user namespace, files show their container owners.
    expect(await inNs(["ls", "-A", d])).toBe("by-user\ncache\nconfig.ini\ncurrent\nroot-owned\n");
    const st = await inNs(["stat", "-c", "%n %u:%g %a", ...["by-user", "config.ini", "cache", "root-owned"].map((n) => join(d, n))]);
    expect(st.replaceAll(`${d}/`, "")).toBe("by-user 1000:1000 644\nconfig.ini 1000:1000 640\ncache 1000:1000 700\nroot-owned 0:0 600\n");
    expect(await inNs(["readlink", join(d, "current")])).toBe("config.ini\n");
    // The whiteout in the top layer hides cache/old.
    expect(await env.ok(["run", ...NET, "--rm", "-v", "appdata:/srv/app", image, "ls", "/srv/app/cache"])).toBe("new\n");
  });

  test("copy-up happens once, never into a volume with content, never with nocopy", async () => {
    await env.ok(["run", ...NET, "--rm", "-v", "once:/srv/app", image, "sh", "-c", "rm -rf /srv/app/* && touch /srv/app/only"]);
    expect(await env.ok(["run", ...NET, "--rm", "-v", "once:/srv/app", image, "ls", "/srv/app"])).toBe("only\n");
    await env.ok(["run", ...NET, "--rm", "-v", "filled:/mnt", image, "touch", "/mnt/mine"]);
    expect(await env.ok(["run", ...NET, "--rm", "-v", "filled:/srv/app", image, "ls", "/srv/app"])).toBe("mine\n");
    expect(await env.ok(["run", ...NET, "--rm", "-v", "nc:/srv/app:nocopy", image, "ls", "-A", "/srv/app"])).toBe("");
  });

  test("anonymous volumes: -v /path and image VOLUMEs; rm -v removes them, named ones stay", async () => {
    const before = await volumeNames();
    await env.ok(["create", ...NET, "--name", "anon1", "-v", "/scratch", "-v", "named1:/named", volImage, "true"]);
    const made = (await volumeNames()).filter((n) => !before.includes(n));
    expect(made.filter((n) => n === "named1")).toEqual(["named1"]);
    const anon = made.filter((n) => n !== "named1");
    expect(anon.length).toBe(2);
    for (const n of anon) expect(n).toMatch(/^[a-f0-9]{64}$/);
    const labels = await env.ok(["volume", "inspect", "-f", "{{json .Labels}}", ...anon]);
    expect(labels).toBe('{"com.docker.volume.anonymous":""}\n'.repeat(2));
    // The image VOLUME got the image's content.
    expect(await env.ok(["start", "-a", "anon1"])).toBe("");
    const withContent = await inNs(["sh", "-c", `ls ${anon.map((n) => join(dataDir(n), "config.ini")).join(" ")} 2>/dev/null || true`]);
    expect(withContent.trim().split("\n").length).toBe(1);
    expect(await env.ok(["rm", "-v", "anon1"])).toBe("anon1\n");
    const after = await volumeNames();
    for (const n of anon) expect(after).not.toContain(n);
    expect(after).toContain("named1");
  });

  test("--rm removes the container's anonymous volumes", async () => {
    const before = await volumeNames();
    await env.ok(["run", ...NET, "--rm", "-v", "/tmpvol", image, "true"]);
    let after: string[] = [];
    for (let i = 0; i < 50; i++) {
      after = await volumeNames();
      if (after.length === before.length) break;
      await Bun.sleep(100);
    }
    expect(after.sort()).toEqual(before.sort());
  });

  test("plain prune removes anonymous volumes of removed containers, not named ones", async () => {
    await env.ok(["create", ...NET, "--name", "pr1", "-v", "/x", "-v", "prnamed:/y", image, "true"]);
    const anon = (await env.ok(["inspect", "-f", '{{range .Mounts}}{{if eq .Destination "/x"}}{{.Name}}{{end}}{{end}}', "pr1"])).trim();
    expect(anon).toMatch(/^[a-f0-9]{64}$/);
    expect(await env.ok(["volume", "prune", "-f"])).not.toContain(anon);
    await env.ok(["rm", "pr1"]);
    const out = await env.ok(["volume", "prune", "-f"]);
    expect(out).toContain(`Deleted Volumes:\n`);
    expect(out).toContain(`${anon}\n`);
    expect(await volumeNames()).toContain("prnamed");
  });

  test("a container whose volume was force-removed does not start", async () => {
    await env.ok(["create", ...NET, "--name", "lost1", "-v", "lost:/m", image, "true"]);
    expect(await env.ok(["volume", "rm", "-f", "lost"])).toBe("lost\n");
    const r = await env.run(["start", "lost1"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("volume lost (mounted at /m): no such volume");
    await env.ok(["rm", "lost1"]);
  });
});

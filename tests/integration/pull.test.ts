/**
 * The image side end to end: the compiled binary against a real registry on
 * loopback, with fixture images built from local files. Runs as root and as
 * an unprivileged user (CI runs the suite both ways).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  armHostileTargets,
  busyboxImage,
  compareTrees,
  disarmHostileTargets,
  expectedTree,
  hostileEscapes,
  hostileLayers,
  largeImage,
  multiLayerImage,
  multiPlatformIndex,
  pushLayout,
  writeImageLayout,
  type HostileName,
  type Tree,
  type TreeNode,
} from "../helpers/images.ts";
import { registrySkipReason, startRegistry, type TestRegistry } from "../helpers/registry.ts";
import { binaryMissingReason, makeSkiffEnv, REPO_ROOT, type SkiffEnv } from "../helpers/skiff.ts";

const skip = binaryMissingReason() ?? registrySkipReason();
const TREE_SCRIPT = join(REPO_ROOT, "tests", "helpers", "images", "tree.ts");
/** Paths the fixture trees have that a merged view may legitimately differ on. */
const IGNORE: string[] = [];

let reg: TestRegistry;
let layouts: string;
let env: SkiffEnv;

/** Reads an image's merged tree through a real overlay mount inside skiff's namespace. */
async function imageTree(e: SkiffEnv, image: string): Promise<Tree> {
  const lowers = (await e.ok(["image", "inspect", "-f", "{{.GraphDriver.Data.LowerDirs}}", image])).trim();
  const script = [
    "set -e",
    "d=$(mktemp -d)",
    'mkdir "$d/u" "$d/w" "$d/m"',
    `mount -t overlay overlay -o "lowerdir=$1,upperdir=$d/u,workdir=$d/w,userxattr" "$d/m"`,
    `"$2" "$3" "$d/m" '[]'`,
    'umount "$d/m"',
    'rm -rf "$d"',
  ].join("; ");
  const r = await e.run(["unshare", "sh", "-c", script, "sh", lowers, process.execPath, TREE_SCRIPT]);
  if (r.code !== 0) throw new Error(`reading tree of ${image}: ${r.stderr}`);
  return new Map(JSON.parse(r.stdout) as [string, TreeNode][]);
}

async function publish(name: string, content: Parameters<typeof writeImageLayout>[1]): Promise<string> {
  const dir = join(layouts, name);
  await writeImageLayout(dir, content);
  const ref = `${reg.host}/${name}:latest`;
  await pushLayout(dir, ref, { tag: "latest" });
  return ref;
}

describe.skipIf(skip !== undefined)("pull", () => {
  const refs: Record<string, string> = {};

  beforeAll(async () => {
    reg = await startRegistry();
    layouts = mkdtempSync(join(tmpdir(), "skiff-layouts-"));
    refs.busybox = await publish("busybox", [{ tag: "latest", spec: busyboxImage() }]);
    refs.multi = await publish("multi", [{ tag: "latest", spec: multiLayerImage() }]);
    refs.index = await publish("multiarch", { index: { tag: "latest", ...multiPlatformIndex() } });
    refs.dockerIndex = await publish("multiarch-docker", { index: { tag: "latest", ...multiPlatformIndex({ mediaTypes: "docker" }) } });
    refs.large = await publish("large", [{ tag: "latest", spec: largeImage(24) }]);
    env = makeSkiffEnv("skiff-pull");
  }, 120_000);

  afterAll(async () => {
    await env?.cleanup();
    await reg?.stop();
    rmSync(layouts, { recursive: true, force: true });
  });

  test("pulls busybox and lists it", async () => {
    const r = await env.run(["pull", refs.busybox as string]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Pull complete");
    expect(r.stdout.trim().split("\n").pop()).toBe(refs.busybox as string);
    const list = await env.ok(["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    expect(list.trim().split("\n")).toContain(refs.busybox as string);
  });

  test("a second pull fetches nothing", async () => {
    const r = await env.run(["pull", refs.busybox as string]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Already exists");
    expect(r.stdout).toContain("Image is up to date");
  });

  test("the merged tree of a multi-layer image equals the tree it was built from", async () => {
    await env.ok(["pull", "-q", refs.multi as string]);
    const got = await imageTree(env, refs.multi as string);
    // A hardlink whose target is in a lower layer is unpacked as a copy.
    const diffs = compareTrees(expectedTree(multiLayerImage()), got, { ignore: IGNORE, hardlinks: false });
    expect(diffs).toEqual([]);
  });

  test("busybox tree is exact, hardlinks included", async () => {
    const got = await imageTree(env, refs.busybox as string);
    expect(compareTrees(expectedTree(busyboxImage()), got)).toEqual([]);
  });

  test("picks the host platform from an OCI index, or --platform", async () => {
    await env.ok(["pull", "-q", refs.index as string]);
    expect((await env.ok(["image", "inspect", "-f", "{{.Os}}/{{.Architecture}}", refs.index as string])).trim()).toBe("linux/amd64");
    const arm = `${reg.host}/multiarch:latest`;
    await env.ok(["pull", "-q", "--platform", "linux/arm64", arm]);
    const inspect = await env.ok(["image", "inspect", "-f", "{{.Architecture}}{{if .Variant}}/{{.Variant}}{{end}}", arm]);
    expect(inspect.trim()).toBe("arm64/v8");
    const tree = await imageTree(env, arm);
    expect(tree.get("/platform")?.type).toBe("file");
  });

  test("picks from a Docker manifest list", async () => {
    await env.ok(["pull", "-q", "--platform", "linux/arm/v7", refs.dockerIndex as string]);
    expect((await env.ok(["image", "inspect", "-f", "{{.Architecture}}", refs.dockerIndex as string])).trim()).toBe("arm");
  });

  test("an unknown platform is a clear error", async () => {
    const r = await env.run(["pull", "--platform", "linux/s390x", refs.index as string]);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain("linux/s390x");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  test("two pulls of one image at once leave a correct store", async () => {
    const e = makeSkiffEnv("skiff-pull-race");
    try {
      const [a, b] = await Promise.all([e.run(["pull", "-q", refs.large as string]), e.run(["pull", "-q", refs.large as string])]);
      expect([a.code, b.code, a.stderr, b.stderr]).toEqual([0, 0, "", ""]);
      const tree = await imageTree(e, refs.large as string);
      expect(compareTrees(expectedTree(largeImage(24)), tree)).toEqual([]);
      const ids = (await e.ok(["images", "-q"])).trim().split("\n");
      expect(ids).toHaveLength(1);
    } finally {
      await e.cleanup();
    }
  });

  test("a pull killed mid-way is finished by the next pull", async () => {
    const e = makeSkiffEnv("skiff-pull-kill");
    try {
      // Kill while layers are being written; any moment will do.
      const p = Bun.spawn([join(REPO_ROOT, "dist", "skiff"), "pull", "-q", refs.large as string], {
        env: { ...process.env, SKIFF_ROOT: e.root, SKIFF_RUNROOT: e.runRoot, HOME: e.home },
        stdout: "ignore",
        stderr: "ignore",
      });
      await Bun.sleep(150);
      p.kill("SIGKILL");
      await p.exited;
      const r = await e.run(["pull", "-q", refs.large as string], { timeoutMs: 60_000 });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const tree = await imageTree(e, refs.large as string);
      expect(compareTrees(expectedTree(largeImage(24)), tree)).toEqual([]);
    } finally {
      await e.cleanup();
    }
  });

  test("bad references and missing images fail with one line and code 125", async () => {
    for (const args of [["pull", "UPPER/case"], ["pull", `${reg.host}/nope:latest`], ["image", "inspect", "missing"]]) {
      const r = await env.run(args);
      expect(r.code).toBe(125);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toStartWith("Error: ");
      expect(r.stderr).not.toContain("    at ");
    }
  });
});

describe.skipIf(skip !== undefined)("hostile layers", () => {
  let hostileEnv: SkiffEnv;
  let hreg: TestRegistry;
  let hlayouts: string;
  const names = Object.keys(hostileLayers()) as HostileName[];

  beforeAll(async () => {
    hreg = await startRegistry();
    hlayouts = mkdtempSync(join(tmpdir(), "skiff-hostile-layouts-"));
    armHostileTargets();
    hostileEnv = makeSkiffEnv("skiff-hostile");
  }, 60_000);

  afterAll(async () => {
    disarmHostileTargets();
    await hostileEnv?.cleanup();
    await hreg?.stop();
    rmSync(hlayouts, { recursive: true, force: true });
  });

  for (const name of names) {
    test(`${name} writes nothing outside the snapshot`, async () => {
      const spec = hostileLayers()[name];
      const dir = join(hlayouts, name);
      await writeImageLayout(dir, [{ tag: "latest", spec }]);
      const ref = `${hreg.host}/hostile-${name}:latest`;
      await pushLayout(dir, ref, { tag: "latest" });
      const r = await hostileEnv.run(["pull", "-q", ref]);
      if (name === "device-nodes") {
        // Device nodes are skipped (never created), with a warning.
        expect(r.code).toBe(0);
        expect(r.stderr).toContain("device");
        const tree = await imageTree(hostileEnv, ref);
        const devices = [...tree.values()].filter((n) => n.type === "chardev" || n.type === "blockdev");
        expect(devices).toEqual([]);
      } else {
        expect(r.code).toBe(125);
        expect(r.stderr.trim().split("\n")).toHaveLength(1);
        // Nothing half-made stays in the store under a snapshot's name.
        const snaps = readdirSync(join(hostileEnv.root, "snapshots")).filter((n) => !n.startsWith("."));
        const committed = (await hostileEnv.ok(["images", "-q"])).trim();
        expect(committed).toBe("");
        expect(snaps.length).toBeLessThanOrEqual(1); // only the shared busybox layer
      }
      expect(hostileEscapes([hostileEnv.root, tmpdir()])).toEqual([]);
    });
  }
});

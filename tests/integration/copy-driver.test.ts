/**
 * The copy storage driver end to end (the fallback when neither kernel
 * overlayfs nor fuse-overlayfs works; chosen here with --storage-driver):
 * create copies the merged image into the container's directory with its
 * owners, modes and xattrs; the container runs on it; diff, commit, cp and
 * export see only what the container changed; rm leaves nothing. The
 * fixture image has whiteouts, an opaque directory and type changes. Runs
 * as root and as an unprivileged user.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compareTrees, dockerArchive, expectedTree, multiLayerImage, type Tree, type TreeNode } from "../helpers/images.ts";
import { binaryMissingReason, makeSkiffEnv, REPO_ROOT, type SkiffEnv } from "../helpers/skiff.ts";

const skip = binaryMissingReason();
if (skip) console.warn(`skipping copy driver tests: ${skip}`);
const TREE_SCRIPT = join(REPO_ROOT, "tests", "helpers", "images", "tree.ts");
const IMAGE = "example.com/multi:1";

describe.skipIf(skip !== undefined)("copy storage driver", () => {
  let env: SkiffEnv;
  let work: string;
  const copy = (args: string[]) => env.run(["--storage-driver", "copy", ...args]);

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "skiff-copy-driver-"));
    const archive = join(work, "multi.tar");
    writeFileSync(archive, await dockerArchive(multiLayerImage(), IMAGE));
    env = makeSkiffEnv("skiff-copy-driver");
    await env.ok(["load", "-q", "-i", archive]);
  }, 60_000);

  afterAll(async () => {
    await env?.run(["rm", "-f", "made", "changer", "fromcommit"]);
    await env?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("create copies the merged image, owners and modes included", async () => {
    const r = await copy(["create", "--name", "made", IMAGE]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect((await env.ok(["inspect", "-f", "{{.GraphDriver.Name}}", "made"])).trim()).toBe("copy");
    const upper = (await env.ok(["inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", "made"])).trim();
    // Read inside skiff's user namespace, so owners read as in the container.
    const t = await env.run(["unshare", process.execPath, TREE_SCRIPT, upper, "[]"]);
    expect(t.stderr).toBe("");
    const tree: Tree = new Map(JSON.parse(t.stdout) as [string, TreeNode][]);
    // A hardlink to a lower layer's file was unpacked as a copy.
    expect(compareTrees(expectedTree(multiLayerImage()), tree, { hardlinks: false })).toEqual([]);
  });

  test("a container runs on the copy: whiteouts and opaque directories hold", async () => {
    const r = await copy(["run", "--rm", IMAGE, "sh", "-c", "cat /etc/motd; ls /opaque; ls /lower; test ! -e /lower/delete-me && id -u"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("version 2\nnew\nkeep\nrecreated\n0\n");
    expect(r.code).toBe(0);
  });

  test("diff, commit, cp and export see only the container's changes", async () => {
    const script = "echo v3 > /etc/motd; echo new > /added; rm /lower/keep; rm -r /opaque; echo more >> /private/secret";
    const r = await copy(["run", "--name", "changer", IMAGE, "sh", "-c", script]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const diff = (await env.ok(["diff", "changer"])).split("\n").filter((l) => l !== "" && !/ \/etc\/(hosts|hostname|resolv\.conf)$/.test(l));
    expect(diff).toEqual(["A /added", "C /etc", "C /etc/motd", "C /lower", "D /lower/keep", "D /opaque", "C /private/secret"]);

    const id = (await env.ok(["commit", "-c", 'CMD ["sh"]', "changer", "example.com/committed:1"])).trim();
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    // The new layer holds the difference only: a few entries, not the image.
    const layers = JSON.parse(await env.ok(["image", "inspect", "-f", "{{json .RootFS.Layers}}", "example.com/committed:1"])) as string[];
    expect(layers).toHaveLength(multiLayerImage().layers.length + 1);
    const size = async (image: string) => Number((await env.ok(["image", "inspect", "-f", "{{.Size}}", image])).trim());
    const grown = (await size("example.com/committed:1")) - (await size(IMAGE));
    expect(grown).toBeGreaterThan(0);
    expect(grown).toBeLessThan(64 * 1024);
    // Run on overlay (the default here) and on a copy: both see the changes.
    const check = "cat /etc/motd /added /private/secret; ls /lower; test ! -e /opaque && echo no-opaque";
    const want = "v3\nnew\nsecret\nmore\nrecreated\nno-opaque\n";
    expect((await env.run(["run", "--rm", "example.com/committed:1", "sh", "-c", check])).stdout).toBe(want);
    expect((await copy(["run", "--rm", "--name", "fromcommit", "example.com/committed:1", "sh", "-c", check])).stdout).toBe(want);

    const out = join(work, "out");
    await env.ok(["cp", "changer:/etc/motd", out]);
    expect(await Bun.file(out).text()).toBe("v3\n");
    await env.ok(["cp", out, "changer:/copied-in"]);
    expect(await env.ok(["diff", "changer"])).toContain("A /copied-in\n");

    const exported = join(work, "export.tar");
    await env.ok(["export", "-o", exported, "changer"]);
    const names = Bun.spawnSync(["tar", "-tf", exported]).stdout.toString().split("\n");
    expect(names).toContain("./added");
    expect(names).toContain("./copied-in");
    expect(names).not.toContain("./lower/keep");
  });

  test("rm leaves no container directory behind", async () => {
    await env.ok(["rm", "-f", "made", "changer"]);
    expect(readdirSync(join(env.root, "containers")).filter((n) => !n.startsWith("."))).toEqual([]);
  });
});

/**
 * save, load and import end to end: the compiled binary with fixture images
 * written as archives by independent code (the fixture builder, skopeo), and
 * skiff's own archives read back by skiff and by Podman. Runs as root and as
 * an unprivileged user.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync, zstdCompressSync } from "node:zlib";
import {
  busyboxImage,
  busyboxLayer,
  buildImage,
  compareTrees,
  dockerArchive,
  expectedTree,
  layerTar,
  multiLayerImage,
  multiPlatformIndex,
  sha256,
  writeImageLayout,
  type Tree,
  type TreeNode,
} from "../helpers/images.ts";
import { binaryMissingReason, makeSkiffEnv, REPO_ROOT, type SkiffEnv } from "../helpers/skiff.ts";

const skip = binaryMissingReason();
if (skip) console.warn(`skipping archive tests: ${skip}`);
const TREE_SCRIPT = join(REPO_ROOT, "tests", "helpers", "images", "tree.ts");
const isRoot = process.getuid?.() === 0;

let work: string;
const envs: SkiffEnv[] = [];

function newEnv(name: string): SkiffEnv {
  const e = makeSkiffEnv(`skiff-archive-${name}`);
  envs.push(e);
  return e;
}

function run(argv: string[], opts: { stdin?: Uint8Array; env?: Record<string, string> } = {}): { code: number; stdout: string; stderr: string } {
  const r = Bun.spawnSync(argv, {
    stdin: opts.stdin ?? "ignore",
    stdout: "pipe",
    stderr: "pipe",
    ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
  });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** HOME and XDG dirs under `dir`, so skopeo and podman leave no caches in the real home. */
function isolatedHome(dir: string): Record<string, string> {
  return { HOME: join(dir, "home"), XDG_CONFIG_HOME: join(dir, "config"), XDG_DATA_HOME: join(dir, "data"), XDG_CACHE_HOME: join(dir, "cache") };
}

function tarDir(dir: string, out: string): string {
  const r = run(["tar", "-C", dir, "-cf", out, "."]);
  if (r.code !== 0) throw new Error(`tar ${dir}: ${r.stderr}`);
  return out;
}

async function inspect(e: SkiffEnv, image: string): Promise<Record<string, unknown> & { Config: Record<string, unknown> }> {
  const list = JSON.parse(await e.ok(["image", "inspect", image])) as (Record<string, unknown> & { Config: Record<string, unknown> })[];
  const first = list[0];
  if (!first) throw new Error(`inspect ${image}: empty`);
  return first;
}

/** The snapshot directories of an image, bottom layer first. */
async function layerDirs(e: SkiffEnv, image: string): Promise<string[]> {
  const lowers = (await e.ok(["image", "inspect", "-f", "{{.GraphDriver.Data.LowerDirs}}", image])).trim();
  return lowers.split(":").reverse();
}

/** Reads one snapshot directory from inside skiff's user namespace (`skiff unshare`), so owners read as in the container. */
async function snapshotTree(e: SkiffEnv, dir: string): Promise<Tree> {
  const r = await e.run(["unshare", process.execPath, TREE_SCRIPT, dir, "[]"]);
  if (r.code !== 0) throw new Error(`reading ${dir}: ${r.stderr}`);
  return new Map(JSON.parse(r.stdout) as [string, TreeNode][]);
}

/** An image's merged tree, through a real overlay mount in skiff's namespace. */
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

function storeTmpEmpty(e: SkiffEnv): boolean {
  const tmp = join(e.root, "tmp");
  return !existsSync(tmp) || readdirSync(tmp).length === 0;
}

describe.skipIf(skip !== undefined)("archives", () => {
  const files: Record<string, string> = {};
  let multiConfig: string;
  let busyboxConfig: string;
  let store: SkiffEnv;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "skiff-archive-"));
    files.docker25 = join(work, "busybox-docker25.tar");
    writeFileSync(files.docker25, await dockerArchive(busyboxImage(), "busybox:latest"));
    files.legacy = join(work, "multi-legacy.tar");
    writeFileSync(files.legacy, await dockerArchive(multiLayerImage(), "example.com/multi:legacy", { format: "legacy" }));
    const layout = join(work, "layout");
    await writeImageLayout(layout, [{ tag: "example.com/multi:1", spec: multiLayerImage() }]);
    files.ociLayout = tarDir(layout, join(work, "multi-oci.tar"));
    const indexLayout = join(work, "index-layout");
    await writeImageLayout(indexLayout, { index: { ...multiPlatformIndex(), tag: "example.com/plat:1" } });
    files.ociIndex = tarDir(indexLayout, join(work, "index-oci.tar"));
    busyboxConfig = (await buildImage(busyboxImage())).config.digest;
    multiConfig = (await buildImage(multiLayerImage())).config.digest;
    store = newEnv("main");
  }, 60_000);

  afterAll(async () => {
    for (const e of envs) await e.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("loads a Docker 25+ docker-archive; the unpacked tree is the image's", async () => {
    const r = await store.run(["load", "-i", files.docker25 as string]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("Loaded image: busybox:latest\n");
    const info = await inspect(store, "busybox");
    expect(info.Id).toBe(busyboxConfig);
    expect(info.RepoTags).toEqual(["busybox:latest"]);
    expect(info.RepoDigests).toEqual([]);
    expect(info.Config.Cmd).toEqual(["sh"]);
    const [dir] = await layerDirs(store, "busybox");
    expect(compareTrees(expectedTree(busyboxImage()), await snapshotTree(store, dir as string))).toEqual([]);
    expect(storeTmpEmpty(store)).toBe(true);
  });

  test("loading the same archive again only names the image", async () => {
    const r = await store.run(["load", "-q", "-i", files.docker25 as string]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("Loaded image: busybox:latest\n");
    expect((await store.ok(["images", "-q"])).trim().split("\n")).toHaveLength(1);
  });

  test("loads a legacy docker-archive (Podman/skopeo layout) from STDIN", async () => {
    const r = await store.run(["load"], { stdin: readFileSync(files.legacy as string) });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("Loaded image: example.com/multi:legacy\n");
    const info = await inspect(store, "example.com/multi:legacy");
    expect(info.Id).toBe(multiConfig);
    expect(info.Config.WorkingDir).toBe("/a/b");
    const tree = await imageTree(store, "example.com/multi:legacy");
    // A hardlink to a lower layer's file is unpacked as a copy.
    expect(compareTrees(expectedTree(multiLayerImage()), tree, { hardlinks: false })).toEqual([]);
  });

  test("loads an oci-archive; a multi-platform index gives the host's image", async () => {
    const r = await store.run(["load", "-i", files.ociIndex as string]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("Loaded image: example.com/plat:1\n");
    expect((await store.ok(["image", "inspect", "-f", "{{.Os}}/{{.Architecture}}", "example.com/plat:1"])).trim()).toBe("linux/amd64");
    expect((await imageTree(store, "example.com/plat:1")).get("/platform")?.sha256).toBe(sha256("linux/amd64\n"));
  });

  test("loads skopeo's docker-archive, as Podman writes it", async () => {
    if (!Bun.which("skopeo")) {
      console.warn("skipped: skopeo is not installed (apt-get install skopeo)");
      return;
    }
    // skopeo cannot put zstd layers in a docker-archive: the same image with gzip instead.
    const spec = multiLayerImage();
    spec.layers = spec.layers.map((l) => (l.compression === "zstd" ? { ...l, compression: "gzip" } : l));
    const layout = join(work, "layout-gzip");
    await writeImageLayout(layout, [{ tag: "multi", spec }]);
    const out = join(work, "skopeo.tar");
    const r = run(["skopeo", "copy", "--quiet", `oci:${layout}:multi`, `docker-archive:${out}:example.com/multi:skopeo`], { env: isolatedHome(work) });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const e = newEnv("skopeo");
    expect(await e.ok(["load", "-i", out])).toBe("Loaded image: example.com/multi:skopeo\n");
    expect((await inspect(e, "example.com/multi:skopeo")).Id).toBe((await buildImage(spec)).config.digest);
    expect(compareTrees(expectedTree(spec), await imageTree(e, "example.com/multi:skopeo"), { hardlinks: false })).toEqual([]);
  });

  describe("round trips", () => {
    let source: SkiffEnv;
    beforeAll(async () => {
      source = newEnv("rt-source");
      await source.ok(["load", "-i", files.ociLayout as string]);
      await source.ok(["load", "-i", files.docker25 as string]);
    });

    async function roundTrip(format: "docker-archive" | "oci-archive"): Promise<{ target: SkiffEnv; first: Uint8Array }> {
      const out = join(work, `rt-${format}.tar`);
      const started = performance.now();
      await source.ok(["save", "--format", format, "-o", out, "example.com/multi:1", "busybox"]);
      const saved = performance.now();
      const target = newEnv(`rt-${format}`);
      const r = await target.run(["load", "-i", out]);
      const loaded = performance.now();
      console.log(`${format}: save ${(saved - started).toFixed(0)} ms, load ${(loaded - saved).toFixed(0)} ms`);
      expect(r.stderr).toBe("");
      expect(r.stdout.trim().split("\n").sort()).toEqual(["Loaded image: busybox:latest", "Loaded image: example.com/multi:1"]);
      for (const image of ["example.com/multi:1", "busybox"]) {
        expect((await inspect(target, image)).Id).toBe((await inspect(source, image)).Id);
        const [a, b] = [await layerDirs(source, image), await layerDirs(target, image)];
        expect(b).toHaveLength(a.length);
        for (let i = 0; i < a.length; i++) {
          expect(compareTrees(await snapshotTree(source, a[i] as string), await snapshotTree(target, b[i] as string))).toEqual([]);
        }
      }
      expect(storeTmpEmpty(target)).toBe(true);
      return { target, first: readFileSync(out) };
    }

    test("docker-archive: same ids and trees in a fresh store, and the same archive saved again", async () => {
      const { target, first } = await roundTrip("docker-archive");
      // Layers travel uncompressed and come back as they were: saving again gives the same bytes.
      const fromTarget = join(work, "rt-again.tar");
      await target.ok(["save", "-o", fromTarget, "example.com/multi:1", "busybox"]);
      expect(sha256(readFileSync(fromTarget))).toBe(sha256(first));
    });

    test("oci-archive: blobs as stored, so the manifest digest survives too", async () => {
      const { target } = await roundTrip("oci-archive");
      const digestOf = async (e: SkiffEnv) => JSON.parse(readFileSync(join(e.root, "images.json"), "utf8")).images.map((i: { manifestDigest: string }) => i.manifestDigest).sort();
      expect(await digestOf(target)).toEqual(await digestOf(source));
    });

    test("podman loads skiff's docker-archive", async () => {
      if (!Bun.which("podman")) {
        console.warn("skipped: podman is not installed (apt-get install podman)");
        return;
      }
      const out = join(work, "for-podman.tar");
      await source.ok(["save", "-o", out, "example.com/multi:1"]);
      const dir = mkdtempSync(join(tmpdir(), "skiff-podman-"));
      const tmp = join(dir, "tmp");
      // Everything podman keeps (storage, run state, the rootless pause process's pid file, caches) inside `dir`.
      const podman = ["podman", "--root", join(dir, "root"), "--runroot", join(dir, "run"), "--tmpdir", tmp];
      podman.push("--network-config-dir", join(dir, "net"), "--storage-driver", "vfs", "--events-backend", "none");
      // The CNI backend: as root, netavark would keep state in /run/containers whatever the flags say.
      writeFileSync(join(dir, "containers.conf"), '[network]\nnetwork_backend = "cni"\n');
      const env = { ...isolatedHome(dir), XDG_RUNTIME_DIR: join(dir, "xdg"), CONTAINERS_CONF: join(dir, "containers.conf") };
      mkdirSync(env.XDG_RUNTIME_DIR, { mode: 0o700 });
      try {
        const r = run([...podman, "load", "-i", out], { env });
        expect(r.code).toBe(0);
        expect(r.stdout).toContain("Loaded image: example.com/multi:1");
        const id = run([...podman, "image", "inspect", "-f", "{{.Id}}", "example.com/multi:1"], { env }).stdout.trim();
        expect(`sha256:${id}`).toBe(multiConfig);
      } finally {
        if (!isRoot) run([...podman, "unshare", "rm", "-rf", join(dir, "root")], { env });
        // Rootless podman leaves a pause process holding its user namespace.
        for (const f of [join(tmp, "pause.pid"), join(env.XDG_RUNTIME_DIR, "libpod", "tmp", "pause.pid")]) {
          const pid = existsSync(f) ? Number(readFileSync(f, "utf8").trim()) : 0;
          if (pid > 0) {
            try {
              process.kill(pid, "SIGKILL");
            } catch {
              // already gone
            }
          }
        }
        rmSync(dir, { recursive: true, force: true });
      }
    }, 60_000);
  });

  describe("import", () => {
    let rootfs: Uint8Array;
    beforeAll(async () => {
      rootfs = await layerTar(busyboxLayer());
      writeFileSync(join(work, "rootfs.tar"), rootfs);
    });

    test("a tarball file with changes and a message", async () => {
      const r = await store.run([
        "import",
        "-c",
        'CMD ["sh"]',
        "--change",
        "ENV FOO=bar",
        "-c",
        "EXPOSE 8080",
        "-m",
        "hello",
        join(work, "rootfs.tar"),
        "example.com/imported:1",
      ]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const id = r.stdout.trim();
      expect(id).toMatch(/^sha256:[a-f0-9]{64}$/);
      const info = await inspect(store, "example.com/imported:1");
      expect(info.Id).toBe(id);
      expect(info.Config.Cmd).toEqual(["sh"]);
      expect(info.Config.Env).toEqual(["FOO=bar"]);
      expect(info.Config.ExposedPorts).toEqual({ "8080/tcp": {} });
      expect(info.Comment).toBe("hello");
      expect(info.Architecture).toBe("amd64");
      expect((info.RootFS as { Layers: string[] }).Layers).toEqual([sha256(rootfs)]);
      const [dir] = await layerDirs(store, "example.com/imported:1");
      expect(compareTrees(expectedTree(busyboxImage()), await snapshotTree(store, dir as string))).toEqual([]);
      const history = await store.ok(["history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Comment}}", "example.com/imported:1"]);
      expect(history.trim()).toBe("skiff import|hello");
      expect(storeTmpEmpty(store)).toBe(true);
    });

    test("compressed tarballs from STDIN, untagged, with --platform", async () => {
      const gz = await store.run(["import", "-"], { stdin: new Uint8Array(gzipSync(rootfs)) });
      expect(gz.stderr).toBe("");
      const zst = await store.run(["import", "--platform", "linux/arm64", "-"], { stdin: new Uint8Array(zstdCompressSync(rootfs)) });
      expect(zst.stderr).toBe("");
      const gzId = gz.stdout.trim();
      const zstId = zst.stdout.trim();
      const a = await inspect(store, gzId);
      expect(a.RepoTags).toEqual([]);
      expect(a.Config.Cmd).toBeNull();
      expect((a.RootFS as { Layers: string[] }).Layers).toEqual([sha256(rootfs)]);
      expect((await inspect(store, zstId)).Architecture).toBe("arm64");
      // One snapshot serves every image with this layer.
      expect((await layerDirs(store, gzId))[0]).toBe((await layerDirs(store, "example.com/imported:1"))[0]);
    });

    test("a tarball from a URL", async () => {
      const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response(rootfs) });
      try {
        const r = await store.run(["import", `http://127.0.0.1:${server.port}/rootfs.tar`, "example.com/from-url:1"]);
        expect(r.stderr).toBe("");
        expect((await inspect(store, "example.com/from-url:1")).Id).toBe(r.stdout.trim());
      } finally {
        server.stop(true);
      }
    });

    test("an imported image round-trips through save and load", async () => {
      const out = join(work, "imported.tar");
      await store.ok(["save", "-o", out, "example.com/imported:1"]);
      const e = newEnv("import-rt");
      expect(await e.ok(["load", "-i", out])).toBe("Loaded image: example.com/imported:1\n");
      expect((await inspect(e, "example.com/imported:1")).Config.Cmd).toEqual(["sh"]);
    });

    test("bad changes and references fail before reading the input", async () => {
      const bad = await store.run(["import", "-c", "RUN rm -rf /", join(work, "rootfs.tar")]);
      expect(bad.code).toBe(125);
      expect(bad.stderr).toContain("RUN is not supported");
      const digest = await store.run(["import", join(work, "rootfs.tar"), `x@sha256:${"a".repeat(64)}`]);
      expect(digest.code).toBe(125);
      expect(digest.stderr).toContain("digest");
      const missing = await store.run(["import", join(work, "nope.tar")]);
      expect(missing.code).toBe(125);
      expect(missing.stderr).toContain("no such file");
    });
  });

  describe("refusals", () => {
    test("garbage, hostile entries and missing files fail cleanly and leave no temp files", async () => {
      const e = newEnv("refuse");
      const garbage = await e.run(["load"], { stdin: new TextEncoder().encode("not an archive\n".repeat(100)) });
      expect(garbage.code).toBe(125);
      expect(garbage.stderr).toContain("not a valid tar archive");

      writeFileSync(join(work, "escape-target"), "");
      const hostile = join(work, "hostile.tar");
      const t = run(["tar", "-C", work, "-cf", hostile, "--transform", "s,^escape-target,../../escaped,", "escape-target"]);
      expect(t.code).toBe(0);
      const h = await e.run(["load", "-i", hostile]);
      expect(h.code).toBe(125);
      expect(h.stderr).toContain(".. component");
      // It would have landed beside the store's tmp dir.
      expect(existsSync(join(e.root, "escaped"))).toBe(false);

      const noManifest = join(work, "plain.tar");
      run(["tar", "-C", work, "-cf", noManifest, "rootfs.tar"]);
      const plain = await e.run(["load", "-i", noManifest]);
      expect(plain.code).toBe(125);
      expect(plain.stderr).toContain("not an image archive");

      const missing = await e.run(["load", "-i", join(work, "missing.tar")]);
      expect(missing.code).toBe(125);
      expect(missing.stderr).toContain("no such file");
      expect(storeTmpEmpty(e)).toBe(true);
      expect((await e.ok(["images", "-q"])).trim()).toBe("");
    });

    test("save notices a damaged layer blob and leaves no file", async () => {
      const e = newEnv("damaged");
      await e.ok(["load", "-i", files.docker25 as string]);
      const diffId = ((await inspect(e, "busybox")).RootFS as { Layers: string[] }).Layers[0] as string;
      // Loaded from a Docker 25+ archive, the layer is stored uncompressed under its diff id.
      const blob = join(e.root, "blobs", "sha256", diffId.slice(7));
      const bytes = readFileSync(blob);
      bytes.writeUInt8((bytes.readUInt8(bytes.length >> 1) ^ 0xff) & 0xff, bytes.length >> 1);
      writeFileSync(blob, bytes);
      const out = join(work, "damaged.tar");
      const r = await e.run(["save", "-o", out, "busybox"]);
      expect(r.code).toBe(125);
      expect(r.stderr).toContain("damaged");
      expect(existsSync(out)).toBe(false);
    });

    test("save of an unknown image writes nothing", async () => {
      const out = join(work, "never.tar");
      const r = await store.run(["save", "-o", out, "busybox", "no-such-image:1"]);
      expect(r.code).toBe(125);
      expect(r.stderr).toContain("no such image");
      expect(existsSync(out)).toBe(false);
      expect(readdirSync(work).filter((n) => n.includes("never"))).toEqual([]);
    });
  });
});

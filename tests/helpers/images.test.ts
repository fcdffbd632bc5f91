/**
 * Self-tests of the image fixtures: they must be right before skiff is
 * checked against them. Registry parts need docker-registry and skopeo;
 * the GNU tar comparison runs as root, or rootless inside a user namespace.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import zlib from "node:zlib";
import tar from "tar-stream";
import {
  armHostileTargets,
  buildImage,
  buildLayer,
  busyboxApplets,
  busyboxImage,
  compareTrees,
  DEEP_PATH,
  disarmHostileTargets,
  dockerArchive,
  expectedTree,
  GNU_NAME,
  HOSTILE_TARGETS,
  hostileEscapes,
  hostileLayers,
  layerEntries,
  largeImage,
  multiLayerImage,
  multiPlatformIndex,
  PAX_NAME,
  pushLayout,
  readTree,
  readTreeInUserns,
  sha256,
  UNICODE_NAME,
  writeImageLayout,
  type ImageSpec,
  type TreeNode,
} from "./images.ts";
import { registrySkipReason, startRegistry, type TestRegistry } from "./registry.ts";

const isRoot = process.getuid?.() === 0;
const skopeoMissing = Bun.which("skopeo") ? undefined : "skopeo is missing (apt-get install skopeo)";
const temps: string[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "skiff-images-test-"));
  temps.push(d);
  return d;
}

afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

function run(argv: string[]): string {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: exit ${r.exitCode}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

interface TarItem {
  type: string;
  linkname?: string;
  sha256?: string;
}

/** name → entry, read back with tar-stream's parser. */
async function tarItems(data: Uint8Array): Promise<Map<string, TarItem>> {
  const out = new Map<string, TarItem>();
  const ex = tar.extract();
  const done = (async () => {
    for await (const entry of ex) {
      const chunks: Uint8Array[] = [];
      for await (const c of entry) chunks.push(c as Uint8Array);
      const { name, type, linkname } = entry.header;
      const item: TarItem = { type };
      if (linkname) item.linkname = linkname;
      if (type === "file") item.sha256 = sha256(Buffer.concat(chunks));
      out.set(name, item);
    }
  })();
  ex.end(data);
  await done;
  return out;
}

describe("layers", () => {
  test("the same spec gives the same bytes", async () => {
    for (const spec of [multiLayerImage(), largeImage(2)]) {
      for (const l of spec.layers) {
        const a = await buildLayer({ ...l });
        const b = await buildLayer({ ...l });
        expect(Buffer.compare(a.blob, b.blob)).toBe(0);
        expect(a.digest).toBe(b.digest);
      }
    }
    const [d1, d2] = [tempDir(), tempDir()];
    await writeImageLayout(d1, [{ tag: "v1", spec: multiLayerImage() }]);
    await writeImageLayout(d2, [{ tag: "v1", spec: multiLayerImage() }]);
    expect(readFileSync(join(d1, "index.json"), "utf8")).toBe(readFileSync(join(d2, "index.json"), "utf8"));
  });

  test("diff ids are the sha256 of the uncompressed tar, digests of the blob", async () => {
    const img = await buildImage(multiLayerImage());
    const config = JSON.parse(new TextDecoder().decode(img.config.bytes));
    expect(config.rootfs.diff_ids).toEqual(img.layers.map((l) => l.diffId));
    expect(config.history).toHaveLength(img.layers.length);
    expect(img.layers.map((l) => l.mediaType)).toEqual([
      "application/vnd.oci.image.layer.v1.tar+gzip",
      "application/vnd.oci.image.layer.v1.tar+gzip",
      "application/vnd.oci.image.layer.v1.tar+zstd",
      "application/vnd.oci.image.layer.v1.tar",
      "application/vnd.oci.image.layer.v1.tar+gzip",
    ]);
    for (const l of img.layers) {
      const raw = l.mediaType.endsWith("gzip")
        ? zlib.gunzipSync(l.blob)
        : l.mediaType.endsWith("zstd")
          ? zlib.zstdDecompressSync(l.blob)
          : Buffer.from(l.blob);
      expect(Buffer.compare(raw, l.tar)).toBe(0);
      expect(sha256(raw)).toBe(l.diffId);
      expect(sha256(l.blob)).toBe(l.digest);
    }
  });

  test("long, unicode and special names survive a tar parser", async () => {
    const spec = multiLayerImage();
    const names = await tarItems((await buildLayer(spec.layers[4]!)).tar);
    for (const n of [UNICODE_NAME, PAX_NAME, GNU_NAME, DEEP_PATH]) expect(names.get(n)?.type).toBe("file");
    const links = await tarItems((await buildLayer(spec.layers[1]!)).tar);
    expect(links.get("links/hard2")).toEqual({ type: "link", linkname: "links/hard1" });
    const wh = await tarItems((await buildLayer(spec.layers[2]!)).tar);
    expect(wh.has("lower/.wh.delete-me") && wh.has("opaque/.wh..wh..opq")).toBe(true);
  });

  test("busybox links every applet of the host binary", () => {
    const tree = expectedTree(busyboxImage());
    for (const a of ["sh", "ls", "cat", "echo", "sleep", "id", "env", "httpd", "nc", "wget", "ps", "stat", "whoami"]) {
      expect(busyboxApplets()).toContain(a);
      expect(tree.get(`/bin/${a}`)).toMatchObject({ type: "symlink", target: "busybox" });
    }
    expect(tree.get("/tmp")?.mode).toBe(0o1777);
    expect(tree.get("/home/user")).toMatchObject({ uid: 1000, gid: 1000 });
  });
});

describe("expectedTree", () => {
  const tree = expectedTree(multiLayerImage());
  const get = (p: string): TreeNode | undefined => tree.get(p);

  test("whiteouts and opaque directories hide lower content", () => {
    expect(get("/lower/delete-me")).toBeUndefined();
    expect([...tree.keys()].filter((k) => k.startsWith("/lower/dir-to-delete"))).toEqual([]);
    expect(get("/lower/keep")?.type).toBe("file");
    expect(get("/lower/recreated")?.type).toBe("dir");
    expect([...tree.keys()].filter((k) => k.startsWith("/opaque/"))).toEqual(["/opaque/new"]);
    expect(get("/etc/motd")?.sha256).toBe(sha256("version 2\n"));
  });

  test("type changes, omitted parents, hardlinks", () => {
    expect(get("/replace/file-becomes-dir")?.type).toBe("dir");
    expect(get("/replace/dir-becomes-file")?.type).toBe("file");
    expect(get("/replace/dir-becomes-file/child.txt")).toBeUndefined();
    expect(get("/a")).toEqual({ type: "dir", mode: 0o750, uid: 33, gid: 33 });
    expect(get("/a/b")).toEqual({ type: "dir", mode: 0o750, uid: 33, gid: 33 });
    expect(get("/a/b/c")?.type).toBe("file");
    expect(get("/links/hard3")).toMatchObject({ mode: 0o600, uid: 1000, gid: 100, hardlink: "/links/hard1" });
    expect(get("/shared/link-to-lower")).toEqual({ ...get("/shared/original")! });
    expect(get("/shared/original")?.hardlink).toBe("/shared/link-to-lower");
  });

  test("ownership, modes, xattrs, symlinks, fifos", () => {
    expect(get("/perm/setuid")?.mode).toBe(0o4755);
    expect(get("/perm/setgid-dir")).toEqual({ type: "dir", mode: 0o2775, uid: 0, gid: 100 });
    expect(get("/perm/sticky")?.mode).toBe(0o1777);
    expect(get("/perm/unreadable")?.mode).toBe(0);
    expect(get("/owned/nobody")).toMatchObject({ uid: 65534, gid: 65534, mode: 0o600 });
    expect(get("/private")).toEqual({ type: "dir", mode: 0o700, uid: 1000, gid: 1000 });
    expect(get("/xattr/file")?.xattrs).toEqual({ "user.skiff.other": "world", "user.skiff.test": "hello" });
    expect(get("/sym/dangling")).toEqual({ type: "symlink", mode: 0o777, uid: 0, gid: 0, target: "/nonexistent/target" });
    expect(get("/sym/owned")).toMatchObject({ uid: 1000, gid: 1000 });
    expect(get("/fifo/pipe")).toEqual({ type: "fifo", mode: 0o600, uid: 0, gid: 0 });
    expect(get("/empty")).toMatchObject({ size: 0, sha256: sha256("") });
  });

  test("hostile entries are left out, device nodes too", () => {
    const hostile = hostileLayers();
    expect(expectedTree(hostile["symlink-escape-absolute"]).get("/evil")?.target).toBe(HOSTILE_TARGETS.symlinkAbsolute);
    expect(expectedTree(hostile["symlink-escape-absolute"]).has("/evil/owned")).toBe(false);
    const dev = expectedTree(hostile["device-nodes"]);
    expect(dev.has("/dev/null2") || dev.has("/dev/sda-evil")).toBe(false);
    expect(dev.get("/dev/after-devices")?.type).toBe("file");
  });
});

describe("hostile layers", () => {
  test("carry the names they promise", async () => {
    const want: Record<string, string> = {
      dotdot: `../${HOSTILE_TARGETS.dotdot}`,
      "dotdot-nested": `a/../../${HOSTILE_TARGETS.dotdotNested}`,
      absolute: HOSTILE_TARGETS.absolute,
      "symlink-escape-absolute": "evil/owned",
      "symlink-escape-relative": "evil/owned",
      "hardlink-escape": "passwd-link",
      "device-nodes": "dev/null2",
    };
    for (const [name, spec] of Object.entries(hostileLayers())) {
      const items = await tarItems((await buildLayer(spec.layers[1]!)).tar);
      expect(items.has(want[name]!)).toBe(true);
    }
    const rel = await tarItems((await buildLayer(hostileLayers()["symlink-escape-relative"].layers[1]!)).tar);
    expect(rel.get("evil")?.linkname).toEndWith(HOSTILE_TARGETS.symlinkRelative.slice(1));
    const dev = await tarItems((await buildLayer(hostileLayers()["device-nodes"].layers[1]!)).tar);
    expect(dev.get("dev/sda-evil")?.type).toBe("block-device");
  });

  test("arm, check and disarm the targets", () => {
    armHostileTargets();
    try {
      expect(hostileEscapes([tempDir()])).toEqual([]);
    } finally {
      disarmHostileTargets();
    }
  });
});

describe.skipIf(skopeoMissing !== undefined)("layouts and archives with skopeo", () => {
  test("skopeo inspects and copies a layout", async () => {
    const dir = tempDir();
    const layout = await writeImageLayout(dir, [
      { tag: "busybox", spec: busyboxImage() },
      { tag: "multi", spec: multiLayerImage() },
    ]);
    const info = JSON.parse(run(["skopeo", "inspect", `oci:${dir}:multi`]));
    const multi = layout.refs[1]!.images[0]!;
    expect(info.Digest).toBe(multi.manifest.digest);
    expect(info.Layers).toEqual(multi.layers.map((l) => l.digest));
    expect(info.Env).toContain("FIXTURE=multi-layer");
    const out = join(tempDir(), "copy");
    run(["skopeo", "--insecure-policy", "copy", "-q", "--preserve-digests", `oci:${dir}:multi`, `dir:${out}`]);
    expect(sha256(readFileSync(join(out, "manifest.json")))).toBe(multi.manifest.digest);
  }, 30_000);

  test("the legacy docker archive matches skopeo's docker-archive output", async () => {
    const m = multiLayerImage();
    // skopeo cannot write zstd layers into a docker-archive; compare an all-gzip variant.
    const spec: ImageSpec = { ...m, layers: m.layers.map((l) => ({ ...l, compression: "gzip" })) };
    const dir = tempDir();
    await writeImageLayout(dir, [{ tag: "v1", spec }]);
    const theirs = join(dir, "skopeo.tar");
    run(["skopeo", "--insecure-policy", "copy", "-q", `oci:${dir}:v1`, `docker-archive:${theirs}:127.0.0.1:5000/multi:v1`]);
    const mine = await dockerArchive(spec, "127.0.0.1:5000/multi:v1", { format: "legacy" });
    expect(await tarItems(mine)).toEqual(await tarItems(readFileSync(theirs)));
  }, 30_000);

  test("the Docker 25 archive is an OCI layout and a docker-archive at once", async () => {
    const dir = tempDir();
    const file = join(dir, "save.tar");
    writeFileSync(file, await dockerArchive(multiLayerImage(), "multi:v1"));
    const items = await tarItems(readFileSync(file));
    const manifest = JSON.parse(run(["tar", "-xOf", file, "manifest.json"]));
    expect(manifest[0].RepoTags).toEqual(["multi:v1"]);
    const img = await buildImage(multiLayerImage());
    expect(manifest[0].Layers).toEqual(img.layers.map((l) => `blobs/sha256/${l.diffId.slice(7)}`));
    for (const l of img.layers) expect(items.get(`blobs/sha256/${l.diffId.slice(7)}`)?.sha256).toBe(l.diffId);
    const viaArchive = JSON.parse(run(["skopeo", "inspect", `docker-archive:${file}`]));
    expect(viaArchive.Env).toContain("FIXTURE=multi-layer");
    run(["tar", "-xf", file, "-C", dir]);
    const viaLayout = JSON.parse(run(["skopeo", "inspect", `oci:${dir}:v1`]));
    expect(viaLayout.Layers).toEqual(img.layers.map((l) => l.diffId));
  }, 30_000);
});

const ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

async function getManifest(reg: TestRegistry, repo: string, ref: string): Promise<{ type: string; digest: string; body: any }> {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, { headers: { Accept: ACCEPT } });
  if (!res.ok) throw new Error(`GET ${repo}:${ref}: ${res.status}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  expect(sha256(bytes)).toBe(res.headers.get("docker-content-digest")!);
  return { type: res.headers.get("content-type") ?? "", digest: sha256(bytes), body: JSON.parse(new TextDecoder().decode(bytes)) };
}

describe.skipIf((registrySkipReason() ?? skopeoMissing) !== undefined)("pushed to a real registry", () => {
  let reg: TestRegistry;
  let dir: string;
  beforeAll(async () => {
    reg = await startRegistry();
    dir = tempDir();
  });
  afterAll(async () => {
    await reg?.stop();
  });

  test("single images keep their media types and digests", async () => {
    const layout = await writeImageLayout(dir, [
      { tag: "busybox", spec: busyboxImage() },
      { tag: "multi", spec: multiLayerImage() },
      { tag: "docker", spec: { ...busyboxImage(), mediaTypes: "docker" } },
    ]);
    for (const [i, tag] of ["busybox", "multi", "docker"].entries()) {
      const pushed = await pushLayout(dir, `${reg.host}/${tag}:v1`, { tag });
      const want = layout.refs[i]!.images[0]!;
      const got = await getManifest(reg, tag, "v1");
      expect(got.digest).toBe(want.manifest.digest);
      expect(pushed.digest).toBe(want.manifest.digest);
      expect(got.type).toBe(want.manifest.mediaType);
      expect(got.body.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual(want.layers.map((l) => l.mediaType));
      for (const l of want.layers) {
        const head = await fetch(`${reg.url}/v2/${tag}/blobs/${l.digest}`, { method: "HEAD" });
        expect(head.status).toBe(200);
        expect(Number(head.headers.get("content-length"))).toBe(l.blob.length);
      }
    }
  }, 60_000);

  test("indexes arrive whole: OCI with an attestation, and a Docker manifest list", async () => {
    for (const kind of ["oci", "docker"] as const) {
      const d = join(dir, `index-${kind}`);
      const layout = await writeImageLayout(d, { index: { tag: "v1", ...multiPlatformIndex({ mediaTypes: kind }) } });
      await pushLayout(d, `${reg.host}/index-${kind}:v1`, { tag: "v1" });
      const got = await getManifest(reg, `index-${kind}`, "v1");
      expect(got.digest).toBe(layout.refs[0]!.top.digest);
      expect(got.type).toBe(kind === "oci" ? "application/vnd.oci.image.index.v1+json" : "application/vnd.docker.distribution.manifest.list.v2+json");
      const platforms = got.body.manifests.map((m: { platform: { os: string; architecture: string; variant?: string } }) =>
        [m.platform.os, m.platform.architecture, m.platform.variant].filter(Boolean).join("/"),
      );
      expect(platforms).toEqual(kind === "oci" ? ["linux/amd64", "linux/arm64/v8", "linux/arm/v7", "unknown/unknown"] : ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]);
      for (const m of got.body.manifests) await getManifest(reg, `index-${kind}`, m.digest);
      if (kind === "oci") {
        const att = got.body.manifests[3];
        expect(att.annotations["vnd.docker.reference.type"]).toBe("attestation-manifest");
        expect(att.annotations["vnd.docker.reference.digest"]).toBe(got.body.manifests[0].digest);
        const body = (await getManifest(reg, "index-oci", att.digest)).body;
        expect(body.layers[0].mediaType).toBe("application/vnd.in-toto+json");
      }
    }
  }, 60_000);

  test("without all, skopeo pushes only the host's platform of an index", async () => {
    const d = join(dir, "one-platform");
    const layout = await writeImageLayout(d, { index: { tag: "v1", ...multiPlatformIndex() } });
    const pushed = await pushLayout(d, `${reg.host}/one-platform:v1`, { tag: "v1", all: false });
    expect(pushed).toMatchObject({ digest: layout.refs[0]!.images[0]!.manifest.digest, mediaType: "application/vnd.oci.image.manifest.v1+json" });
  }, 30_000);

  test("pushes with credentials to an htpasswd registry", async () => {
    const secured = await startRegistry({ auth: "htpasswd" });
    try {
      const d = join(dir, "creds");
      await writeImageLayout(d, [{ tag: "v1", spec: busyboxImage() }]);
      const opts = { tag: "v1", username: secured.username!, password: secured.password! };
      const pushed = await pushLayout(d, `${secured.host}/secured:v1`, opts);
      expect(pushed.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
      expect((await fetch(`${secured.url}/v2/secured/manifests/v1`)).status).toBe(401);
    } finally {
      await secured.stop();
    }
  }, 30_000);
});

function q(s: string): string {
  return `'${s.replace(/'/g, "'\\''")}'`;
}

/**
 * A shell script that applies each layer with GNU tar, doing whiteouts and
 * type changes by hand first, as an overlay would show them.
 */
async function gnuTarScript(spec: ImageSpec, work: string): Promise<string> {
  const root = join(work, "root");
  const lines = ["set -eu", `mkdir -p ${q(root)}`];
  for (const [i, l] of spec.layers.entries()) {
    const file = join(work, `layer${i}.tar`);
    writeFileSync(file, (await buildLayer(l)).tar);
    for (const [name, item] of await tarItems(readFileSync(file))) {
      const path = name.replace(/\/$/, "");
      const base = path.slice(path.lastIndexOf("/") + 1);
      const dir = path.slice(0, Math.max(0, path.lastIndexOf("/")));
      const p = q(join(root, path));
      if (base === ".wh..wh..opq") lines.push(`find ${q(join(root, dir))} -mindepth 1 -delete`);
      else if (base.startsWith(".wh.")) lines.push(`rm -rf ${q(join(root, dir, base.slice(4)))}`);
      else if (item.type === "directory") lines.push(`if [ -L ${p} ] || { [ -e ${p} ] && [ ! -d ${p} ]; }; then rm -f ${p}; fi`);
      else lines.push(`if [ -d ${p} ] && [ ! -L ${p} ]; then rm -rf ${p}; fi`);
    }
    lines.push(`tar --xattrs --xattrs-include='user.*' --numeric-owner -xpf ${q(file)} -C ${q(root)} --exclude='.wh.*'`);
  }
  return lines.join("\n");
}

describe("readTree agrees with expectedTree on a tree GNU tar extracted", () => {
  test.skipIf(!isRoot)("as root", async () => {
    const work = tempDir();
    writeFileSync(join(work, "apply.sh"), await gnuTarScript(multiLayerImage(), work));
    run(["sh", join(work, "apply.sh")]);
    expect(compareTrees(expectedTree(multiLayerImage()), readTree(join(work, "root")))).toEqual([]);
  }, 30_000);

  // Rootless: tar runs as root of a user namespace mapping the user's subordinate ids.
  test.skipIf(isRoot)("rootless, inside a user namespace", async () => {
    const work = tempDir();
    const userns = ["unshare", "--user", "--map-root-user", "--map-auto"];
    try {
      writeFileSync(join(work, "apply.sh"), await gnuTarScript(multiLayerImage(), work));
      run([...userns, "sh", join(work, "apply.sh")]);
      const actual = await readTreeInUserns(join(work, "root"));
      expect(compareTrees(expectedTree(multiLayerImage()), actual)).toEqual([]);
    } finally {
      // Files owned by subordinate ids can only be removed from inside the namespace.
      run([...userns, "rm", "-rf", join(work, "root")]);
    }
  }, 30_000);

  test("readTree maps host ids back through an id map", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "f"), "x");
    const me = process.getuid?.() ?? 0;
    const idMap = { uid: [{ containerId: 0, hostId: me, size: 1 }], gid: [] };
    expect(readTree(dir, { idMap }).get("/f")).toMatchObject({ uid: 0, gid: 65534, mode: 0o644 & ~process.umask() });
    expect(readTree(dir, { ignore: ["/f"] }).size).toBe(0);
  });

  test("compareTrees names every difference", () => {
    const want = expectedTree(multiLayerImage());
    const got = new Map(want);
    got.delete("/etc/motd");
    got.set("/a", { ...want.get("/a")!, mode: 0o755, uid: 0 });
    got.set("/extra", { type: "file", mode: 0o644, uid: 0, gid: 0 });
    expect(compareTrees(want, got)).toEqual(["/a: mode 0755, want 0750", "/a: uid 0, want 33", "/etc/motd: missing (want file)", "/extra: unexpected file"]);
    expect(layerEntries(multiLayerImage().layers[3]!).some((e) => e.type === "dir" && e.path === "a")).toBe(false);
  });
});

/**
 * Pushes a layout to a registry with skopeo, byte for byte (--preserve-digests:
 * without it skopeo gzips uncompressed layers on the way to a registry).
 * skopeo 1.9's oci: transport only accepts OCI media types in index.json, so
 * Docker-typed manifests and lists go through a dir: copy made here instead.
 */
import { link, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hex } from "./bytes.ts";
import { MANIFEST_TYPES } from "./image.ts";
import { REF_NAME } from "./layout.ts";

export interface PushOptions {
  /** The tag in the layout's index.json. */
  tag: string;
  /** Copy every manifest of an index (default: true for an index, as skopeo --all). */
  all?: boolean;
  username?: string;
  password?: string;
}

export interface PushResult {
  /** The digest of what the registry now serves for dest. */
  digest: string;
  mediaType: string;
  /** "oci" or "dir": the skopeo source transport used. */
  via: "oci" | "dir";
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, "utf8")) as T;
}

async function skopeo(args: string[]): Promise<void> {
  const proc = Bun.spawn(["skopeo", "--insecure-policy", ...args], { stdout: "pipe", stderr: "pipe" });
  const [err, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`skopeo ${args.join(" ")}: exit ${code}: ${err.trim()}`);
}

const OCI_TYPES: string[] = [MANIFEST_TYPES.oci.manifest, MANIFEST_TYPES.oci.index];

/** Every manifest reachable from `top` is OCI-typed (skopeo's oci: transport can read it). */
async function allOci(dir: string, top: Descriptor): Promise<boolean> {
  if (!OCI_TYPES.includes(top.mediaType)) return false;
  if (top.mediaType !== MANIFEST_TYPES.oci.index) return true;
  const idx = await readJson<{ manifests: Descriptor[] }>(join(dir, "blobs/sha256", hex(top.digest)));
  for (const m of idx.manifests) if (!(await allOci(dir, m))) return false;
  return true;
}

/** A skopeo dir: copy of `top` (hard links into the layout's blobs). */
async function toDirTransport(layout: string, top: Descriptor, out: string): Promise<void> {
  const blob = (d: string) => join(layout, "blobs/sha256", hex(d));
  await writeFile(join(out, "version"), "Directory Transport Version: 1.1\n");
  async function put(desc: Descriptor, name: string): Promise<void> {
    await link(blob(desc.digest), join(out, name)).catch(async () => writeFile(join(out, name), await readFile(blob(desc.digest))));
  }
  async function manifest(desc: Descriptor, isTop: boolean): Promise<void> {
    await put(desc, isTop ? "manifest.json" : `${hex(desc.digest)}.manifest.json`);
    const m = await readJson<{ manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] }>(blob(desc.digest));
    for (const child of m.manifests ?? []) await manifest(child, false);
    for (const b of [...(m.config ? [m.config] : []), ...(m.layers ?? [])]) await put(b, hex(b.digest));
  }
  await manifest(top, true);
}

/**
 * Copies tag `opts.tag` of the OCI layout in `layoutDir` to `dest`
 * ("127.0.0.1:5000/repo:tag") over plain http.
 */
export async function pushLayout(layoutDir: string, dest: string, opts: PushOptions): Promise<PushResult> {
  const index = await readJson<{ manifests: Descriptor[] }>(join(layoutDir, "index.json"));
  const top = index.manifests.find((m) => m.annotations?.[REF_NAME] === opts.tag);
  if (top === undefined) throw new Error(`push ${layoutDir}: no tag ${opts.tag} in index.json`);
  const isIndex = top.mediaType === MANIFEST_TYPES.oci.index || top.mediaType === MANIFEST_TYPES.docker.index;
  const args = ["copy", "--quiet", "--preserve-digests", "--dest-tls-verify=false", "--retry-times", "2"];
  if (opts.all ?? isIndex) args.push("--all");
  if (opts.username !== undefined) args.push("--dest-creds", `${opts.username}:${opts.password ?? ""}`);
  const work = await mkdtemp(join(tmpdir(), "skiff-push-"));
  try {
    const digestFile = join(work, "digest");
    args.push("--digestfile", digestFile);
    let via: PushResult["via"] = "oci";
    if (await allOci(layoutDir, top)) {
      await skopeo([...args, `oci:${layoutDir}:${opts.tag}`, `docker://${dest}`]);
    } else {
      via = "dir";
      const dir = join(work, "dir");
      await mkdir(dir);
      await toDirTransport(layoutDir, top, dir);
      await skopeo([...args, `dir:${dir}`, `docker://${dest}`]);
    }
    // Without --all skopeo pushes only the host's platform from an index: read what it chose.
    const digest = (await readFile(digestFile, "utf8")).trim();
    const pushed = await readJson<{ mediaType?: string }>(join(layoutDir, "blobs/sha256", hex(digest)));
    return { digest, mediaType: pushed.mediaType ?? top.mediaType, via };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

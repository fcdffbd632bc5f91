/**
 * `commit`: a container's changes become a new image on top of its own.
 *
 *  1. The writable layer (the overlay upper dir) is written as an OCI
 *     layer tar by a helper (./commit-layer.ts) running in the container's
 *     user namespace (rootless) so every file is readable with its
 *     container owner; the tar is spooled to a temp file while its sha256
 *     (the diff id) is computed.
 *  2. The snapshot for the new chain id is built from that file (so the
 *     new image runs without unpacking anything else) while the same bytes
 *     are gzipped into the blob the manifest will list.
 *  3. The config is the base image's with the container's runtime settings
 *     (Cmd, Entrypoint, Env, WorkingDir, User, Labels, StopSignal), then
 *     the caller's overrides and `changes` (Dockerfile instructions), a new
 *     history entry, and the new diff id; an unchanged container adds an
 *     empty-layer history entry and no layer, as Docker does.
 *
 * The container keeps running; it is not paused (cgroup v1 rootless has no
 * freezer), so files written during the commit may or may not be in it.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Context } from "../context.ts";
import { chainIds, Digester, type Digest } from "../digest.ts";
import { SkiffError, toSkiffError } from "../errors.ts";
import type { ContainerRecord } from "../containers/record.ts";
import { commandOf } from "../containers/views.ts";
import { imageLayerDirs } from "../containers/rootfs.ts";
import { mergeEnv } from "../oci/spec.ts";
import { formatReference, parseReference } from "../registry/reference.ts";
import { selfCommand, spawnInUserNamespace } from "../../runtime/userns.ts";
import { ociManifestBytes, storeFile, type ManifestLayer } from "./archive/blobs.ts";
import { applyChanges } from "./changes.ts";
import type { CommitLayerMessage } from "./commit-layer.ts";
import { holdGcShared } from "./gc.ts";
import { compressingSource } from "./compressing-source.ts";
import { ensureSnapshot } from "./layers.ts";
import { layerCompression, MediaType, parseManifest, type ContainerConfig, type ImageConfig } from "./manifest.ts";
import type { ImageRecord } from "./store.ts";
import { readImageConfig } from "./views.ts";

export interface CommitOptions {
  /** Name for the new image; untagged when absent. */
  reference?: string | undefined;
  comment?: string | undefined;
  author?: string | undefined;
  /** Dockerfile instructions applied last (`CMD ["sh"]`, `ENV A=1`...). */
  changes?: string[];
  /** Runtime settings that replace the container's (Docker's commit body). */
  config?: Partial<ContainerConfig>;
}


/** The container's runtime settings over the image's, as the new image's defaults. */
export function committedConfig(record: ContainerRecord, overrides: Partial<ContainerConfig> = {}, changes: string[] = []): ContainerConfig {
  const img: ContainerConfig = record.imageConfig ?? {};
  const o = record.options;
  const cfg: ContainerConfig = { ...img };
  if (o.entrypoint !== null) {
    cfg.Entrypoint = o.entrypoint.length > 0 ? o.entrypoint : null;
    if (o.cmd === null) cfg.Cmd = null;
  }
  if (o.cmd !== null) cfg.Cmd = o.cmd;
  if (o.env.length > 0) cfg.Env = mergeEnv(img.Env ?? [], o.env);
  if (o.workdir) cfg.WorkingDir = o.workdir;
  if (o.user) cfg.User = o.user;
  if (Object.keys(o.labels).length > 0) cfg.Labels = { ...(img.Labels ?? {}), ...o.labels };
  if (o.stopSignal) cfg.StopSignal = o.stopSignal;
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined && v !== null) (cfg as Record<string, unknown>)[k] = v;
  return applyChanges(cfg, changes);
}

/** Runs the layer helper and spools its tar into `path`; returns the diff id and entry count. */
async function spoolLayer(ctx: Context, record: ContainerRecord, path: string): Promise<{ diffId: Digest; entries: number }> {
  const upper = join(ctx.containers.dir(record.id), "upper");
  // A copy-driver container's upper dir is its whole root filesystem: the layer is its difference from the image.
  const job = record.driver === "copy" ? { upper, lowers: imageLayerDirs(ctx, record) } : { upper };
  const argv = [...selfCommand(), "__ns", "commit-layer", JSON.stringify(job)];
  const stdio = { stdin: "ignore" as const, stdout: "pipe" as const, stderr: "pipe" as const };
  const child = record.rootless ? await spawnInUserNamespace(argv, ctx.userns, stdio) : Bun.spawn(argv, stdio);
  const digester = new Digester("sha256");
  const fd = openSync(path, "wx", 0o600);
  let outcome: CommitLayerMessage | undefined;
  let other = "";
  try {
    const reading = (async () => {
      for await (const chunk of child.stdout as ReadableStream<Uint8Array>) {
        digester.update(chunk);
        let off = 0;
        while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
      }
    })();
    const messages = (async () => {
      const text = await new Response(child.stderr as ReadableStream<Uint8Array>).text();
      for (const line of text.split("\n")) {
        if (!line.trim()) continue;
        try {
          outcome = JSON.parse(line) as CommitLayerMessage;
        } catch {
          other += `${line}\n`;
        }
      }
    })();
    const [code] = await Promise.all([child.exited, reading, messages]);
    const final = outcome as CommitLayerMessage | undefined;
    if (final && !final.ok) throw new SkiffError(final.kind, final.message);
    if (!final || code !== 0) throw new SkiffError("Internal", `commit: the layer helper exited with code ${code}${other.trim() ? `: ${other.trim()}` : ""}`);
    return { diffId: digester.digest(), entries: final.entries };
  } finally {
    closeSync(fd);
  }
}

function baseLayers(ctx: Context, base: ImageRecord): ManifestLayer[] {
  const parsed = parseManifest(ctx.content.readBytes(base.manifestDigest), base.manifestMediaType);
  if (parsed.kind !== "manifest") throw new SkiffError("Internal", `image ${base.id}: stored manifest is an index`);
  return parsed.manifest.layers.map((l) => {
    const compression = layerCompression(l.mediaType);
    if (compression === undefined) throw new SkiffError("FailedPrecondition", `image ${base.id}: layer ${l.digest} (${l.mediaType}) cannot be carried into a commit`);
    return { digest: l.digest as Digest, size: l.size, compression };
  });
}

/** Commits a container (running or not) as a new image; returns its record. */
export async function commitContainer(ctx: Context, record: ContainerRecord, opts: CommitOptions = {}): Promise<ImageRecord> {
  try {
    let name: string | undefined;
    if (opts.reference) {
      const ref = parseReference(opts.reference);
      if (ref.digest) throw new SkiffError("InvalidArgument", `${opts.reference}: a reference with a digest cannot name a new image`);
      name = formatReference(ref);
    }
    const base = ctx.images.get(record.image.id as Digest);
    if (!base) throw new SkiffError("FailedPrecondition", `the image of container ${record.name} (${record.image.id}) is no longer in the store`);
    const baseConfig = readImageConfig(ctx, base);
    const runtime = committedConfig(record, opts.config, opts.changes ?? []);
    const hold = await holdGcShared(ctx);
    let tmp: string | undefined;
    try {
      mkdirSync(ctx.paths.tmp, { recursive: true, mode: 0o700 });
      tmp = mkdtempSync(join(ctx.paths.tmp, "commit-"));
      const tarPath = join(tmp, "layer.tar");
      const { diffId, entries } = await spoolLayer(ctx, record, tarPath);
      const layers = baseLayers(ctx, base);
      const diffIds = [...(baseConfig.rootfs.diff_ids as Digest[])];
      const chains = [...base.chainIds] as Digest[];
      let size = base.size;
      const empty = entries === 0;
      if (!empty) {
        const allChains = chainIds([...diffIds, diffId]);
        const chainId = allChains[allChains.length - 1] as Digest;
        const gz = compressingSource(tarPath, join(tmp, "layer.tar.gz"));
        const snap = await ensureSnapshot(ctx, {
          chainId,
          diffId,
          parent: chains[chains.length - 1] ?? null,
          parentDone: Promise.resolve(),
          compression: "none",
          source: gz.source,
        });
        const blob = await gz.blob();
        await storeFile(ctx, blob);
        layers.push({ digest: blob.digest, size: blob.size, compression: "gzip" });
        diffIds.push(diffId);
        chains.push(chainId);
        size += snap.size;
      }
      const created = new Date().toISOString();
      const config: ImageConfig = {
        ...baseConfig,
        created,
        ...(opts.author ? { author: opts.author } : {}),
        ...(opts.comment ? { comment: opts.comment } : {}),
        container: record.id,
        config: runtime,
        rootfs: { type: "layers", diff_ids: diffIds },
        history: [
          ...(baseConfig.history ?? []),
          {
            created,
            created_by: commandOf(record).join(" "),
            ...(opts.author ? { author: opts.author } : {}),
            ...(opts.comment ? { comment: opts.comment } : {}),
            ...(empty ? { empty_layer: true } : {}),
          },
        ],
      };
      const configBytes = new TextEncoder().encode(JSON.stringify(config));
      const id = ctx.content.put(configBytes);
      const manifestDigest = ctx.content.put(ociManifestBytes({ digest: id, size: configBytes.length }, layers));
      return await ctx.images.put({
        id,
        names: name ? [name] : [],
        repoDigests: [],
        manifestDigest,
        manifestMediaType: MediaType.OciManifest,
        chainIds: chains,
        size,
        created,
        added: created,
        os: base.os,
        architecture: base.architecture,
        ...(base.variant ? { variant: base.variant } : {}),
      });
    } finally {
      if (tmp) rmSync(tmp, { recursive: true, force: true });
      hold.release();
    }
  } catch (e) {
    throw toSkiffError(e, `commit ${record.name}`);
  }
}

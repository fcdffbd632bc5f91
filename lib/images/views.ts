/**
 * Docker-shaped views of images: the rows of `images`, the JSON of
 * `image inspect` and the entries of `image history`. Shared by the CLI and
 * the API.
 */
import type { Context } from "../context.ts";
import type { Digest } from "../digest.ts";
import { SkiffError } from "../errors.ts";
import { familiarString, parseReference } from "../registry/reference.ts";
import type { ImageConfig } from "./manifest.ts";
import type { ImageRecord } from "./store.ts";

/**
 * An image's config. Not parsed against ImageConfigSchema again: the blob
 * is checked against its digest as it is read, and every way a config gets
 * into the store (pull, load, import, commit) checked it against the schema
 * before storing it. Building that schema would cost `run` 1-2 ms.
 */
export function readImageConfig(ctx: Context, img: ImageRecord): ImageConfig {
  const doc = ctx.content.readJson(img.id);
  if (typeof doc !== "object" || doc === null) throw new SkiffError("Internal", `image ${img.id}: config is not a JSON object`);
  return doc as ImageConfig;
}

/** `docker.io/library/busybox:latest` → `busybox:latest` as Docker shows it. */
export function familiar(name: string): string {
  try {
    return familiarString(parseReference(name));
  } catch {
    return name;
  }
}

function splitName(familiarName: string, sep: ":" | "@"): { repository: string; rest: string } {
  const i = familiarName.lastIndexOf(sep);
  if (i <= 0 || (sep === ":" && familiarName.indexOf("/", i) >= 0)) return { repository: familiarName, rest: "<none>" };
  return { repository: familiarName.slice(0, i), rest: familiarName.slice(i + 1) };
}

export interface ImageRow {
  ID: string;
  Repository: string;
  Tag: string;
  Digest: string;
  CreatedAt: string;
  CreatedSince: string;
  Created: number;
  Size: string;
  SizeBytes: number;
  Containers: string;
  Dangling: boolean;
  Names: string[];
}

/**
 * One row per (repository, tag) like `docker images`; an untagged image gets
 * one `<none>` row. Sizes and times are left raw; the CLI renders them.
 */
export function imageRows(images: ImageRecord[]): { image: ImageRecord; repository: string; tag: string; digest: string }[] {
  const rows: { image: ImageRecord; repository: string; tag: string; digest: string }[] = [];
  for (const img of images) {
    const digestFor = (repo: string): string => {
      const rd = img.repoDigests.map(familiar).find((d) => d.startsWith(`${repo}@`));
      return rd ? rd.slice(rd.indexOf("@") + 1) : "<none>";
    };
    if (img.names.length === 0) {
      const rd = img.repoDigests[0] ? familiar(img.repoDigests[0]) : undefined;
      const repo = rd ? splitName(rd, "@").repository : "<none>";
      rows.push({ image: img, repository: repo, tag: "<none>", digest: rd ? digestFor(repo) : "<none>" });
      continue;
    }
    for (const n of img.names) {
      const { repository, rest } = splitName(familiar(n), ":");
      rows.push({ image: img, repository, tag: rest, digest: digestFor(repository) });
    }
  }
  return rows;
}

/** `docker image inspect` JSON for one image. */
export function inspectImage(ctx: Context, img: ImageRecord): Record<string, unknown> {
  const cfg = readImageConfig(ctx, img);
  const c = cfg.config ?? {};
  return {
    Id: img.id,
    RepoTags: img.names.map(familiar),
    RepoDigests: img.repoDigests.map(familiar),
    Parent: "",
    Comment: cfg.comment ?? "",
    Created: cfg.created ?? img.created ?? "0001-01-01T00:00:00Z",
    DockerVersion: cfg.docker_version ?? "",
    Author: cfg.author ?? "",
    Config: {
      Hostname: "",
      Domainname: "",
      User: c.User ?? "",
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      ExposedPorts: c.ExposedPorts ?? null,
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: c.Env ?? null,
      Cmd: c.Cmd ?? null,
      Healthcheck: c.Healthcheck ?? undefined,
      Image: "",
      Volumes: c.Volumes ?? null,
      WorkingDir: c.WorkingDir ?? "",
      Entrypoint: c.Entrypoint ?? null,
      OnBuild: c.OnBuild ?? null,
      Labels: c.Labels ?? null,
      StopSignal: c.StopSignal ?? undefined,
    },
    Architecture: cfg.architecture ?? img.architecture,
    ...(cfg.variant ? { Variant: cfg.variant } : {}),
    Os: cfg.os ?? img.os,
    Size: img.size,
    VirtualSize: img.size,
    GraphDriver: {
      Name: "overlay",
      Data: {
        LowerDirs: img.chainIds
          .slice()
          .reverse()
          .map((c) => ctx.snapshots.fsDir(c as Digest))
          .join(":"),
      },
    },
    RootFS: { Type: "layers", Layers: cfg.rootfs.diff_ids },
    Metadata: { LastTagTime: img.added },
  };
}

export interface HistoryEntry {
  id: string;
  created: string | undefined;
  createdBy: string;
  size: number;
  comment: string;
  emptyLayer: boolean;
  tags: string[];
}

/** `docker history`: newest first; layers are matched to non-empty history entries in order. */
export function imageHistory(ctx: Context, img: ImageRecord): HistoryEntry[] {
  const cfg = readImageConfig(ctx, img);
  const history = cfg.history ?? [];
  const sizes = img.chainIds.map((c) => ctx.snapshots.meta(c as Digest)?.size ?? 0);
  const out: HistoryEntry[] = [];
  let layer = 0;
  if (history.length === 0) {
    for (const size of sizes) out.push({ id: "<missing>", created: undefined, createdBy: "", size, comment: "", emptyLayer: false, tags: [] });
  }
  for (const h of history) {
    const empty = h.empty_layer === true;
    const size = empty ? 0 : (sizes[layer] ?? 0);
    if (!empty) layer += 1;
    out.push({ id: "<missing>", created: h.created, createdBy: h.created_by ?? "", size, comment: h.comment ?? "", emptyLayer: empty, tags: [] });
  }
  out.reverse();
  if (out[0]) {
    out[0].id = img.id;
    out[0].tags = img.names.map(familiar);
  }
  return out;
}

/**
 * `diff` / `GET /containers/{id}/changes`: what a container changed in its
 * root filesystem, read from its overlay upper directory the way dockerd's
 * overlay driver does (moby pkg/archive/changes.go `changes` with
 * `overlayDeletedFile`): a whiteout (0/0 character device) or an opaque
 * directory is a deletion (D), an entry that also exists in a lower layer
 * is a modification (C) unless it is a directory whose size, mode and
 * mtime are unchanged, anything else was added (A); the parent of an added
 * or deleted entry is listed as modified.
 */
import { lstatSync, readdirSync, statSync, type Stats } from "node:fs";
import { join } from "node:path";
import { isOpaque } from "../layers/xattrs.ts";
import type { Context } from "../context.ts";
import { copyDiff } from "./copy-diff.ts";
import type { ContainerRecord } from "./record.ts";
import { imageLayerDirs } from "./rootfs.ts";

export type ChangeKind = 0 | 1 | 2;
export const CHANGE = { modified: 0, added: 1, deleted: 2 } as const;

export interface Change {
  Path: string;
  Kind: ChangeKind;
}

function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** Changes of `upper` over `lowers` (top-most first), in walk order (lexical, parents first). */
export function upperChanges(upper: string, lowers: readonly string[]): Change[] {
  const changes: Change[] = [];
  const changedDirs = new Set<string>();
  const walk = (rel: string): void => {
    let names: string[];
    try {
      names = readdirSync(join(upper, rel)).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const childRel = rel ? `${rel}/${name}` : name;
      const host = join(upper, childRel);
      let st: Stats;
      try {
        st = lstatSync(host);
      } catch {
        continue;
      }
      const path = `/${childRel}`;
      let kind: ChangeKind;
      let skip = false;
      if (isWhiteout(st) || (st.isDirectory() && isOpaque(host))) {
        kind = CHANGE.deleted;
      } else {
        kind = CHANGE.added;
        for (const lower of lowers) {
          const lst = statOrUndefined(join(lower, childRel));
          if (!lst) continue;
          if (lst.isDirectory() && st.isDirectory() && lst.size === st.size && (lst.mode & 0o7777) === (st.mode & 0o7777) && Math.floor(lst.mtimeMs / 1000) === Math.floor(st.mtimeMs / 1000)) {
            skip = true;
          }
          kind = CHANGE.modified;
          break;
        }
      }
      if (!skip) {
        if (st.isDirectory()) changedDirs.add(path);
        if (kind !== CHANGE.modified) {
          const parent = path.slice(0, path.lastIndexOf("/")) || "/";
          if (parent !== "/" && !changedDirs.has(parent)) {
            changes.push({ Path: parent, Kind: CHANGE.modified });
            changedDirs.add(parent);
          }
        }
        changes.push({ Path: path, Kind: kind });
      }
      if (st.isDirectory() && !isWhiteout(st)) walk(childRel);
    }
  };
  walk("");
  return changes;
}

/**
 * Changes of a copy-driver container, whose `upper` is its whole root
 * filesystem (copy-diff.ts), in the same order and with the same parent
 * rule as upperChanges.
 */
export function copyChanges(upper: string, lowers: readonly string[]): Change[] {
  const changes: Change[] = [];
  const listed = new Set<string>();
  const push = (rel: string, kind: ChangeKind): void => {
    const path = `/${rel}`;
    if (kind !== CHANGE.modified) {
      const parent = path.slice(0, path.lastIndexOf("/")) || "/";
      if (parent !== "/" && !listed.has(parent)) {
        changes.push({ Path: parent, Kind: CHANGE.modified });
        listed.add(parent);
      }
    }
    if (listed.has(path)) return;
    listed.add(path);
    changes.push({ Path: path, Kind: kind });
  };
  for (const step of copyDiff(upper, lowers)) {
    if (step.kind === "deleted") push(step.rel, CHANGE.deleted);
    else if ((step.kind === "dir" || step.kind === "entry") && step.change !== "same") push(step.rel, step.change === "added" ? CHANGE.added : CHANGE.modified);
  }
  return changes;
}

export interface ChangesRequest {
  upper: string;
  /** The image's layer directories, top-most first. */
  lowers: string[];
  /** `upper` is a copy-driver container's whole root filesystem. */
  copy: boolean;
}

export function changesOf(req: ChangesRequest): Change[] {
  return req.copy ? copyChanges(req.upper, req.lowers) : upperChanges(req.upper, req.lowers);
}

/**
 * What a container changed in its root filesystem (`diff`), for either kind
 * of upper dir; rootless it is read inside the user namespace, where the
 * container's private directories are readable.
 */
export function containerChanges(ctx: Context, record: ContainerRecord): Promise<Change[]> {
  return ctx.executor.changes({ upper: join(ctx.containers.dir(record.id), "upper"), lowers: imageLayerDirs(ctx, record), copy: record.driver === "copy" });
}

/** Docker's one letter per kind, as `docker diff` prints them. */
export const CHANGE_LETTER: Record<ChangeKind, string> = { 0: "C", 1: "A", 2: "D" };

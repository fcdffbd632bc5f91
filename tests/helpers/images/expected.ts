/**
 * expectedTree: the filesystem a container must see once an image's layers
 * are applied in order with OCI whiteout semantics. Computed from the specs
 * (the same entry list the tars are written from), not from the tars.
 */
import { sha256 } from "./bytes.ts";
import { fileContent, layerEntries, normPath } from "./layer.ts";
import type { FixtureEntry, ImageSpec, LayerSpec, Tree, TreeNode } from "./types.ts";

interface FileInode {
  mode: number;
  uid: number;
  gid: number;
  sha256: string;
  size: number;
  xattrs?: Record<string, string>;
}

type Item = { kind: "file"; inode: FileInode } | { kind: "other"; node: TreeNode };

function userXattrs(x: Record<string, string> | undefined): Record<string, string> | undefined {
  if (x === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const k of Object.keys(x).sort()) if (k.startsWith("user.")) out[k] = x[k] ?? "";
  return Object.keys(out).length > 0 ? out : undefined;
}

function withXattrs<T extends object>(o: T, x: Record<string, string> | undefined): T {
  const u = userXattrs(x);
  return u ? { ...o, xattrs: u } : o;
}

class FsModel {
  readonly items = new Map<string, Item>();

  /** Removes a path and everything below it. */
  remove(path: string): void {
    this.items.delete(path);
    const prefix = `${path}/`;
    for (const k of [...this.items.keys()]) if (k.startsWith(prefix)) this.items.delete(k);
  }

  #ensureParents(path: string): void {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      const it = this.items.get(dir);
      if (it === undefined) {
        // What extractors do for a parent the layer does not write: create it 0755 root.
        this.items.set(dir, { kind: "other", node: { type: "dir", mode: 0o755, uid: 0, gid: 0 } });
      } else if (it.kind !== "other" || it.node.type !== "dir") {
        throw new Error(`expectedTree ${path}: parent ${dir} is not a directory (use a raw entry for hostile layers)`);
      }
    }
  }

  put(path: string, item: Item): void {
    this.#ensureParents(path);
    const old = this.items.get(path);
    const newIsDir = item.kind === "other" && item.node.type === "dir";
    if (old !== undefined) {
      const oldIsDir = old.kind === "other" && old.node.type === "dir";
      // A directory over a directory keeps the children; anything else replaces the whole path.
      if (!(oldIsDir && newIsDir)) this.remove(path);
    }
    this.items.set(path, item);
  }

  apply(spec: LayerSpec): void {
    const entries = layerEntries(spec);
    // Whiteouts apply to lower layers only, so they go first.
    for (const e of entries) {
      if (e.type === "whiteout") this.remove(e.path);
      if (e.type === "opaque") {
        const prefix = `${e.path}/`;
        for (const k of [...this.items.keys()]) if (k.startsWith(prefix)) this.items.delete(k);
      }
    }
    for (const e of entries) this.#entry(e);
  }

  #entry(e: FixtureEntry): void {
    switch (e.type) {
      case "file": {
        const content = fileContent(e);
        const inode: FileInode = withXattrs(
          { mode: e.mode ?? 0o644, uid: e.uid ?? 0, gid: e.gid ?? 0, sha256: sha256(content), size: content.length },
          e.xattrs,
        );
        this.put(e.path, { kind: "file", inode });
        return;
      }
      case "dir":
        this.put(e.path, {
          kind: "other",
          node: withXattrs({ type: "dir", mode: e.mode ?? 0o755, uid: e.uid ?? 0, gid: e.gid ?? 0 }, e.xattrs),
        });
        return;
      case "symlink":
        this.put(e.path, { kind: "other", node: { type: "symlink", mode: 0o777, uid: e.uid ?? 0, gid: e.gid ?? 0, target: e.target } });
        return;
      case "hardlink": {
        const target = this.items.get(e.target);
        if (target?.kind !== "file") throw new Error(`expectedTree ${e.path}: hardlink target ${e.target} is not a file`);
        this.put(e.path, target);
        return;
      }
      case "fifo":
        this.put(e.path, { kind: "other", node: { type: "fifo", mode: e.mode ?? 0o644, uid: e.uid ?? 0, gid: e.gid ?? 0 } });
        return;
      // Device nodes are never created by skiff, and raw entries are hostile on purpose: both are left out.
      case "chardev":
      case "blockdev":
      case "raw":
      case "whiteout":
      case "opaque":
        return;
    }
  }

  tree(): Tree {
    const names = new Map<FileInode, string[]>();
    for (const [path, it] of this.items) {
      if (it.kind !== "file") continue;
      const list = names.get(it.inode) ?? [];
      list.push(`/${path}`);
      names.set(it.inode, list);
    }
    const out: Tree = new Map();
    for (const path of [...this.items.keys()].sort()) {
      const it = this.items.get(path);
      if (it === undefined) continue;
      if (it.kind === "other") {
        out.set(`/${path}`, { ...it.node });
        continue;
      }
      const node: TreeNode = { type: "file", ...it.inode };
      const group = names.get(it.inode) ?? [];
      if (group.length > 1) node.hardlink = group.sort()[0];
      out.set(`/${path}`, node);
    }
    return out;
  }
}

/**
 * The final tree, keyed "/path" (the root itself excluded): later entries replace
 * earlier ones, whiteouts and opaque markers hide lower content, hardlinks share
 * one inode, device nodes and raw entries are left out.
 */
export function expectedTree(spec: ImageSpec): Tree {
  const fs = new FsModel();
  if (spec.attestationFor !== undefined) return fs.tree();
  for (const l of spec.layers) fs.apply(l);
  return fs.tree();
}

/** "/a//b/" → "/a/b" */
export function treeKey(p: string): string {
  return `/${normPath(p)}`;
}

/**
 * The container side of `cp`, run as `skiff __ns cp <json>`: inside the
 * container's user namespace when rootless (joined with nsenter for a
 * running container, a fresh one for a stopped container), as root
 * otherwise. It makes the container's root filesystem its own root with
 * chroot(2) — `/proc/<init>/root` of a running container, or the overlay
 * mounted in its private mount namespace for a stopped one — so the kernel
 * resolves every path, symlinks and `..` included, inside the container.
 *
 * Data: the tar stream on stdout (op "out") or stdin (op "in").
 * Control: JSON lines on stderr (CpHelperMessage), the last one the outcome.
 * Everything it needs is imported before the chroot: nothing is ever loaded
 * from the container's filesystem.
 */
import { lstatSync, mkdirSync, writeSync, type Stats } from "node:fs";
import { errnoCode, SkiffError, toSkiffError, type ErrorKind } from "../errors.ts";
import { decompress, toAsyncIterable } from "../layers/decompress.ts";
import { chroot } from "../sys/chroot.ts";
import type { ShimConfig } from "../../shim/config.ts";
import { extractArchive } from "./cp-extract.ts";
import { packPath } from "./cp-pack.ts";
import {
  assertsDirectory,
  containerAbsPath,
  hasTrailingSeparator,
  planCopy,
  preserveTrailingDotOrSeparator,
  splitPathDirEntry,
  type CopyPlan,
  type SourceInfo,
} from "./cp-paths.ts";
import { resolveInScope } from "./scope.ts";

/** How the helper reaches the container's root filesystem. */
export type CpRoot =
  | { kind: "proc"; pid: number }
  | {
      kind: "overlay";
      /** Empty directory to mount on; `scratch` holds it and anything else needed. */
      mountpoint: string;
      scratch: string;
      driver: ShimConfig["driver"];
      snapshotsDir: string;
      lowerDirs: string[];
      upperDir: string;
      workDir: string;
    };

export type CpHelperRequest =
  | { op: "out"; root: CpRoot; path: string; followLink: boolean; container: string }
  /** source: what the archive on stdin holds, or null for a user's tar stream (`cp - C:DIR`). */
  | { op: "in"; root: CpRoot; path: string; source: SourceInfo | null; keepOwner: boolean; container: string };

export type CpHelperMessage =
  | { stat: SourceInfo & { size: number } }
  | { warning: string }
  | { ok: true; contentBytes: number }
  | { ok: false; kind: ErrorKind; message: string };

function send(msg: CpHelperMessage): void {
  const buf = Buffer.from(`${JSON.stringify(msg)}\n`);
  let off = 0;
  while (off < buf.length) off += writeSync(2, buf, off, buf.length - off);
}

/** Writes to a (possibly non-blocking) fd; a closed reader ends the copy. */
function writeAll(fd: number, chunk: Uint8Array): void {
  let off = 0;
  while (off < chunk.length) {
    try {
      off += writeSync(fd, chunk, off, chunk.length - off);
    } catch (e) {
      if (errnoCode(e) !== "EAGAIN") throw e;
      Bun.sleepSync(1);
    }
  }
}

/** Mounts a stopped container's overlay on root.mountpoint, as the shim does (shim/rootfs.ts). */
async function mountOverlay(root: Extract<CpRoot, { kind: "overlay" }>): Promise<void> {
  const { overlayOptions } = await import("../../shim/rootfs.ts");
  const { mount, MS_BIND, MS_REC } = await import("../sys/libc.ts");
  if (root.driver === "copy") {
    mount(root.upperDir, root.mountpoint, "", MS_BIND | MS_REC);
    return;
  }
  const empty = `${root.scratch}/empty`;
  if (root.lowerDirs.length === 0) mkdirSync(empty, { recursive: true });
  // Lower dirs are relative to the snapshots dir, to keep the options under a page.
  process.chdir(root.snapshotsDir);
  const opts = overlayOptions(root, empty);
  if (root.driver === "overlay") {
    mount("overlay", root.mountpoint, "overlay", 0, opts);
    return;
  }
  const p = Bun.spawn(["fuse-overlayfs", "-o", opts.replace(/,userxattr$/, ""), root.mountpoint], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
  if (code !== 0) throw new SkiffError("FailedPrecondition", `fuse-overlayfs: ${err.trim() || `exit ${code}`}`);
}

async function enterRoot(root: CpRoot): Promise<void> {
  if (root.kind === "overlay") await mountOverlay(root);
  chroot(root.kind === "proc" ? `/proc/${root.pid}/root` : root.mountpoint);
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw e;
  }
}

function notFound(path: string, container: string): SkiffError {
  return new SkiffError("NotFound", `could not find the file ${path} in container ${container}`);
}

/** Finds the source (Docker: the parent in scope, the last component only with -L, a trailing / or /.). */
function resolveSource(abs: string, followLink: boolean): string {
  const { dir, base } = splitPathDirEntry(abs);
  if (base === "." || followLink || hasTrailingSeparator(abs)) return resolveInScope("/", abs);
  const parent = resolveInScope("/", dir);
  return parent === "/" ? `/${base}` : `${parent}/${base}`;
}

async function copyOut(req: Extract<CpHelperRequest, { op: "out" }>): Promise<number> {
  const abs = containerAbsPath(req.path);
  const resolved = resolveSource(abs, req.followLink);
  // Kernel filesystems of a live container are not its files, and hold magic links.
  if (req.root.kind === "proc") refuseKernelFs(resolved, "from");
  const st = lstatOrUndefined(resolved);
  if (!st) throw notFound(abs, req.container);
  const { base } = splitPathDirEntry(abs);
  if ((base === "." || hasTrailingSeparator(abs)) && !st.isDirectory()) {
    throw new SkiffError("InvalidArgument", `${abs}: not a directory`);
  }
  send({ stat: { isDir: st.isDirectory(), base, size: st.size } });
  // A live container's kernel filesystems are not its files (Docker copies from its rootfs and volumes).
  const prune = req.root.kind === "proc" ? (p: string): boolean => LIVE_ONLY.includes(p) : undefined;
  const { stream, done } = packPath(resolved, base, prune ? { prune } : {});
  for await (const chunk of stream) writeAll(1, chunk);
  const { contentBytes } = await done;
  return contentBytes;
}

/** Mounted by the runtime in a running container; never copied from, never written to. */
const LIVE_ONLY = ["/proc", "/sys", "/dev"];

function refuseKernelFs(path: string, direction: "from" | "into" = "into"): void {
  const m = /^\/(proc|sys)(\/|$)/.exec(path);
  if (m) throw new SkiffError("InvalidArgument", `copying ${direction} /${m[1]} is not supported`);
}

function destinationPlan(req: Extract<CpHelperRequest, { op: "in" }>): CopyPlan {
  const abs = containerAbsPath(req.path);
  const resolved = resolveInScope("/", abs);
  let st = lstatOrUndefined(resolved);
  // `file/` names a directory that is not there.
  if (st && !st.isDirectory() && assertsDirectory(abs)) st = undefined;
  if (st && !st.isDirectory() && !st.isFile()) {
    throw new SkiffError("InvalidArgument", `destination "${req.container}:${req.path}" must be a directory or a regular file`);
  }
  if (req.source === null) {
    if (!st?.isDirectory()) throw new SkiffError("InvalidArgument", `destination "${req.container}:${req.path}" must be a directory`);
    refuseKernelFs(resolved);
    return { dir: resolved };
  }
  const plan = planCopy(req.source, { path: preserveTrailingDotOrSeparator(resolved, abs), exists: st !== undefined, isDir: st?.isDirectory() ?? false });
  refuseKernelFs(plan.dir);
  const dirSt = lstatOrUndefined(plan.dir);
  if (!dirSt) throw notFound(plan.dir, req.container);
  if (!dirSt.isDirectory()) throw new SkiffError("InvalidArgument", `extraction point ${plan.dir} is not a directory`);
  return plan;
}

async function copyIn(req: Extract<CpHelperRequest, { op: "in" }>): Promise<number> {
  const plan = destinationPlan(req);
  const input = toAsyncIterable(Bun.stdin.stream());
  // A user's stream may be compressed, as Docker accepts.
  const chunks = req.source === null ? (await decompress(input, "auto", { what: "archive" })).chunks : input;
  const { contentBytes } = await extractArchive(chunks, {
    dest: plan.dir,
    scopeRoot: "/",
    ...(plan.rename ? { rename: plan.rename } : {}),
    keepOwner: req.keepOwner,
    warn: (warning) => send({ warning }),
  });
  return contentBytes;
}

export async function cpHelperMain(req: CpHelperRequest): Promise<number> {
  try {
    await enterRoot(req.root);
    const contentBytes = req.op === "out" ? await copyOut(req) : await copyIn(req);
    send({ ok: true, contentBytes });
    return 0;
  } catch (e) {
    const err = toSkiffError(e);
    send({ ok: false, kind: err.kind, message: err.message });
    return 1;
  }
}

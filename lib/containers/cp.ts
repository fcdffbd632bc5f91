/**
 * `cp` between a container and the host. The host side runs here, as the
 * invoking user (files copied out belong to them); the container side runs
 * in a helper chrooted into the container's root filesystem (cp-helper.ts),
 * and the two exchange one tar stream:
 *
 *   running container: `nsenter --user -t <init>` (rootless) or a plain
 *     child (root), chrooted into /proc/<init>/root — the live filesystem,
 *     volumes included;
 *   stopped container: a child in a new mount namespace (and, rootless, a
 *     new user namespace) that mounts the overlay there; the container lock
 *     is held meanwhile, so it cannot start on top of our mount.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Context } from "../context.ts";
import type { Digest } from "../digest.ts";
import { SkiffError } from "../errors.ts";
import { acquireLock } from "../lock.ts";
import { sameProcess } from "../sys/proc.ts";
import { selfCommand, spawnInUserNamespace } from "../../runtime/userns.ts";
import { extractArchive } from "./cp-extract.ts";
import type { CpHelperMessage, CpHelperRequest, CpRoot } from "./cp-helper.ts";
import { localDestination, localSource } from "./cp-local.ts";
import { packPath } from "./cp-pack.ts";
import { planCopy, type SourceInfo } from "./cp-paths.ts";
import { currentState } from "./ops.ts";
import type { ContainerRecord } from "./record.ts";
import { containerLock } from "./start.ts";

export interface CopyResult {
  /** Bytes of file content copied. */
  contentBytes: number;
}

interface CommonOptions {
  /** The container as the user named it, for messages. */
  label?: string;
  /** -L: follow a symlink in the source's last component. */
  followLink?: boolean;
  onWarning?: (message: string) => void;
}

export interface CopyFromOptions extends CommonOptions {
  /** Path inside the container. */
  src: string;
  /** Local path, or "-" for a tar stream given to `output`. */
  dest: string;
  output?: (chunk: Uint8Array) => void | Promise<void>;
}

export interface CopyToOptions extends CommonOptions {
  /** Local path, or "-" for a tar stream read from `input`. */
  src: string;
  /** Path inside the container. */
  dest: string;
  input?: AsyncIterable<Uint8Array>;
  /** -a: keep the archive's uid/gid (else files belong to the container's root). */
  archive?: boolean;
}

type HelperJob = CpHelperRequest extends infer R ? (R extends CpHelperRequest ? Omit<R, "root"> : never) : never;

interface Helper {
  child: Bun.Subprocess<"pipe" | "ignore", "pipe", "pipe">;
  /** The source's stat (op "out"); rejects if the helper failed first. */
  stat: Promise<SourceInfo & { size: number }>;
  /** The helper's outcome, once it exited. */
  outcome: Promise<CopyResult>;
  /** The error the helper reported itself, if any yet. */
  failure(): SkiffError | undefined;
  release(): void;
}

function nsenterPath(): string {
  const p = Bun.which("nsenter");
  if (!p) throw new SkiffError("FailedPrecondition", "nsenter not found: install util-linux");
  return p;
}

function overlayRoot(ctx: Context, record: ContainerRecord, scratch: string): Extract<CpRoot, { kind: "overlay" }> {
  const cdir = ctx.containers.dir(record.id);
  return {
    kind: "overlay",
    mountpoint: join(scratch, "root"),
    scratch,
    driver: record.driver,
    snapshotsDir: ctx.snapshots.root,
    lowerDirs: [...record.image.chainIds].reverse().map((c) => ctx.snapshots.relativeFsDir(c as Digest)),
    upperDir: join(cdir, "upper"),
    workDir: join(cdir, "work"),
  };
}

type Stdio = { stdin: "pipe" | "ignore"; stdout: "pipe"; stderr: "pipe" };

async function spawnFor(ctx: Context, record: ContainerRecord, root: CpRoot, job: HelperJob, stdio: Stdio): Promise<Helper["child"]> {
  const argv = [...selfCommand(), "__ns", "cp", JSON.stringify({ ...job, root })];
  let child;
  if (root.kind === "proc") {
    const full = record.rootless ? [nsenterPath(), "--user", "--preserve-credentials", "-t", String(root.pid), "--", ...argv] : argv;
    child = Bun.spawn(full, stdio);
  } else if (record.rootless) {
    child = await spawnInUserNamespace(argv, ctx.userns, { mount: true, ...stdio });
  } else {
    child = Bun.spawn(["unshare", "--mount", "--propagation", "private", "--", ...argv], stdio);
  }
  return child as Helper["child"];
}

function watch(child: Helper["child"], onWarning?: (m: string) => void): Pick<Helper, "stat" | "outcome" | "failure"> {
  let failure: SkiffError | undefined;
  let settleStat: { resolve: (s: SourceInfo & { size: number }) => void; reject: (e: unknown) => void } | undefined;
  const stat = new Promise<SourceInfo & { size: number }>((resolve, reject) => {
    settleStat = { resolve, reject };
  });
  stat.catch(() => undefined);
  const outcome = (async () => {
    let final: Extract<CpHelperMessage, { ok: boolean }> | undefined;
    let text = "";
    let buf = "";
    const decoder = new TextDecoder();
    const handle = (line: string): void => {
      let msg: CpHelperMessage;
      try {
        msg = JSON.parse(line) as CpHelperMessage;
      } catch {
        text += `${line}\n`;
        return;
      }
      if ("stat" in msg) settleStat?.resolve(msg.stat);
      else if ("warning" in msg) onWarning?.(msg.warning);
      else {
        final = msg;
        if (msg.ok === false) {
          failure = new SkiffError(msg.kind, msg.message);
          settleStat?.reject(failure);
        }
      }
    };
    for await (const chunk of child.stderr) {
      buf += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) handle(line);
      }
    }
    if (buf.trim()) handle(buf);
    const code = await child.exited;
    const done = final as Extract<CpHelperMessage, { ok: boolean }> | undefined;
    if (done?.ok === false) throw failure;
    if (!done || code !== 0) {
      throw new SkiffError("Internal", `copy helper exited with code ${code}${text.trim() ? `: ${text.trim()}` : ""}`);
    }
    return { contentBytes: done.contentBytes };
  })();
  outcome.then(
    () => settleStat?.reject(new SkiffError("Internal", "copy helper sent no stat")),
    (e: unknown) => settleStat?.reject(e),
  );
  return { stat, outcome, failure: () => failure };
}

function isRunning(ctx: Context, record: ContainerRecord): { pid: number } | undefined {
  const s = currentState(ctx, record);
  if (s.status === "removing") throw new SkiffError("Conflict", `container ${record.name} is being removed`);
  if ((s.status === "running" || s.status === "paused") && sameProcess(s.pid, s.pidStart)) return { pid: s.pid };
  return undefined;
}

async function startHelper(ctx: Context, record: ContainerRecord, job: HelperJob, opts: { stdin: boolean; onWarning?: ((m: string) => void) | undefined }): Promise<Helper> {
  const stdio: Stdio = { stdin: opts.stdin ? "pipe" : "ignore", stdout: "pipe", stderr: "pipe" };
  const live = isRunning(ctx, record);
  if (live) {
    const child = await spawnFor(ctx, record, { kind: "proc", pid: live.pid }, job, stdio);
    return { child, ...watch(child, opts.onWarning), release: () => undefined };
  }
  ctx.ensureStorage();
  const lock = await acquireLock(containerLock(ctx, record.id));
  let scratch: string | undefined;
  try {
    // Started meanwhile: use the live filesystem after all.
    const now = isRunning(ctx, record);
    if (now) {
      lock.release();
      const child = await spawnFor(ctx, record, { kind: "proc", pid: now.pid }, job, stdio);
      return { child, ...watch(child, opts.onWarning), release: () => undefined };
    }
    mkdirSync(ctx.paths.runRoot, { recursive: true, mode: 0o700 });
    scratch = mkdtempSync(join(ctx.paths.runRoot, "cp-"));
    const root = overlayRoot(ctx, record, scratch);
    mkdirSync(root.mountpoint, { mode: 0o755 });
    const child = await spawnFor(ctx, record, root, job, stdio);
    const dir = scratch;
    return {
      child,
      ...watch(child, opts.onWarning),
      release: () => {
        lock.release();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    lock.release();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Ends a failed copy: stops the helper and reports its own error if it sent
 * one (it explains more than the broken stream it caused), else ours.
 */
async function settle(h: Helper, error: unknown): Promise<never> {
  h.child.kill("SIGKILL");
  await h.outcome.catch(() => undefined);
  throw h.failure() ?? error;
}

/** `cp CONTAINER:SRC DEST`: copies out of a container; DEST "-" streams the tar to `output`. */
export async function copyFromContainer(ctx: Context, record: ContainerRecord, opts: CopyFromOptions): Promise<CopyResult> {
  const label = opts.label ?? record.name;
  // The local side is checked first, as Docker does, so nothing runs for a bad destination.
  const dest = opts.dest === "-" ? undefined : localDestination(opts.dest);
  const h = await startHelper(ctx, record, { op: "out", path: opts.src, followLink: opts.followLink ?? false, container: label }, { stdin: false, onWarning: opts.onWarning });
  try {
    const stat = await h.stat;
    if (!dest) {
      for await (const chunk of h.child.stdout) await opts.output?.(chunk);
      return await h.outcome;
    }
    const plan = planCopy(stat, dest);
    const r = await extractArchive(h.child.stdout, { dest: plan.dir, ...(plan.rename ? { rename: plan.rename } : {}), ...(opts.onWarning ? { warn: opts.onWarning } : {}) });
    await h.outcome;
    return r;
  } catch (e) {
    return await settle(h, e);
  } finally {
    h.release();
  }
}

/**
 * `export`: a stopped container's root filesystem as one tar stream, given
 * to `output` chunk by chunk (a promise it returns holds the next chunk back).
 */
export async function exportContainer(ctx: Context, record: ContainerRecord, output: (chunk: Uint8Array) => void | Promise<void>): Promise<void> {
  const s = currentState(ctx, record).status;
  if (s === "running" || s === "paused") throw new SkiffError("Conflict", `exporting a running container is not supported yet: stop ${record.name} first`);
  await copyFromContainer(ctx, record, { src: "/.", dest: "-", label: record.name, output });
}

/** Streams `input` to the helper's stdin; on failure the stream is left open (the caller kills the helper). */
async function feed(input: AsyncIterable<Uint8Array>, sink: Bun.FileSink): Promise<void> {
  for await (const chunk of input) {
    sink.write(chunk);
    await sink.flush();
  }
  await sink.end();
}

/** `cp SRC CONTAINER:DEST`: copies into a container; SRC "-" reads a tar stream from `input`. */
export async function copyToContainer(ctx: Context, record: ContainerRecord, opts: CopyToOptions): Promise<CopyResult> {
  const label = opts.label ?? record.name;
  let source: SourceInfo | null = null;
  let input: AsyncIterable<Uint8Array>;
  let packed: Promise<{ contentBytes: number }> | undefined;
  if (opts.src === "-") {
    input = opts.input ?? (Bun.stdin.stream() as unknown as AsyncIterable<Uint8Array>);
  } else {
    const local = localSource(opts.src, opts.followLink ?? false);
    source = local.info;
    const p = packPath(local.path, local.info.base);
    input = p.stream;
    packed = p.done;
    packed.catch(() => undefined);
  }
  const h = await startHelper(
    ctx,
    record,
    { op: "in", path: opts.dest, source, keepOwner: opts.archive ?? false, container: label },
    { stdin: true, onWarning: opts.onWarning },
  );
  try {
    await feed(input, h.child.stdin as unknown as Bun.FileSink);
    const r = await h.outcome;
    if (packed) await packed;
    return r;
  } catch (e) {
    return await settle(h, e);
  } finally {
    h.release();
  }
}

/**
 * Work that must own files as container ids: unpacking layers, fixing them
 * up, deleting trees. As root it runs in this process. Rootless it runs in a
 * child (`skiff __ns <op>`) inside a user namespace mapped from the user's
 * subordinate ranges, so files get their real in-container owners.
 */
import type { Digest } from "../lib/digest.ts";
import { chmodSync, lstatSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { errnoCode, SkiffError, type ErrorKind } from "../lib/errors.ts";
import type { PendingFixups } from "../lib/layers/pending.ts";
import type { UnpackResult } from "../lib/layers/unpack.ts";
import type { CopyUpRequest, CopyUpResult } from "../lib/volumes/copyup.ts";
import type { Change, ChangesRequest } from "../lib/containers/upper-changes.ts";
import { highestMappedId, selfCommand, spawnInUserNamespace, type UserNamespaceConfig } from "./userns.ts";

export interface UnpackRequest {
  dest: string;
  compression?: "gzip" | "zstd" | "none" | "auto";
  /** Names the layer in errors and warnings. */
  layer?: string;
}

export interface NamespaceExecutor {
  readonly rootless: boolean;
  /** Unpacks a layer stream into `dest` (overlay format). */
  unpack(input: ReadableStream<Uint8Array>, req: UnpackRequest, onWarning?: (m: string) => void): Promise<UnpackResult>;
  /** Fixes implicit directories and lower-layer hardlinks once the lower layers exist. */
  applyPending(dest: string, lowers: string[], pending: PendingFixups): Promise<void>;
  /** Deletes trees that may hold files owned by container ids. */
  remove(paths: string[]): Promise<void>;
  /** Copies an image directory into an empty volume with its owners (lib/volumes/copyup.ts). */
  copyUp(req: CopyUpRequest, onWarning?: (m: string) => void): Promise<CopyUpResult>;
  /** What a container changed in its root filesystem, read where every file is readable (lib/containers/upper-changes.ts). */
  changes(req: ChangesRequest): Promise<Change[]>;
  /**
   * Starts `count` more helpers ahead of need (rootless; at most a few wait
   * at once), so their start-up overlaps other work; each operation takes
   * one that is waiting.
   */
  prewarm(count?: number): void;
}

/** Messages a `__ns` child writes on stdout, one JSON object per line. */
export type NsMessage =
  | { warning: string }
  | { ok: true; result?: unknown }
  | { ok: false; kind: ErrorKind; message: string };

export class InProcessExecutor implements NamespaceExecutor {
  readonly rootless = false;

  prewarm(): void {}

  async unpack(input: ReadableStream<Uint8Array>, req: UnpackRequest, onWarning?: (m: string) => void): Promise<UnpackResult> {
    const { unpackLayer } = await import("../lib/layers/unpack.ts");
    return unpackLayer(input, {
      dest: req.dest,
      compression: req.compression ?? "auto",
      ...(req.layer ? { layer: req.layer } : {}),
      ...(onWarning ? { onWarning } : {}),
    });
  }

  async applyPending(dest: string, lowers: string[], pending: PendingFixups): Promise<void> {
    const { applyPending } = await import("../lib/layers/pending.ts");
    applyPending(dest, lowers, pending);
  }

  async remove(paths: string[]): Promise<void> {
    for (const p of paths) rmSync(p, { recursive: true, force: true });
  }

  async copyUp(req: CopyUpRequest, onWarning?: (m: string) => void): Promise<CopyUpResult> {
    const { copyUp } = await import("../lib/volumes/copyup.ts");
    return copyUp(req, { chown: true, ...(onWarning ? { onWarning } : {}) });
  }

  async changes(req: ChangesRequest): Promise<Change[]> {
    const { changesOf } = await import("../lib/containers/upper-changes.ts");
    return changesOf(req);
  }
}

/**
 * Deletes `path` from outside the user namespace; false when some of it is
 * owned by another id (or otherwise refused) and the helper must finish.
 * Directories of ours without owner access (overlayfs leaves its work/work
 * at mode 000) are opened up first.
 */
export function removeAsOwner(path: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      rmSync(path, { recursive: true, force: true });
      return true;
    } catch (e) {
      const code = errnoCode(e);
      if (code !== "EACCES" && code !== "EPERM" && code !== "ENOTEMPTY") return false;
    }
    if (!openOwnDirectories(path)) return false;
  }
  return false;
}

/** Gives us rwx on every directory under `root` we own; false at the first one we do not. */
function openOwnDirectories(root: string): boolean {
  const uid = process.getuid?.() ?? -1;
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop() as string;
    let st;
    try {
      st = lstatSync(dir);
    } catch {
      continue; // already gone
    }
    if (!st.isDirectory()) continue;
    if (st.uid !== uid) return false;
    try {
      if ((st.mode & 0o700) !== 0o700) chmodSync(dir, (st.mode & 0o7777) | 0o700);
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) stack.push(join(dir, e.name));
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * A helper lives for one layer: JavaScriptCore's top tier (FTL) spends more
 * compiling the tar and file loops on its background threads than it wins
 * back before the helper exits, and on two cores those threads take turns
 * from the unpacking itself (a 38 MB pull on tmpfs: 744 -> 665 ms median).
 */
function helperEnv(): Record<string, string | undefined> {
  return { BUN_JSC_useFTLJIT: "0", ...process.env };
}

/** Helpers left waiting by a failed pull stay until the next operations take them: keep them few. */
const MAX_IDLE_HELPERS = 4;

export class UserNamespaceExecutor implements NamespaceExecutor {
  readonly rootless = true;
  readonly #cfg: UserNamespaceConfig;
  /** Helpers started ahead, waiting for their operation. */
  readonly #idle: Promise<Helper>[] = [];

  constructor(cfg: UserNamespaceConfig) {
    this.#cfg = cfg;
  }

  prewarm(count = 1): void {
    for (let i = 0; i < count && this.#idle.length < MAX_IDLE_HELPERS; i++) {
      const helper = this.#spawn();
      // An unused helper ends on its own when our end of its stdin closes.
      helper.then((c) => c.unref()).catch(() => {});
      this.#idle.push(helper);
    }
  }

  /** A helper waiting for its job on stdin: the first line names the operation. */
  #spawn(): Promise<Helper> {
    return spawnInUserNamespace([...selfCommand(), "__ns", "stdin"], this.#cfg, {
      env: helperEnv(),
      stdin: "pipe",
      stdout: "pipe",
      stderr: "inherit",
    }) as Promise<Helper>;
  }

  async unpack(input: ReadableStream<Uint8Array>, req: UnpackRequest, onWarning?: (m: string) => void): Promise<UnpackResult> {
    const args = { ...req, maxId: highestMappedId(this.#cfg) };
    const result = await this.#run("unpack", args, input, onWarning);
    const r = result as UnpackResult & { diffId: Digest };
    return r;
  }

  async applyPending(dest: string, lowers: string[], pending: PendingFixups): Promise<void> {
    await this.#run("fixup", { dest, lowers, pending });
  }

  async remove(paths: string[]): Promise<void> {
    // Most trees (a container that wrote as its root) hold only our own
    // files: deleting them here saves starting a helper, about 20 ms.
    const left = paths.filter((p) => !removeAsOwner(p));
    if (left.length === 0) return;
    await this.#run("remove", { paths: left });
  }

  async copyUp(req: CopyUpRequest, onWarning?: (m: string) => void): Promise<CopyUpResult> {
    return (await this.#run("copyup", req, undefined, onWarning)) as CopyUpResult;
  }

  async changes(req: ChangesRequest): Promise<Change[]> {
    return (await this.#run("changes", req)) as Change[];
  }

  async #run(op: string, args: unknown, input?: ReadableStream<Uint8Array>, onWarning?: (m: string) => void): Promise<unknown> {
    const child = await (this.#idle.shift() ?? this.#spawn());
    child.ref();
    const sink = child.stdin as import("bun").FileSink;
    sink.write(`${JSON.stringify({ op, args })}\n`);
    let feedError: unknown;
    const feeding = (input ? feed(input, sink) : endSink(sink)).catch((e: unknown) => {
      feedError = e;
      child.kill("SIGKILL");
    });
    let outcome: Exclude<NsMessage, { warning: string }> | undefined;
    const reading = (async () => {
      let buf = "";
      const decoder = new TextDecoder();
      for await (const chunk of child.stdout as ReadableStream<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (!line.trim()) continue;
          const msg = JSON.parse(line) as NsMessage;
          if ("warning" in msg) onWarning?.(msg.warning);
          else outcome = msg;
        }
      }
    })();
    const [code] = await Promise.all([child.exited, reading, feeding]);
    // The child's own error explains more than the broken pipe it caused.
    const final = outcome as Exclude<NsMessage, { warning: string }> | undefined;
    if (final && final.ok === false) throw new SkiffError(final.kind, final.message);
    if (feedError) throw feedError;
    if (!final || code !== 0) throw new SkiffError("Internal", `user namespace helper (${op}) exited with code ${code}`);
    return final.result;
  }
}

type Helper = Bun.Subprocess<"pipe", "pipe", "inherit">;

async function endSink(sink: import("bun").FileSink): Promise<void> {
  try {
    await sink.end();
  } catch {
    // the child exited early; it reports why itself
  }
}

async function feed(input: ReadableStream<Uint8Array>, sink: import("bun").FileSink): Promise<void> {
  const reader = input.getReader();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      sink.write(value);
      await sink.flush();
    }
    finished = true;
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
    try {
      await sink.end();
    } catch {
      // The child may have exited early with an error it reports itself.
    }
  }
}

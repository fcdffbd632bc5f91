/**
 * `POST /containers/{id}/wait` conditions, with Docker's meaning:
 *  - not-running: returns at once for a container that is not running,
 *    else when it exits;
 *  - next-exit: returns at the next exit after the call, so a client may
 *    wait before it starts the container (as `docker run` does);
 *  - removed: returns once the container is gone, with its exit code.
 * While the shim lives the exit comes from the shim (no polling); a
 * container that is not started yet, or that lost its shim, is polled. A
 * `--rm` container may be gone before a poll sees its exit: the service
 * learns every exit of the containers it starts (ApiState.watchExit), and
 * `hooks` lets the wait use that.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Context } from "../context.ts";
import { SkiffError } from "../errors.ts";
import type { ContainerRecord } from "../containers/record.ts";
import { shimSocket } from "../containers/start.ts";
import { liveState, readState, type LiveState } from "../containers/state.ts";
import { shimWait } from "./shim-wait.ts";

export type WaitCondition = "not-running" | "next-exit" | "removed";

export interface ExitHooks {
  /** The exit code learned for this container since `since` (ms), if any. */
  known(since: number): number | undefined;
  /** Calls `cb` when an exit is learned; returns the unsubscribe. */
  subscribe(cb: () => void): () => void;
}

function sleep(ms: number, signal?: AbortSignal, hooks?: ExitHooks): Promise<void> {
  return new Promise((resolve) => {
    let unsubscribe: (() => void) | undefined;
    const done = (): void => {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      unsubscribe?.();
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener("abort", done);
    unsubscribe = hooks?.subscribe(done);
  });
}

function isRunning(s: LiveState): boolean {
  return s.status === "running" || s.status === "paused";
}

/** The live state, or undefined once the container is removed. */
export function stateIfExists(ctx: Context, id: string): LiveState | undefined {
  const dir = ctx.containers.dir(id);
  if (!existsSync(join(dir, "config.json"))) return undefined;
  return liveState(readState(dir));
}

/** Waits for `condition`; resolves with the exit code. Rejects Canceled when `signal` aborts. */
export async function waitForCondition(
  ctx: Context,
  record: ContainerRecord,
  condition: WaitCondition,
  opts: { signal?: AbortSignal; hooks?: ExitHooks } = {},
): Promise<number> {
  const { signal, hooks } = opts;
  const since = Date.now();
  const initial = stateIfExists(ctx, record.id);
  if (!initial) throw new SkiffError("NotFound", `no such container: ${record.id}`);
  if (condition === "not-running" && !isRunning(initial)) return initial.exitCode;
  const baseFinished = initial.finishedAt;
  let last = initial.exitCode;
  const sock = shimSocket(ctx, record.id);
  for (;;) {
    if (signal?.aborted) throw new SkiffError("Canceled", "wait canceled");
    const learned = hooks?.known(since);
    if (learned !== undefined) {
      last = learned;
      if (condition !== "removed") return learned;
    }
    const s = stateIfExists(ctx, record.id);
    if (!s) return last;
    // Only an exit the shim recorded counts: a state read while --rm deletes the files may be a default.
    if (s.status === "exited") last = s.exitCode;
    if (condition === "not-running" && (s.status === "exited" || s.status === "created")) return s.exitCode;
    if (condition === "next-exit" && s.status === "exited" && s.finishedAt !== baseFinished) return s.exitCode;
    if (isRunning(s) && s.shimAlive && learned === undefined) {
      let code: number | undefined;
      try {
        code = await shimWait(sock, signal);
      } catch {
        code = undefined;
      }
      if (code !== undefined) {
        last = code;
        if (condition !== "removed") return code;
      } else {
        // The shim closed without an answer: its state write follows shortly.
        await sleep(20, signal, hooks);
      }
      continue;
    }
    await sleep(condition === "removed" ? 50 : 100, signal, hooks);
  }
}

export function parseCondition(value: string | undefined): WaitCondition {
  if (value === undefined || value === "") return "not-running";
  if (value === "not-running" || value === "next-exit" || value === "removed") return value;
  throw new SkiffError("InvalidArgument", `invalid condition: "${value}"`);
}

/**
 * `POST /containers/{id}/wait` conditions, with Docker's meaning:
 *  - not-running: returns at once for a container that is not running,
 *    else when it exits;
 *  - next-exit: returns at the next exit after the call, so a client may
 *    wait before it starts the container (as `docker run` does);
 *  - removed: returns once the container is gone, with its exit code.
 * While the shim lives the exit comes from the shim (no polling); a
 * container that is not started yet, or that lost its shim, is polled.
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

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener("abort", done);
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
export async function waitForCondition(ctx: Context, record: ContainerRecord, condition: WaitCondition, signal?: AbortSignal): Promise<number> {
  const initial = stateIfExists(ctx, record.id);
  if (!initial) throw new SkiffError("NotFound", `no such container: ${record.id}`);
  if (condition === "not-running" && !isRunning(initial)) return initial.exitCode;
  const baseFinished = initial.finishedAt;
  let last = initial.exitCode;
  const sock = shimSocket(ctx, record.id);
  for (;;) {
    if (signal?.aborted) throw new SkiffError("Canceled", "wait canceled");
    const s = stateIfExists(ctx, record.id);
    if (!s) return last;
    if (s.status !== "removing") last = s.exitCode;
    if (condition === "not-running" && (s.status === "exited" || s.status === "created")) return s.exitCode;
    if (condition === "next-exit" && s.status === "exited" && s.finishedAt !== baseFinished) return s.exitCode;
    if (isRunning(s) && s.shimAlive) {
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
        await sleep(20, signal);
      }
      continue;
    }
    await sleep(condition === "removed" ? 50 : 100, signal);
  }
}

export function parseCondition(value: string | undefined): WaitCondition {
  if (value === undefined || value === "") return "not-running";
  if (value === "not-running" || value === "next-exit" || value === "removed") return value;
  throw new SkiffError("InvalidArgument", `invalid condition: "${value}"`);
}

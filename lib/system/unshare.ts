/**
 * `skiff unshare`: a shell (or command) inside skiff's user and mount
 * namespace, like `podman unshare`. There, files in the store show their
 * container owners and overlay mounts of snapshots can be made by hand.
 */
import type { Context } from "../context.ts";
import { selfCommand, spawnInUserNamespace } from "../../runtime/userns.ts";
import { IN_USERNS_ENV } from "../../runtime/userns-child.ts";

export async function runUnshared(ctx: Context, argv: string[]): Promise<number> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    SKIFF_ROOT: ctx.paths.root,
    SKIFF_RUNROOT: ctx.paths.runRoot,
    [IN_USERNS_ENV]: "1",
  };
  if (!ctx.rootless) {
    const p = Bun.spawn(["unshare", "--mount", "--propagation", "private", "--", ...argv], {
      env,
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    });
    return await p.exited;
  }
  ctx.ensureStorage();
  const child = await spawnInUserNamespace([...selfCommand(), "__ns", "exec", JSON.stringify({ argv })], ctx.userns, {
    mount: true,
    env,
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  });
  return await child.exited;
}

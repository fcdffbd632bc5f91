/**
 * `exec`: a new process in a running container. Its spec starts from the
 * container's own process (capabilities, rlimits, no-new-privileges, env)
 * and takes the command, extra env, user and working directory from the
 * caller; the shim runs it.
 */
import { randomHex } from "../random.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Context } from "../context.ts";
import { SkiffError } from "../errors.ts";
import { mergeEnv, resolveUser, type OciProcess } from "../oci/spec.ts";
import type { ExecProcess } from "../../shim/protocol.ts";
import type { ContainerRecord } from "./record.ts";
import { layerDirs, readLayeredFile } from "./rootfs.ts";
import { runDir } from "./start.ts";

export interface ExecOptions {
  cmd: string[];
  env?: string[];
  user?: string | undefined;
  workdir?: string | undefined;
  tty?: boolean;
}

export function newExecId(): string {
  return randomHex(32);
}

export function execProcess(ctx: Context, record: ContainerRecord, opts: ExecOptions): ExecProcess {
  if (opts.cmd.length === 0) throw new SkiffError("InvalidArgument", "exec: no command given");
  let base: OciProcess;
  try {
    base = (JSON.parse(readFileSync(join(runDir(ctx, record.id), "bundle", "config.json"), "utf8")) as { process: OciProcess }).process;
  } catch {
    throw new SkiffError("Conflict", `container ${record.name} is not running`);
  }
  let user = base.user;
  if (opts.user) {
    const layers = layerDirs(ctx, record);
    const files = { passwd: readLayeredFile(layers, "etc/passwd"), group: readLayeredFile(layers, "etc/group") };
    const r = resolveUser(opts.user, {
      ...(files.passwd !== undefined ? { passwd: files.passwd } : {}),
      ...(files.group !== undefined ? { group: files.group } : {}),
    });
    user = { uid: r.uid, gid: r.gid, additionalGids: r.additionalGids };
  }
  if (opts.workdir !== undefined && !opts.workdir.startsWith("/")) {
    throw new SkiffError("InvalidArgument", `working directory ${JSON.stringify(opts.workdir)} is invalid: it must be an absolute path`);
  }
  // The container's env already holds PATH, HOSTNAME and the image's values.
  const env = mergeEnv(base.env, opts.env ?? [], opts.tty ? { tty: true } : {});
  return {
    ...base,
    args: opts.cmd,
    env,
    cwd: opts.workdir ?? base.cwd,
    user,
    terminal: opts.tty ?? false,
  } as ExecProcess;
}

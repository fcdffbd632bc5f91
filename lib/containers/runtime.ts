/** Which OCI runtime a container uses, and its state directory. */
import { join } from "node:path";
import type { Context } from "../context.ts";
import { SkiffError } from "../errors.ts";
import type { RuntimeConfig } from "../../runtime/oci.ts";
import { findExecutable } from "../../runtime/probe.ts";

/** runc when installed (the tested default), else crun. */
export function defaultRuntimeName(): string {
  if (findExecutable("runc")) return "runc";
  if (findExecutable("crun")) return "crun";
  return "runc";
}

export function runtimeConfig(ctx: Context, runtime: string): RuntimeConfig {
  const path = findExecutable(runtime);
  if (!path) {
    const pkg = runtime.includes("/") ? runtime : `the ${runtime} package (apt-get install ${runtime})`;
    throw new SkiffError("FailedPrecondition", `OCI runtime ${runtime} not found: install ${pkg}`);
  }
  const name = path.split("/").pop() ?? runtime;
  return { path, name, root: join(ctx.paths.runRoot, name), rootless: ctx.rootless };
}

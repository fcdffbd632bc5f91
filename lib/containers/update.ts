/**
 * `update`: change a container's resource limits (and restart policy).
 * Under the container lock: merge the change into what it asked for, plan
 * what this host enforces, apply it to a running container with
 * `runc update` (root: directly, with the runtime's state root; rootless on a
 * delegated cgroup v2: inside the container's user namespace), then write
 * the record, so the next start builds its spec from the new values.
 * Where the host enforces nothing (rootless on cgroup v1) it is an error:
 * nothing would change.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Context } from "../context.ts";
import { atomicWrite } from "../fsutil.ts";
import { SkiffError } from "../errors.ts";
import { acquireLock } from "../lock.ts";
import { ociResources, ociResourcesUpdate } from "../oci/resources.ts";
import { sameProcess } from "../sys/proc.ts";
import { runtimeMessage } from "../../runtime/oci.ts";
import { appliedOf, cgroupHost, planResources } from "./cgroups.ts";
import { currentState } from "./ops.ts";
import type { ContainerRecord } from "./record.ts";
import { mergeResourceUpdate, type Resources } from "./resources.ts";
import { runtimeConfig } from "./runtime.ts";
import { containerLock, runDir } from "./start.ts";

export interface UpdateRequest {
  resources: Partial<Resources>;
  /** --restart POLICY (no, on-failure[:N], always, unless-stopped). */
  restart?: string;
}

/** argv of `runc update --resources - ID` for this container, reading the resources JSON from stdin. */
export function updateArgv(runtime: { path: string; root: string }, id: string, opts: { nsenterPid?: number } = {}): string[] {
  const argv = [runtime.path, "--root", runtime.root, "update", "--resources", "-", id];
  return opts.nsenterPid !== undefined ? ["nsenter", "--user", "--preserve-credentials", "-t", String(opts.nsenterPid), "--", ...argv] : argv;
}

async function runcUpdate(ctx: Context, record: ContainerRecord, resources: Resources, pid: number, host: { swap: boolean }): Promise<void> {
  const rt = runtimeConfig(ctx, record.runtime);
  const argv = updateArgv(rt, record.id, record.rootless ? { nsenterPid: pid } : {});
  const body = JSON.stringify(ociResourcesUpdate(resources, host));
  const p = Bun.spawn(argv, { stdin: new Blob([body]), stdout: "pipe", stderr: "pipe" });
  const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  if (code !== 0) {
    throw new SkiffError("Internal", `update ${record.name}: ${rt.name} update: ${runtimeMessage(err) || `exit status ${code}`}`);
  }
}

/**
 * Puts the new limits into the bundle of a running container, so that a
 * restart by its shim (restart policy) keeps them. Integers too large for a
 * double (unlimited rlimits) are carried through as text.
 */
export function patchBundleResources(specText: string, resources: Resources): string {
  // Strings are matched first so that digits inside them are left alone.
  const safe = specText.replace(/"(?:[^"\\]|\\.)*"|\b(\d{16,})\b/g, (m, big: string | undefined) => (big ? `"\\u0000u64:${big}"` : m));
  const spec = JSON.parse(safe) as { linux?: { resources?: Record<string, unknown> } };
  const linux = (spec.linux ??= {});
  const devices = linux.resources?.devices;
  const limits = ociResources(resources);
  linux.resources = { ...(devices !== undefined ? { devices } : {}), ...limits };
  if (Object.keys(linux.resources).length === 0) delete linux.resources;
  return `${JSON.stringify(spec, null, 2).replace(/"\\u0000u64:([0-9]+)"/g, "$1")}\n`;
}

/** Applies an update; returns warnings (limits this kernel does not support, ignored). */
export async function updateContainer(ctx: Context, record: ContainerRecord, req: UpdateRequest): Promise<{ warnings: string[] }> {
  const lock = await acquireLock(containerLock(ctx, record.id));
  try {
    const fresh = ctx.containers.read(record.id) ?? record;
    let options = fresh.options;
    let resources = fresh.resources;
    const warnings: string[] = [];
    if (Object.keys(req.resources).length > 0) {
      const host = cgroupHost({ rootless: fresh.rootless });
      const requested = mergeResourceUpdate(fresh.options.resources, req.resources);
      const runtime = fresh.runtime.split("/").pop() ?? fresh.runtime;
      const plan = planResources(requested, host, { id: fresh.id, runtime });
      if (plan.cgroupsPath === undefined) {
        throw new SkiffError("FailedPrecondition", `cannot update the resource limits of container ${fresh.name}: ${plan.note ?? "resource limits are not supported on this host"}`);
      }
      const state = currentState(ctx, fresh);
      if ((state.status === "running" || state.status === "paused") && sameProcess(state.pid, state.pidStart)) {
        await runcUpdate(ctx, fresh, plan.applied, state.pid, { swap: host.features.swap });
      }
      const bundle = join(runDir(ctx, fresh.id), "bundle", "config.json");
      if (existsSync(bundle)) atomicWrite(bundle, patchBundleResources(readFileSync(bundle, "utf8"), plan.applied), { noSync: true, mode: 0o600 });
      options = { ...options, resources: requested };
      resources = appliedOf(plan);
      warnings.push(...plan.warnings);
    }
    if (req.restart !== undefined) {
      const { parseRestartPolicy } = await import("./health.ts");
      const policy = parseRestartPolicy(req.restart);
      if (options.autoRemove && policy.name !== "no") {
        throw new SkiffError("InvalidArgument", `restart policy cannot be updated because AutoRemove is enabled for container ${fresh.name}`);
      }
      options = { ...options, restart: policy };
    }
    ctx.containers.write({ ...fresh, options, ...(resources ? { resources } : {}) });
    return { warnings };
  } finally {
    lock.release();
  }
}

/**
 * `skiff auto-update`, as Podman's: containers labelled
 * `io.containers.autoupdate` (or `io.skiff.autoupdate`) are checked for a
 * newer image; updated ones get it pulled and their systemd unit (the
 * SKIFF_SYSTEMD_UNIT or PODMAN_SYSTEMD_UNIT label a unit's `run` records)
 * restarted with `systemctl [--user] restart`. Policies:
 * - registry: the registry's digest for the image's tag differs from the one
 *   the container's image was pulled with;
 * - local: the image now carrying the container's image name is another one.
 * Without a running systemd (no systemctl, or not booted with systemd) the
 * image is still pulled and the unit reported "pending restart".
 */
import { existsSync } from "node:fs";
import type { Context } from "../context.ts";
import type { ContainerRecord } from "../containers/record.ts";
import { SkiffError, toSkiffError } from "../errors.ts";
import { findImage } from "../images/resolve.ts";
import { parseReference, repositoryName } from "../registry/reference.ts";

export const AUTOUPDATE_LABELS = ["io.containers.autoupdate", "io.skiff.autoupdate"];
export const UNIT_LABELS = ["SKIFF_SYSTEMD_UNIT", "PODMAN_SYSTEMD_UNIT"];

export type Updated = "true" | "false" | "pending" | "pending restart" | "failed";

export interface AutoUpdateReport {
  Unit: string;
  /** "id12 (name)", as Podman shows it. */
  Container: string;
  ContainerID: string;
  ContainerName: string;
  Image: string;
  Policy: string;
  Updated: Updated;
  /** Why it failed, when it did. */
  Error?: string;
}

/** How units are restarted; the default runs systemctl. */
export interface UnitRestarter {
  /** Why restarting is impossible here, or undefined when it works. */
  unavailable(): string | undefined;
  restart(unit: string): Promise<void>;
}

export function systemctlRestarter(opts: { user: boolean }): UnitRestarter {
  return {
    unavailable() {
      if (!Bun.which("systemctl")) return "systemctl is not installed";
      if (!existsSync("/run/systemd/system")) return "the system was not booted with systemd";
      return undefined;
    },
    async restart(unit) {
      const p = Bun.spawn(["systemctl", ...(opts.user ? ["--user"] : []), "restart", unit], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
      const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
      if (code !== 0) throw new SkiffError("Internal", `restart ${unit}: ${err.trim() || `systemctl exited ${code}`}`);
    },
  };
}

export function autoUpdatePolicy(record: ContainerRecord): string | undefined {
  for (const l of AUTOUPDATE_LABELS) {
    const v = record.options.labels[l];
    if (v !== undefined && v !== "" && v !== "disabled") return v;
  }
  return undefined;
}

export function unitOf(record: ContainerRecord): string | undefined {
  for (const l of UNIT_LABELS) if (record.options.labels[l]) return record.options.labels[l];
  return undefined;
}

/** Is a newer image there for this container? */
async function updateAvailable(ctx: Context, record: ContainerRecord, policy: string): Promise<boolean> {
  if (policy === "local") {
    const current = findImage(ctx.images.list(), record.image.name);
    return current !== undefined && current.id !== record.image.id;
  }
  if (policy !== "registry") throw new SkiffError("InvalidArgument", `invalid auto-update policy ${JSON.stringify(policy)}: use registry or local`);
  const ref = parseReference(record.image.name);
  if (ref.digest) throw new SkiffError("InvalidArgument", `image ${record.image.name} is referenced by digest: nothing to update`);
  const mine = ctx.images.list().find((i) => i.id === record.image.id);
  const { registryClient } = await import("../images/registry.ts");
  const remote = await registryClient(ctx).headManifest({ registry: ref.registry, repository: ref.repository }, ref.tag ?? "latest");
  if (!remote) throw new SkiffError("NotFound", `image ${record.image.name} is not in its registry any more`);
  return !(mine?.repoDigests ?? []).includes(`${repositoryName(ref)}@${remote.digest}`);
}

/** Checks (and unless dryRun, updates) every labelled container; one report per container. */
export async function autoUpdate(ctx: Context, opts: { dryRun: boolean; restarter: UnitRestarter }): Promise<AutoUpdateReport[]> {
  const reports: AutoUpdateReport[] = [];
  const toRestart = new Map<string, AutoUpdateReport[]>();
  const pulled = new Map<string, Promise<void>>();
  const candidates = ctx.containers
    .list()
    .filter((r) => autoUpdatePolicy(r) !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
  for (const record of candidates) {
    const policy = autoUpdatePolicy(record) as string;
    const report: AutoUpdateReport = {
      Unit: unitOf(record) ?? "",
      Container: `${record.id.slice(0, 12)} (${record.name})`,
      ContainerID: record.id,
      ContainerName: record.name,
      Image: record.image.name,
      Policy: policy,
      Updated: "false",
    };
    reports.push(report);
    try {
      if (!report.Unit) throw new SkiffError("FailedPrecondition", `auto-updating container ${record.id.slice(0, 12)}: no SKIFF_SYSTEMD_UNIT label found`);
      if (!(await updateAvailable(ctx, record, policy))) continue;
      if (opts.dryRun) {
        report.Updated = "pending";
        continue;
      }
      if (policy === "registry") {
        if (!pulled.has(record.image.name)) {
          pulled.set(
            record.image.name,
            import("../images/pull.ts").then(async ({ pullImage }) => {
              await pullImage(ctx, record.image.name);
            }),
          );
        }
        await pulled.get(record.image.name);
      }
      toRestart.set(report.Unit, [...(toRestart.get(report.Unit) ?? []), report]);
    } catch (e) {
      report.Updated = "failed";
      report.Error = toSkiffError(e).message;
    }
  }
  const why = toRestart.size > 0 ? opts.restarter.unavailable() : undefined;
  for (const [unit, rs] of toRestart) {
    if (why) {
      for (const r of rs) r.Updated = "pending restart";
      continue;
    }
    try {
      await opts.restarter.restart(unit);
      for (const r of rs) r.Updated = "true";
    } catch (e) {
      for (const r of rs) {
        r.Updated = "failed";
        r.Error = toSkiffError(e).message;
      }
    }
  }
  return reports;
}

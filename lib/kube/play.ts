/**
 * `kube play` and `kube down`: the plans of plan.ts made real with the
 * container engine (create + start, in order: the infra container first),
 * and undone by label (`io.skiff.kube.pod=<pod>`): the pod's containers are
 * stopped and removed, the infra container last, then its emptyDir volumes.
 * A play that fails half-way removes what it made.
 */
import { existsSync, mkdirSync, statSync } from "node:fs";
import type { Context } from "../context.ts";
import { createContainer } from "../containers/create.ts";
import { removeContainer, stopContainer } from "../containers/ops.ts";
import type { ContainerRecord } from "../containers/record.ts";
import { startContainer, StartFailure } from "../containers/start.ts";
import { SkiffError } from "../errors.ts";
import { findExecutable } from "../../runtime/probe.ts";
import { EMPTYDIR_LABEL, INFRA_LABEL, planPod, POD_LABEL, readKubeDocuments, type PlannedContainer, type PodPlan } from "./plan.ts";

export interface PlayReport {
  pods: { name: string; infra: string; containers: string[] }[];
  volumes: string[];
  warnings: string[];
}

export function podContainers(ctx: Context, pod: string): ContainerRecord[] {
  return ctx.containers.list().filter((r) => r.options.labels[POD_LABEL] === pod);
}

async function makeContainer(ctx: Context, c: PlannedContainer): Promise<ContainerRecord> {
  const record = await createContainer(ctx, { image: c.image, name: c.name, options: c.options, pull: c.pull });
  try {
    await startContainer(ctx, record);
  } catch (e) {
    if (e instanceof StartFailure) throw new SkiffError("FailedPrecondition", `start ${c.name}: ${e.message}`);
    throw e;
  }
  return record;
}

function checkHostPaths(plan: PodPlan): void {
  for (const d of plan.mkdirs) mkdirSync(d, { recursive: true });
  for (const m of plan.mustExist) {
    if (!existsSync(m.path)) throw new SkiffError("NotFound", `pod ${plan.name}: hostPath ${m.path} does not exist`);
    const st = statSync(m.path);
    if (m.kind === "Directory" && !st.isDirectory()) throw new SkiffError("InvalidArgument", `pod ${plan.name}: hostPath ${m.path} is not a directory`);
    if (m.kind === "File" && !st.isFile()) throw new SkiffError("InvalidArgument", `pod ${plan.name}: hostPath ${m.path} is not a file`);
  }
}

async function playPod(ctx: Context, plan: PodPlan): Promise<{ infra: string; containers: string[]; volumes: string[] }> {
  checkHostPaths(plan);
  const { createVolume } = await import("../volumes/ops.ts");
  const volumes: string[] = [];
  for (const v of plan.volumes) {
    await createVolume(ctx, { name: v.name, labels: v.emptyDir ? { [POD_LABEL]: plan.name, [EMPTYDIR_LABEL]: "true" } : {} });
    volumes.push(v.name);
  }
  const made: ContainerRecord[] = [];
  try {
    const infra = await makeContainer(ctx, plan.infra);
    made.push(infra);
    const ids: string[] = [];
    for (const c of plan.containers) {
      const r = await makeContainer(ctx, c);
      made.push(r);
      ids.push(r.id);
    }
    return { infra: infra.id, containers: ids, volumes };
  } catch (e) {
    await removePod(ctx, plan.name, { timeoutSeconds: 0, volumes: true }).catch(() => {});
    throw e;
  }
}

/** Plays every pod of the documents; `replace` first takes down pods of the same names. */
export async function playKube(
  ctx: Context,
  docs: readonly unknown[],
  opts: { what: string; network?: string | undefined; replace?: boolean | undefined },
): Promise<PlayReport> {
  ctx.ensureStorage();
  const parsed = readKubeDocuments(docs, opts.what);
  const report: PlayReport = { pods: [], volumes: [], warnings: [...parsed.warnings] };
  const pausePath = findExecutable("catatonit");
  const plans = parsed.pods.map((p) => planPod(p, { configMaps: parsed.configMaps, network: opts.network ?? "default", pausePath }));
  for (const plan of plans) {
    if (podContainers(ctx, plan.name).length === 0) continue;
    if (!opts.replace) throw new SkiffError("Conflict", `pod ${plan.name} already exists: use kube down first, or --replace`);
    await removePod(ctx, plan.name, { volumes: true });
  }
  const { createVolume } = await import("../volumes/ops.ts");
  for (const claim of parsed.claims) {
    await createVolume(ctx, { name: claim });
    report.volumes.push(claim);
  }
  for (const plan of plans) {
    report.warnings.push(...plan.warnings);
    const r = await playPod(ctx, plan);
    report.pods.push({ name: plan.name, infra: r.infra, containers: r.containers });
    for (const v of r.volumes) if (!report.volumes.includes(v)) report.volumes.push(v);
  }
  return report;
}

/** Stops and removes a pod's containers (infra last) and, with `volumes`, its emptyDir volumes. Returns whether it existed. */
export async function removePod(ctx: Context, pod: string, opts: { timeoutSeconds?: number; volumes?: boolean } = {}): Promise<boolean> {
  const members = podContainers(ctx, pod);
  const apps = members.filter((r) => r.options.labels[INFRA_LABEL] !== "true");
  const infra = members.filter((r) => r.options.labels[INFRA_LABEL] === "true");
  await Promise.all(apps.map((r) => stopContainer(ctx, r, { timeoutSeconds: opts.timeoutSeconds })));
  for (const r of apps) await removeContainer(ctx, r, { force: true });
  for (const r of infra) {
    await stopContainer(ctx, r, { timeoutSeconds: opts.timeoutSeconds });
    await removeContainer(ctx, r, { force: true });
  }
  if (opts.volumes) {
    const { volumeStore } = await import("../volumes/store.ts");
    const { removeVolume } = await import("../volumes/ops.ts");
    for (const v of volumeStore(ctx).list()) {
      if (v.labels[POD_LABEL] === pod && v.labels[EMPTYDIR_LABEL] === "true") await removeVolume(ctx, v.name, { force: true });
    }
  }
  return members.length > 0;
}

/** `kube down`: the pods of the documents; PersistentVolumeClaim volumes only with `force`. */
export async function downKube(ctx: Context, docs: readonly unknown[], opts: { what: string; force?: boolean }): Promise<{ removed: string[]; volumes: string[] }> {
  const parsed = readKubeDocuments(docs, opts.what);
  const removed: string[] = [];
  for (const p of parsed.pods) if (await removePod(ctx, p.name, { volumes: true })) removed.push(p.name);
  const volumes: string[] = [];
  if (opts.force) {
    const { removeVolume } = await import("../volumes/ops.ts");
    const claims = new Set([...parsed.claims, ...parsed.pods.flatMap((p) => (p.spec.volumes ?? []).flatMap((v) => (v.persistentVolumeClaim ? [v.persistentVolumeClaim.claimName] : [])))]);
    for (const c of claims) {
      try {
        if (await removeVolume(ctx, c, { force: true })) volumes.push(c);
      } catch (e) {
        if (!(e instanceof SkiffError && e.kind === "NotFound")) throw e;
      }
    }
  }
  return { removed, volumes };
}

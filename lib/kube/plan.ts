/**
 * `kube play` planning, pure: YAML documents → pods (a Deployment's pod
 * template is one pod, named `<deployment>-pod`, as Podman plays it), and
 * each pod → the skiff containers that make it:
 *
 * - an infra container, `<pod>-infra`, that holds the pod's network
 *   namespace and publishes the hostPorts; it runs catatonit's pause mode
 *   (`catatonit -P`, bind-mounted read-only from the host) on the first
 *   container's image, so no pause image is needed;
 * - one container per pod container, `<pod>-<name>`, in the infra's network
 *   (`--network container:<pod>-infra`), so they reach each other on
 *   localhost; command → entrypoint, args → cmd.
 *
 * Volumes: emptyDir → a volume `<pod>-<name>` removed by `kube down`;
 * persistentVolumeClaim → the named volume `claimName` (kept);
 * hostPath → a bind mount.
 */
import { SkiffError } from "../errors.ts";
import { createOptions, type CreateOptions, type MountOption } from "../containers/options.ts";
import { configMapSchema, deploymentSchema, podSchema, pvcSchema, type PlayContainer, type PlayPodSpec } from "./types.ts";

export const POD_LABEL = "io.skiff.kube.pod";
export const INFRA_LABEL = "io.skiff.kube.infra";
export const EMPTYDIR_LABEL = "io.skiff.kube.emptydir";
/** Where the pause binary appears in the infra container. */
export const PAUSE_TARGET = "/.skiff-pause";

export interface PodDoc {
  name: string;
  spec: PlayPodSpec;
}

export interface KubeDocuments {
  pods: PodDoc[];
  /** PersistentVolumeClaims: volumes to create. */
  claims: string[];
  configMaps: Map<string, Record<string, string>>;
  warnings: string[];
}

function zodMessage(e: unknown): string {
  const issues = (e as { issues?: { path: (string | number)[]; message: string }[] }).issues;
  const first = issues?.[0];
  return first ? `${first.path.join(".")}: ${first.message}` : String(e);
}

function parseAs<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: unknown } }, doc: unknown, what: string): T {
  const r = schema.safeParse(doc);
  if (!r.success) throw new SkiffError("InvalidArgument", `${what}: ${zodMessage(r.error)}`);
  return r.data;
}

/** Sorts the documents of a YAML stream into what play needs. */
export function readKubeDocuments(docs: readonly unknown[], what: string): KubeDocuments {
  const out: KubeDocuments = { pods: [], claims: [], configMaps: new Map(), warnings: [] };
  docs.forEach((doc, i) => {
    const where = `${what}: document ${i + 1}`;
    const kind = (doc as { kind?: unknown }).kind;
    switch (kind) {
      case "Pod": {
        const pod = parseAs(podSchema, doc, where);
        out.pods.push({ name: pod.metadata.name, spec: pod.spec });
        break;
      }
      case "Deployment": {
        const d = parseAs(deploymentSchema, doc, where);
        if ((d.spec.replicas ?? 1) > 1) out.warnings.push(`deployment ${d.metadata.name}: ${d.spec.replicas} replicas asked, one pod played`);
        out.pods.push({ name: `${d.metadata.name}-pod`, spec: d.spec.template.spec });
        break;
      }
      case "PersistentVolumeClaim":
        out.claims.push(parseAs(pvcSchema, doc, where).metadata.name);
        break;
      case "ConfigMap": {
        const cm = parseAs(configMapSchema, doc, where);
        out.configMaps.set(cm.metadata.name, cm.data ?? {});
        break;
      }
      case "Service":
        out.warnings.push(`${where}: Service ignored (the pod's hostPorts are published)`);
        break;
      default:
        throw new SkiffError("InvalidArgument", `${where}: kind ${JSON.stringify(kind)} is not supported (Pod, Deployment, PersistentVolumeClaim, ConfigMap, Service)`);
    }
  });
  const names = new Set<string>();
  for (const p of out.pods) {
    if (names.has(p.name)) throw new SkiffError("InvalidArgument", `${what}: pod ${p.name} is defined twice`);
    names.add(p.name);
  }
  return out;
}

export function infraName(pod: string): string {
  return `${pod}-infra`;
}

export function containerName(pod: string, container: string): string {
  return `${pod}-${container}`;
}

export function emptyDirVolume(pod: string, volume: string): string {
  return `${pod}-${volume}`;
}

export type PullPolicy = "always" | "missing" | "never";

function pullPolicy(c: PlayContainer): PullPolicy {
  return c.imagePullPolicy === "Always" ? "always" : c.imagePullPolicy === "Never" ? "never" : "missing";
}

export interface PlannedContainer {
  name: string;
  image: string;
  pull: PullPolicy;
  options: CreateOptions;
}

export interface PlannedVolume {
  name: string;
  /** emptyDir volumes are the pod's: labelled, removed by `kube down`. */
  emptyDir: boolean;
}

export interface PodPlan {
  name: string;
  infra: PlannedContainer;
  containers: PlannedContainer[];
  volumes: PlannedVolume[];
  /** hostPath directories to create (DirectoryOrCreate). */
  mkdirs: string[];
  /** hostPath paths that must exist. */
  mustExist: { path: string; kind: "Directory" | "File" | "any" }[];
  warnings: string[];
}

function envOf(pod: string, c: PlayContainer, configMaps: Map<string, Record<string, string>>): string[] {
  const env: string[] = [];
  for (const from of c.envFrom ?? []) {
    const ref = from.configMapRef;
    if (!ref) throw new SkiffError("InvalidArgument", `pod ${pod}: container ${c.name}: only envFrom.configMapRef is supported`);
    const data = configMaps.get(ref.name);
    if (!data) {
      if (ref.optional) continue;
      throw new SkiffError("NotFound", `pod ${pod}: container ${c.name}: ConfigMap ${ref.name} not found in the YAML`);
    }
    for (const [k, v] of Object.entries(data)) env.push(`${from.prefix ?? ""}${k}=${v}`);
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined || !e.valueFrom) {
      env.push(`${e.name}=${e.value ?? ""}`);
      continue;
    }
    const cm = e.valueFrom.configMapKeyRef;
    const field = e.valueFrom.fieldRef;
    if (cm) {
      const v = configMaps.get(cm.name)?.[cm.key];
      if (v === undefined) {
        if (cm.optional) continue;
        throw new SkiffError("NotFound", `pod ${pod}: container ${c.name}: env ${e.name}: key ${cm.key} of ConfigMap ${cm.name} not found in the YAML`);
      }
      env.push(`${e.name}=${v}`);
    } else if (field && field.fieldPath === "metadata.name") {
      env.push(`${e.name}=${pod}`);
    } else {
      throw new SkiffError("InvalidArgument", `pod ${pod}: container ${c.name}: env ${e.name}: only value, configMapKeyRef and fieldRef metadata.name are supported`);
    }
  }
  return env;
}

function restartOf(spec: PlayPodSpec): CreateOptions["restart"] {
  const p = spec.restartPolicy ?? "Always";
  return { name: p === "Always" ? "always" : p === "OnFailure" ? "on-failure" : "no", maximumRetryCount: 0 };
}

/**
 * The containers and volumes of one pod. `pausePath` is the host's static
 * pause binary (catatonit); without it the infra container sleeps with the
 * image's own shell.
 */
export function planPod(pod: PodDoc, opts: { configMaps: Map<string, Record<string, string>>; network: string; pausePath?: string | undefined }): PodPlan {
  const spec = pod.spec;
  const warnings: string[] = [];
  if (spec.hostNetwork) throw new SkiffError("InvalidArgument", `pod ${pod.name}: hostNetwork is not supported`);
  if (spec.initContainers && spec.initContainers.length > 0) throw new SkiffError("InvalidArgument", `pod ${pod.name}: initContainers are not supported`);
  const hostname = spec.hostname ?? pod.name;
  const label = { [POD_LABEL]: pod.name };
  const volumes: PlannedVolume[] = [];
  const mkdirs: string[] = [];
  const mustExist: PodPlan["mustExist"] = [];
  const sources = new Map<string, { type: "volume" | "bind"; source: string; readOnly: boolean }>();
  for (const v of spec.volumes ?? []) {
    if (v.emptyDir !== undefined) {
      const name = emptyDirVolume(pod.name, v.name);
      volumes.push({ name, emptyDir: true });
      sources.set(v.name, { type: "volume", source: name, readOnly: false });
    } else if (v.persistentVolumeClaim) {
      volumes.push({ name: v.persistentVolumeClaim.claimName, emptyDir: false });
      sources.set(v.name, { type: "volume", source: v.persistentVolumeClaim.claimName, readOnly: v.persistentVolumeClaim.readOnly ?? false });
    } else if (v.hostPath) {
      const type = v.hostPath.type ?? "";
      if (type === "DirectoryOrCreate") mkdirs.push(v.hostPath.path);
      else if (type === "Directory") mustExist.push({ path: v.hostPath.path, kind: "Directory" });
      else if (type === "File") mustExist.push({ path: v.hostPath.path, kind: "File" });
      else if (type !== "" && type !== "FileOrCreate") throw new SkiffError("InvalidArgument", `pod ${pod.name}: volume ${v.name}: hostPath type ${type} is not supported`);
      sources.set(v.name, { type: "bind", source: v.hostPath.path, readOnly: false });
    } else {
      throw new SkiffError("InvalidArgument", `pod ${pod.name}: volume ${v.name}: only emptyDir, persistentVolumeClaim and hostPath volumes are supported`);
    }
  }
  const infraPorts: CreateOptions["ports"] = [];
  const containers: PlannedContainer[] = [];
  const seen = new Set<string>();
  for (const c of spec.containers) {
    if (seen.has(c.name)) throw new SkiffError("InvalidArgument", `pod ${pod.name}: container name ${c.name} is used twice`);
    seen.add(c.name);
    if (!c.image) throw new SkiffError("InvalidArgument", `pod ${pod.name}: container ${c.name} has no image`);
    for (const p of c.ports ?? []) {
      if (!p.hostPort) continue;
      infraPorts.push({ containerPort: p.containerPort, protocol: (p.protocol ?? "TCP").toLowerCase() as "tcp", hostIp: p.hostIP ?? "0.0.0.0", hostPort: p.hostPort });
    }
    const mounts: MountOption[] = (c.volumeMounts ?? []).map((m) => {
      const src = sources.get(m.name);
      if (!src) throw new SkiffError("InvalidArgument", `pod ${pod.name}: container ${c.name}: volume ${m.name} is not in the pod's volumes`);
      if (m.subPath) throw new SkiffError("InvalidArgument", `pod ${pod.name}: container ${c.name}: subPath mounts are not supported`);
      return { type: src.type, source: src.source, target: m.mountPath, readOnly: (m.readOnly ?? false) || src.readOnly, options: [] };
    });
    const sc = c.securityContext ?? {};
    const user = sc.runAsUser !== undefined ? `${sc.runAsUser}${sc.runAsGroup !== undefined ? `:${sc.runAsGroup}` : ""}` : undefined;
    if (sc.runAsUser === undefined && sc.runAsGroup !== undefined) warnings.push(`pod ${pod.name}: container ${c.name}: runAsGroup without runAsUser is ignored`);
    containers.push({
      name: containerName(pod.name, c.name),
      image: c.image,
      pull: pullPolicy(c),
      options: createOptions({
        entrypoint: c.command ?? null,
        cmd: c.args ?? (c.command ? [] : null),
        env: envOf(pod.name, c, opts.configMaps),
        ...(c.workingDir ? { workdir: c.workingDir } : {}),
        ...(user ? { user } : {}),
        hostname,
        labels: { ...label },
        tty: c.tty ?? false,
        openStdin: c.stdin ?? false,
        readOnly: sc.readOnlyRootFilesystem ?? false,
        privileged: sc.privileged ?? false,
        capAdd: sc.capabilities?.add ?? [],
        capDrop: sc.capabilities?.drop ?? [],
        securityOpt: sc.allowPrivilegeEscalation === false ? ["no-new-privileges"] : [],
        mounts,
        network: `container:${infraName(pod.name)}`,
        restart: restartOf(spec),
        ...(spec.terminationGracePeriodSeconds !== undefined ? { stopTimeout: spec.terminationGracePeriodSeconds } : {}),
      }),
    });
  }
  const first = spec.containers[0] as PlayContainer;
  const pause = opts.pausePath;
  const infra: PlannedContainer = {
    name: infraName(pod.name),
    image: first.image as string,
    pull: pullPolicy(first),
    options: createOptions({
      // catatonit -P: a pause process that exits on SIGTERM/SIGINT.
      entrypoint: pause ? [PAUSE_TARGET, "-P"] : ["/bin/sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"],
      cmd: [],
      mounts: pause ? [{ type: "bind", source: pause, target: PAUSE_TARGET, readOnly: true, options: [] }] : [],
      hostname,
      labels: { ...label, [INFRA_LABEL]: "true" },
      network: opts.network,
      ports: infraPorts,
    }),
  };
  if (!pause) warnings.push(`pod ${pod.name}: catatonit not found: the infra container runs a shell loop from ${first.image}`);
  return { name: pod.name, infra, containers, volumes, mkdirs, mustExist, warnings };
}

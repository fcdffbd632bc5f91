/**
 * `kube generate`: containers → a v1 Pod a cluster accepts, plus a Service
 * (type NodePort) for the published ports and a PersistentVolumeClaim per
 * named volume, as Podman's `generate kube` does. Pure: it reads the
 * records and the images' configs passed in.
 *
 * Mapping: entrypoint → command, cmd → args (Kubernetes drops the image's
 * CMD when command is set, as Docker does with --entrypoint); env minus the
 * image's own; -p → ports (containerPort, hostPort); -u UID[:GID] →
 * runAsUser/runAsGroup; --cap-add/--cap-drop, --privileged, --read-only →
 * securityContext; named volume → persistentVolumeClaim, bind → hostPath,
 * anonymous volume and tmpfs → emptyDir; --restart → restartPolicy.
 * Names are made DNS labels (lower case, [a-z0-9-], at most 63).
 */
import type { ContainerConfig } from "../images/manifest.ts";
import type { ContainerRecord } from "../containers/record.ts";
import { SkiffError } from "../errors.ts";
import type { Container, KubeObject, PersistentVolumeClaim, Pod, Service, Volume } from "./types.ts";

export interface GenerateInput {
  record: ContainerRecord;
  /** The image's config (to leave out what the image already says). */
  image: ContainerConfig | null | undefined;
}

export interface KubeGenerateOptions {
  /** Also a Service for published ports. */
  service: boolean;
  /** Pod name (default: the first container's name + "-pod"). */
  podName?: string;
}

export interface KubeGenerateResult {
  objects: KubeObject[];
  /** What could not be expressed (printed as warnings). */
  warnings: string[];
}

const ANONYMOUS = /^[a-f0-9]{64}$/;

/** A DNS-1123 label: lower case alphanumerics and '-', starting and ending alphanumeric, at most 63. */
export function dnsLabel(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63)
    .replace(/-+$/, "");
  return s || "x";
}

function uniqueName(base: string, taken: Set<string>): string {
  let n = base;
  for (let i = 1; taken.has(n); i++) n = dnsLabel(`${base.slice(0, 58)}-${i}`);
  taken.add(n);
  return n;
}

function envFor(record: ContainerRecord, image: ContainerConfig | null | undefined): { name: string; value: string }[] {
  const imageEnv = new Set(image?.Env ?? []);
  const out: { name: string; value: string }[] = [];
  for (const e of record.options.env) {
    if (imageEnv.has(e)) continue;
    const i = e.indexOf("=");
    if (i <= 0) continue;
    out.push({ name: e.slice(0, i), value: e.slice(i + 1) });
  }
  return out;
}

function userIds(user: string | undefined, warnings: string[], name: string): { runAsUser?: number; runAsGroup?: number } {
  if (!user) return {};
  const [u, g] = user.split(":") as [string, string | undefined];
  const out: { runAsUser?: number; runAsGroup?: number } = {};
  if (/^\d+$/.test(u)) out.runAsUser = Number(u);
  else warnings.push(`container ${name}: user ${JSON.stringify(u)} is a name; Kubernetes needs a numeric runAsUser (left out)`);
  if (g !== undefined) {
    if (/^\d+$/.test(g)) out.runAsGroup = Number(g);
    else warnings.push(`container ${name}: group ${JSON.stringify(g)} is a name; Kubernetes needs a numeric runAsGroup (left out)`);
  }
  return out;
}

function capName(c: string): string {
  return c.toUpperCase().replace(/^CAP_/, "");
}

function restartPolicy(records: ContainerRecord[]): Pod["spec"]["restartPolicy"] {
  const names = new Set(records.map((r) => r.options.restart?.name ?? "no"));
  if (names.has("always") || names.has("unless-stopped")) return "Always";
  if (names.has("on-failure")) return "OnFailure";
  return "Never";
}

export function generateKube(inputs: readonly GenerateInput[], opts: KubeGenerateOptions): KubeGenerateResult {
  if (inputs.length === 0) throw new SkiffError("InvalidArgument", "kube generate needs at least one container");
  const warnings: string[] = [];
  const first = inputs[0] as GenerateInput;
  const podName = dnsLabel(opts.podName ?? `${first.record.name}-pod`);
  const volumes: Volume[] = [];
  const volumeNames = new Set<string>();
  const claims = new Map<string, PersistentVolumeClaim>();
  const byKey = new Map<string, string>();
  const containerNames = new Set<string>();
  const containers: Container[] = [];
  const servicePorts: Service["spec"]["ports"] = [];

  const volumeFor = (key: string, make: (name: string) => Volume, base: string): string => {
    const known = byKey.get(key);
    if (known) return known;
    const name = uniqueName(dnsLabel(base), volumeNames);
    volumes.push(make(name));
    byKey.set(key, name);
    return name;
  };

  for (const { record, image } of inputs) {
    const o = record.options;
    const name = uniqueName(dnsLabel(record.name), containerNames);
    const c: Container = { name, image: record.image.name };
    if (o.entrypoint && o.entrypoint.length > 0) {
      c.command = [...o.entrypoint];
      if (o.cmd && o.cmd.length > 0) c.args = [...o.cmd];
    } else if (o.entrypoint && o.entrypoint.length === 0) {
      // --entrypoint "": the image's Cmd alone is the command.
      const cmd = o.cmd && o.cmd.length > 0 ? o.cmd : (image?.Cmd ?? []);
      if (cmd.length > 0) c.command = [...cmd];
    } else if (o.cmd && o.cmd.length > 0) {
      c.args = [...o.cmd];
    }
    if (o.workdir) c.workingDir = o.workdir;
    const env = envFor(record, image);
    if (env.length > 0) c.env = env;
    const ports = o.ports.map((p) => ({
      containerPort: p.containerPort,
      ...(p.hostPort > 0 ? { hostPort: p.hostPort } : {}),
      ...(p.hostIp !== "0.0.0.0" && p.hostIp !== "" ? { hostIP: p.hostIp } : {}),
      ...(p.protocol !== "tcp" ? { protocol: p.protocol.toUpperCase() as "UDP" | "SCTP" } : {}),
    }));
    if (ports.length > 0) c.ports = ports;
    for (const p of o.ports) {
      if (p.hostPort > 0) {
        servicePorts.push({ name: dnsLabel(`${p.hostPort}-${p.protocol}`), port: p.hostPort, protocol: p.protocol.toUpperCase(), targetPort: p.containerPort });
      }
    }
    const sc: NonNullable<Container["securityContext"]> = { ...userIds(o.user, warnings, record.name) };
    if (o.privileged) sc.privileged = true;
    if (o.readOnly) sc.readOnlyRootFilesystem = true;
    const add = o.capAdd.map(capName);
    const drop = o.capDrop.map(capName);
    if (add.length > 0 || drop.length > 0) sc.capabilities = { ...(add.length > 0 ? { add } : {}), ...(drop.length > 0 ? { drop } : {}) };
    if (o.securityOpt.some((s) => /^no-new-privileges(:true)?$/.test(s))) sc.allowPrivilegeEscalation = false;
    if (Object.keys(sc).length > 0) c.securityContext = sc;
    const mounts: NonNullable<Container["volumeMounts"]> = [];
    for (const m of o.mounts) {
      let vol: string;
      if (m.type === "bind") {
        const source = m.source as string;
        vol = volumeFor(`bind:${source}`, (n) => ({ name: n, hostPath: { path: source, type: "DirectoryOrCreate" } }), `${source.replaceAll("/", "-")}-host`);
      } else if (m.type === "tmpfs") {
        vol = volumeFor(`tmpfs:${record.id}:${m.target}`, (n) => ({ name: n, emptyDir: { medium: "Memory" } }), `${m.target.replaceAll("/", "-")}-tmpfs`);
      } else if (!m.source || ANONYMOUS.test(m.source)) {
        vol = volumeFor(`anon:${m.source ?? `${record.id}:${m.target}`}`, (n) => ({ name: n, emptyDir: {} }), `${m.target.replaceAll("/", "-")}-empty`);
      } else {
        const claim = dnsLabel(m.source);
        vol = volumeFor(`volume:${m.source}`, (n) => ({ name: n, persistentVolumeClaim: { claimName: claim } }), `${m.source}-pvc`);
        if (!claims.has(claim)) {
          if (claim !== m.source) warnings.push(`volume ${m.source}: claim named ${claim} (Kubernetes names are DNS labels)`);
          claims.set(claim, {
            apiVersion: "v1",
            kind: "PersistentVolumeClaim",
            metadata: { name: claim },
            spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
          });
        }
      }
      mounts.push({ name: vol, mountPath: m.target, ...(m.readOnly ? { readOnly: true } : {}) });
    }
    if (mounts.length > 0) c.volumeMounts = mounts;
    if (o.tty) c.tty = true;
    if (o.openStdin) c.stdin = true;
    if (o.network !== "default" && o.network !== "bridge") warnings.push(`container ${record.name}: --network ${o.network} has no Pod equivalent (containers of a pod share one network)`);
    containers.push(c);
  }

  const pod: Pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: podName, labels: { app: podName } },
    spec: {
      containers,
      restartPolicy: restartPolicy(inputs.map((i) => i.record)),
      ...(volumes.length > 0 ? { volumes } : {}),
    },
  };
  const hostname = first.record.options.hostname;
  if (hostname) pod.spec.hostname = dnsLabel(hostname);
  const objects: KubeObject[] = [...claims.values(), pod];
  if (opts.service) {
    if (servicePorts.length === 0) warnings.push("no published ports: no Service generated");
    else {
      objects.push({
        apiVersion: "v1",
        kind: "Service",
        // A Service's name is a DNS-1035 label: it starts with a letter.
        metadata: { name: /^[a-z]/.test(podName) ? podName : dnsLabel(`svc-${podName}`), labels: { app: podName } },
        spec: { selector: { app: podName }, type: "NodePort", ports: servicePorts },
      });
    }
  }
  return { objects, warnings };
}

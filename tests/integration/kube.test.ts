/**
 * The Kubernetes bridge end to end, with the compiled binary, runc and a
 * fixture busybox image from a local registry: `kube generate` output is
 * checked against the Kubernetes schema kept in tests/fixtures/k8s; `kube
 * play` runs pods whose containers share the infra container's network
 * namespace (localhost) and emptyDir volumes; `kube down` removes them.
 *
 * CI runs this file as root and as an unprivileged user with a subuid range.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { containerFixture, containerSkipReason, type ContainerFixture } from "../helpers/containers.ts";
import { validateKubeObject, type Schema } from "../helpers/jsonschema.ts";
import { freePort } from "../helpers/registry.ts";
import type { SkiffEnv } from "../helpers/skiff.ts";

const SCHEMA = JSON.parse(readFileSync(join(import.meta.dir, "..", "fixtures", "k8s", "core-v1.schema.json"), "utf8")) as Schema;

const skip = containerSkipReason();
if (skip) console.warn(`skipping kube tests: ${skip}`);
const portsSkip = Bun.which("pasta") || Bun.which("slirp4netns") ? undefined : "neither pasta nor slirp4netns is installed: no published ports";

let fx: ContainerFixture;
let env: SkiffEnv;
let image: string;
let work: string;

function docsOf(yaml: string): Record<string, unknown>[] {
  return parseAllDocuments(yaml).map((d) => d.toJS() as Record<string, unknown>);
}

async function names(): Promise<string[]> {
  return (await env.ok(["ps", "-a", "--format", "{{.Names}}"])).split("\n").filter(Boolean).sort();
}

async function volumes(): Promise<string[]> {
  return (await env.ok(["volume", "ls", "-q"])).split("\n").filter(Boolean).sort();
}

/** Waits for a container to exit; returns its exit code. */
async function exitCode(name: string): Promise<number> {
  return Number((await env.ok(["wait", name])).trim());
}

function writeYaml(name: string, text: string): string {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
}

describe.skipIf(skip !== undefined)("kube", () => {
  beforeAll(async () => {
    fx = await containerFixture("kube");
    ({ env, image, work } = fx);
  }, 120_000);

  afterAll(async () => {
    await fx?.close();
  });

  test("kube generate: a Pod, a Service and a PersistentVolumeClaim that the Kubernetes schema accepts", async () => {
    await env.ok(["create", "--name", "gen_web", "-p", "18080:8080", "-p", "5353:53/udp", "-v", "site:/srv", "-v", `${work}:/host:ro`, "-v", "/scratch", "-e", "MODE=prod", "-u", "1000:1000", "--cap-add", "NET_BIND_SERVICE", "--read-only", image, "httpd", "-f", "-p", "8080"]);
    await env.ok(["create", "--name", "gen-side", "--network", "none", "--entrypoint", "/bin/sh", image, "-c", "sleep 1"]);
    const out = await env.run(["kube", "generate", "-s", "gen_web", "gen-side"]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout.startsWith("# Save the output of this file and use kubectl create -f to import it into Kubernetes.\n")).toBe(true);
    const docs = docsOf(out.stdout);
    expect(docs.map((d) => d.kind)).toEqual(["PersistentVolumeClaim", "Pod", "Service"]);
    for (const d of docs) expect(validateKubeObject(d, SCHEMA)).toEqual([]);
    const pod = docs[1] as { metadata: { name: string }; spec: { containers: { name: string; args?: string[]; command?: string[]; ports?: unknown[] }[]; volumes: unknown[] } };
    expect(pod.metadata.name).toBe("gen-web-pod");
    expect(pod.spec.containers.map((c) => c.name)).toEqual(["gen-web", "gen-side"]);
    expect(pod.spec.containers[0]?.args).toEqual(["httpd", "-f", "-p", "8080"]);
    expect(pod.spec.containers[1]?.command).toEqual(["/bin/sh"]);
    expect(pod.spec.containers[0]?.ports).toEqual([
      { containerPort: 8080, hostPort: 18080 },
      { containerPort: 53, hostPort: 5353, protocol: "UDP" },
    ]);
    expect(out.stderr).toContain("--network none has no Pod equivalent");
    // -f writes the file.
    const file = join(work, "gen.yaml");
    await env.ok(["kube", "generate", "-f", file, "gen_web"]);
    for (const d of docsOf(readFileSync(file, "utf8"))) expect(validateKubeObject(d, SCHEMA)).toEqual([]);
    await env.ok(["rm", "-v", "gen_web", "gen-side"]);
    await env.ok(["volume", "rm", "site"]);
  });

  test("kube play: two containers of a pod reach each other on localhost and share an emptyDir; kube down removes them and the emptyDir", async () => {
    const yaml = writeYaml(
      "duo.yaml",
      `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: duo-claim}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Pod
metadata:
  name: duo
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  volumes:
    - name: shared
      emptyDir: {}
    - name: keep
      persistentVolumeClaim: {claimName: duo-claim}
  containers:
    - name: server
      image: ${image}
      command: [sh, -c]
      args: ["mkdir -p /www && echo hello-from-server > /www/index.html && echo $(hostname) > /shared/host && httpd -f -p 8080 -h /www"]
      volumeMounts: [{name: shared, mountPath: /shared}]
    - name: client
      image: ${image}
      env: [{name: TARGET, value: "http://127.0.0.1:8080/"}]
      command: [sh, -c, 'for i in $(seq 1 100); do wget -q -O- "$TARGET" && cat /shared/host && echo kept > /keep/f && exit 0; sleep 0.1; done; exit 1']
      volumeMounts: [{name: shared, mountPath: /shared}, {name: keep, mountPath: /keep}]
`,
    );
    const played = await env.run(["kube", "play", "--network", "none", yaml]);
    expect(played.code, played.stderr).toBe(0);
    expect(played.stdout).toMatch(/^Volumes:\nduo-claim\nduo-shared\nPod:\nduo\nContainers:\n([0-9a-f]{64}\n){3}$/);
    expect(await names()).toEqual(["duo-client", "duo-infra", "duo-server"]);
    expect(await exitCode("duo-client")).toBe(0);
    // The pod's hostname is its name, for every container.
    expect(await env.ok(["logs", "duo-client"])).toBe("hello-from-server\nduo\n");
    expect(await env.ok(["inspect", "-f", "{{.State.Running}}", "duo-infra"])).toBe("true\n");
    // Playing it again is a conflict; --replace takes the old pod down first.
    const again = await env.run(["kube", "play", "--network", "none", yaml]);
    expect(again.code).toBe(125);
    expect(again.stderr).toBe("Error: pod duo already exists: use kube down first, or --replace\n");
    const down = await env.run(["kube", "down", yaml]);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toBe("Pods stopped:\nduo\nPods removed:\nduo\n");
    expect(await names()).toEqual([]);
    // The emptyDir went with the pod; the claim's volume stays until down --force.
    expect(await volumes()).toEqual(["duo-claim"]);
    expect((await env.ok(["kube", "down", "--force", yaml])).trim()).toBe("Volumes removed:\nduo-claim");
    expect(await volumes()).toEqual([]);
  });

  test.skipIf(portsSkip !== undefined)("a Deployment's pod template plays as <name>-pod; hostPorts are published on the infra container", async () => {
    const port = await freePort();
    const yaml = writeYaml(
      "web.yaml",
      `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: httpd
          image: ${image}
          command: [sh, -c, "mkdir -p /www && echo hi-from-pod > /www/index.html && httpd -f -p 8080 -h /www"]
          ports: [{containerPort: 8080, hostPort: ${port}}]
`,
    );
    const played = await env.run(["kube", "play", yaml]);
    expect(played.code, played.stderr).toBe(0);
    expect(await names()).toEqual(["web-pod-httpd", "web-pod-infra"]);
    expect(await env.ok(["port", "web-pod-infra"])).toBe(`8080/tcp -> 0.0.0.0:${port}\n`);
    let body = "";
    for (let i = 0; i < 50 && body === ""; i++) {
      try {
        body = await (await fetch(`http://127.0.0.1:${port}/`)).text();
      } catch {
        await Bun.sleep(100);
      }
    }
    expect(body).toBe("hi-from-pod\n");
    expect((await env.ok(["kube", "down", yaml])).split("\n")[1]).toBe("web-pod");
    expect(await names()).toEqual([]);
  });

  test("round trip: the YAML kube generate writes for a container plays back as a pod that runs it", async () => {
    await env.ok(["create", "--name", "rt", "--network", "none", "-e", "WHO=round-trip", image, "sh", "-c", 'echo "hello $WHO"']);
    const yaml = writeYaml("rt.yaml", await env.ok(["kube", "generate", "rt"]));
    await env.ok(["rm", "rt"]);
    const played = await env.run(["kube", "play", "--network", "none", yaml]);
    expect(played.code, played.stderr).toBe(0);
    expect(await exitCode("rt-pod-rt")).toBe(0);
    expect(await env.ok(["logs", "rt-pod-rt"])).toBe("hello round-trip\n");
    await env.ok(["kube", "down", yaml]);
    expect(await names()).toEqual([]);
  });

  test("kube play refuses what it cannot do, and cleans up a pod that fails half-way", async () => {
    const bad = writeYaml("bad.yaml", `apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n  containers: [{name: c, image: ${image}, volumeMounts: [{name: nope, mountPath: /x}]}]\n`);
    const r = await env.run(["kube", "play", bad]);
    expect(r.code).toBe(125);
    expect(r.stderr).toBe("Error: pod bad: container c: volume nope is not in the pod's volumes\n");
    const half = writeYaml(
      "half.yaml",
      `apiVersion: v1\nkind: Pod\nmetadata: {name: half}\nspec:\n  containers:\n    - {name: ok, image: ${image}, command: [sleep, "60"]}\n    - {name: broken, image: ${image}, command: [/no/such/binary]}\n`,
    );
    const h = await env.run(["kube", "play", "--network", "none", half]);
    expect(h.code).not.toBe(0);
    expect(h.stderr).toContain("start half-broken");
    expect(await names()).toEqual([]);
  });
});

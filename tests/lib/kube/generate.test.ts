/**
 * `kube generate` output against the Kubernetes schema kept in
 * tests/fixtures/k8s (reduced from the OpenAPI definitions) and a golden file.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { createOptions } from "../../../lib/containers/options.ts";
import type { ContainerRecord } from "../../../lib/containers/record.ts";
import { dnsLabel, generateKube } from "../../../lib/kube/generate.ts";
import type { Pod } from "../../../lib/kube/types.ts";
import { GENERATED_HEADER, parseYamlDocuments, toYaml } from "../../../lib/kube/yaml.ts";
import { expectGolden } from "../../helpers/golden.ts";
import { validateKubeObject, type Schema } from "../../helpers/jsonschema.ts";
import { testRecord } from "../../helpers/records.ts";

const FIXTURES = join(import.meta.dir, "..", "..", "fixtures");
const SCHEMA = JSON.parse(readFileSync(join(FIXTURES, "k8s", "core-v1.schema.json"), "utf8")) as Schema;

function record(name: string, options: Parameters<typeof createOptions>[0], image = "docker.io/library/busybox:latest"): ContainerRecord {
  const id = name.padEnd(64, "0").replace(/[^a-f0-9]/g, "a").slice(0, 64);
  return testRecord({ id, name, image, imageConfig: null, options, rootless: true });
}

const IMAGE_CONFIG = { Env: ["PATH=/usr/bin:/bin"], Cmd: ["sh"] };

const web = record("Web_Server.1", {
  env: ["PATH=/usr/bin:/bin", "MODE=prod", "EMPTY="],
  cmd: ["httpd", "-f", "-p", "8080"],
  workdir: "/srv",
  user: "1000:100",
  ports: [
    { containerPort: 8080, protocol: "tcp", hostIp: "0.0.0.0", hostPort: 8080 },
    { containerPort: 53, protocol: "udp", hostIp: "127.0.0.1", hostPort: 5353 },
    { containerPort: 9000, protocol: "tcp", hostIp: "0.0.0.0", hostPort: 0 },
  ],
  mounts: [
    { type: "volume", source: "site_data", target: "/srv/www", readOnly: true, options: [] },
    { type: "bind", source: "/etc/web", target: "/etc/web", readOnly: false, options: [] },
    { type: "volume", source: "c".repeat(64), target: "/cache", readOnly: false, options: [] },
    { type: "tmpfs", target: "/run", readOnly: false, options: [] },
  ],
  capAdd: ["NET_BIND_SERVICE"],
  capDrop: ["cap_net_raw"],
  readOnly: true,
  securityOpt: ["no-new-privileges"],
  restart: { name: "always", maximumRetryCount: 0 },
  hostname: "web",
});
const sidecar = record("sidecar", { entrypoint: ["/bin/sh", "-c"], cmd: ["while :; do sleep 1; done"], mounts: [{ type: "volume", source: "site_data", target: "/data", readOnly: false, options: [] }] });

describe("kube generate", () => {
  const { objects, warnings } = generateKube(
    [
      { record: web, image: IMAGE_CONFIG },
      { record: sidecar, image: IMAGE_CONFIG },
    ],
    { service: true },
  );
  const yaml = toYaml(objects, { header: GENERATED_HEADER("1.0.0") });

  test("every document is valid against the Kubernetes schema", () => {
    const docs = parseYamlDocuments(yaml, "generated");
    expect(docs.map((d) => (d as { kind: string }).kind)).toEqual(["PersistentVolumeClaim", "Pod", "Service"]);
    for (const d of docs) expect(validateKubeObject(d, SCHEMA)).toEqual([]);
  });

  test("golden YAML", () => {
    expectGolden(join(FIXTURES, "k8s", "generated-pod.yaml"), yaml);
  });

  test("the mapping: names as DNS labels, the image's env left out, cmd → args, entrypoint → command", () => {
    const pod = objects.find((o) => o.kind === "Pod") as Pod;
    expect(pod.metadata.name).toBe("web-server-1-pod");
    const [c0, c1] = pod.spec.containers;
    expect(c0?.name).toBe("web-server-1");
    expect(c0?.env).toEqual([
      { name: "MODE", value: "prod" },
      { name: "EMPTY", value: "" },
    ]);
    expect(c0?.args).toEqual(["httpd", "-f", "-p", "8080"]);
    expect(c0?.command).toBeUndefined();
    expect(c1?.command).toEqual(["/bin/sh", "-c"]);
    expect(c1?.args).toEqual(["while :; do sleep 1; done"]);
    expect(c0?.securityContext).toEqual({ runAsUser: 1000, runAsGroup: 100, readOnlyRootFilesystem: true, capabilities: { add: ["NET_BIND_SERVICE"], drop: ["NET_RAW"] }, allowPrivilegeEscalation: false });
    expect(pod.spec.restartPolicy).toBe("Always");
    expect(warnings).toEqual(["volume site_data: claim named site-data (Kubernetes names are DNS labels)"]);
  });

  test("one claim per named volume, shared by the containers that mount it", () => {
    const pod = objects.find((o) => o.kind === "Pod") as Pod;
    expect((pod.spec.volumes ?? []).map((v) => v.name)).toEqual(["site-data-pvc", "etc-web-host", "cache-empty", "run-tmpfs"]);
    expect(pod.spec.containers[1]?.volumeMounts).toEqual([{ name: "site-data-pvc", mountPath: "/data" }]);
  });

  test("the Service exposes the published ports (NodePort) and selects the pod", () => {
    const svc = objects.find((o) => o.kind === "Service") as { spec: unknown };
    expect(svc.spec).toEqual({
      selector: { app: "web-server-1-pod" },
      type: "NodePort",
      ports: [
        { name: "8080-tcp", port: 8080, protocol: "TCP", targetPort: 8080 },
        { name: "5353-udp", port: 5353, protocol: "UDP", targetPort: 53 },
      ],
    });
  });

  test("without published ports there is no Service, and a name user is left out with a warning", () => {
    const r = generateKube([{ record: record("9lives", { user: "nobody" }), image: null }], { service: true });
    expect(r.objects.map((o) => o.kind)).toEqual(["Pod"]);
    expect(r.warnings).toEqual(['container 9lives: user "nobody" is a name; Kubernetes needs a numeric runAsUser (left out)', "no published ports: no Service generated"]);
    for (const o of r.objects) expect(validateKubeObject(o, SCHEMA)).toEqual([]);
  });

  test("a pod name starting with a digit gives a Service name that starts with a letter", () => {
    const r = generateKube([{ record: record("1web", { ports: [{ containerPort: 80, protocol: "tcp", hostIp: "0.0.0.0", hostPort: 8081 }] }), image: null }], { service: true });
    expect(r.objects.map((o) => o.metadata.name)).toEqual(["1web-pod", "svc-1web-pod"]);
    for (const o of r.objects) expect(validateKubeObject(o, SCHEMA)).toEqual([]);
  });

  test("dns labels", () => {
    expect(dnsLabel("My_App.v2")).toBe("my-app-v2");
    expect(dnsLabel("--x--")).toBe("x");
    expect(dnsLabel("a".repeat(70)).length).toBe(63);
    expect(dnsLabel("___")).toBe("x");
  });
});

describe("the schema check itself", () => {
  const good = { apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: { containers: [{ name: "c", image: "busybox" }] } };

  test("accepts a minimal pod", () => {
    expect(validateKubeObject(good, SCHEMA)).toEqual([]);
  });

  test("rejects what a cluster rejects: unknown fields, missing containers, bad names, bad ports", () => {
    expect(validateKubeObject({ ...good, spec: { containers: [{ name: "c", imagee: "x" }] } }, SCHEMA)).toEqual(["$.spec.containers[0]: unknown field imagee"]);
    expect(validateKubeObject({ ...good, spec: {} }, SCHEMA)).toEqual(["$.spec: missing required containers"]);
    expect(validateKubeObject({ ...good, spec: { containers: [{ name: "Bad_Name" }] } }, SCHEMA)[0]).toContain("does not match");
    expect(validateKubeObject({ ...good, spec: { containers: [{ name: "c", ports: [{ containerPort: 70000 }] }] } }, SCHEMA)).toEqual(["$.spec.containers[0].ports[0].containerPort: 70000 > 65535"]);
    expect(validateKubeObject({ ...good, spec: { containers: [{ name: "c", env: [{ value: "x" }] }] } }, SCHEMA)).toEqual(["$.spec.containers[0].env[0]: missing required name"]);
    expect(validateKubeObject(parse("apiVersion: v1\nkind: Service\nmetadata: {name: 1svc}\nspec: {ports: [{port: 80}]}\n"), SCHEMA)[0]).toContain("does not match");
  });
});

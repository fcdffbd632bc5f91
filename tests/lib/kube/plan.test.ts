/** kube play planning: YAML documents → the containers and volumes of each pod. */
import { describe, expect, test } from "bun:test";
import { planPod, readKubeDocuments } from "../../../lib/kube/plan.ts";
import { parseYamlDocuments } from "../../../lib/kube/yaml.ts";

const YAML = `
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {LEVEL: debug, COLOR: blue}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: db-data}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Pod
metadata:
  name: app
  labels: {app: app}
spec:
  restartPolicy: OnFailure
  hostname: apphost
  terminationGracePeriodSeconds: 5
  volumes:
    - name: scratch
      emptyDir: {}
    - name: db
      persistentVolumeClaim: {claimName: db-data, readOnly: true}
    - name: conf
      hostPath: {path: /etc/app, type: DirectoryOrCreate}
  containers:
    - name: server
      image: registry.example.com/server:1
      command: [/bin/server]
      ports:
        - {containerPort: 8080, hostPort: 18080}
        - {containerPort: 9090}
        - {containerPort: 53, hostPort: 5353, protocol: UDP, hostIP: 127.0.0.1}
      env:
        - {name: A, value: "1"}
        - name: LEVEL
          valueFrom: {configMapKeyRef: {name: settings, key: LEVEL}}
        - name: POD
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
      envFrom:
        - configMapRef: {name: settings}
          prefix: CFG_
      volumeMounts:
        - {name: scratch, mountPath: /scratch}
        - {name: db, mountPath: /db}
        - {name: conf, mountPath: /conf, readOnly: true}
      securityContext:
        runAsUser: 1000
        runAsGroup: 1000
        readOnlyRootFilesystem: true
        allowPrivilegeEscalation: false
        capabilities: {add: [NET_ADMIN], drop: [ALL]}
    - name: client
      image: registry.example.com/client:1
      imagePullPolicy: Always
      args: [--target, localhost:8080]
      volumeMounts:
        - {name: scratch, mountPath: /scratch}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - {name: nginx, image: nginx}
---
apiVersion: v1
kind: Service
metadata: {name: app}
spec: {ports: [{port: 80}]}
`;

describe("kube play plans", () => {
  const docs = readKubeDocuments(parseYamlDocuments(YAML, "app.yaml"), "app.yaml");

  test("documents sorted by kind; a Deployment is one pod named <name>-pod", () => {
    expect(docs.pods.map((p) => p.name)).toEqual(["app", "web-pod"]);
    expect(docs.claims).toEqual(["db-data"]);
    expect([...docs.configMaps.keys()]).toEqual(["settings"]);
    expect(docs.warnings).toEqual(["deployment web: 3 replicas asked, one pod played", "app.yaml: document 5: Service ignored (the pod's hostPorts are published)"]);
  });

  const plan = planPod(docs.pods[0] as never, { configMaps: docs.configMaps, network: "default", pausePath: "/usr/bin/catatonit" });

  test("the infra container holds the network, publishes the hostPorts and pauses with catatonit", () => {
    expect(plan.infra.name).toBe("app-infra");
    expect(plan.infra.image).toBe("registry.example.com/server:1");
    const o = plan.infra.options;
    expect(o.entrypoint).toEqual(["/.skiff-pause", "-P"]);
    expect(o.mounts).toEqual([{ type: "bind", source: "/usr/bin/catatonit", target: "/.skiff-pause", readOnly: true, options: [] }]);
    expect(o.ports).toEqual([
      { containerPort: 8080, protocol: "tcp", hostIp: "0.0.0.0", hostPort: 18080 },
      { containerPort: 53, protocol: "udp", hostIp: "127.0.0.1", hostPort: 5353 },
    ]);
    expect(o.labels).toEqual({ "io.skiff.kube.pod": "app", "io.skiff.kube.infra": "true" });
    expect(o.hostname).toBe("apphost");
    expect(o.network).toBe("default");
  });

  test("the pod's containers join the infra's network; command/args, env, mounts, security", () => {
    const [server, client] = plan.containers;
    expect(server?.name).toBe("app-server");
    const s = server?.options;
    expect(s?.network).toBe("container:app-infra");
    expect(s?.entrypoint).toEqual(["/bin/server"]);
    expect(s?.cmd).toEqual([]);
    expect(s?.env).toEqual(["CFG_LEVEL=debug", "CFG_COLOR=blue", "A=1", "LEVEL=debug", "POD=app"]);
    expect(s?.mounts).toEqual([
      { type: "volume", source: "app-scratch", target: "/scratch", readOnly: false, options: [] },
      { type: "volume", source: "db-data", target: "/db", readOnly: true, options: [] },
      { type: "bind", source: "/etc/app", target: "/conf", readOnly: true, options: [] },
    ]);
    expect(s?.user).toBe("1000:1000");
    expect(s?.readOnly).toBe(true);
    expect(s?.capAdd).toEqual(["NET_ADMIN"]);
    expect(s?.capDrop).toEqual(["ALL"]);
    expect(s?.securityOpt).toEqual(["no-new-privileges"]);
    expect(s?.restart).toEqual({ name: "on-failure", maximumRetryCount: 0 });
    expect(s?.stopTimeout).toBe(5);
    expect(s?.ports).toEqual([]);
    expect(client?.pull).toBe("always");
    expect(client?.options.entrypoint).toBeNull();
    expect(client?.options.cmd).toEqual(["--target", "localhost:8080"]);
  });

  test("volumes: emptyDir belongs to the pod, claims are named volumes, hostPath DirectoryOrCreate is made", () => {
    expect(plan.volumes).toEqual([
      { name: "app-scratch", emptyDir: true },
      { name: "db-data", emptyDir: false },
    ]);
    expect(plan.mkdirs).toEqual(["/etc/app"]);
  });

  test("without catatonit the infra container loops in the image's shell", () => {
    const p = planPod(docs.pods[1] as never, { configMaps: docs.configMaps, network: "none" });
    expect(p.infra.options.entrypoint?.[0]).toBe("/bin/sh");
    expect(p.infra.options.mounts).toEqual([]);
    expect(p.warnings[0]).toContain("catatonit not found");
    expect(p.containers[0]?.options.restart.name).toBe("always");
  });

  test("what is not supported says so", () => {
    const bad = (y: string): (() => void) => () => {
      const d = readKubeDocuments(parseYamlDocuments(y, "x.yaml"), "x.yaml");
      planPod(d.pods[0] as never, { configMaps: d.configMaps, network: "default" });
    };
    expect(bad("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n")).toThrow('kind "Secret" is not supported');
    expect(bad("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n")).toThrow("spec.containers");
    expect(bad("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {volumes: [{name: v, configMap: {name: c}}], containers: [{name: c, image: i}]}\n")).toThrow(
      "only emptyDir, persistentVolumeClaim and hostPath volumes are supported",
    );
    expect(bad("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i, volumeMounts: [{name: nope, mountPath: /x}]}]}\n")).toThrow(
      "volume nope is not in the pod's volumes",
    );
    expect(bad("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i, env: [{name: X, valueFrom: {configMapKeyRef: {name: m, key: k}}}]}]}\n")).toThrow(
      "key k of ConfigMap m not found",
    );
    expect(bad("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n")).toThrow("pod p is defined twice");
  });
});

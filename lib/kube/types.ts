/**
 * The part of the Kubernetes API (core/v1 Pod, Service, PersistentVolumeClaim,
 * ConfigMap; apps/v1 Deployment) skiff reads and writes. Field names and
 * shapes are the OpenAPI definitions' (io.k8s.api.core.v1.*); what skiff
 * writes is checked against tests/fixtures/k8s/core-v1.schema.json.
 *
 * Reading (kube play) goes through the zod schemas below: YAML comes from
 * disk. Unknown fields pass (a cluster's manifests carry many); the ones
 * skiff uses are type-checked.
 */
import { z } from "zod";

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { configMapKeyRef?: { name: string; key: string; optional?: boolean }; fieldRef?: { fieldPath: string } };
}

export interface ContainerPort {
  containerPort: number;
  hostPort?: number;
  hostIP?: string;
  name?: string;
  protocol?: "TCP" | "UDP" | "SCTP";
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  subPath?: string;
}

export interface SecurityContext {
  privileged?: boolean;
  readOnlyRootFilesystem?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string; optional?: boolean }; prefix?: string }[];
  ports?: ContainerPort[];
  volumeMounts?: VolumeMount[];
  securityContext?: SecurityContext;
  imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
  stdin?: boolean;
  tty?: boolean;
}

export interface Volume {
  name: string;
  emptyDir?: { medium?: string; sizeLimit?: string };
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  hostPath?: { path: string; type?: string };
}

export interface PodSpec {
  containers: Container[];
  volumes?: Volume[];
  restartPolicy?: "Always" | "OnFailure" | "Never";
  hostname?: string;
  hostNetwork?: boolean;
  terminationGracePeriodSeconds?: number;
}

export interface Pod {
  apiVersion: "v1";
  kind: "Pod";
  metadata: ObjectMeta;
  spec: PodSpec;
}

export interface Service {
  apiVersion: "v1";
  kind: "Service";
  metadata: ObjectMeta;
  spec: {
    selector: Record<string, string>;
    type?: "ClusterIP" | "NodePort" | "LoadBalancer";
    ports: { name?: string; port: number; protocol?: string; targetPort?: number | string; nodePort?: number }[];
  };
}

export interface PersistentVolumeClaim {
  apiVersion: "v1";
  kind: "PersistentVolumeClaim";
  metadata: ObjectMeta;
  spec: { accessModes: string[]; resources: { requests: Record<string, string> } };
}

export type KubeObject = Pod | Service | PersistentVolumeClaim;

// ---- reading ----

const meta = z.object({ name: z.string().min(1), labels: z.record(z.string()).optional(), annotations: z.record(z.string()).optional() }).passthrough();
const strings = z.array(z.string());

const containerSchema = z
  .object({
    name: z.string().min(1),
    image: z.string().optional(),
    command: strings.optional(),
    args: strings.optional(),
    workingDir: z.string().optional(),
    env: z
      .array(
        z
          .object({
            name: z.string().min(1),
            value: z.string().optional(),
            valueFrom: z
              .object({
                configMapKeyRef: z.object({ name: z.string(), key: z.string(), optional: z.boolean().optional() }).optional(),
                fieldRef: z.object({ fieldPath: z.string() }).optional(),
              })
              .passthrough()
              .optional(),
          })
          .passthrough(),
      )
      .optional(),
    envFrom: z.array(z.object({ configMapRef: z.object({ name: z.string(), optional: z.boolean().optional() }).optional(), prefix: z.string().optional() }).passthrough()).optional(),
    ports: z
      .array(
        z
          .object({
            containerPort: z.number().int().min(1).max(65535),
            hostPort: z.number().int().min(0).max(65535).optional(),
            hostIP: z.string().optional(),
            name: z.string().optional(),
            protocol: z.enum(["TCP", "UDP", "SCTP"]).optional(),
          })
          .passthrough(),
      )
      .optional(),
    volumeMounts: z.array(z.object({ name: z.string(), mountPath: z.string(), readOnly: z.boolean().optional(), subPath: z.string().optional() }).passthrough()).optional(),
    securityContext: z
      .object({
        privileged: z.boolean().optional(),
        readOnlyRootFilesystem: z.boolean().optional(),
        runAsUser: z.number().int().optional(),
        runAsGroup: z.number().int().optional(),
        allowPrivilegeEscalation: z.boolean().optional(),
        capabilities: z.object({ add: strings.optional(), drop: strings.optional() }).optional(),
      })
      .passthrough()
      .optional(),
    imagePullPolicy: z.enum(["Always", "IfNotPresent", "Never"]).optional(),
    stdin: z.boolean().optional(),
    tty: z.boolean().optional(),
  })
  .passthrough();

const volumeSchema = z
  .object({
    name: z.string().min(1),
    emptyDir: z.object({ medium: z.string().optional(), sizeLimit: z.union([z.string(), z.number()]).optional() }).passthrough().nullable().optional(),
    persistentVolumeClaim: z.object({ claimName: z.string().min(1), readOnly: z.boolean().optional() }).passthrough().optional(),
    hostPath: z.object({ path: z.string().min(1), type: z.string().optional() }).passthrough().optional(),
  })
  .passthrough();

export const podSpecSchema = z
  .object({
    containers: z.array(containerSchema).min(1),
    initContainers: z.array(containerSchema).optional(),
    volumes: z.array(volumeSchema).optional(),
    restartPolicy: z.enum(["Always", "OnFailure", "Never"]).optional(),
    hostname: z.string().optional(),
    hostNetwork: z.boolean().optional(),
    terminationGracePeriodSeconds: z.number().int().nonnegative().optional(),
  })
  .passthrough();

export const podSchema = z.object({ apiVersion: z.literal("v1"), kind: z.literal("Pod"), metadata: meta, spec: podSpecSchema }).passthrough();

export const deploymentSchema = z
  .object({
    apiVersion: z.literal("apps/v1"),
    kind: z.literal("Deployment"),
    metadata: meta,
    spec: z.object({ replicas: z.number().int().nonnegative().optional(), template: z.object({ metadata: meta.partial().optional(), spec: podSpecSchema }).passthrough() }).passthrough(),
  })
  .passthrough();

export const configMapSchema = z.object({ apiVersion: z.literal("v1"), kind: z.literal("ConfigMap"), metadata: meta, data: z.record(z.string()).optional() }).passthrough();

export const pvcSchema = z.object({ apiVersion: z.literal("v1"), kind: z.literal("PersistentVolumeClaim"), metadata: meta }).passthrough();

export type PlayPodSpec = z.infer<typeof podSpecSchema>;
export type PlayContainer = z.infer<typeof containerSchema>;

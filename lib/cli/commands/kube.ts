/** kube generate | play | down: the bridge to Kubernetes YAML. */
import type { Command } from "commander";
import { contextFor } from "../program.ts";

async function actions(): Promise<typeof import("../kube-actions.ts")> {
  return import("../kube-actions.ts");
}

function addKube(program: Command): void {
  const k = program.command("kube").description("Play Kubernetes YAML locally and generate it from containers");
  k.command("generate")
    .description("Generate a v1 Pod (and Service, PersistentVolumeClaims) from containers")
    .argument("<container...>")
    .option("-s, --service", "also generate a Service (NodePort) for the published ports")
    .option("-f, --filename <file>", "write the YAML to a file")
    .action(async (names: string[], opts: { service?: boolean; filename?: string }, cmd: Command) => {
      await (await actions()).kubeGenerateCommand(await contextFor(cmd), names, opts);
    });
  k.command("play")
    .description("Run the Pods (and Deployments' pod templates) of a YAML file: containers sharing a network namespace and volumes")
    .argument("<file>", "the YAML file, or - for stdin")
    .option("--network <mode>", "the pod's network: default, none or a network name", "default")
    .option("--replace", "take down pods of the same names first")
    .action(async (file: string, opts: { network?: string; replace?: boolean }, cmd: Command) => {
      await (await actions()).kubePlayCommand(await contextFor(cmd), file, opts);
    });
  k.command("down")
    .description("Stop and remove the pods a YAML file describes, with their emptyDir volumes")
    .argument("<file>", "the YAML file, or - for stdin")
    .option("--force", "also remove the volumes of PersistentVolumeClaims")
    .action(async (file: string, opts: { force?: boolean }, cmd: Command) => {
      await (await actions()).kubeDownCommand(await contextFor(cmd), file, opts);
    });
}

export const kubeVerbs: Record<string, (program: Command) => void> = { kube: addKube };

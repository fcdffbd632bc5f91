/** What the kube verbs do: generate, play, down. */
import { readFileSync, writeFileSync } from "node:fs";
import type { Context } from "../context.ts";
import { errnoCode, SkiffError } from "../errors.ts";
import { readImageConfig } from "../images/views.ts";
import { generateKube } from "../kube/generate.ts";
import { downKube, playKube } from "../kube/play.ts";
import { GENERATED_HEADER, parseYamlDocuments, toYaml } from "../kube/yaml.ts";
import { VERSION } from "../version.ts";
import { writeStderr, writeStdout } from "./stdio.ts";

export async function kubeGenerateCommand(ctx: Context, names: string[], opts: { service?: boolean; filename?: string }): Promise<void> {
  const inputs = names.map((n) => {
    const record = ctx.containers.resolve(n);
    const img = ctx.images.list().find((i) => i.id === record.image.id);
    return { record, image: img ? (readImageConfig(ctx, img).config ?? null) : record.imageConfig };
  });
  const { objects, warnings } = generateKube(inputs, { service: opts.service ?? false });
  for (const w of warnings) writeStderr(`WARNING: ${w}\n`);
  const text = toYaml(objects, { header: GENERATED_HEADER(VERSION) });
  if (opts.filename) {
    writeFileSync(opts.filename, text);
    return;
  }
  writeStdout(text);
}

function readYaml(file: string): { docs: unknown[]; what: string } {
  let text: string;
  try {
    text = file === "-" ? readFileSync(0, "utf8") : readFileSync(file, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") throw new SkiffError("NotFound", `${file}: no such file or directory`);
    throw e;
  }
  const what = file === "-" ? "stdin" : file;
  return { docs: parseYamlDocuments(text, what), what };
}

export async function kubePlayCommand(ctx: Context, file: string, opts: { network?: string; replace?: boolean }): Promise<void> {
  const { docs, what } = readYaml(file);
  const report = await playKube(ctx, docs, { what, network: opts.network, replace: opts.replace });
  for (const w of report.warnings) writeStderr(`WARNING: ${w}\n`);
  if (report.volumes.length > 0) writeStdout(`Volumes:\n${report.volumes.join("\n")}\n`);
  for (const p of report.pods) writeStdout(`Pod:\n${p.name}\nContainers:\n${[p.infra, ...p.containers].join("\n")}\n`);
}

export async function kubeDownCommand(ctx: Context, file: string, opts: { force?: boolean }): Promise<void> {
  const { docs, what } = readYaml(file);
  const { removed, volumes } = await downKube(ctx, docs, { what, force: opts.force });
  if (removed.length > 0) writeStdout(`Pods stopped:\n${removed.join("\n")}\nPods removed:\n${removed.join("\n")}\n`);
  if (volumes.length > 0) writeStdout(`Volumes removed:\n${volumes.join("\n")}\n`);
}

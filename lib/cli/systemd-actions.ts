/** What the systemd verbs do: generate systemd, quadlet --dryrun, systemd-generator, auto-update. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Context } from "../context.ts";
import { SkiffError } from "../errors.ts";
import { autoUpdate, systemctlRestarter } from "../systemd/autoupdate.ts";
import { generateSystemdUnit, type GenerateOptions } from "../systemd/generate.ts";
import { dryRunText, generatorMain, generateUnits } from "../systemd/generator.ts";
import { skiffForUnits } from "../systemd/self.ts";
import { VERSION } from "../version.ts";
import { ExitStatus } from "./main.ts";
import { printList, printValue } from "./output.ts";
import { writeStderr, writeStdout } from "./stdio.ts";


export interface GenerateSystemdFlags {
  new?: boolean;
  name?: boolean;
  files?: boolean;
  restartPolicy: string;
  restartSec?: string;
  time?: string;
  stopTimeout?: string;
  startTimeout?: string;
  containerPrefix: string;
  separator: string;
  header?: boolean;
  wants?: string[];
  after?: string[];
  requires?: string[];
  env?: string[];
  format?: string;
}

function seconds(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new SkiffError("InvalidArgument", `invalid value for ${flag}: ${v}`);
  return n;
}

export function generateSystemdCommand(ctx: Context, names: string[], flags: GenerateSystemdFlags, global: { root?: string; runroot?: string }): void {
  const units = names.map((n) => {
    const record = ctx.containers.resolve(n);
    const opts: GenerateOptions = {
      new: flags.new ?? false,
      useName: flags.name ?? false,
      restartPolicy: flags.restartPolicy,
      restartSec: seconds(flags.restartSec, "--restart-sec"),
      stopTimeout: seconds(flags.time ?? flags.stopTimeout, "--time") ?? record.options.stopTimeout ?? 10,
      startTimeout: seconds(flags.startTimeout, "--start-timeout"),
      containerPrefix: flags.containerPrefix,
      separator: flags.separator,
      noHeader: flags.header === false,
      wants: flags.wants ?? [],
      after: flags.after ?? [],
      requires: flags.requires ?? [],
      env: flags.env ?? [],
      skiff: skiffForUnits(),
      globalArgs: [...(global.root ? ["--root", global.root] : []), ...(global.runroot ? ["--runroot", global.runroot] : [])],
      version: VERSION,
      user: ctx.rootless,
      runRoot: ctx.paths.runRoot,
    };
    return generateSystemdUnit(record, opts);
  });
  if (flags.format === "json") {
    printValue(Object.fromEntries(units.map((u) => [u.serviceName, u.text])), "json");
    return;
  }
  if (flags.format) throw new SkiffError("InvalidArgument", `unsupported format ${JSON.stringify(flags.format)}: only json`);
  if (flags.files) {
    for (const u of units) {
      const path = join(process.cwd(), u.serviceName);
      writeFileSync(path, u.text);
      writeStdout(`${path}\n`);
    }
    return;
  }
  writeStdout(units.map((u) => u.text).join("\n"));
}

export function quadletCommand(flags: { dryrun?: boolean; user?: boolean }): void {
  if (!flags.dryrun) throw new SkiffError("InvalidArgument", "quadlet runs as a systemd generator (skiff systemd-generator); use --dryrun to preview");
  const result = generateUnits({ user: flags.user ?? false, env: process.env, uid: process.getuid?.() ?? 0, skiff: skiffForUnits() });
  for (const e of result.errors) writeStderr(`quadlet: ${e.message.startsWith(e.path) ? e.message : `${e.path}: ${e.message}`}\n`);
  writeStdout(dryRunText(result.units));
  if (result.errors.length > 0) throw new ExitStatus(1);
}

export function systemdGeneratorCommand(dirs: string[], flags: { user?: boolean }): void {
  const code = generatorMain(dirs, { user: flags.user ?? false, skiff: skiffForUnits() });
  if (code !== 0) throw new ExitStatus(code);
}

export async function autoUpdateCommand(ctx: Context, flags: { dryRun?: boolean; format?: string }): Promise<void> {
  const reports = await autoUpdate(ctx, { dryRun: flags.dryRun ?? false, restarter: systemctlRestarter({ user: ctx.rootless }) });
  printList(reports, {
    format: flags.format,
    columns: [
      { header: "UNIT", field: "Unit" },
      { header: "CONTAINER", field: "Container" },
      { header: "IMAGE", field: "Image" },
      { header: "POLICY", field: "Policy" },
      { header: "UPDATED", field: "Updated" },
    ],
  });
  const failed = reports.filter((r) => r.Updated === "failed");
  for (const r of failed) writeStderr(`Error: ${r.Error ?? `auto-updating ${r.ContainerName} failed`}\n`);
  if (failed.length > 0) throw new ExitStatus(125);
}

/** systemd verbs: generate (systemd, kube), quadlet, systemd-generator, auto-update. */
import { Command, Option } from "commander";
import { collect, contextFor, globalOptions } from "../program.ts";

async function actions(): Promise<typeof import("../systemd-actions.ts")> {
  return import("../systemd-actions.ts");
}

function addGenerate(program: Command): void {
  const g = program.command("generate").description("Generate structured data (systemd units, Kubernetes YAML) from containers");
  g.command("systemd")
    .description("Generate systemd units for containers")
    .argument("<container...>")
    .option("--new", "create a new container when the service starts and remove it when it stops")
    .option("-n, --name", "use the container's name instead of its id")
    .option("-f, --files", "write the units to files in the current directory")
    .addOption(new Option("--restart-policy <policy>", "systemd restart policy").default("on-failure"))
    .option("--restart-sec <seconds>", "seconds systemd waits before restarting")
    .option("-t, --time <seconds>", "stop timeout (default: the container's, or 10)")
    .addOption(new Option("--stop-timeout <seconds>", "same as --time").hideHelp())
    .option("--start-timeout <seconds>", "start timeout (TimeoutStartSec=)")
    .addOption(new Option("--container-prefix <prefix>", "service name prefix").default("container"))
    .addOption(new Option("--separator <sep>", "between the prefix and the name").default("-"))
    .option("--no-header", "leave out the header comment")
    .option("--wants <unit>", "add Wants= to the unit", collect)
    .option("--after <unit>", "add After= to the unit", collect)
    .option("--requires <unit>", "add Requires= to the unit", collect)
    .option("-e, --env <KEY=VALUE>", "add Environment= to the unit", collect)
    .option("--format <format>", "json: print a map of service names to units")
    .action(async (names: string[], opts: import("../systemd-actions.ts").GenerateSystemdFlags, cmd: Command) => {
      (await actions()).generateSystemdCommand(await contextFor(cmd), names, opts, globalOptions(cmd));
    });
  g.command("kube")
    .description("Generate Kubernetes YAML from containers (same as kube generate)")
    .argument("<container...>")
    .option("-s, --service", "also generate a Service for the published ports")
    .option("-f, --filename <file>", "write the YAML to a file")
    .action(async (names: string[], opts: { service?: boolean; filename?: string }, cmd: Command) => {
      await (await import("../kube-actions.ts")).kubeGenerateCommand(await contextFor(cmd), names, opts);
    });
}

function addQuadlet(program: Command): void {
  program
    .command("quadlet")
    .description("Preview the services the systemd generator makes from .container, .volume, .network and .image files")
    .option("--dryrun", "print the generated units instead of writing them")
    .option("--user", "user units (~/.config/containers/systemd, ~/.config/skiff/systemd)")
    .action(async (opts: { dryrun?: boolean; user?: boolean }) => {
      (await actions()).quadletCommand(opts);
    });
}

function addGenerator(program: Command): void {
  program
    .command("systemd-generator")
    .description("Run as a systemd generator: write services for Quadlet files into NORMAL_DIR")
    .argument("[dirs...]", "NORMAL_DIR [EARLY_DIR LATE_DIR], as systemd passes them")
    .option("--user", "generate user units")
    .action(async (dirs: string[], opts: { user?: boolean }) => {
      (await actions()).systemdGeneratorCommand(dirs, opts);
    });
}

function addAutoUpdate(program: Command): void {
  program
    .command("auto-update")
    .description("Pull newer images for containers labelled io.containers.autoupdate and restart their systemd units")
    .option("--dry-run", "only check for updates")
    .option("--format <format>", "format output: table, json or a Go template")
    .action(async (opts: { dryRun?: boolean; format?: string }, cmd: Command) => {
      await (await actions()).autoUpdateCommand(await contextFor(cmd), opts);
    });
}

export const systemdVerbs: Record<string, (program: Command) => void> = {
  generate: addGenerate,
  quadlet: addQuadlet,
  "systemd-generator": addGenerator,
  "auto-update": addAutoUpdate,
};

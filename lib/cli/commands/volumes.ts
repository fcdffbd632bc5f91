/** Volume verbs: volume create, ls, inspect, rm, prune. */
import { Command, Option } from "commander";
import { collect, contextFor } from "../program.ts";

async function actions(): Promise<typeof import("../volume-actions.ts")> {
  return import("../volume-actions.ts");
}

function addCreate(parent: Command): void {
  parent
    .command("create")
    .description("Create a volume")
    .argument("[name]", "volume name (default: a random one)")
    .option("--name <name>", "volume name")
    .addOption(new Option("-d, --driver <driver>", "volume driver").default("local"))
    .option("-l, --label <KEY=VALUE>", "set metadata for a volume", collect)
    .option("-o, --opt <KEY=VALUE>", "set driver specific options (type=none,o=bind,device=PATH)", collect)
    .option("--ignore", "do nothing when a volume of that name exists")
    .action(async (name: string | undefined, opts: { name?: string; driver: string; label?: string[]; opt?: string[]; ignore?: boolean }, cmd: Command) => {
      await (await actions()).createCommand(await contextFor(cmd), name, opts);
    });
}

function addLs(parent: Command): void {
  parent
    .command("ls")
    .aliases(["list"])
    .description("List volumes")
    .option("-q, --quiet", "only display volume names")
    .option("-f, --filter <filter>", "filter output (name=, label=, dangling=, driver=)", collect)
    .option("--format <format>", "format output: table, json or a Go template")
    .action(async (opts: { quiet?: boolean; filter?: string[]; format?: string }, cmd: Command) => {
      (await actions()).listCommand(await contextFor(cmd), opts);
    });
}

function addInspect(parent: Command): void {
  parent
    .command("inspect")
    .description("Display detailed information on one or more volumes")
    .argument("<volume...>")
    .option("-f, --format <format>", "format output: json or a Go template")
    .action(async (names: string[], opts: { format?: string }, cmd: Command) => {
      (await actions()).inspectCommand(await contextFor(cmd), names, opts);
    });
}

function addRm(parent: Command): void {
  parent
    .command("rm")
    .aliases(["remove"])
    .description("Remove one or more volumes")
    .argument("<volume...>")
    .option("-f, --force", "remove volumes even when in use; no error for missing ones")
    .action(async (names: string[], opts: { force?: boolean }, cmd: Command) => {
      await (await actions()).rmCommand(await contextFor(cmd), names, opts);
    });
}

function addPrune(parent: Command): void {
  parent
    .command("prune")
    .description("Remove unused volumes (only anonymous ones without --all)")
    .option("-a, --all", "remove all unused volumes, not just anonymous ones")
    .option("-f, --force", "do not prompt for confirmation")
    .option("--filter <filter>", "provide filter values (label=, label!=, all=)", collect)
    .action(async (opts: { all?: boolean; force?: boolean; filter?: string[] }, cmd: Command) => {
      await (await actions()).pruneCommand(await contextFor(cmd), opts);
    });
}

function addVolumeGroup(program: Command): void {
  const volume = program.command("volume").description("Manage volumes");
  addCreate(volume);
  addLs(volume);
  addInspect(volume);
  addRm(volume);
  addPrune(volume);
}

/** Top-level verbs this module provides. */
export const volumeVerbs: Record<string, (program: Command) => void> = {
  volume: addVolumeGroup,
};

/** `stats` and `update`, with Docker's flags. */
import type { Command } from "commander";
import { contextFor } from "../program.ts";
import { addResourceFlags } from "../resource-flags.ts";

async function actions(): Promise<typeof import("../resource-actions.ts")> {
  return import("../resource-actions.ts");
}

export function addStats(parent: Command): void {
  parent
    .command("stats")
    .description("Display a live stream of container(s) resource usage statistics")
    .argument("[container...]")
    .option("-a, --all", "show all containers (default shows just running)")
    .option("--no-stream", "disable streaming stats and only pull the first result")
    .option("--no-trunc", "do not truncate output")
    .option("--format <format>", "format output: table, json or a Go template")
    .action(async (names: string[], opts: Record<string, unknown>, cmd: Command) => {
      await (await actions()).statsCommand(await contextFor(cmd), names, opts);
    });
}

export function addUpdate(parent: Command): void {
  addResourceFlags(
    parent
      .command("update")
      .description("Update configuration of one or more containers")
      .argument("<container...>")
      .option("--restart <policy>", "restart policy to apply when a container exits"),
    { update: true },
  ).action(async (names: string[], opts: Record<string, unknown>, cmd: Command) => {
    await (await actions()).updateCommand(await contextFor(cmd), names, opts);
  });
}

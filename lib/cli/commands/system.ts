/** version, info, unshare, system service */
import type { Command } from "commander";
import { contextFor } from "../program.ts";
import { ExitStatus } from "../main.ts";
import { writeStdout } from "../stdio.ts";

function addVersion(program: Command): void {
  program
    .command("version")
    .description("Show version information")
    .option("-f, --format <format>", "format output: json or a Go template")
    .action(async (opts: { format?: string }) => {
      const { renderVersion } = await import("../version-info.ts");
      writeStdout(await renderVersion(opts.format));
    });
}

function addInfo(program: Command): void {
  program
    .command("info")
    .description("Show host, storage and prerequisite information")
    .option("-f, --format <format>", "format output: json or a Go template")
    .action(async (opts: { format?: string }, cmd: Command) => {
      const ctx = await contextFor(cmd);
      const { systemInfo, renderInfoText } = await import("../../system/info.ts");
      const info = await systemInfo(ctx);
      if (opts.format) {
        const { formatSingleValue } = await import("../render.ts");
        writeStdout(formatSingleValue(info, opts.format));
        return;
      }
      writeStdout(renderInfoText(info));
    });
}

function addUnshare(program: Command): void {
  program
    .command("unshare")
    .description("Run a command in skiff's user and mount namespace (rootless); files show their container owners there")
    .argument("[command...]", "command to run (default: $SHELL)")
    .passThroughOptions()
    .allowUnknownOption()
    .action(async (command: string[], _opts: unknown, cmd: Command) => {
      const ctx = await contextFor(cmd);
      const argv = command.length > 0 ? command : [process.env.SHELL || "/bin/sh"];
      const { runUnshared } = await import("../../system/unshare.ts");
      throw new ExitStatus(await runUnshared(ctx, argv));
    });
}

function addSystem(program: Command): void {
  const system = program.command("system").description("Manage skiff itself");
  system
    .command("service")
    .description("Serve the Docker Engine API on a unix socket (default: $XDG_RUNTIME_DIR/skiff/skiff.sock, /run/skiff/skiff.sock as root)")
    .argument("[address]", "unix:///path, or tcp://host:port (no TLS: only when you mean it)")
    .option("-t, --time <seconds>", "exit after this many idle seconds (0: never)", "0")
    .action(async (address: string | undefined, opts: { time?: string }, cmd: Command) => {
      const ctx = await contextFor(cmd);
      const { serviceCommand } = await import("../../api/service.ts");
      throw new ExitStatus(await serviceCommand(ctx, address, opts));
    });
}

export const systemVerbs: Record<string, (program: Command) => void> = {
  version: addVersion,
  info: addInfo,
  unshare: addUnshare,
  system: addSystem,
};

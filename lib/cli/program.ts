/**
 * The command tree. Each command module registers its verbs; actions import
 * their engine code lazily so `skiff version` loads almost nothing.
 */
import { Command, Option } from "commander";
import { IndexedCommand, mentionedFlags } from "./indexed-command.ts";
import { containerVerbs } from "./commands/containers.ts";
import { imageVerbs } from "./commands/images.ts";
import { networkVerbs } from "./commands/networks.ts";
import { systemVerbs } from "./commands/system.ts";
import { volumeVerbs } from "./commands/volumes.ts";
import { systemdVerbs } from "./commands/systemd.ts";
import { kubeVerbs } from "./commands/kube.ts";
import { VERSION } from "../version.ts";
import { findVerb } from "./verb.ts";
import type { GlobalOptions } from "../context.ts";

/** Every top-level verb, in help order. */
const VERBS: Record<string, (program: Command) => void> = { ...containerVerbs, ...imageVerbs, ...networkVerbs, ...volumeVerbs, ...systemdVerbs, ...kubeVerbs, ...systemVerbs };


/**
 * Builds the program. With `argv`, only the verb being run is registered:
 * commander objects cost startup time, and a CLI run uses one verb. Help,
 * unknown verbs and `help X` get every verb. With `pruned` too, only the
 * options argv names (IndexedCommand); see `prunable`.
 */
export function buildProgram(argv?: string[], configure?: (program: Command) => void, opts: { pruned?: boolean } = {}): Command {
  const program = new IndexedCommand("skiff", argv && opts.pruned ? mentionedFlags(argv.slice(2)) : undefined)
    .description("Daemonless, rootless containers: pull, run and manage OCI images")
    .version(VERSION, "-v, --version", "print the version and exit")
    .addOption(new Option("--root <dir>", "storage root (images, containers, volumes)").env("SKIFF_ROOT"))
    .addOption(new Option("--runroot <dir>", "volatile state directory").env("SKIFF_RUNROOT"))
    .addOption(new Option("--storage-driver <driver>", "snapshot driver for new containers").choices(["overlay", "fuse-overlayfs", "copy"]).env("SKIFF_STORAGE_DRIVER"))
    .addOption(new Option("--log-level <level>", "log level").choices(["debug", "info", "warn", "error"]).default("warn"))
    .enablePositionalOptions()
    .showSuggestionAfterError(true)
    .helpCommand("help [command]", "show help for a command")
    .configureHelp({ sortSubcommands: false, showGlobalOptions: true });
  configure?.(program);
  const verb = argv ? findVerb(argv.slice(2)) : undefined;
  const only = verb !== undefined && verb !== "help" ? VERBS[verb] : undefined;
  if (only) only(program);
  else for (const register of Object.values(VERBS)) register(program);
  return program;
}

/**
 * Whether a program pruned to argv's options parses argv as the full one
 * would: not when help is asked for (it lists every option; `-h` is help
 * for most verbs, alone or in a cluster).
 */
export function prunable(argv: string[]): boolean {
  return findVerb(argv.slice(2)) !== "help" && !argv.slice(2).some((a) => a === "--help" || /^-[^-]*h/.test(a));
}

/** Global options seen from a subcommand. */
export function globalOptions(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals() as GlobalOptions;
  return { ...(o.root ? { root: o.root } : {}), ...(o.runroot ? { runroot: o.runroot } : {}), ...(o.storageDriver ? { storageDriver: o.storageDriver } : {}) };
}

export async function contextFor(cmd: Command): Promise<import("../context.ts").Context> {
  const { Context } = await import("../context.ts");
  return new Context(globalOptions(cmd));
}

/** Collects a repeatable option into an array. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

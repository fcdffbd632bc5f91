/**
 * The CLI: a commander program whose commands parse flags into option
 * objects and call the engine. This file owns the one place where errors
 * become messages and exit codes.
 */
import { CommanderError, type Command } from "commander";
import { EXIT_SKIFF, exitCode, SkiffError, toSkiffError } from "../errors.ts";
import { buildProgram, prunable } from "./program.ts";
import { trace } from "../trace.ts";
import { writeStderr } from "./stdio.ts";

/** Thrown by commands that want a specific exit status without an error message. */
export class ExitStatus extends Error {
  readonly code: number;
  constructor(code: number) {
    super(`exit ${code}`);
    this.code = code;
  }
}

export async function runCli(argv: string[]): Promise<number> {
  trace("cli: loaded");
  const pruned = prunable(argv);
  // The pruned program's errors wait: an unknown option there means parsing again with all of them.
  let held = "";
  const program = build(argv, pruned, pruned ? (s) => void (held += s) : writeStderr);
  trace("cli: program built");
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (pruned && e instanceof CommanderError && e.code === "commander.unknownOption") {
      try {
        await build(argv, false, writeStderr).parseAsync(argv);
        return 0;
      } catch (again) {
        return handleError(again);
      }
    }
    writeStderr(held);
    return handleError(e);
  }
}

function build(argv: string[], pruned: boolean, errors: (s: string) => void): Command {
  // Commander copies these settings into subcommands as they are created:
  // they must be set before the verbs are registered.
  return buildProgram(
    argv,
    (p) => {
      p.exitOverride();
      p.configureOutput({
        writeErr: (s) => writeStderr(s),
        outputError: (s) => errors(`Error: ${s.replace(/^error: /, "")}`),
      });
    },
    { pruned },
  );
}

function handleError(e: unknown): number {
  if (e instanceof ExitStatus) return e.code;
  if (e instanceof CommanderError) {
    // --help and --version end through here with code 0.
    if (e.code === "commander.helpDisplayed" || e.code === "commander.help" || e.code === "commander.version") return 0;
    if (e.code === "commander.executeSubCommandAsync") return e.exitCode;
    return e.exitCode === 0 ? 0 : EXIT_SKIFF;
  }
  const err = e instanceof SkiffError ? e : toSkiffError(e);
  writeStderr(`Error: ${err.message}\n`);
  if (process.env.SKIFF_DEBUG && e instanceof Error && e.stack) writeStderr(`${e.stack}\n`);
  return exitCode(err);
}


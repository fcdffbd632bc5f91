/**
 * IndexedCommand answers commander's option lookups from an index: the same
 * parse results and the same conflict errors as a plain Command.
 */
import { describe, expect, test } from "bun:test";
import { Command, Option } from "commander";
import { IndexedCommand } from "../../../lib/cli/indexed-command.ts";

function build(make: (name: string) => Command): Command {
  const program = make("prog").exitOverride().enablePositionalOptions();
  program
    .command("run")
    .exitOverride()
    .passThroughOptions()
    .option("-d, --detach", "detach")
    .option("-e, --env <kv>", "env", (v: string, prev: string[] = []) => [...prev, v])
    .option("--no-healthcheck", "no healthcheck")
    .option("--healthcheck", "healthcheck")
    .addOption(new Option("--pull <policy>", "pull").choices(["always", "missing"]).default("missing"))
    .argument("<image>")
    .argument("[command...]")
    .action(() => {});
  return program;
}

function parsed(make: (name: string) => Command, argv: string[]): unknown {
  const program = build(make);
  program.parse(argv, { from: "user" });
  const run = program.commands[0] as Command;
  return { opts: run.opts(), args: run.args };
}

const plain = (n: string): Command => new Command(n);
const indexed = (n: string): Command => new IndexedCommand(n);

describe("IndexedCommand", () => {
  test("parses like commander's own Command", () => {
    for (const argv of [
      ["run", "-d", "img"],
      ["run", "-e", "A=1", "--env=B=2", "-de", "C=3", "img", "sh", "-c", "x"],
      ["run", "--no-healthcheck", "--pull", "always", "img"],
      ["run", "--healthcheck", "img", "--detach"],
      ["run", "--pull=always", "--", "img"],
    ]) {
      expect(parsed(indexed, argv)).toEqual(parsed(plain, argv));
    }
  });

  test("subcommands are indexed too", () => {
    expect(build(indexed).commands[0]).toBeInstanceOf(IndexedCommand);
  });

  test("refuses a flag that is already taken, as commander does", () => {
    for (const make of [plain, indexed]) {
      const cmd = make("x").option("-f, --force", "force");
      expect(() => cmd.option("-f, --file <f>", "file")).toThrow("conflicting flag '-f'");
      expect(() => cmd.option("--force", "again")).toThrow("conflicting flag '--force'");
    }
  });

  test("an unknown option is still an error", () => {
    for (const make of [plain, indexed]) {
      const program = build(make);
      program.commands[0]?.configureOutput({ writeErr: () => {} });
      expect(() => program.parse(["run", "--bogus", "img"], { from: "user" })).toThrow("unknown option '--bogus'");
    }
  });
});

/**
 * IndexedCommand answers commander's option lookups from an index: the same
 * parse results and the same conflict errors as a plain Command. Pruned to
 * the flags a command line names, skiff's own program parses every command
 * line as the full one does.
 */
import { describe, expect, test } from "bun:test";
import { Command, Option } from "commander";
import { IndexedCommand, mentionedFlags } from "../../../lib/cli/indexed-command.ts";
import { buildProgram, prunable } from "../../../lib/cli/program.ts";

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
const prunedTo =
  (argv: string[]) =>
  (n: string): Command =>
    new IndexedCommand(n, mentionedFlags(argv));

const STOP = new Error("stop before the action");

/** What skiff's program makes of argv: the acting command's options and arguments, or the parse error's code. */
async function skiffParse(args: string[], pruned: boolean): Promise<unknown> {
  const argv = ["bun", "skiff", ...args];
  let seen: unknown;
  const program = buildProgram(
    argv,
    (p) => {
      p.exitOverride();
      p.configureOutput({ writeErr: () => {}, writeOut: () => {} });
      p.hook("preAction", (_, action) => {
        seen = { opts: action.opts(), args: action.args };
        throw STOP;
      });
    },
    { pruned },
  );
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e !== STOP) return { error: (e as { code?: string }).code };
  }
  return seen;
}

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

  test("pruned to the flags argv names: parses the same, defaults included", () => {
    for (const argv of [
      ["run", "-d", "img"],
      ["run", "-e", "A=1", "--env=B=2", "-de", "C=3", "img", "sh", "-c", "x"],
      ["run", "--no-healthcheck", "--pull", "always", "img"],
      ["run", "img"],
      ["run", "--pull=always", "--", "img"],
    ]) {
      expect(parsed(prunedTo(argv), argv)).toEqual(parsed(plain, argv));
    }
    const program = build(prunedTo(["run", "-d", "img"]));
    expect((program.commands[0] as Command).options.map((o) => o.long)).toEqual(["--detach", "--no-healthcheck", "--pull"]);
  });

  test("pruned: a flag it left out is an unknown option (the CLI then parses with all)", () => {
    const argv = ["run", "img"];
    const program = build(prunedTo(argv));
    program.commands[0]?.configureOutput({ writeErr: () => {} });
    expect(() => program.parse(["run", "--detach", "img"], { from: "user" })).toThrow("unknown option '--detach'");
  });
});

describe("mentionedFlags", () => {
  test("long flags with or without a value, and each letter of a short cluster", () => {
    expect([...mentionedFlags(["run", "--rm", "--name=x", "-it", "-p8080:80", "--", "img", "-"])].sort()).toEqual(
      ["--name", "--rm", "-0", "-8", "-:", "-i", "-p", "-t"].sort(),
    );
  });
});

describe("skiff's program pruned", () => {
  const lines = [
    ["run", "--rm", "img", "true"],
    ["run", "-d", "--name", "x", "-p", "8080:80", "-p", "127.0.0.1:1:2/udp", "-e", "A=1", "--env=B=2", "-l", "k=v", "img"],
    ["run", "-it", "--rm", "--network", "none", "-w", "/tmp", "-u", "1:2", "img", "sh", "-c", "echo -x --y"],
    ["run", "--no-healthcheck", "--pull=never", "--sig-proxy=false", "img"],
    ["run", "--memory", "1g", "--cpus", "0.5", "--pids-limit", "9", "--restart", "on-failure:3", "--health-cmd", "true", "img"],
    ["run", "-v", "/a:/b:ro", "--mount", "type=tmpfs,dst=/t", "--tmpfs", "/x", "--read-only", "--init", "img"],
    ["create", "--name", "y", "--stop-signal", "TERM", "--cap-drop", "ALL", "img", "sh"],
    ["run", "--bogus", "img"],
    ["run", "img", "--detach"],
    ["ps", "-a", "--format", "{{.ID}}", "--filter", "status=exited", "-n", "2"],
    ["logs", "-f", "--tail", "5", "-t", "x"],
    ["exec", "-it", "-e", "A=1", "-u", "0", "x", "sh"],
    ["stop", "-t", "0", "x"],
    ["network", "create", "--subnet", "10.1.0.0/24", "n"],
    ["volume", "ls", "-q"],
    ["images", "--no-trunc", "-a"],
    ["pull", "-q", "img"],
  ];

  test("parses every command line as the full program does", async () => {
    for (const argv of lines) {
      expect(prunable(["bun", "skiff", ...argv])).toBe(true);
      const full = await skiffParse(argv, false);
      expect(full).toBeDefined();
      expect(await skiffParse(argv, true)).toEqual(full);
    }
  });

  test("not pruned when help is asked for", () => {
    for (const argv of [["run", "--help"], ["help", "run"], ["ps", "-h"], ["ps", "-ah"]]) expect(prunable(["bun", "skiff", ...argv])).toBe(false);
  });
});

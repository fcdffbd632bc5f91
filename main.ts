/**
 * skiff's single entry point. The same executable plays every role, chosen by
 * argv: the CLI, `__ns` (work inside a user namespace) and `__shim` (the
 * per-container supervisor). Hidden roles are routed before the CLI parser is
 * even loaded, so they start fast and stay small.
 */
import { WAIT_ENV } from "./runtime/userns-child.ts";
import { findVerb, networkFlag, ownsNetworkNamespace } from "./lib/cli/verb.ts";
import { writeStdout } from "./lib/cli/stdio.ts";

async function printVersion(): Promise<number> {
  const { VERSION } = await import("./lib/version.ts");
  writeStdout(`${VERSION}\n`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  if (process.env.SKIFF_TRACE === "1") (await import("./lib/trace.ts")).trace(`main ${argv[2]}`);
  if (process.env[WAIT_ENV]) {
    // Started by spawnInUserNamespace in a fresh user namespace.
    delete process.env[WAIT_ENV];
    (await import("./runtime/userns.ts")).checkIdMaps();
  }
  const role = argv[2];
  // Installed as a systemd generator (a symlink named *-generator): quadlet files → units.
  if (/-generator$/.test(process.argv0)) {
    const { generatorMain } = await import("./lib/systemd/generator.ts");
    const { skiffForUnits } = await import("./lib/systemd/self.ts");
    const scope = process.env.SYSTEMD_SCOPE;
    const user = scope ? scope === "user" : /user/.test(process.argv0.slice(process.argv0.lastIndexOf("/") + 1));
    return generatorMain(argv.slice(2), { user, skiff: skiffForUnits() });
  }
  if (role === "__shim") {
    if (process.env.SKIFF_TRACE === "1") (await import("./lib/trace.ts")).trace("shim: importing");
    const { shimMain } = await import("./shim/main.ts");
    return shimMain(argv.slice(3));
  }
  if (role === "__netns") {
    const { netnsHelperMain } = await import("./lib/network/helper.ts");
    return netnsHelperMain(argv.slice(3));
  }
  if (role === "__ns") {
    const { nsHelperMain } = await import("./runtime/ns-helper.ts");
    return nsHelperMain(argv.slice(3));
  }
  // The plain version forms answer before the parser and the verbs load (a third of the start-up).
  if (role === "--version" || role === "-v") {
    if (argv.length === 3) return printVersion();
  } else if (role === "version") {
    const { plainVersionArgs, renderVersion } = await import("./lib/cli/version-info.ts");
    const plain = plainVersionArgs(argv.slice(3));
    const text = plain && (await renderVersion(plain.format).catch(() => undefined)); // a bad template: the CLI reports it
    if (text !== undefined) {
      writeStdout(text);
      return 0;
    }
  }
  if (role !== undefined && findVerb(argv.slice(2)) === "run" && !argv.includes("--help")) {
    // The shim's user namespace and start-up then overlap loading the CLI and the engine (the run action takes it).
    const { EarlyShim, processShimHost } = await import("./lib/containers/shim-process.ts");
    EarlyShim.prestart(processShimHost(), { spareNetns: ownsNetworkNamespace(networkFlag(argv.slice(3))) });
  }
  const { runCli } = await import("./lib/cli/main.ts");
  return runCli(argv);
}

main(process.argv).then(
  (code) => process.exit(code),
  (e: unknown) => {
    // Only reached for bugs: every expected failure is handled in runCli.
    process.stderr.write(`skiff: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(125);
  },
);

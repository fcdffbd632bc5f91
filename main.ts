/**
 * skiff's single entry point. The same executable plays every role, chosen by
 * argv: the CLI, `__ns` (work inside a user namespace) and `__shim` (the
 * per-container supervisor). Hidden roles are routed before the CLI parser is
 * even loaded, so they start fast and stay small.
 */
import { checkIdMaps, WAIT_ENV } from "./runtime/userns.ts";

async function main(argv: string[]): Promise<number> {
  if (process.env.SKIFF_TRACE === "1") process.stderr.write(`[trace ${performance.now().toFixed(1)} ms] main\n`);
  if (process.env[WAIT_ENV]) {
    // Started by spawnInUserNamespace in a fresh user namespace.
    delete process.env[WAIT_ENV];
    checkIdMaps();
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

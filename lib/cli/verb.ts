/**
 * Finding the verb in argv without loading the CLI: main.ts uses it to start
 * a shim for `run` before the parser and the engine load.
 */

/** Global options that take a value, to find the verb in argv. */
const VALUED_GLOBALS = new Set(["--root", "--runroot", "--storage-driver", "--log-level"]);

/** The first positional word of argv (after node/binary), skipping global options. */
export function findVerb(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === "--") return args[i + 1];
    if (!a.startsWith("-")) return a;
    if (VALUED_GLOBALS.has(a)) i += 1;
  }
  return undefined;
}

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

/**
 * The value of the first `--network`/`--net` flag in argv, if any: main.ts
 * uses it to spare an early shim from making a network namespace that a
 * `--network none` (or host, container:) run will not use. A guess from
 * raw argv (a container command's own `--network` fools it), so it may
 * only ever cost speed, never change what runs.
 * @example networkFlag(["run", "--network", "none", "busybox"]) // "none"
 */
export function networkFlag(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === "--network" || a === "--net") return args[i + 1];
    const m = /^--(?:network|net)=(.*)$/.exec(a);
    if (m) return m[1];
  }
  return undefined;
}

/** Whether a run with this --network value gets a network namespace of its own (the default does). */
export function ownsNetworkNamespace(mode: string | undefined): boolean {
  return !(mode === "none" || mode === "host" || mode?.startsWith("container:"));
}

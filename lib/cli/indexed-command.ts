/**
 * commander's Command with its option flags indexed, and optionally pruned.
 *
 * Indexed: commander finds an option by scanning them all, and checks every
 * new option against all the earlier ones: for `run`'s hundred-odd options
 * that is some five thousand comparisons on every start, run once each by a
 * cold interpreter (about 5 ms of a 60 ms `run --rm`). The index answers the
 * same questions in one lookup. It overrides two of commander's internal
 * methods (`_findOption`, `_registerOption`).
 *
 * Pruned: given the flags the command line names (`mentionedFlags`), an
 * option none of them names is not even created, unless it has a default,
 * an environment variable or is a `--no-` flag (each sets a value unasked).
 * Creating, registering and then walking `run`'s options at parse time costs
 * about 3 ms; a command line names a handful. A flag that slips through is an
 * "unknown option" error, on which the CLI parses again with every option
 * (lib/cli/main.ts), so pruning can cost time but never change a result.
 *
 * tests/lib/cli/indexed-command.test.ts holds both to commander's behaviour,
 * so an upgrade that changes the internals fails there.
 */
import { Command, type Option } from "commander";

interface CommandInternals {
  _registerOption(option: Option): void;
}

const base = Command.prototype as unknown as CommandInternals;

/** The flags `args` name: `--name` for `--name` and `--name=x`, `-x` and `-y` for `-xy`. */
export function mentionedFlags(args: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const a of args) {
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      if (a.length > 2) out.add(eq < 0 ? a : a.slice(0, eq));
    } else if (a.startsWith("-") && a.length > 1) {
      for (const ch of a.slice(1)) out.add(`-${ch}`);
    }
  }
  return out;
}

export class IndexedCommand extends Command {
  readonly #byFlag = new Map<string, Option>();
  readonly #mentioned: ReadonlySet<string> | undefined;

  /** With `mentioned`, options the command line does not name are left out (see above). */
  constructor(name?: string, mentioned?: ReadonlySet<string>) {
    super(name);
    this.#mentioned = mentioned;
  }

  override createCommand(name?: string): Command {
    return new IndexedCommand(name, this.#mentioned);
  }

  /** commander: builds and adds an option; a pruned command skips building one it would leave out. */
  override option(flags: string, description?: string, parseArg?: unknown, defaultValue?: unknown): this {
    const hasDefault = typeof parseArg === "function" ? defaultValue !== undefined : parseArg !== undefined;
    if (this.#leavesOut(flags.split(/[ ,|]+/), hasDefault || flags.includes("--no-"))) return this;
    return (Command.prototype.option as (...a: unknown[]) => this).call(this, flags, description, parseArg, defaultValue);
  }

  override addOption(option: Option): this {
    if (this.#leavesOut([option.short, option.long], option.negate || option.defaultValue !== undefined || option.envVar !== undefined)) return this;
    return super.addOption(option);
  }

  /** Whether a pruned command leaves out an option with these flags: none is named, and it sets no value unasked (a default, an env var, a --no- form). */
  #leavesOut(flags: (string | undefined)[], setsValueUnasked: boolean): boolean {
    const mentioned = this.#mentioned;
    return mentioned !== undefined && !setsValueUnasked && !flags.some((f) => f !== undefined && mentioned.has(f));
  }

  /** commander: the option with this short or long flag. */
  _findOption(arg: string): Option | undefined {
    return this.#byFlag.get(arg);
  }

  /** commander: adds an option to `options` (throwing on a flag already taken). */
  _registerOption(option: Option): void {
    base._registerOption.call(this, option);
    // First one wins, as with commander's scan (a conflict has thrown above).
    for (const flag of [option.short, option.long]) if (flag && !this.#byFlag.has(flag)) this.#byFlag.set(flag, option);
  }
}

/**
 * commander's Command with its option flags indexed. commander finds an
 * option by scanning them all, and checks every new option against all the
 * earlier ones: for `run`'s hundred-odd options that is some five thousand
 * comparisons on every start, run once each by a cold interpreter (about 5
 * ms of a 60 ms `run --rm`). The index answers the same questions in one
 * lookup. It overrides two of commander's internal methods (`_findOption`,
 * `_registerOption`); tests/lib/cli/indexed-command.test.ts holds it to
 * commander's behaviour, so an upgrade that changes them fails there.
 */
import { Command, type Option } from "commander";

interface CommandInternals {
  _registerOption(option: Option): void;
}

const base = Command.prototype as unknown as CommandInternals;

export class IndexedCommand extends Command {
  readonly #byFlag = new Map<string, Option>();

  override createCommand(name?: string): Command {
    return new IndexedCommand(name);
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

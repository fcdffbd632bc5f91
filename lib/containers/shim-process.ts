/**
 * The shim process: launched detached in its own namespaces, either for a
 * container whose bundle is ready or early, before the container exists (see
 * EarlyShim). Kept apart from starting so the CLI can launch one before it
 * loads the rest of the engine.
 */
import { NO_SPARE_NETNS } from "../../shim/config.ts";
import { rootlessConfig, selfCommand, spawnInUserNamespace, type UserNamespaceConfig } from "../../runtime/userns.ts";
import { rootlessProcess } from "../../runtime/userns-child.ts";
import { withoutUnitEnv } from "../systemd/unit-start.ts";

/** The shim's environment: ours, plus runtime settings that keep an idle shim small. */
function shimEnv(): Record<string, string | undefined> {
  return { ...withoutUnitEnv(process.env), ...(process.env.SKIFF_SHIM_JIT ? {} : { BUN_JSC_useDFGJIT: "0", BUN_JSC_useFTLJIT: "0" }) };
}

/** What launching needs of the engine's Context: whether the shim is rootless, and then its id maps. */
export interface ShimHost {
  readonly rootless: boolean;
  readonly userns: UserNamespaceConfig;
}

/**
 * This process's ShimHost without building a Context (which loads the
 * stores): rootless as a Context would be (not uid 0, or inside `skiff
 * unshare`), id maps read when first needed.
 */
export function processShimHost(): ShimHost {
  let userns: UserNamespaceConfig | undefined;
  return {
    rootless: rootlessProcess(),
    get userns() {
      userns ??= rootlessConfig();
      return userns;
    },
  };
}

export type ShimProcess = Bun.Subprocess<"pipe" | "inherit" | "ignore", "pipe" | "inherit" | "ignore", "pipe" | "inherit" | "ignore">;

/** Starts `skiff __shim <arg>` detached in its namespaces: a new user namespace when rootless (or `joinUserns`'s), a private mount namespace. */
export function launchShim(
  host: ShimHost,
  rootless: boolean,
  args: string[],
  stdio: { stdin: "ignore" | "pipe"; stderr: number | "ignore"; extraFds?: number[]; joinUserns?: number | undefined },
): Promise<ShimProcess> {
  const argv = [...selfCommand(), "__shim", ...args];
  const { stdin, stderr, extraFds = [], joinUserns } = stdio;
  // Sharing another container's namespaces means living in its user
  // namespace: join it (we own it) instead of making a new one.
  if (rootless && joinUserns === undefined) {
    return spawnInUserNamespace(argv, host.userns, { mount: true, detached: true, stdin, stdout: "pipe", stderr, env: shimEnv(), extraFds });
  }
  const nsenter = joinUserns !== undefined ? ["nsenter", "--user", "--preserve-credentials", "-t", String(joinUserns), "--"] : [];
  return Promise.resolve(
    Bun.spawn([...nsenter, "unshare", "--mount", "--propagation", "private", "--", ...argv], {
      detached: true,
      stdio: [stdin, "pipe", stderr, ...extraFds],
      env: shimEnv(),
    }) as ShimProcess,
  );
}

/**
 * A shim started before its container is created. Making the user namespace
 * and starting a process take about 20 ms, which then overlap with creating
 * the container and writing its bundle. It waits for the path of its
 * shim.json on stdin; closing stdin without one makes it exit. If it died
 * before that (say its id maps could not be written), the container gets a
 * shim started the ordinary way, which reports why in shim.log.
 */
export interface EarlyShimOptions {
  /**
   * Make a network namespace while waiting (shim/spare-netns.ts); false
   * when the command asks for none of its own (--network none, host,
   * container:...), where it would only take CPU from the CLI.
   */
  spareNetns?: boolean;
}

export class EarlyShim {
  readonly #rootless: boolean;
  readonly #child: Promise<ShimProcess>;
  #claimed = false;

  private constructor(host: ShimHost, opts: EarlyShimOptions) {
    this.#rootless = host.rootless;
    const args = opts.spareNetns === false ? ["-", NO_SPARE_NETNS] : ["-"];
    this.#child = launchShim(host, host.rootless, args, { stdin: "pipe", stderr: "ignore" });
    this.#child.catch(() => {}); // a failure shows when claimed; a late shim is spawned then
  }

  /**
   * Starts one, unless systemd handed us descriptors (those go to a shim
   * spawned with them). Call it as early as the command is known: loading
   * the rest of the CLI then overlaps the namespace set-up.
   */
  static start(host: ShimHost, opts: EarlyShimOptions = {}): EarlyShim | undefined {
    const pending = EarlyShim.#pending;
    if (pending) {
      EarlyShim.#pending = undefined;
      return pending;
    }
    if (process.env.LISTEN_FDS || process.env.NOTIFY_SOCKET) return undefined;
    return new EarlyShim(host, opts);
  }

  static #pending: EarlyShim | undefined;

  /**
   * Starts one as soon as main sees a `run`, before the CLI is even loaded;
   * the next `start` hands it over. Unclaimed (a bad flag, --help), it ends
   * with this process: its stdin closes.
   */
  static prestart(host: ShimHost, opts: EarlyShimOptions = {}): void {
    EarlyShim.#pending ??= EarlyShim.start(host, opts);
  }

  /** The shim, for a container of this kind; undefined when it does not fit (or failed). */
  async claim(rootless: boolean): Promise<ShimProcess | undefined> {
    if (this.#claimed || rootless !== this.#rootless) return undefined;
    this.#claimed = true;
    try {
      const child = await this.#child;
      return child.exitCode === null && child.signalCode === null ? child : undefined;
    } catch {
      return undefined;
    }
  }

  /** Lets an unclaimed shim go: EOF on its stdin ends it. */
  release(): void {
    if (this.#claimed) return;
    this.#claimed = true;
    void this.#child
      .then((c) => {
        (c.stdin as Bun.FileSink).end();
        c.unref();
      })
      .catch(() => {});
  }
}

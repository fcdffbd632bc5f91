/**
 * The engine's handles on storage, built once per process from the global
 * flags. The CLI and the API both work through a Context.
 */
import { ContentStore } from "./content/store.ts";
import { ContainerStore } from "./containers/record.ts";
import { loadConfig, type SkiffConfig } from "./config.ts";
import { ensureDir, ensurePrivateDir, ensureSpreadDir } from "./fsutil.ts";
import { ImageStore } from "./images/store.ts";
import { storePaths, type StorePaths } from "./paths.ts";
import { SnapshotStore } from "./snapshots/store.ts";
import { InProcessExecutor, UserNamespaceExecutor, type NamespaceExecutor } from "../runtime/nsexec.ts";
import { rootlessConfig, type UserNamespaceConfig } from "../runtime/userns.ts";
import { insideSkiffUnshare } from "../runtime/userns-child.ts";
import type { SnapshotDriver } from "../runtime/probe.ts";

export interface GlobalOptions {
  root?: string | undefined;
  runroot?: string | undefined;
  /** `--storage-driver` / SKIFF_STORAGE_DRIVER: overrides config.json's storageDriver. */
  storageDriver?: SnapshotDriver | undefined;
}

export class Context {
  readonly paths: StorePaths;
  readonly config: SkiffConfig;
  readonly content: ContentStore;
  readonly images: ImageStore;
  readonly snapshots: SnapshotStore;
  readonly containers: ContainerStore;
  #executor: NamespaceExecutor | undefined;
  #userns: UserNamespaceConfig | undefined;
  readonly #insideUserns: boolean;
  #driverChoice: { driver: SnapshotDriver; reason: string } | undefined;

  constructor(opts: GlobalOptions = {}) {
    const uid = process.getuid?.() ?? 0;
    // Inside `skiff unshare` we are uid 0 of our own user namespace: keep the
    // rootless layout, but do namespace work in-process.
    this.#insideUserns = insideSkiffUnshare();
    this.paths = storePaths({
      uid,
      env: process.env,
      root: opts.root,
      runRoot: opts.runroot,
      ...(this.#insideUserns ? { rootless: true } : {}),
    });
    this.config = loadConfig(this.paths.configDir);
    if (opts.storageDriver) this.#driverChoice = { driver: opts.storageDriver, reason: "chosen with --storage-driver (or SKIFF_STORAGE_DRIVER)" };
    else if (this.config.storageDriver) this.#driverChoice = { driver: this.config.storageDriver, reason: "set in config.json (storageDriver)" };
    this.content = new ContentStore(this.paths);
    this.images = new ImageStore(this.paths);
    this.snapshots = new SnapshotStore(this.paths, (p) => this.executor.remove(p));
    this.containers = new ContainerStore(this.paths.containers);
  }

  /** The snapshot driver the user chose, if any (otherwise probeDriver detects one). */
  get driverChoice(): { driver: SnapshotDriver; reason: string } | undefined {
    return this.#driverChoice;
  }

  get rootless(): boolean {
    return this.paths.rootless;
  }

  /** Rootless id maps; throws a one-line hint when the user has no subuid range. */
  get userns(): UserNamespaceConfig {
    this.#userns ??= rootlessConfig();
    return this.#userns;
  }

  get executor(): NamespaceExecutor {
    this.#executor ??= this.rootless && !this.#insideUserns ? new UserNamespaceExecutor(this.userns) : new InProcessExecutor();
    return this.#executor;
  }

  /** Creates the storage directories (called by commands that write). */
  ensureStorage(): void {
    ensureDir(this.paths.root, 0o700);
    ensureDir(this.paths.locks, 0o700);
    ensureSpreadDir(this.paths.snapshots, 0o755);
    ensureSpreadDir(this.paths.containers, 0o700);
    if (this.rootless && !this.#insideUserns) ensurePrivateDir(this.paths.runRoot, process.getuid?.() ?? 0);
    else ensureDir(this.paths.runRoot, 0o700);
  }
}

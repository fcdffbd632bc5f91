/**
 * Where skiff keeps things, computed in one place from the user's id, the
 * environment and the global flags. Pure: callers pass the environment in.
 */
import { join } from "node:path";

export interface PathInputs {
  uid: number;
  env: Record<string, string | undefined>;
  /** --root: persistent storage (images, containers, volumes). */
  root?: string | undefined;
  /** --runroot: volatile state (tmpfs after a reboot). */
  runRoot?: string | undefined;
  /** Force rootless layout (inside `skiff unshare`, where uid is 0 of a user namespace). */
  rootless?: boolean | undefined;
}

export interface StorePaths {
  rootless: boolean;
  /** Persistent storage root. */
  root: string;
  /** Volatile run root. */
  runRoot: string;
  /** Why runRoot is where it is, when it is not the usual place. */
  runRootNote?: string;
  /** skiff's own config directory (registries, settings). */
  configDir: string;
  /** The user's home, when known. */
  home: string;
  blobs: string;
  ingest: string;
  snapshots: string;
  imagesFile: string;
  containers: string;
  volumes: string;
  locks: string;
  /** Per-container volatile state. */
  runContainers: string;
  tmp: string;
}

export function storePaths(input: PathInputs): StorePaths {
  const rootless = input.rootless ?? input.uid !== 0;
  const env = input.env;
  const home = env.HOME || (rootless ? `/tmp/skiff-home-${input.uid}` : "/root");
  let root: string;
  let runRoot: string;
  let runRootNote: string | undefined;
  let configDir: string;
  if (rootless) {
    const dataHome = env.XDG_DATA_HOME || join(home, ".local", "share");
    root = join(dataHome, "skiff");
    configDir = join(env.XDG_CONFIG_HOME || join(home, ".config"), "skiff");
    if (env.XDG_RUNTIME_DIR) {
      runRoot = join(env.XDG_RUNTIME_DIR, "skiff");
    } else {
      // As after `su - user`: no runtime dir. Use a private per-uid directory
      // under /tmp, created 0700 and checked for ownership before use.
      runRoot = `/tmp/skiff-run-${input.uid}`;
      runRootNote = "XDG_RUNTIME_DIR is not set (as after su); using a private directory under /tmp";
    }
  } else {
    root = "/var/lib/skiff";
    runRoot = "/run/skiff";
    configDir = "/etc/skiff";
  }
  if (input.root) root = input.root;
  if (input.runRoot) {
    runRoot = input.runRoot;
    runRootNote = undefined;
  }
  return {
    rootless,
    root,
    runRoot,
    ...(runRootNote ? { runRootNote } : {}),
    configDir,
    home,
    blobs: join(root, "blobs"),
    ingest: join(root, "ingest"),
    snapshots: join(root, "snapshots"),
    imagesFile: join(root, "images.json"),
    containers: join(root, "containers"),
    volumes: join(root, "volumes"),
    // Locks guard persistent storage, so they live beside it: every process
    // using this root must see them, whatever --runroot it was given.
    locks: join(root, "locks"),
    runContainers: join(runRoot, "containers"),
    tmp: join(root, "tmp"),
  };
}

/**
 * Candidate auth files, in the order podman reads them, then docker's. The
 * first is where `login` writes.
 */
export function authFileCandidates(input: { uid: number; env: Record<string, string | undefined> }): string[] {
  const env = input.env;
  const home = env.HOME || "/root";
  const out: string[] = [];
  if (env.REGISTRY_AUTH_FILE) out.push(env.REGISTRY_AUTH_FILE);
  if (input.uid !== 0 && env.XDG_RUNTIME_DIR) {
    out.push(join(env.XDG_RUNTIME_DIR, "containers", "auth.json"));
  } else if (input.uid === 0) {
    out.push("/run/containers/0/auth.json");
  }
  out.push(join(env.XDG_CONFIG_HOME || join(home, ".config"), "containers", "auth.json"));
  out.push(join(env.DOCKER_CONFIG || join(home, ".docker"), "config.json"));
  return out;
}

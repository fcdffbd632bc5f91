/**
 * Mounting the container's root filesystem inside the shim's own mount
 * namespace: kernel overlayfs (userxattr, so it works in a user namespace),
 * fuse-overlayfs, or a bind mount of the container's full copy of the image
 * (the copy driver, lib/containers/create.ts). Nothing here is
 * visible on the host, and the mounts vanish with the namespace.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { mount, umount, MNT_DETACH, MS_BIND, MS_NODEV, MS_NOSUID, MS_REC } from "../lib/sys/libc.ts";
import type { ShimConfig } from "./config.ts";

/** Overlay options with lower layers relative to cwd (the snapshots dir), to stay under a page. */
export function overlayOptions(cfg: Pick<ShimConfig, "lowerDirs" | "upperDir" | "workDir">, emptyLower: string): string {
  const lowers = cfg.lowerDirs.length > 0 ? cfg.lowerDirs : [emptyLower];
  return `lowerdir=${lowers.join(":")},upperdir=${cfg.upperDir},workdir=${cfg.workDir},userxattr`;
}

/**
 * crun refuses a hybrid cgroup layout (v1 controllers plus an empty cgroup2
 * at /sys/fs/cgroup/unified). Hiding the cgroup2 mount in our own mount
 * namespace makes the host look like plain v1 to it.
 */
function hideUnifiedCgroup(cfg: ShimConfig): void {
  if (cfg.runtime.name !== "crun" || !existsSync("/sys/fs/cgroup/unified") || existsSync("/sys/fs/cgroup/cgroup.controllers")) return;
  try {
    mount("tmpfs", "/sys/fs/cgroup/unified", "tmpfs", MS_NOSUID | MS_NODEV, "size=4k");
  } catch {
    // crun will say what it dislikes
  }
}

export async function mountRootfs(cfg: ShimConfig): Promise<void> {
  mkdirSync(cfg.rootfs, { recursive: true });
  hideUnifiedCgroup(cfg);
  if (cfg.driver === "copy") {
    mount(cfg.upperDir, cfg.rootfs, "", MS_BIND | MS_REC);
    return;
  }
  const empty = `${cfg.runDir}/empty`;
  if (cfg.lowerDirs.length === 0) mkdirSync(empty, { recursive: true });
  process.chdir(cfg.snapshotsDir);
  const opts = overlayOptions(cfg, empty);
  if (cfg.driver === "overlay") {
    mount("overlay", cfg.rootfs, "overlay", 0, opts);
    return;
  }
  // fuse-overlayfs does not know userxattr: it keeps whiteouts its own way
  // but reads the kernel format we unpack to.
  const fuseOpts = opts.replace(/,userxattr$/, "");
  const p = Bun.spawn(["fuse-overlayfs", "-o", fuseOpts, cfg.rootfs], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
  if (code !== 0) throw new Error(`fuse-overlayfs: ${err.trim() || `exit ${code}`}`);
}

export async function unmountRootfs(cfg: ShimConfig): Promise<void> {
  try {
    if (cfg.driver === "fuse-overlayfs") {
      const p = Bun.spawn(["fusermount3", "-u", cfg.rootfs], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
      if ((await p.exited) === 0) return;
    }
    umount(cfg.rootfs, MNT_DETACH);
  } catch {
    // The mount namespace dies with the shim anyway.
  }
}

/**
 * Detaches every mount at or below `dir` in our mount namespace (the
 * container's network namespace file, a root filesystem left mounted), so
 * the directory can be deleted: unlink(2) of a mount point in one's own
 * namespace is EBUSY.
 */
export function unmountUnder(dir: string): void {
  let text = "";
  try {
    text = readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return;
  }
  const points = text
    .split("\n")
    .map((l) => (l.split(" ")[4] ?? "").replace(/\\040/g, " "))
    .filter((p) => p === dir || p.startsWith(`${dir}/`))
    // Deepest first.
    .sort((a, b) => b.length - a.length);
  for (const p of points) {
    try {
      umount(p, MNT_DETACH);
    } catch {
      // already gone
    }
  }
}

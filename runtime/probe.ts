/**
 * What this host can do: which snapshot mount works (kernel overlay in a user
 * namespace, fuse-overlayfs, or plain copies) and which OCI runtime exists.
 * The overlay probe really mounts, once per boot: its answer is cached in the
 * run directory, which is tmpfs.
 */
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { release } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { atomicWriteJson, readJsonFile } from "../lib/fsutil.ts";
import { unsharePath } from "./userns.ts";

export type SnapshotDriver = "overlay" | "fuse-overlayfs" | "copy";

const probeSchema = z.lazy(() =>
  z.object({
    driver: z.enum(["overlay", "fuse-overlayfs", "copy"]),
    reason: z.string(),
    kernel: z.string(),
  }),
);

export type DriverProbe = z.infer<typeof probeSchema>;

export function findExecutable(name: string): string | undefined {
  if (name.includes("/")) {
    try {
      accessSync(name, constants.X_OK);
      return name;
    } catch {
      return undefined;
    }
  }
  const dirs = (process.env.PATH ?? "").split(":").concat(["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]);
  for (const dir of dirs) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

function kernelRelease(): string {
  return release();
}

/** Tries a real overlay mount in a throwaway namespace. */
async function overlayWorks(scratch: string, rootless: boolean): Promise<{ ok: boolean; why: string }> {
  const unshare = unsharePath();
  if (!unshare) return { ok: false, why: "util-linux unshare not found" };
  const dir = mkdtempSync(join(scratch, "overlay-probe-"));
  try {
    for (const d of ["l", "u", "w", "m"]) mkdirSync(join(dir, d));
    const ns = rootless ? ["--user", "--map-root-user", "--mount"] : ["--mount"];
    const opts = `lowerdir=${dir}/l,upperdir=${dir}/u,workdir=${dir}/w,userxattr`;
    // overlayfs leaves work/work mode 0; open it up so the host user can delete it.
    const script = 'mount -t overlay overlay -o "$1" "$2" && umount "$2"; rc=$?; chmod -R u+rwx "$3"; exit $rc';
    const p = Bun.spawn([unshare, ...ns, "/bin/sh", "-c", script, "sh", opts, `${dir}/m`, `${dir}/w`], {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
    });
    const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
    return code === 0 ? { ok: true, why: "" } : { ok: false, why: err.trim().split("\n").pop() ?? `exit ${code}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Picks the snapshot driver: a configured one wins; otherwise kernel overlay
 * if a test mount works, then fuse-overlayfs, then copy.
 */
export async function probeDriver(opts: {
  runRoot: string;
  scratch: string;
  rootless: boolean;
  /** The user's choice, and where it was made. */
  configured?: { driver: SnapshotDriver; reason: string } | undefined;
}): Promise<DriverProbe> {
  const kernel = kernelRelease();
  if (opts.configured) return { ...opts.configured, kernel };
  const cache = join(opts.runRoot, "driver.json");
  try {
    const cached = readJsonFile(cache, probeSchema);
    if (cached && cached.kernel === kernel) return cached;
  } catch {
    // re-probe
  }
  mkdirSync(opts.scratch, { recursive: true });
  const ov = await overlayWorks(opts.scratch, opts.rootless);
  let result: DriverProbe;
  if (ov.ok) {
    result = { driver: "overlay", reason: rootless(opts.rootless, "kernel overlayfs mounts inside a user namespace"), kernel };
  } else if (findExecutable("fuse-overlayfs") && canAccess("/dev/fuse")) {
    result = { driver: "fuse-overlayfs", reason: `kernel overlayfs refused (${ov.why}); fuse-overlayfs is installed`, kernel };
  } else {
    result = { driver: "copy", reason: `kernel overlayfs refused (${ov.why}) and fuse-overlayfs is not usable; containers get full copies`, kernel };
  }
  try {
    atomicWriteJson(cache, result, { noSync: true });
  } catch {
    // Caching is an optimisation only.
  }
  return result;
}

function rootless(isRootless: boolean, s: string): string {
  return isRootless ? s : "kernel overlayfs";
}

function canAccess(path: string): boolean {
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export interface RuntimeInfo {
  name: string;
  path: string;
  version: string;
}

export async function findRuntime(preferred?: string): Promise<RuntimeInfo | undefined> {
  const candidates = preferred ? [preferred] : ["runc", "crun"];
  for (const c of candidates) {
    const path = findExecutable(c);
    if (!path) continue;
    const p = Bun.spawn([path, "--version"], { stdout: "pipe", stderr: "ignore", stdin: "ignore" });
    const out = await new Response(p.stdout).text();
    await p.exited;
    const first = out.split("\n")[0]?.trim() ?? "";
    return { name: path.split("/").pop() ?? c, path, version: first };
  }
  return undefined;
}

/**
 * `skiff info`: what skiff sees on this host, and a hint for every missing
 * prerequisite, so a user can fix their machine without reading the source.
 */
import { readFileSync, statSync } from "node:fs";
import { arch, release } from "node:os";
import { currentUserName } from "../sys/user.ts";
import type { Context } from "../context.ts";
import { readSubIds, type IdRange } from "../../runtime/subid.ts";
import { newgidmapPath, newuidmapPath, unsharePath } from "../../runtime/userns.ts";
import { findExecutable, findRuntime, probeDriver } from "../../runtime/probe.ts";
import { API_VERSION, BUILT, GIT_COMMIT, VERSION } from "../version.ts";

export interface InfoReport {
  host: {
    os: string;
    arch: string;
    kernel: string;
    distribution: string;
    rootless: boolean;
    user: string;
    uid: number;
    cgroupVersion: string;
    idMappings?: { uidmap: IdRange[]; gidmap: IdRange[] };
    ociRuntime?: { name: string; path: string; version: string };
    networkHelpers: Record<string, string>;
  };
  store: {
    graphRoot: string;
    runRoot: string;
    configFile: string;
    driver: string;
    driverReason: string;
    imageCount: number;
    snapshotCount: number;
  };
  version: { version: string; apiVersion: string; gitCommit: string; built: string; bunVersion: string };
  hints: string[];
}

function goArch(): string {
  const a = arch();
  return a === "x64" ? "amd64" : a === "ia32" ? "386" : a;
}

function distribution(): string {
  try {
    const text = readFileSync("/etc/os-release", "utf8");
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text);
    return m?.[1] ?? "unknown";
  } catch {
    return "unknown";
  }
}

function cgroupVersion(): string {
  try {
    statSync("/sys/fs/cgroup/cgroup.controllers");
    return "v2";
  } catch {
    try {
      statSync("/sys/fs/cgroup/unified");
      return "v1 (hybrid)";
    } catch {
      return "v1";
    }
  }
}

function unprivilegedUsernsDisabled(): boolean {
  try {
    return readFileSync("/proc/sys/kernel/unprivileged_userns_clone", "utf8").trim() === "0";
  } catch {
    return false;
  }
}

function tunMode(): number | undefined {
  try {
    return statSync("/dev/net/tun").mode & 0o777;
  } catch {
    return undefined;
  }
}

export async function systemInfo(ctx: Context): Promise<InfoReport> {
  const uid = process.getuid?.() ?? 0;
  const user = currentUserName();
  const hints: string[] = [];
  const rootless = ctx.rootless;
  let idMappings: InfoReport["host"]["idMappings"];
  if (rootless) {
    const uidmap = readSubIds("/etc/subuid", { name: user, id: uid });
    const gidmap = readSubIds("/etc/subgid", { name: user, id: uid });
    idMappings = { uidmap, gidmap };
    if (uidmap.length === 0 || gidmap.length === 0) {
      hints.push(`no subuid/subgid range for ${user}: as root run \`usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user}\``);
    }
    if (!newuidmapPath() || !newgidmapPath()) hints.push("newuidmap/newgidmap missing: install the uidmap package (apt-get install uidmap)");
    if (unprivilegedUsernsDisabled()) hints.push("unprivileged user namespaces are disabled: sysctl -w kernel.unprivileged_userns_clone=1");
    if (ctx.paths.runRootNote) hints.push(`${ctx.paths.runRootNote} (${ctx.paths.runRoot}); log in with a full session (ssh, machinectl shell) or set XDG_RUNTIME_DIR`);
    const tun = tunMode();
    if (tun !== undefined && (tun & 0o006) !== 0o006) {
      hints.push("/dev/net/tun is not usable by unprivileged users (mode 0600): rootless networking needs it 0666 (run scripts/setup-host.sh as root)");
    }
  }
  if (!unsharePath()) hints.push("unshare missing: install util-linux");
  const runtime = await findRuntime(ctx.config.runtime);
  if (!runtime) hints.push("no OCI runtime found: install runc (apt-get install runc) or crun");
  let driver = { driver: "unknown", reason: "" };
  try {
    driver = await probeDriver({
      runRoot: ctx.paths.runRoot,
      scratch: ctx.paths.tmp,
      rootless,
      configured: ctx.driverChoice,
    });
  } catch (e) {
    driver = { driver: "unknown", reason: `probe failed: ${(e as Error).message}` };
  }
  if (driver.driver === "copy") hints.push("containers will use full copies of their images: install fuse-overlayfs for faster starts");
  const networkHelpers: Record<string, string> = {};
  for (const h of ["pasta", "slirp4netns"]) {
    const p = findExecutable(h);
    if (p) networkHelpers[h] = p;
  }
  if (rootless && Object.keys(networkHelpers).length === 0) hints.push("no rootless network helper: install passt (pasta) or slirp4netns");

  return {
    host: {
      os: "linux",
      arch: goArch(),
      kernel: release(),
      distribution: distribution(),
      rootless,
      user,
      uid,
      cgroupVersion: cgroupVersion(),
      ...(idMappings ? { idMappings } : {}),
      ...(runtime ? { ociRuntime: runtime } : {}),
      networkHelpers,
    },
    store: {
      graphRoot: ctx.paths.root,
      runRoot: ctx.paths.runRoot,
      configFile: `${ctx.paths.configDir}/config.json`,
      driver: driver.driver,
      driverReason: driver.reason,
      imageCount: ctx.images.list().length,
      snapshotCount: ctx.snapshots.list().length,
    },
    version: { version: VERSION, apiVersion: API_VERSION, gitCommit: GIT_COMMIT, built: BUILT, bunVersion: Bun.version },
    hints,
  };
}

/** Indented `key: value` text, like podman info's YAML. */
export function renderInfoText(value: unknown, indent = ""): string {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) {
    if (value.length === 0) return `${indent}[]\n`;
    return value
      .map((v) => {
        if (typeof v === "object" && v !== null) {
          const body = renderInfoText(v, `${indent}  `);
          return `${indent}- ${body.trimStart()}`;
        }
        return `${indent}- ${String(v)}\n`;
      })
      .join("");
  }
  if (typeof value === "object") {
    let out = "";
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v === undefined) continue;
      if (typeof v === "object" && v !== null) {
        const isEmpty = Array.isArray(v) ? v.length === 0 : Object.keys(v).length === 0;
        out += isEmpty ? `${indent}${k}: ${Array.isArray(v) ? "[]" : "{}"}\n` : `${indent}${k}:\n${renderInfoText(v, `${indent}  `)}`;
      } else {
        out += `${indent}${k}: ${String(v)}\n`;
      }
    }
    return out;
  }
  return `${indent}${String(value)}\n`;
}

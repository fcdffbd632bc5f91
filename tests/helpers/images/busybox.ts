/** A runnable image made from the host's static busybox (Debian package busybox-static). */
import { readFileSync } from "node:fs";
import type { FixtureEntry, ImageSpec, LayerSpec } from "./types.ts";

export const BUSYBOX_PATH = "/bin/busybox";
export const DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export const PASSWD = [
  "root:x:0:0:root:/root:/bin/sh",
  "daemon:x:1:1:daemon:/usr/sbin:/bin/false",
  "www-data:x:33:33:www-data:/var/www:/bin/false",
  "user:x:1000:1000:user:/home/user:/bin/sh",
  "nobody:x:65534:65534:nobody:/nonexistent:/bin/false",
  "",
].join("\n");

export const GROUP = [
  "root:x:0:",
  "daemon:x:1:",
  "tty:x:5:",
  "www-data:x:33:",
  "users:x:100:user",
  "user:x:1000:",
  "nogroup:x:65534:",
  "",
].join("\n");

let cached: { binary: Uint8Array; applets: string[] } | undefined;

function hostBusybox(): { binary: Uint8Array; applets: string[] } {
  if (cached) return cached;
  const r = Bun.spawnSync([BUSYBOX_PATH, "--list"]);
  if (r.exitCode !== 0) throw new Error(`${BUSYBOX_PATH} --list: exit ${r.exitCode} (install busybox-static)`);
  const applets = r.stdout
    .toString()
    .split("\n")
    .filter((a) => a !== "" && a !== "busybox" && !a.includes("/"))
    .sort();
  cached = { binary: new Uint8Array(readFileSync(BUSYBOX_PATH)), applets };
  return cached;
}

/** The applets the image links to /bin/busybox (`busybox --list` of the host binary). */
export function busyboxApplets(): string[] {
  return hostBusybox().applets;
}

const layers = new Map<LayerSpec["compression"], LayerSpec>();

/**
 * The busybox root filesystem as one layer; reused as the base of other fixtures.
 * The spec is frozen and shared, so buildLayer builds it once per process.
 */
export function busyboxLayer(compression: LayerSpec["compression"] = "gzip"): LayerSpec {
  const known = layers.get(compression);
  if (known) return known;
  const { binary, applets } = hostBusybox();
  const entries: FixtureEntry[] = [
    { type: "dir", path: "bin" },
    { type: "file", path: "bin/busybox", content: binary, mode: 0o755 },
    ...applets.map((a): FixtureEntry => ({ type: "symlink", path: `bin/${a}`, target: "busybox" })),
    { type: "dir", path: "dev" },
    { type: "dir", path: "etc" },
    { type: "file", path: "etc/passwd", content: PASSWD },
    { type: "file", path: "etc/group", content: GROUP },
    { type: "dir", path: "home" },
    { type: "dir", path: "home/user", mode: 0o755, uid: 1000, gid: 1000 },
    { type: "dir", path: "proc" },
    { type: "dir", path: "root", mode: 0o700 },
    { type: "dir", path: "sys" },
    { type: "dir", path: "tmp", mode: 0o1777 },
    { type: "dir", path: "usr" },
    { type: "dir", path: "usr/bin" },
    { type: "dir", path: "usr/sbin" },
    { type: "dir", path: "var" },
    { type: "dir", path: "var/www", uid: 33, gid: 33 },
  ];
  const spec: LayerSpec = Object.freeze({ entries: Object.freeze(entries) as FixtureEntry[], compression });
  layers.set(compression, spec);
  return spec;
}

/** One gzip layer: busybox, applet symlinks in /bin, passwd/group, `Cmd: ["sh"]`. */
export function busyboxImage(): ImageSpec {
  return {
    layers: [busyboxLayer()],
    config: { Cmd: ["sh"], Env: [DEFAULT_PATH] },
  };
}

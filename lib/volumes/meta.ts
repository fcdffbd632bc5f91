/**
 * A volume's record, `volumes/<name>/meta.json`: what `volume inspect`
 * shows plus the copy-up state. zod-checked when read back from disk.
 */
import { isAbsolute } from "node:path";
import { z } from "zod";
import { SkiffError } from "../errors.ts";

/** Docker (23+) marks the volumes it makes for a container's anonymous mounts with this label. */
export const ANONYMOUS_LABEL = "com.docker.volume.anonymous";

export const volumeMetaSchema = z.lazy(() =>
  z.object({
    schemaVersion: z.literal(1),
    name: z.string(),
    driver: z.literal("local"),
    labels: z.record(z.string()).default({}),
    /** Driver options (`-o key=value`), validated by parseDriverOptions. */
    options: z.record(z.string()).default({}),
    /** RFC 3339, seconds precision, UTC. */
    created: z.string(),
    /** Made for a container's `-v /path` or an image VOLUME: `rm -v` and plain `volume prune` remove it. */
    anonymous: z.boolean().default(false),
    /** The host directory containers see (`volumes/<name>/_data`) when the volume was created. */
    mountpoint: z.string(),
    /** The first mount has decided about copy-up (done, or nothing to copy): it never happens again. */
    copiedUp: z.boolean().default(false),
    /** A copy-up started and did not finish (a crash): the next one empties the volume first. */
    copyingUp: z.boolean().optional(),
  }),
);
export type VolumeMeta = z.infer<typeof volumeMetaSchema>;

/** What the local driver does with its options. */
export type DriverSetup =
  /** A directory in skiff's storage (`_data`). */
  | { kind: "plain" }
  /** `-o type=none -o o=bind -o device=/path`: the host directory itself. */
  | { kind: "bind"; device: string };

/**
 * Validates `-o` driver options. Docker's local driver mounts a filesystem
 * described by `type`, `o` and `device` when a container uses the volume;
 * skiff supports the bind form (type=none, o=bind) and refuses the others
 * rather than ignore them.
 * @example parseDriverOptions({ type: "none", o: "bind", device: "/srv/data" }) // { kind: "bind", device: "/srv/data" }
 */
export function parseDriverOptions(options: Record<string, string>, volume = ""): DriverSetup {
  const keys = Object.keys(options);
  if (keys.length === 0) return { kind: "plain" };
  const where = volume ? `volume ${volume}: ` : "";
  for (const k of keys) {
    if (k !== "type" && k !== "o" && k !== "device") throw new SkiffError("InvalidArgument", `${where}invalid option key: ${JSON.stringify(k)}`);
  }
  const type = options.type ?? "";
  const mountOpts = (options.o ?? "").split(",").filter((o) => o !== "");
  const device = options.device ?? "";
  const isBind = type === "none" && mountOpts.some((o) => o === "bind" || o === "rbind");
  if (!isBind) {
    throw new SkiffError(
      "NotImplemented",
      `${where}mounting a filesystem for a volume (type=${type || "?"}) is not supported yet: only -o type=none -o o=bind -o device=/host/path`,
    );
  }
  const extra = mountOpts.filter((o) => o !== "bind" && o !== "rbind");
  if (extra.length > 0) throw new SkiffError("NotImplemented", `${where}bind volume options ${extra.join(",")} are not supported yet`);
  if (!device || !isAbsolute(device)) throw new SkiffError("InvalidArgument", `${where}a bind volume needs device=/absolute/host/path`);
  return { kind: "bind", device };
}

/** `docker volume inspect` JSON for one volume. */
export function inspectView(meta: VolumeMeta, mountpoint: string): Record<string, unknown> {
  return {
    CreatedAt: meta.created,
    Driver: meta.driver,
    Labels: meta.labels,
    Mountpoint: mountpoint,
    Name: meta.name,
    Options: meta.options,
    Scope: "local",
  };
}

/** A row of `volume ls`: the fields Docker's `--format` knows. */
export interface VolumeRow {
  Name: string;
  Driver: string;
  Scope: string;
  Mountpoint: string;
  Labels: string;
  Links: string;
  Size: string;
  CreatedAt: string;
  Availability: string;
  Group: string;
  Status: string;
}

export function volumeRow(meta: VolumeMeta, mountpoint: string, links?: number): VolumeRow {
  return {
    Name: meta.name,
    Driver: meta.driver,
    Scope: "local",
    Mountpoint: mountpoint,
    Labels: Object.entries(meta.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(","),
    Links: links === undefined ? "N/A" : String(links),
    Size: "N/A",
    CreatedAt: meta.created,
    Availability: "N/A",
    Group: "N/A",
    Status: "N/A",
  };
}

/** Now, as Docker prints a volume's CreatedAt: RFC 3339 in UTC, whole seconds. */
export function createdNow(now = new Date()): string {
  return `${now.toISOString().slice(0, 19)}Z`;
}

/** `KEY=VALUE` or `KEY` (empty value), for `-l` and `-o`. */
export function parseKeyValues(entries: readonly string[], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of entries) {
    const i = e.indexOf("=");
    const key = i < 0 ? e : e.slice(0, i);
    if (key === "") throw new SkiffError("InvalidArgument", `invalid ${what}: ${JSON.stringify(e)}`);
    out[key] = i < 0 ? "" : e.slice(i + 1);
  }
  return out;
}

export function sameOptions(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

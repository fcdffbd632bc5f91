/**
 * User settings: `<configDir>/config.json` (rootless ~/.config/skiff, root
 * /etc/skiff). Everything is optional; a missing file means defaults.
 */
import { join } from "node:path";
import { z } from "zod";
import { readJsonFile } from "./fsutil.ts";

const configSchema = z.lazy(() =>
  z
  .object({
    /** Registries reached over plain http (loopback ones always may be). */
    insecureRegistries: z.array(z.string()).default([]),
    /** OCI runtime: "runc" or "crun", or a path. */
    runtime: z.string().optional(),
    /** Snapshot mount: "overlay", "fuse-overlayfs" or "copy"; unset = detect. */
    storageDriver: z.enum(["overlay", "fuse-overlayfs", "copy"]).optional(),
    /** Concurrent layer downloads per pull. */
    maxConcurrentDownloads: z.number().int().min(1).max(32).default(3),
  })
  .passthrough(),
);

export type SkiffConfig = z.infer<typeof configSchema>;

export function configFile(configDir: string): string {
  return join(configDir, "config.json");
}

/** The settings of a missing file: the schema's defaults, without building it on every start (the tests hold the two equal). */
export function defaultConfig(): SkiffConfig {
  return { insecureRegistries: [], maxConcurrentDownloads: 3 };
}

export function loadConfig(configDir: string): SkiffConfig {
  return readJsonFile(configFile(configDir), configSchema) ?? defaultConfig();
}

/** For the tests: the settings an empty file gives. */
export function parseConfig(doc: unknown): SkiffConfig {
  return configSchema.parse(doc);
}

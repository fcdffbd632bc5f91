/**
 * The systemd generator: finds Quadlet files for the scope (system or user),
 * converts them (quadlet.ts) and writes the services into the generator's
 * output directory, with the [Install] section turned into the symlinks
 * `systemctl enable` would make (a generated unit cannot be enabled).
 *
 * Install as a generator (the name says which scope):
 *   ln -s /usr/local/bin/skiff /usr/lib/systemd/system-generators/skiff-system-generator
 *   ln -s /usr/local/bin/skiff /usr/lib/systemd/user-generators/skiff-user-generator
 * or preview: `skiff quadlet --dryrun [--user]`.
 *
 * Search order (the first file of a name wins):
 *   user:   $XDG_CONFIG_HOME/skiff/systemd, $XDG_CONFIG_HOME/containers/systemd,
 *           /etc/containers/systemd/users/$UID, /etc/containers/systemd/users
 *   system: /etc/skiff/systemd, /run/containers/systemd, /etc/containers/systemd,
 *           /usr/share/containers/systemd
 * SKIFF_QUADLET_UNIT_DIRS (colon-separated) replaces the list.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { convertAll, quadletKind, type ConvertedUnit, type ConvertResult, type QuadletSource } from "./quadlet.ts";
import { splitWords, UnitFile } from "./unitfile.ts";

export function unitDirs(opts: { user: boolean; env: Record<string, string | undefined>; uid: number }): string[] {
  const override = opts.env.SKIFF_QUADLET_UNIT_DIRS;
  if (override) return override.split(":").filter((d) => d.length > 0);
  if (opts.user) {
    const config = opts.env.XDG_CONFIG_HOME || join(opts.env.HOME || "/nonexistent", ".config");
    return [join(config, "skiff", "systemd"), join(config, "containers", "systemd"), `/etc/containers/systemd/users/${opts.uid}`, "/etc/containers/systemd/users"];
  }
  return ["/etc/skiff/systemd", "/run/containers/systemd", "/etc/containers/systemd", "/usr/share/containers/systemd"];
}

/** Quadlet files under `dirs` (subdirectories too, except the users/ tree of the system dirs); the first of a name wins. */
export function findSources(dirs: readonly string[], opts: { user: boolean }): { sources: QuadletSource[]; errors: { path: string; message: string }[] } {
  const seen = new Map<string, QuadletSource>();
  const errors: { path: string; message: string }[] = [];
  const walk = (dir: string, top: boolean): void => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const name of names) {
      if (name.startsWith(".")) continue;
      const path = join(dir, name);
      let isDir = false;
      try {
        isDir = statSync(path).isDirectory();
      } catch {
        continue;
      }
      if (isDir) {
        // System scope must not pick up the per-user tree.
        if (!(top && !opts.user && name === "users")) walk(path, false);
        continue;
      }
      if (!quadletKind(name) || seen.has(name)) continue;
      try {
        seen.set(name, { path, name, unit: UnitFile.parse(readFileSync(path, "utf8"), path) });
      } catch (e) {
        errors.push({ path, message: (e as Error).message });
      }
    }
  };
  for (const d of dirs) walk(d, true);
  return { sources: [...seen.values()], errors };
}

/** [Install] as symlinks in the generator directory: <target>.wants/<unit>, <target>.requires/<unit>, aliases. */
export function installLinks(u: ConvertedUnit): { path: string; target: string }[] {
  const links: { path: string; target: string }[] = [];
  const words = (key: string): string[] => u.unit.getAll("Install", key).flatMap((v) => splitWords(v));
  for (const [key, dir] of [["WantedBy", "wants"], ["RequiredBy", "requires"], ["UpheldBy", "upholds"]] as const) {
    for (const t of words(key)) links.push({ path: join(`${t}.${dir}`, u.serviceName), target: join("..", u.serviceName) });
  }
  for (const a of words("Alias")) links.push({ path: a, target: u.serviceName });
  return links;
}

/** Writes the units and their install links into `outDir`. */
export function writeUnits(outDir: string, units: readonly ConvertedUnit[]): void {
  mkdirSync(outDir, { recursive: true });
  for (const u of units) {
    writeFileSync(join(outDir, u.serviceName), u.unit.toString());
    for (const l of installLinks(u)) {
      const p = join(outDir, l.path);
      mkdirSync(join(p, ".."), { recursive: true });
      rmSync(p, { force: true });
      symlinkSync(l.target, p);
    }
  }
}

/** Converts every Quadlet file of the scope. */
export function generateUnits(opts: { user: boolean; env: Record<string, string | undefined>; uid: number; skiff: readonly string[] }): ConvertResult {
  const found = findSources(unitDirs(opts), { user: opts.user });
  const result = convertAll(found.sources, { user: opts.user, skiff: opts.skiff });
  return { units: result.units, errors: [...found.errors, ...result.errors] };
}

/** `quadlet --dryrun` output: each unit after a `---name---` line, as Podman's quadlet prints it. */
export function dryRunText(units: readonly ConvertedUnit[]): string {
  return units.map((u) => `---${u.serviceName}---\n${u.unit.toString()}`).join("\n");
}

/** Runs as a systemd generator: `skiff systemd-generator [--user] NORMAL_DIR [EARLY_DIR LATE_DIR]`. */
export function generatorMain(args: readonly string[], opts: { user: boolean; skiff: readonly string[] }): number {
  const outDir = args[0];
  if (!outDir) {
    process.stderr.write("usage: skiff systemd-generator [--user] NORMAL_DIR [EARLY_DIR LATE_DIR]\n");
    return 1;
  }
  const result = generateUnits({ user: opts.user, env: process.env, uid: process.getuid?.() ?? 0, skiff: opts.skiff });
  for (const e of result.errors) process.stderr.write(`skiff-generator: ${e.message.startsWith(e.path) ? e.message : `${e.path}: ${e.message}`}\n`);
  if (!existsSync(outDir)) mkdirSync(outDir, { recursive: true });
  writeUnits(outDir, result.units);
  return 0;
}

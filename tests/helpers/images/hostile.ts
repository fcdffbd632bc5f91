/**
 * Layers that try to write outside the root. Each image is busybox plus one
 * hostile layer. The escape targets carry a random part chosen once per
 * process, so a test can assert that nothing appeared there.
 */
import { randomUUID } from "node:crypto";
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { utf8 } from "./bytes.ts";
import { busyboxLayer, DEFAULT_PATH } from "./busybox.ts";
import type { FixtureEntry, ImageSpec } from "./types.ts";

const TAG = randomUUID().slice(0, 8);
const PASSWD_LINKS = statSync("/etc/passwd").nlink;
const UP = "../".repeat(24);

/** Names and host paths the hostile layers aim at. */
export const HOSTILE_TARGETS = {
  /** `../<dotdot>`: a name to search for beside and above the unpack root. */
  dotdot: `skiff-escape-${TAG}-dotdot`,
  /** `a/../../<dotdotNested>` */
  dotdotNested: `skiff-escape-${TAG}-nested`,
  /** An absolute entry name: this exact host path must not appear. */
  absolute: `/tmp/skiff-escape-${TAG}-absolute`,
  /** `evil -> <symlinkAbsolute>` then `evil/owned`: armHostileTargets creates the directory. */
  symlinkAbsolute: `/tmp/skiff-escape-${TAG}-symabs`,
  /** `evil -> ../../…/<symlinkRelative>` then `evil/owned`: armHostileTargets creates the directory. */
  symlinkRelative: `/tmp/skiff-escape-${TAG}-symrel`,
  /** `passwd-link` hardlinked to `../../…/etc/passwd`: its link count must not change (checked against module load). */
  hardlink: "/etc/passwd",
} as const;

export type HostileName =
  | "dotdot"
  | "dotdot-nested"
  | "absolute"
  | "symlink-escape-absolute"
  | "symlink-escape-relative"
  | "hardlink-escape"
  | "device-nodes";

function raw(name: string, content = "escaped\n"): FixtureEntry {
  const bytes = utf8(content);
  return { type: "raw", header: { name, type: "file", mode: 0o644 }, content: bytes };
}

function image(entries: FixtureEntry[]): ImageSpec {
  return {
    layers: [busyboxLayer(), { compression: "gzip", parents: "omit", entries }],
    config: { Cmd: ["sh"], Env: [DEFAULT_PATH] },
  };
}

/** name → busybox + one hostile layer. expectedTree of each is busybox plus the benign entries. */
export function hostileLayers(): Record<HostileName, ImageSpec> {
  const t = HOSTILE_TARGETS;
  return {
    dotdot: image([raw(`../${t.dotdot}`)]),
    "dotdot-nested": image([{ type: "dir", path: "a" }, raw(`a/../../${t.dotdotNested}`)]),
    absolute: image([raw(t.absolute)]),
    "symlink-escape-absolute": image([
      { type: "symlink", path: "evil", target: t.symlinkAbsolute },
      raw("evil/owned"),
    ]),
    "symlink-escape-relative": image([
      { type: "symlink", path: "evil", target: `${UP}${t.symlinkRelative.slice(1)}` },
      raw("evil/owned"),
    ]),
    "hardlink-escape": image([{ type: "raw", header: { name: "passwd-link", type: "link", linkname: `${UP}etc/passwd` } }]),
    "device-nodes": image([
      { type: "dir", path: "dev" },
      { type: "chardev", path: "dev/null2", major: 1, minor: 3 },
      { type: "blockdev", path: "dev/sda-evil", major: 8, minor: 0 },
      { type: "file", path: "dev/after-devices", content: "entries after the devices still land\n" },
    ]),
  };
}

/** Creates the symlink targets (mode 0777) so a following extractor could write there. */
export function armHostileTargets(): void {
  for (const d of [HOSTILE_TARGETS.symlinkAbsolute, HOSTILE_TARGETS.symlinkRelative]) {
    mkdirSync(d, { recursive: true });
    chmodSync(d, 0o777);
  }
}

/** Host paths the hostile layers managed to create under `roots` (plus the fixed targets); empty is good. */
export function hostileEscapes(roots: string[] = []): string[] {
  const found: string[] = [];
  if (existsSync(HOSTILE_TARGETS.absolute)) found.push(HOSTILE_TARGETS.absolute);
  for (const d of [HOSTILE_TARGETS.symlinkAbsolute, HOSTILE_TARGETS.symlinkRelative]) {
    if (existsSync(d) && readdirSync(d).length > 0) found.push(`${d}/${readdirSync(d).join(",")}`);
  }
  if (statSync(HOSTILE_TARGETS.hardlink).nlink !== PASSWD_LINKS) found.push(`${HOSTILE_TARGETS.hardlink} gained a link`);
  function walk(dir: string, depth: number): void {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) {
      const p = `${dir}/${n}`;
      if (n === HOSTILE_TARGETS.dotdot || n === HOSTILE_TARGETS.dotdotNested) found.push(p);
      if (depth > 0 && lstatSync(p, { throwIfNoEntry: false })?.isDirectory()) walk(p, depth - 1);
    }
  }
  for (const r of roots) walk(r, 12);
  return found;
}

/** Removes what armHostileTargets created (and anything that escaped into it). */
export function disarmHostileTargets(): void {
  for (const d of [HOSTILE_TARGETS.symlinkAbsolute, HOSTILE_TARGETS.symlinkRelative, HOSTILE_TARGETS.absolute]) {
    rmSync(d, { recursive: true, force: true });
  }
}

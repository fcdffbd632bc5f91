/**
 * /etc/subuid and /etc/subgid: the subordinate id ranges a user may map into
 * a user namespace. Pure parsing plus the id map skiff uses: container id 0 is
 * the user, ids 1..N are the ranges in file order (as Podman does).
 */
import { readFileSync } from "node:fs";
import { SkiffError } from "../lib/errors.ts";

export interface IdRange {
  start: number;
  count: number;
}

/** One line of a uid_map/gid_map: `inside outside count`. */
export interface IdMapping {
  containerId: number;
  hostId: number;
  size: number;
}

/** Ranges for `user` (matched by name or by numeric id) in a subuid/subgid file's text. */
export function parseSubIds(text: string, user: { name: string; id: number }): IdRange[] {
  const out: IdRange[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const parts = line.split(":");
    if (parts.length !== 3) continue;
    const [owner, startS, countS] = parts as [string, string, string];
    if (owner !== user.name && owner !== String(user.id)) continue;
    const start = Number(startS);
    const count = Number(countS);
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count <= 0) continue;
    out.push({ start, count });
  }
  return out;
}

export function readSubIds(file: string, user: { name: string; id: number }): IdRange[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  return parseSubIds(text, user);
}

/** uid 0 → the user; 1.. → the subordinate ranges, back to back. */
export function buildIdMap(ownId: number, ranges: IdRange[]): IdMapping[] {
  const out: IdMapping[] = [{ containerId: 0, hostId: ownId, size: 1 }];
  let next = 1;
  for (const r of ranges) {
    out.push({ containerId: next, hostId: r.start, size: r.count });
    next += r.count;
  }
  return out;
}

/** Highest container id a map covers. */
export function maxMappedId(map: IdMapping[]): number {
  let max = 0;
  for (const m of map) max = Math.max(max, m.containerId + m.size - 1);
  return max;
}

/** Arguments for newuidmap/newgidmap after the pid: `0 1000 1 1 100000 65536`. */
export function idMapArgs(map: IdMapping[]): string[] {
  return map.flatMap((m) => [String(m.containerId), String(m.hostId), String(m.size)]);
}

/** Host id that a container id maps to, or undefined when unmapped. */
export function toHostId(map: IdMapping[], containerId: number): number | undefined {
  for (const m of map) {
    if (containerId >= m.containerId && containerId < m.containerId + m.size) return m.hostId + (containerId - m.containerId);
  }
  return undefined;
}

export function noRangeError(kind: "subuid" | "subgid", user: string): SkiffError {
  const flag = kind === "subuid" ? "--add-subuids" : "--add-subgids";
  return new SkiffError(
    "FailedPrecondition",
    `no ${kind} range for user ${user} in /etc/${kind}: add one as root, e.g. \`usermod ${flag} 100000-165535 ${user}\``,
  );
}

/**
 * `volume ls --filter` and `volume prune --filter`, as Docker reads them.
 * Values of one key are alternatives (name=a --filter name=b: either),
 * except labels, which must all match. Pure.
 */
import { SkiffError } from "../errors.ts";
import type { VolumeMeta } from "./meta.ts";

export interface LabelFilter {
  key: string;
  value?: string;
}

export interface ListFilters {
  /** Regular expressions (Docker's filters.Match); a name matches any one. */
  names: string[];
  labels: LabelFilter[];
  drivers: string[];
  /** true: only volumes no container uses; false: only used ones. */
  dangling?: boolean;
}

export interface PruneFilters {
  labels: LabelFilter[];
  notLabels: LabelFilter[];
  /** `all=true`: also named volumes (as `-a`). */
  all?: boolean;
}

function split(f: string): { key: string; value: string } {
  const i = f.indexOf("=");
  if (i <= 0) throw new SkiffError("InvalidArgument", `bad format of filter (expected name=value): ${f}`);
  return { key: f.slice(0, i).toLowerCase(), value: f.slice(i + 1) };
}

function parseLabel(v: string): LabelFilter {
  const i = v.indexOf("=");
  return i < 0 ? { key: v } : { key: v.slice(0, i), value: v.slice(i + 1) };
}

function parseBool(key: string, v: string): boolean {
  if (/^(true|1)$/i.test(v)) return true;
  if (/^(false|0)$/i.test(v)) return false;
  throw new SkiffError("InvalidArgument", `invalid filter '${key}=${v}'`);
}

/**
 * @example parseListFilters(["dangling=true", "label=env=ci"]) // { names: [], labels: [{ key: "env", value: "ci" }], drivers: [], dangling: true }
 */
export function parseListFilters(filters: readonly string[]): ListFilters {
  const out: ListFilters = { names: [], labels: [], drivers: [] };
  for (const f of filters) {
    const { key, value } = split(f);
    if (key === "name") out.names.push(value);
    else if (key === "label") out.labels.push(parseLabel(value));
    else if (key === "driver") out.drivers.push(value);
    else if (key === "dangling") {
      const b = parseBool(key, value);
      if (out.dangling !== undefined && out.dangling !== b) throw new SkiffError("InvalidArgument", "conflicting dangling filters");
      out.dangling = b;
    } else throw new SkiffError("InvalidArgument", `invalid filter '${key}'`);
  }
  return out;
}

export function parsePruneFilters(filters: readonly string[]): PruneFilters {
  const out: PruneFilters = { labels: [], notLabels: [] };
  for (const f of filters) {
    const { key, value } = split(f);
    if (key === "label") out.labels.push(parseLabel(value));
    else if (key === "label!") out.notLabels.push(parseLabel(value));
    else if (key === "all") out.all = parseBool(key, value);
    else throw new SkiffError("InvalidArgument", `invalid filter '${key}'`);
  }
  return out;
}

function labelMatches(labels: Record<string, string>, l: LabelFilter): boolean {
  return l.key in labels && (l.value === undefined || labels[l.key] === l.value);
}

/** Docker matches names by regular expression, anywhere in the name; an invalid one is taken literally. */
function nameMatches(name: string, pattern: string): boolean {
  try {
    return new RegExp(pattern).test(name);
  } catch {
    return name.includes(pattern);
  }
}

/** Does a volume pass `volume ls` filters? `inUse` is consulted only for `dangling`. */
export function matchesListFilters(meta: Pick<VolumeMeta, "name" | "labels" | "driver">, f: ListFilters, inUse: () => boolean): boolean {
  if (f.names.length > 0 && !f.names.some((n) => nameMatches(meta.name, n))) return false;
  if (f.drivers.length > 0 && !f.drivers.includes(meta.driver)) return false;
  if (!f.labels.every((l) => labelMatches(meta.labels, l))) return false;
  if (f.dangling !== undefined && inUse() === f.dangling) return false;
  return true;
}

/** Is an unused volume a prune candidate? Without `all`, only anonymous volumes are (Docker 23+). */
export function matchesPruneFilters(meta: Pick<VolumeMeta, "labels" | "anonymous">, f: PruneFilters, opts: { all: boolean }): boolean {
  if (!(opts.all || f.all) && !meta.anonymous) return false;
  if (!f.labels.every((l) => labelMatches(meta.labels, l))) return false;
  return !f.notLabels.some((l) => labelMatches(meta.labels, l));
}

/** Go's natural order, as `docker volume ls` sorts: digit runs compare as numbers. */
export function naturalCompare(a: string, b: string): number {
  const re = /(\d+|\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i] as string;
    const y = pb[i] as string;
    if (x === y) continue;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      const nx = BigInt(x);
      const ny = BigInt(y);
      if (nx !== ny) return nx < ny ? -1 : 1;
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

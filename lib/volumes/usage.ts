/**
 * Which containers use which volume, read from the container records'
 * mounts (in a record, a volume mount's `source` is the volume's name), plus
 * the leases of creates still under way (leases.ts).
 *
 * rm and prune decide under each volume's lock; UsageTracker reads every
 * record once, then on each question re-reads only records that appeared
 * since (records never change their mounts), so a container created while
 * a prune runs is seen.
 */
import type { Context } from "../context.ts";
import type { MountOption } from "../containers/options.ts";
import type { ContainerRecord, ContainerStore } from "../containers/record.ts";
import { leasedNames } from "./leases.ts";

/** How long an incomplete record (a create under way, or a crashed one) still counts. */
const INCOMPLETE_GRACE_MS = 60_000;

/** The volume names a set of mounts refers to (not binds, not absolute-path volume sources). */
export function volumeNamesOf(mounts: readonly MountOption[]): string[] {
  const out: string[] = [];
  for (const m of mounts) {
    if (m.type === "volume" && m.source && !m.source.startsWith("/") && !out.includes(m.source)) out.push(m.source);
  }
  return out;
}

/** name → ids of the containers whose records mount it. Pure. */
export function usageOf(records: readonly Pick<ContainerRecord, "id" | "options">[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of records) addUsage(out, r);
  return out;
}

function addUsage(usage: Map<string, string[]>, r: Pick<ContainerRecord, "id" | "options">): void {
  for (const name of volumeNamesOf(r.options.mounts)) {
    const ids = usage.get(name);
    if (ids) {
      if (!ids.includes(r.id)) ids.push(r.id);
    } else usage.set(name, [r.id]);
  }
}

/** A record that counts for usage: complete, or incomplete and young (a create under way). */
function readCounting(containers: Pick<ContainerStore, "read">, id: string, now: number): ContainerRecord | undefined {
  try {
    const r = containers.read(id);
    if (!r) return undefined;
    if (r.incomplete && now - Date.parse(r.created) > INCOMPLETE_GRACE_MS) return undefined;
    return r;
  } catch {
    return undefined;
  }
}

/** name → ids of the containers that use it, for every volume some container uses. */
export function volumesInUse(ctx: Context): Map<string, string[]> {
  const now = Date.now();
  const records: ContainerRecord[] = [];
  for (const id of ctx.containers.ids()) {
    const r = readCounting(ctx.containers, id, now);
    if (r) records.push(r);
  }
  return usageOf(records);
}

/** Where usage is read from: the container records and the volumes directory (for leases). */
export interface UsageSource {
  containers: Pick<ContainerStore, "ids" | "read">;
  volumesDir: string;
}

export function usageSource(ctx: Context): UsageSource {
  return { containers: ctx.containers, volumesDir: ctx.paths.volumes };
}

/** Answers "who uses volume X" for rm and prune, freshly enough to ask under X's lock. */
export class UsageTracker {
  readonly #src: UsageSource;
  readonly #except: string | undefined;
  readonly #ignoreLeases: boolean;
  readonly #seen = new Set<string>();
  readonly #usage = new Map<string, string[]>();

  constructor(source: Context | UsageSource, opts: { exceptContainer?: string; ignoreLeases?: boolean } = {}) {
    this.#src = "volumesDir" in source ? source : usageSource(source);
    this.#except = opts.exceptContainer;
    this.#ignoreLeases = opts.ignoreLeases ?? false;
    this.#refresh();
  }

  #refresh(): void {
    const now = Date.now();
    for (const id of this.#src.containers.ids()) {
      if (this.#seen.has(id)) continue;
      this.#seen.add(id);
      if (id === this.#except) continue;
      const r = readCounting(this.#src.containers, id, now);
      if (r) addUsage(this.#usage, r);
    }
  }

  /** Ids of the containers using `name` (or a note about a create under way); empty when unused. */
  usersOf(name: string): string[] {
    this.#refresh();
    const ids = this.#usage.get(name) ?? [];
    if (ids.length > 0 || this.#ignoreLeases) return ids;
    return leasedNames(this.#src.volumesDir).has(name) ? ["a container being created"] : [];
  }

  /** Usage as last refreshed, without leases (for `ls --filter dangling`). */
  snapshot(): ReadonlyMap<string, string[]> {
    return this.#usage;
  }
}

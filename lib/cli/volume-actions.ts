/** What the volume commands do once their flags are parsed. */
import type { Context } from "../context.ts";
import { SkiffError } from "../errors.ts";
import { parseListFilters, parsePruneFilters } from "../volumes/filters.ts";
import { inspectView, parseKeyValues, volumeRow, type VolumeRow } from "../volumes/meta.ts";
import { createVolume, listVolumes, pruneVolumes, removeVolume } from "../volumes/ops.ts";
import { volumeStore } from "../volumes/store.ts";
import { UsageTracker } from "../volumes/usage.ts";
import { eachName, finishBulk } from "./bulk.ts";
import { ExitStatus } from "./main.ts";
import { printList, printValue } from "./output.ts";
import { humanSize } from "./render.ts";
import { confirm } from "./confirm.ts";
import { writeStderr, writeStdout } from "./stdio.ts";

export async function createCommand(
  ctx: Context,
  positional: string | undefined,
  opts: { name?: string; driver: string; label?: string[]; opt?: string[]; ignore?: boolean },
): Promise<void> {
  if (positional !== undefined && opts.name !== undefined && positional !== opts.name) {
    throw new SkiffError("InvalidArgument", "conflicting options: either specify --name or provide positional arg, not both");
  }
  if (opts.driver !== "local") throw new SkiffError("InvalidArgument", `volume driver ${JSON.stringify(opts.driver)} is not supported: only "local"`);
  const wanted = positional ?? opts.name;
  if (opts.ignore && wanted !== undefined && volumeStore(ctx).exists(wanted)) {
    writeStdout(`${wanted}\n`);
    return;
  }
  const meta = await createVolume(ctx, {
    name: positional ?? opts.name,
    labels: parseKeyValues(opts.label ?? [], "label"),
    options: parseKeyValues(opts.opt ?? [], "driver option"),
  });
  writeStdout(`${meta.name}\n`);
}

export function listCommand(ctx: Context, opts: { quiet?: boolean; filter?: string[]; format?: string }): void {
  const filters = parseListFilters(opts.filter ?? []);
  const store = volumeStore(ctx);
  const metas = listVolumes(ctx, filters);
  let usage: ReadonlyMap<string, string[]> | undefined;
  // Links (containers using a volume) only when a format asks for it: it reads every container record.
  const wantsLinks = opts.format?.includes(".Links") ?? false;
  if (wantsLinks) usage = new UsageTracker(ctx, { ignoreLeases: true }).snapshot();
  const rows = metas.map((m) => volumeRow(m, store.dataDir(m.name), usage ? (usage.get(m.name)?.length ?? 0) : undefined));
  if (opts.quiet) {
    writeStdout(rows.map((r) => `${r.Name}\n`).join(""));
    return;
  }
  printList<VolumeRow>(rows, {
    format: opts.format,
    columns: [
      { header: "DRIVER", field: "Driver" },
      { header: "VOLUME NAME", field: "Name" },
    ],
    headers: { Name: "VOLUME NAME" },
  });
}

export function inspectCommand(ctx: Context, names: string[], opts: { format?: string }): void {
  const store = volumeStore(ctx);
  const out: Record<string, unknown>[] = [];
  const errors: string[] = [];
  for (const n of names) {
    try {
      out.push(inspectView(store.get(n), store.dataDir(n)));
    } catch (e) {
      if (e instanceof SkiffError && e.kind === "NotFound") errors.push(e.message);
      else throw e;
    }
  }
  if (out.length > 0 || !opts.format) printValue(out, opts.format);
  if (errors.length > 0) {
    for (const e of errors) writeStderr(`Error: ${e}\n`);
    throw new ExitStatus(errors.length === names.length ? 125 : 1);
  }
}

export async function rmCommand(ctx: Context, names: string[], opts: { force?: boolean }): Promise<void> {
  const tracker = new UsageTracker(ctx);
  const outcomes = await eachName(names, (n) => removeVolume(ctx, n, { force: opts.force ?? false, tracker }));
  for (const o of outcomes) if (o.ok && o.value) writeStdout(`${o.name}\n`);
  finishBulk(outcomes, "rm");
}


export async function pruneCommand(ctx: Context, opts: { all?: boolean; force?: boolean; filter?: string[] }): Promise<void> {
  const filters = parsePruneFilters(opts.filter ?? []);
  const all = (opts.all ?? false) || filters.all === true;
  if (!opts.force) {
    const what = all ? "all local volumes" : "anonymous local volumes";
    if (!(await confirm(`WARNING! This will remove ${what} not used by at least one container.\nAre you sure you want to continue?`))) return;
  }
  const r = await pruneVolumes(ctx, { all, filters });
  if (r.deleted.length > 0) {
    writeStdout("Deleted Volumes:\n");
    for (const d of r.deleted) writeStdout(`${d}\n`);
    writeStdout("\n");
  }
  writeStdout(`Total reclaimed space: ${humanSize(r.reclaimed)}\n`);
}

/**
 * `stats` and `update`: what they do once their flags are parsed.
 */
import type { Context } from "../context.ts";
import { SkiffError } from "../errors.ts";
import { currentState } from "../containers/ops.ts";
import type { ContainerRecord } from "../containers/record.ts";
import { sampleContainer, statsBody, statsRow, type StatsRow, type StatsSample } from "../containers/stats.ts";
import { eachName, finishBulk } from "./bulk.ts";
import { formatOutput } from "./render.ts";
import { resourceChange, type ResourceFlags } from "./resource-flags.ts";
import { writeStderr, writeStdout } from "./stdio.ts";

export interface StatsFlags {
  all?: boolean;
  stream?: boolean;
  format?: string;
  trunc?: boolean;
}

const COLUMNS: { header: string; field: keyof StatsRow }[] = [
  { header: "CONTAINER ID", field: "ID" },
  { header: "NAME", field: "Name" },
  { header: "CPU %", field: "CPUPerc" },
  { header: "MEM USAGE / LIMIT", field: "MemUsage" },
  { header: "MEM %", field: "MemPerc" },
  { header: "NET I/O", field: "NetIO" },
  { header: "BLOCK I/O", field: "BlockIO" },
  { header: "PIDS", field: "PIDs" },
];

const HEADERS: Record<string, string> = {
  Container: "CONTAINER",
  ID: "CONTAINER ID",
  Name: "NAME",
  CPUPerc: "CPU %",
  MemUsage: "MEM USAGE / LIMIT",
  MemPerc: "MEM %",
  NetIO: "NET I/O",
  BlockIO: "BLOCK I/O",
  PIDs: "PIDS",
};

/** The interval between samples, as dockerd's collector. */
const INTERVAL_MS = 1000;

interface Target {
  /** What the user typed (the CONTAINER column), or the short id. */
  label: string;
  record: ContainerRecord;
}

function running(ctx: Context, r: ContainerRecord): boolean {
  const s = currentState(ctx, r).status;
  return s === "running" || s === "paused";
}

function targets(ctx: Context, names: string[], all: boolean): Target[] {
  if (names.length > 0) return names.map((n) => ({ label: n, record: ctx.containers.resolve(n) }));
  return ctx.containers
    .list()
    .filter((r) => all || running(ctx, r))
    .sort((a, b) => b.created.localeCompare(a.created))
    .map((r) => ({ label: r.id.slice(0, 12), record: r }));
}

export function renderStats(rows: StatsRow[], format: string | undefined): string {
  return formatOutput(rows, format, {
    defaultColumns: COLUMNS.map((c) => ({ header: c.header, get: (r: StatsRow) => r[c.field] })),
    headers: HEADERS,
  });
}

/**
 * `stats [-a] [--no-stream] [--format F] [CONTAINER...]`: a table refreshed
 * every second (on a terminal the screen is redrawn), or one table with
 * --no-stream, whose CPU % covers one second as docker's does.
 */
export async function statsCommand(ctx: Context, names: string[], flags: StatsFlags): Promise<void> {
  const stream = flags.stream !== false;
  const tty = process.stdout.isTTY === true;
  let list = targets(ctx, names, flags.all ?? false);
  const prev = new Map<string, StatsSample>();
  const sampleAll = async (ts: Target[]): Promise<Map<string, StatsSample>> =>
    new Map(await Promise.all(ts.map(async (t) => [t.record.id, await sampleContainer(ctx, t.record)] as const)));
  for (const [id, s] of await sampleAll(list)) prev.set(id, s);
  for (;;) {
    await Bun.sleep(INTERVAL_MS);
    if (stream && names.length === 0) list = targets(ctx, names, flags.all ?? false);
    const cur = await sampleAll(list);
    const rows = list.map((t) =>
      statsRow(statsBody(t.record, cur.get(t.record.id) as StatsSample, prev.get(t.record.id)), { container: t.label, noTrunc: flags.trunc === false }),
    );
    const text = renderStats(rows, flags.format);
    if (stream && tty) writeStdout(`\x1b[2J\x1b[H${text}`);
    else writeStdout(text);
    if (!stream) return;
    prev.clear();
    for (const [id, s] of cur) prev.set(id, s);
  }
}

export interface UpdateFlags extends ResourceFlags {
  restart?: string;
}

/** `update [resource flags] [--restart POLICY] CONTAINER...` */
export async function updateCommand(ctx: Context, names: string[], flags: UpdateFlags): Promise<void> {
  const change = resourceChange(flags);
  const restart = flags.restart;
  if (Object.keys(change).length === 0 && restart === undefined) {
    throw new SkiffError("InvalidArgument", "you must provide one or more flags when using this command");
  }
  const { updateContainer } = await import("../containers/update.ts");
  const outcomes = await eachName(names, async (n) => {
    const record = ctx.containers.resolve(n);
    const r = await updateContainer(ctx, record, { resources: change, ...(restart !== undefined ? { restart } : {}) });
    for (const w of r.warnings) writeStderr(`WARNING: ${w}\n`);
    return n;
  });
  for (const o of outcomes) if (o.ok) writeStdout(`${o.value}\n`);
  finishBulk(outcomes, "stop");
}

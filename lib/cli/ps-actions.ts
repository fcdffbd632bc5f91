/** `ps`: the container list, with Docker's filters and columns. Kept apart so a listing loads nothing that starts containers. */
import type { Context } from "../context.ts";
import { SkiffError } from "../errors.ts";
import { currentState } from "../containers/ops.ts";
import type { ContainerRecord } from "../containers/record.ts";
import { psRow, type PsRow } from "../containers/views.ts";
import { printList } from "./output.ts";
import { writeStdout } from "./stdio.ts";

interface PsFlags {
  all?: boolean;
  quiet?: boolean;
  last?: string;
  latest?: boolean;
  trunc?: boolean;
  filter?: string[];
  format?: string;
}

function psFilter(filters: string[]): (row: PsRow, record: ContainerRecord, exitCode: number) => boolean {
  const tests: ((row: PsRow, record: ContainerRecord, exitCode: number) => boolean)[] = [];
  const byKey = new Map<string, string[]>();
  for (const f of filters) {
    const i = f.indexOf("=");
    if (i <= 0) throw new SkiffError("InvalidArgument", `bad format of filter (expected name=value): ${f}`);
    const k = f.slice(0, i).toLowerCase();
    if (!["name", "label", "status", "id", "ancestor", "exited"].includes(k)) throw new SkiffError("InvalidArgument", `invalid filter '${k}'`);
    byKey.set(k, [...(byKey.get(k) ?? []), f.slice(i + 1)]);
  }
  // Values of one key are ORed, keys are ANDed (as Docker).
  for (const [k, values] of byKey) {
    tests.push((row, rec, code) =>
      values.some((v) => {
        switch (k) {
          case "name":
            return new RegExp(v).test(rec.name);
          case "id":
            return rec.id.startsWith(v);
          case "status":
            return row.State === v;
          case "exited":
            return row.State === "exited" && code === Number(v);
          case "ancestor":
            return rec.image.name === v || rec.image.id === v || rec.image.id.slice(7).startsWith(v) || rec.image.name.split(":")[0] === v;
          case "label": {
            const j = v.indexOf("=");
            const key = j < 0 ? v : v.slice(0, j);
            return key in rec.options.labels && (j < 0 || rec.options.labels[key] === v.slice(j + 1));
          }
          default:
            return false;
        }
      }),
    );
  }
  return (row, rec, code) => tests.every((t) => t(row, rec, code));
}

export function psCommand(ctx: Context, flags: PsFlags): void {
  const noTrunc = flags.trunc === false;
  const filter = psFilter(flags.filter ?? []);
  let views = ctx.containers.list().map((record) => ({ record, state: currentState(ctx, record) }));
  views.sort((a, b) => b.record.created.localeCompare(a.record.created));
  const lastN = flags.latest ? 1 : flags.last !== undefined ? Number(flags.last) : undefined;
  if (lastN !== undefined && !Number.isInteger(lastN)) throw new SkiffError("InvalidArgument", `invalid argument ${JSON.stringify(flags.last)} for "-n, --last" flag: not a number`);
  const all = flags.all || lastN !== undefined || (flags.filter ?? []).some((f) => f.startsWith("status=") || f.startsWith("exited="));
  if (!all) views = views.filter((v) => v.state.status === "running" || v.state.status === "paused" || v.state.status === "restarting");
  const now = Date.now();
  let rows = views
    .map((v) => ({ v, row: psRow(v, { noTrunc, now }) }))
    .filter(({ v, row }) => filter(row, v.record, v.state.exitCode));
  if (lastN !== undefined && lastN >= 0) rows = rows.slice(0, lastN);
  if (flags.quiet) {
    for (const { row } of rows) writeStdout(`${row.ID}\n`);
    return;
  }
  printList(
    rows.map((r) => r.row),
    {
      format: flags.format,
      columns: [
        { header: "CONTAINER ID", field: "ID" },
        { header: "IMAGE", field: "Image" },
        { header: "COMMAND", field: "Command" },
        { header: "CREATED", field: "RunningFor" },
        { header: "STATUS", field: "Status" },
        { header: "PORTS", field: "Ports" },
        { header: "NAMES", field: "Names" },
      ],
      headers: { ID: "CONTAINER ID", RunningFor: "CREATED", CreatedAt: "CREATED AT" },
    },
  );
}

/**
 * top, rename, cp, container prune, diff and port once their flags are parsed:
 * call the engine, print like Docker.
 */
import type { Context } from "../context.ts";
import { SkiffError } from "../errors.ts";
import { parseCpArg } from "../containers/cp-paths.ts";
import { currentState } from "../containers/ops.ts";
import { humanSize, tabwrite } from "./render.ts";
import { writeStderr, writeStdout } from "./stdio.ts";
import { confirm } from "./confirm.ts";

/** `top CONTAINER [ps OPTIONS]`: a table with ps's own header, laid out as `docker top` does. */
export async function topCommand(ctx: Context, name: string, psOptions: string[]): Promise<void> {
  const { topContainer } = await import("../containers/top.ts");
  const record = ctx.containers.resolve(name);
  const r = await topContainer(ctx, record, { psOptions });
  const text = [r.titles, ...r.processes].map((row) => `${row.join("\t")}\n`).join("");
  writeStdout(tabwrite(text, { minWidth: 20, padding: 3 }));
}

export async function renameCommand(ctx: Context, oldName: string, newName: string): Promise<void> {
  const { renameContainer } = await import("../containers/rename.ts");
  await renameContainer(ctx, ctx.containers.resolve(oldName), { name: newName });
}

export interface CpFlags {
  archive?: boolean;
  followLink?: boolean;
  quiet?: boolean;
}

/** `cp SRC DEST` with one side `CONTAINER:PATH`; either local side may be `-` (a tar stream). */
export async function cpCommand(ctx: Context, src: string, dest: string, flags: CpFlags): Promise<void> {
  if (src === "") throw new SkiffError("InvalidArgument", "source can not be empty");
  if (dest === "") throw new SkiffError("InvalidArgument", "destination can not be empty");
  const from = parseCpArg(src);
  const to = parseCpArg(dest);
  if (from.container !== undefined && to.container !== undefined) throw new SkiffError("InvalidArgument", "copying between containers is not supported");
  if (from.container === undefined && to.container === undefined) throw new SkiffError("InvalidArgument", "must specify at least one container source");
  // As Docker: progress only when a terminal is attached, unless -q.
  const quiet = flags.quiet ?? !process.stdout.isTTY;
  const onWarning = (m: string): void => writeStderr(`WARNING: ${m}\n`);
  const cp = await import("../containers/cp.ts");
  if (from.container !== undefined) {
    const record = ctx.containers.resolve(from.container);
    const r = await cp.copyFromContainer(ctx, record, {
      src: from.path,
      dest: to.path,
      label: from.container,
      followLink: flags.followLink ?? false,
      output: (chunk) => writeStdout(chunk),
      onWarning,
    });
    if (!quiet && to.path !== "-") writeStderr(`Successfully copied ${humanSize(r.contentBytes)} to ${to.path}\n`);
    return;
  }
  const container = to.container as string;
  const record = ctx.containers.resolve(container);
  const r = await cp.copyToContainer(ctx, record, {
    src: from.path,
    dest: to.path,
    label: container,
    followLink: flags.followLink ?? false,
    archive: flags.archive ?? false,
    onWarning,
  });
  if (!quiet) writeStderr(`Successfully copied ${humanSize(r.contentBytes)} to ${container}:${to.path}\n`);
}


/** `container prune [-f] [--filter ...]`. */
export async function containerPruneCommand(ctx: Context, opts: { force?: boolean; filter?: string[] }): Promise<void> {
  const { parsePruneFilters, pruneContainers } = await import("../containers/prune.ts");
  const filters = parsePruneFilters(opts.filter ?? []);
  if (!opts.force && !(await confirm("WARNING! This will remove all stopped containers.\nAre you sure you want to continue?"))) return;
  const r = await pruneContainers(ctx, filters);
  if (r.deleted.length > 0) writeStdout(`Deleted Containers:\n${r.deleted.map((id) => `${id}\n`).join("")}\n`);
  writeStdout(`Total reclaimed space: ${humanSize(r.reclaimed)}\n`);
}

/** `port CONTAINER [PRIVATE_PORT[/PROTO]]`. Only a running container has published ports, as in Docker. */
export interface CommitFlags {
  author?: string;
  message?: string;
  change?: string[];
  pause?: boolean;
}

/** `commit CONTAINER [REPOSITORY[:TAG]]`: prints the new image's id, as Docker. */
export async function commitCommand(ctx: Context, name: string, reference: string | undefined, flags: CommitFlags): Promise<void> {
  const { commitContainer } = await import("../images/commit.ts");
  const img = await commitContainer(ctx, ctx.containers.resolve(name), {
    ...(reference ? { reference } : {}),
    ...(flags.author ? { author: flags.author } : {}),
    ...(flags.message ? { comment: flags.message } : {}),
    changes: (flags.change ?? []).flatMap((c) => c.split("\n")).filter((c) => c.trim() !== ""),
  });
  writeStdout(`${img.id}\n`);
}

/** `export CONTAINER`: the stopped container's root filesystem as a tar, to stdout or `-o FILE` (as `save -o`: written whole, then renamed). */
export async function exportCommand(ctx: Context, name: string, flags: { output?: string }): Promise<void> {
  const record = ctx.containers.resolve(name);
  const { exportContainer } = await import("../containers/cp.ts");
  if (flags.output) {
    const { saveToFile } = await import("./archive-actions.ts");
    await saveToFile(flags.output, (out) => exportContainer(ctx, record, (chunk) => writeWithBackpressure(out as NodeJS.WritableStream, chunk)));
    return;
  }
  if (process.stdout.isTTY) throw new SkiffError("InvalidArgument", "cowardly refusing to save to a terminal. Use the -o flag or redirect");
  await exportContainer(ctx, record, (chunk) => writeStdout(chunk));
}

function writeWithBackpressure(out: NodeJS.WritableStream, chunk: Uint8Array): Promise<void> | undefined {
  return out.write(chunk) ? undefined : new Promise((resolve) => out.once("drain", () => resolve()));
}

/** `diff CONTAINER`: one `C|A|D /path` line per change, as `docker diff` prints. */
export async function diffCommand(ctx: Context, name: string): Promise<void> {
  const { containerChanges, CHANGE_LETTER } = await import("../containers/upper-changes.ts");
  const changes = await containerChanges(ctx, ctx.containers.resolve(name));
  if (changes.length > 0) writeStdout(changes.map((c) => `${CHANGE_LETTER[c.Kind]} ${c.Path}\n`).join(""));
}

export async function portCommand(ctx: Context, name: string, port: string | undefined): Promise<void> {
  const { formatPorts } = await import("../containers/ports.ts");
  const record = ctx.containers.resolve(name);
  const state = currentState(ctx, record);
  // The state holds the host ports actually bound at this start (-P picks them then).
  const bindings = state.status === "running" || state.status === "paused" ? state.ports : [];
  const lines = formatPorts(bindings, { ...(port !== undefined ? { port } : {}), container: name });
  if (lines.length > 0) writeStdout(`${lines.join("\n")}\n`);
}

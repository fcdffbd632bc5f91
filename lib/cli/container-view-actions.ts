/** `logs` and `inspect`: reading what a container wrote and what it is. */
import type { Context } from "../context.ts";
import { exitCode as exitCodeOf, SkiffError, toSkiffError } from "../errors.ts";
import { parseLogTime, readLogs } from "../containers/logs.ts";
import { currentState } from "../containers/ops.ts";
import { inspectContainer } from "../containers/views.ts";
import { ExitStatus } from "./main.ts";
import { printValue } from "./output.ts";
import { writeStderr, writeStdout } from "./stdio.ts";

export async function logsCommand(
  ctx: Context,
  name: string,
  flags: { follow?: boolean; tail?: string; since?: string; until?: string; timestamps?: boolean },
): Promise<void> {
  const record = ctx.containers.resolve(name);
  const tail = flags.tail === undefined || flags.tail === "all" ? undefined : Number(flags.tail);
  if (tail !== undefined && !Number.isInteger(tail)) throw new SkiffError("InvalidArgument", `invalid value for --tail: ${flags.tail}`);
  const path = `${ctx.containers.dir(record.id)}/ctr.log`;
  const running = (): boolean => {
    const s = currentState(ctx, record).status;
    return s === "running" || s === "paused";
  };
  for await (const e of readLogs(path, {
    follow: flags.follow ?? false,
    ...(tail !== undefined ? { tail } : {}),
    ...(flags.since ? { since: parseLogTime(flags.since) } : {}),
    ...(flags.until ? { until: parseLogTime(flags.until) } : {}),
    running,
  })) {
    const text = flags.timestamps ? `${e.time} ${e.log}` : e.log;
    if (e.stream === "stderr") writeStderr(text);
    else writeStdout(text);
  }
}

export async function inspectCommand(ctx: Context, names: string[], opts: { format?: string; kind?: string | undefined }): Promise<void> {
  const out: unknown[] = [];
  let missing = 0;
  for (const n of names) {
    try {
      if (opts.kind !== "image") {
        try {
          const record = ctx.containers.resolve(n);
          out.push(inspectContainer(ctx, { record, state: currentState(ctx, record) }));
          continue;
        } catch (e) {
          if (!(e instanceof SkiffError && e.kind === "NotFound") || opts.kind === "container") throw e;
        }
      }
      const { resolveImage } = await import("../images/resolve.ts");
      const { inspectImage } = await import("../images/views.ts");
      out.push(inspectImage(ctx, resolveImage(ctx.images.list(), n)));
    } catch (e) {
      const err = toSkiffError(e);
      if (err.kind !== "NotFound") throw err;
      missing += 1;
      writeStderr(`Error: no such object: ${n}\n`);
    }
  }
  if (out.length > 0 || !opts.format) printValue(out, opts.format);
  if (missing > 0) throw new ExitStatus(exitCodeOf(new SkiffError("NotFound", ""), "rm"));
}

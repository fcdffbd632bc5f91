/**
 * `docker cp` over the API: HEAD (stat), GET (a tar of a path) and PUT (a
 * tar extracted into a directory) on /containers/{id}/archive, through the
 * same copy helper as `skiff cp` (lib/containers/cp.ts): chrooted into the
 * container's root filesystem, in its user namespace when rootless.
 */
import type { Hono } from "hono";
import { posix } from "node:path";
import { SkiffError } from "../../errors.ts";
import type { ContainerRecord } from "../../containers/record.ts";
import type { ApiEnv } from "../app.ts";
import { encodePathStat, parseFirstEntry, pathStatOf, type TarHead } from "../archive-stat.ts";
import { StreamSink, STREAM_MARKER } from "../http.ts";
import { queryBool } from "../schemas.ts";
import type { ApiState } from "../state.ts";

const STAT_HEADER = "X-Docker-Container-Path-Stat";

class StatOnly extends Error {}

function statName(path: string): string {
  const clean = posix.normalize(`/${path}`);
  return clean === "/" ? "/" : posix.basename(clean);
}

function requirePath(path: string | undefined): string {
  if (!path) throw new SkiffError("InvalidArgument", "path is required: ?path=/some/path");
  return path;
}

/**
 * Starts a copy out of the container; resolves once the first tar header
 * is known (the stat), with the rest of the archive streaming into `sink`.
 */
async function openArchive(state: ApiState, record: ContainerRecord, path: string, opts: { statOnly: boolean; sink?: StreamSink }): Promise<{ head: TarHead; done: Promise<void> }> {
  const { copyFromContainer } = await import("../../containers/cp.ts");
  let buf = new Uint8Array(0);
  let head: TarHead | undefined;
  let gotHead!: (h: TarHead) => void;
  const headKnown = new Promise<TarHead>((r) => {
    gotHead = r;
  });
  const copying = copyFromContainer(state.ctx, record, {
    src: path,
    dest: "-",
    label: record.name,
    output: async (chunk) => {
      if (head === undefined) {
        const merged = new Uint8Array(buf.length + chunk.length);
        merged.set(buf, 0);
        merged.set(chunk, buf.length);
        buf = merged;
        head = parseFirstEntry(buf);
        if (head === undefined) return;
        gotHead(head);
        if (opts.statOnly) throw new StatOnly();
        await opts.sink?.write(buf);
        return;
      }
      await opts.sink?.write(chunk);
    },
  });
  const done = copying.then(
    () => undefined,
    (e: unknown) => {
      if (e instanceof StatOnly || head !== undefined) return undefined;
      throw e;
    },
  );
  const first = await Promise.race([headKnown, done.then(() => undefined)]);
  if (!first) throw new SkiffError("NotFound", `could not find the file ${path} in container ${record.name}`);
  return { head: first, done };
}

export function registerArchive(app: Hono<ApiEnv>, state: ApiState): void {
  const resolve = (id: string) => state.ctx.containers.resolve(id);

  app.get("/containers/:id/archive", async (c) => {
    const record = resolve(c.req.param("id"));
    const path = requirePath(c.req.query("path"));
    if (c.req.raw.method === "HEAD") {
      // Hono answers HEAD with the GET handler: only the stat is wanted, not the copy.
      const { head, done } = await openArchive(state, record, path, { statOnly: true });
      await done;
      return c.body(null, 200, { "Content-Type": "application/x-tar", [STAT_HEADER]: encodePathStat(pathStatOf(head, statName(path))) });
    }
    const sink = new StreamSink();
    const { head, done } = await openArchive(state, record, path, { statOnly: false, sink });
    void done.then(
      () => sink.close(),
      () => sink.close(),
    );
    return new Response(sink.stream, {
      status: 200,
      headers: { "Content-Type": "application/x-tar", [STAT_HEADER]: encodePathStat(pathStatOf(head, statName(path))), [STREAM_MARKER]: "1" },
    });
  });

  app.put("/containers/:id/archive", async (c) => {
    const record = resolve(c.req.param("id"));
    const path = requirePath(c.req.query("path"));
    const body = c.req.raw.body;
    if (!body) throw new SkiffError("InvalidArgument", "the request has no archive");
    const { copyToContainer } = await import("../../containers/cp.ts");
    await copyToContainer(state.ctx, record, {
      src: "-",
      dest: path,
      label: record.name,
      input: body as unknown as AsyncIterable<Uint8Array>,
      archive: queryBool(c.req.query("copyUIDGID")),
    });
    state.containerEvent(record, "extract-to-dir");
    return c.body(null, 200);
  });
}

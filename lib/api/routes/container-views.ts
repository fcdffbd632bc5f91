/**
 * Reading containers: list, inspect, logs, top, changes, stats, export,
 * and attach for clients that do not upgrade the connection (output only).
 */
import type { Hono } from "hono";
import { join } from "node:path";
import { SkiffError } from "../../errors.ts";
import { parseLogTime, readLogs } from "../../containers/logs.ts";
import { currentState } from "../../containers/ops.ts";
import { treeSize } from "../../containers/prune.ts";
import { containerChanges } from "../../containers/upper-changes.ts";
import { inspectContainer } from "../../containers/views.ts";
import type { ApiEnv } from "../app.ts";
import { runAttach } from "../attach.ts";
import { listContainers } from "../container-list.ts";
import { detachKeysOf } from "../detach-keys.ts";
import { framer, MEDIA_MULTIPLEXED, MEDIA_RAW, STREAM } from "../frames.ts";
import { streamResponse } from "../http.ts";
import { SinkPeer } from "../peer.ts";
import { parseFilters, queryBool, queryInt } from "../schemas.ts";
import { sampleContainer, statsBody } from "../stats.ts";
import type { ApiState } from "../state.ts";
import { atLeast } from "../versioning.ts";

export function registerContainerViews(app: Hono<ApiEnv>, state: ApiState): void {
  const ctx = state.ctx;
  const resolve = (id: string) => ctx.containers.resolve(id);

  app.get("/containers/json", (c) => {
    const list = listContainers(ctx, {
      all: queryBool(c.req.query("all")),
      limit: queryInt(c.req.query("limit"), "limit"),
      size: queryBool(c.req.query("size")),
      filters: parseFilters(c.req.query("filters")),
      records: state.records.list(ctx),
      stateOf: (r) => state.records.state(ctx, r.id),
    });
    return c.json(list);
  });

  app.get("/containers/:id/json", (c) => {
    const record = resolve(c.req.param("id"));
    const view = inspectContainer(ctx, { record, state: currentState(ctx, record) });
    const execs = state.execs.forContainer(record.id);
    view.ExecIDs = execs.length > 0 ? execs : null;
    if (queryBool(c.req.query("size"))) {
      view.SizeRw = treeSize(join(ctx.containers.dir(record.id), "upper"));
      view.SizeRootFs = 0;
    }
    return c.json(view);
  });

  app.get("/containers/:id/logs", (c) => {
    const record = resolve(c.req.param("id"));
    const stdout = queryBool(c.req.query("stdout"));
    const stderr = queryBool(c.req.query("stderr"));
    if (!stdout && !stderr) throw new SkiffError("InvalidArgument", "Bad parameters: you must choose at least one stream");
    const follow = queryBool(c.req.query("follow"));
    const timestamps = queryBool(c.req.query("timestamps"));
    const tailRaw = c.req.query("tail");
    const tail = tailRaw === undefined || tailRaw === "" || tailRaw === "all" ? undefined : queryInt(tailRaw, "tail");
    const sinceRaw = c.req.query("since");
    const untilRaw = c.req.query("until");
    const since = sinceRaw && sinceRaw !== "0" ? parseLogTime(sinceRaw) : undefined;
    const until = untilRaw && untilRaw !== "0" ? parseLogTime(untilRaw) : undefined;
    const tty = record.options.tty;
    const frame = framer(tty);
    const signal = c.req.raw.signal;
    const running = (): boolean => {
      const s = currentState(ctx, record).status;
      return s === "running" || s === "paused";
    };
    return streamResponse(
      async (sink) => {
        const ended = sink.signal;
        const enc = new TextEncoder();
        for await (const e of readLogs(join(ctx.containers.dir(record.id), "ctr.log"), {
          follow,
          ...(tail !== undefined && tail >= 0 ? { tail } : {}),
          ...(since !== undefined ? { since } : {}),
          ...(until !== undefined ? { until } : {}),
          running,
          signal: ended,
        })) {
          if (e.stream === "stdout" ? !stdout : !stderr) continue;
          const text = timestamps ? `${e.time} ${e.log}` : e.log;
          await sink.write(frame(e.stream === "stdout" ? STREAM.stdout : STREAM.stderr, enc.encode(text)));
        }
      },
      { headers: { "Content-Type": tty || !atLeast(c.get("apiVersion"), "1.42") ? MEDIA_RAW : MEDIA_MULTIPLEXED }, signals: [signal, state.shutdownSignal] },
    );
  });

  app.get("/containers/:id/top", async (c) => {
    const record = resolve(c.req.param("id"));
    const { topContainer } = await import("../../containers/top.ts");
    const args = (c.req.query("ps_args") ?? "").trim();
    const r = await topContainer(ctx, record, { psOptions: args ? args.split(/\s+/) : [] });
    return c.json({ Titles: r.titles, Processes: r.processes });
  });

  app.get("/containers/:id/changes", async (c) => {
    const record = resolve(c.req.param("id"));
    const changes = await containerChanges(ctx, record);
    return c.json(changes.length > 0 ? changes : null);
  });

  app.get("/containers/:id/stats", async (c) => {
    const record = resolve(c.req.param("id"));
    const stream = queryBool(c.req.query("stream"), true);
    const oneShot = queryBool(c.req.query("one-shot"));
    const signal = c.req.raw.signal;
    if (!stream) {
      let prev;
      if (!oneShot) {
        prev = await sampleContainer(ctx, record);
        await Bun.sleep(1000);
      }
      return c.json(statsBody(record, await sampleContainer(ctx, record), prev));
    }
    return streamResponse(
      async (sink) => {
        const ended = sink.signal;
        let prev = await sampleContainer(ctx, record);
        await sink.json(statsBody(record, prev, undefined));
        while (!ended.aborted) {
          await Bun.sleep(1000);
          const cur = await sampleContainer(ctx, record);
          await sink.json(statsBody(record, cur, prev));
          prev = cur;
          const s = currentState(ctx, record).status;
          if (s !== "running" && s !== "paused") break;
        }
      },
      { headers: { "Content-Type": "application/json" }, signals: [signal, state.shutdownSignal] },
    );
  });

  app.get("/containers/:id/export", async (c) => {
    const record = resolve(c.req.param("id"));
    const { exportContainer } = await import("../../containers/cp.ts");
    return streamResponse(
      async (sink) => {
        await exportContainer(ctx, record, (chunk) => sink.write(chunk));
        state.containerEvent(record, "export");
      },
      { headers: { "Content-Type": "application/x-tar" } },
    );
  });

  // Attach without an upgrade (plain HTTP clients): the output as a streamed body; no stdin.
  app.post("/containers/:id/attach", (c) => {
    const record = resolve(c.req.param("id"));
    const params = {
      stdin: false,
      stdout: queryBool(c.req.query("stdout")),
      stderr: queryBool(c.req.query("stderr")),
      stream: queryBool(c.req.query("stream")),
      logs: queryBool(c.req.query("logs")),
      detachKeys: detachKeysOf(c.req.query("detachKeys")),
    };
    return streamResponse(
      async (sink) => {
        const peer = new SinkPeer(sink);
        await runAttach(state, record, params, peer);
        await peer.gone;
      },
      { headers: { "Content-Type": MEDIA_RAW } },
    );
  });
}

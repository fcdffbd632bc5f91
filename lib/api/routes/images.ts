/**
 * Images: pull and import (`POST /images/create`), list, inspect, history,
 * tag, remove, push, save (`get`), load, prune, and commit. Progress streams
 * are Docker's JSON lines; an error found before any progress is a plain
 * error status (so `docker run` sees a 404 and `docker pull` an error).
 */
import type { Hono, Context as HonoContext } from "hono";
import { SkiffError } from "../../errors.ts";
import { credentialStore } from "../../images/registry.ts";
import { findImage, resolveImage } from "../../images/resolve.ts";
import type { ImageRecord } from "../../images/store.ts";
import { familiar, imageHistory, inspectImage, readImageConfig } from "../../images/views.ts";
import { RegistryClient } from "../../registry/client.ts";
import { familiarString, formatReference, parseReference } from "../../registry/reference.ts";
import type { ApiEnv } from "../app.ts";
import { errorMessage, jsonBody, streamResponse, type StreamSink } from "../http.ts";
import { PullMessages, pushMessage, type JsonMessage } from "../progress.ts";
import { checkFilterKeys, ContainerConfigSchema, parseFilters, parseRegistryAuth, queryBool } from "../schemas.ts";
import type { ApiState } from "../state.ts";

function clientFor(state: ApiState, header: string | undefined, registry: string): RegistryClient {
  const auth = parseRegistryAuth(header);
  const store = credentialStore();
  if (auth?.username && auth.password) store.setOverride(registry, { username: auth.username, password: auth.password });
  return new RegistryClient({ credentials: store, insecureRegistries: state.ctx.config.insecureRegistries, userAgent: "skiff" });
}

/**
 * Runs `work`, emitting messages; answers with an error status if it fails
 * before `started()` was called, else streams (the error as the last line).
 */
async function progressResponse(
  work: (emit: (m: JsonMessage) => void, started: () => void) => Promise<JsonMessage[]>,
): Promise<Response> {
  const queue: JsonMessage[] = [];
  let sink: StreamSink | undefined;
  const emit = (m: JsonMessage): void => {
    if (sink) void sink.json(m).catch(() => {});
    else queue.push(m);
  };
  let markStarted!: () => void;
  const started = new Promise<void>((r) => {
    markStarted = r;
  });
  const running = work(emit, markStarted);
  running.catch(() => {});
  const first = await Promise.race([started.then(() => "started" as const), running.then(() => "done" as const, () => "failed" as const)]);
  // Failed before any progress: a plain error status (404 for an unknown image...).
  if (first === "failed") await running;
  return streamResponse(
    async (s) => {
      for (const m of queue.splice(0)) await s.json(m);
      sink = s;
      const tail = await running;
      for (const m of tail) await s.json(m);
    },
    { headers: { "Content-Type": "application/json" }, onError: (s, e) => s.json(errorMessage(e)) },
  );
}

function summary(state: ApiState, img: ImageRecord, containers: Map<string, number>): Record<string, unknown> {
  let labels: Record<string, string> | null = null;
  try {
    labels = readImageConfig(state.ctx, img).config?.Labels ?? null;
  } catch {
    labels = null;
  }
  return {
    Id: img.id,
    ParentId: "",
    RepoTags: img.names.map(familiar),
    RepoDigests: img.repoDigests.map(familiar),
    Created: Math.floor(Date.parse(img.created ?? img.added) / 1000),
    Size: img.size,
    SharedSize: -1,
    VirtualSize: img.size,
    Labels: labels,
    Containers: containers.get(img.id) ?? 0,
  };
}

function globMatch(glob: string, text: string): boolean {
  const re = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, ".")}$`);
  return re.test(text);
}

function referenceMatches(img: ImageRecord, pattern: string): boolean {
  const i = pattern.lastIndexOf(":");
  const hasTag = i > 0 && !pattern.slice(i).includes("/");
  const repoPat = hasTag ? pattern.slice(0, i) : pattern;
  const tagPat = hasTag ? pattern.slice(i + 1) : undefined;
  return img.names.map(familiar).some((n) => {
    const j = n.lastIndexOf(":");
    const repo = n.slice(0, j);
    const tag = n.slice(j + 1);
    return (globMatch(repoPat, repo) || globMatch(repoPat, `docker.io/library/${repo}`)) && (tagPat === undefined || globMatch(tagPat, tag));
  });
}

function listImages(state: ApiState, c: HonoContext<ApiEnv>): Record<string, unknown>[] {
  const images = state.ctx.images.list();
  const filters = parseFilters(c.req.query("filters"));
  checkFilterKeys(filters, ["dangling", "label", "before", "since", "reference", "until"]);
  let list = images;
  for (const [key, values] of filters) {
    if (values.length === 0) continue;
    if (key === "dangling") {
      const want = values.some((v) => v === "true" || v === "1");
      list = list.filter((i) => (i.names.length === 0) === want);
    } else if (key === "reference") {
      list = list.filter((i) => values.some((v) => referenceMatches(i, v)));
    } else if (key === "label") {
      list = list.filter((i) => {
        const labels = readImageConfig(state.ctx, i).config?.Labels ?? {};
        return values.every((v) => {
          const j = v.indexOf("=");
          const k = j < 0 ? v : v.slice(0, j);
          return k in labels && (j < 0 || labels[k] === v.slice(j + 1));
        });
      });
    } else if (key === "before" || key === "since") {
      const t = Date.parse(resolveImage(images, values[0] as string).created ?? "");
      list = list.filter((i) => (key === "before" ? Date.parse(i.created ?? "") < t : Date.parse(i.created ?? "") > t));
    }
  }
  const containers = new Map<string, number>();
  for (const r of state.ctx.containers.list()) containers.set(r.image.id, (containers.get(r.image.id) ?? 0) + 1);
  return list
    .map((img) => summary(state, img, containers))
    .sort((a, b) => (b.Created as number) - (a.Created as number));
}

async function save(state: ApiState, names: string[]): Promise<Response> {
  const { saveImages, selectImages } = await import("../../images/archive/save.ts");
  if (names.length === 0) throw new SkiffError("InvalidArgument", "no images given");
  selectImages(state.ctx.images.list(), names);
  return streamResponse(
    async (sink) => {
      const output = new WritableStream<Uint8Array>({ write: (chunk) => sink.write(chunk) });
      await saveImages(state.ctx, names, { format: "docker-archive", output });
      state.event("image", "save", names.join(","), { name: names.join(",") });
    },
    { headers: { "Content-Type": "application/x-tar" } },
  );
}

async function importImage(state: ApiState, c: HonoContext<ApiEnv>, src: string): Promise<Response> {
  const { importTarball } = await import("../../images/import.ts");
  let input: ReadableStream<Uint8Array>;
  if (src === "-") {
    if (!c.req.raw.body) throw new SkiffError("InvalidArgument", "import: the request has no body");
    input = c.req.raw.body;
  } else if (/^https?:\/\//i.test(src)) {
    const res = await fetch(src);
    if (!res.ok || !res.body) throw new SkiffError("Unavailable", `import ${src}: HTTP ${res.status}`);
    input = res.body;
  } else {
    throw new SkiffError("InvalidArgument", `fromSrc must be "-" or a URL: ${src}`);
  }
  const repo = c.req.query("repo");
  const tag = c.req.query("tag");
  const reference = repo ? (tag ? `${repo}:${tag}` : repo) : undefined;
  const changes = c.req.queries("changes") ?? [];
  const img = await importTarball(state.ctx, input, {
    ...(reference ? { reference } : {}),
    ...(changes.length > 0 ? { changes } : {}),
    ...(c.req.query("message") ? { message: c.req.query("message") } : {}),
    ...(c.req.query("platform") ? { platform: c.req.query("platform") } : {}),
  });
  state.event("image", "import", img.id, { name: reference ?? img.id });
  return new Response(`${JSON.stringify({ status: img.id })}\n`, { headers: { "Content-Type": "application/json" } });
}

export function registerImages(app: Hono<ApiEnv>, state: ApiState): void {
  const ctx = state.ctx;

  app.post("/images/create", async (c) => {
    const fromSrc = c.req.query("fromSrc");
    if (fromSrc !== undefined && fromSrc !== "") return importImage(state, c, fromSrc);
    const fromImage = c.req.query("fromImage");
    if (!fromImage) throw new SkiffError("InvalidArgument", "fromImage or fromSrc is required");
    const tag = c.req.query("tag") ?? "";
    const text = tag ? (/^sha256:/.test(tag) ? `${fromImage}@${tag}` : `${fromImage}:${tag}`) : fromImage;
    const ref = parseReference(text);
    const platformText = c.req.query("platform");
    const { pullImage } = await import("../../images/pull.ts");
    const { parsePlatform } = await import("../../images/platform.ts");
    const platform = platformText ? parsePlatform(platformText) : undefined;
    const client = clientFor(state, c.req.header("x-registry-auth"), ref.registry);
    const msgs = new PullMessages(ref);
    return progressResponse(async (emit, started) => {
      emit(msgs.header());
      const r = await pullImage(ctx, text, {
        ...(platform ? { platform } : {}),
        client,
        onEvent: (e) => {
          for (const m of msgs.of(e)) emit(m);
          if (e.type === "layer" || e.type === "digest") started();
        },
      });
      state.event("image", "pull", familiarString(ref), { name: familiarString(ref) });
      return [msgs.footer(r.downloaded)];
    });
  });

  app.get("/images/json", (c) => c.json(listImages(state, c)));

  app.get("/images/get", (c) => save(state, c.req.queries("names") ?? []));

  app.post("/images/load", async (c) => {
    const body = c.req.raw.body;
    if (!body) throw new SkiffError("InvalidArgument", "load: the request has no archive");
    const quiet = queryBool(c.req.query("quiet"));
    const { loadArchive } = await import("../../images/archive/load.ts");
    const lines: string[] = [];
    await loadArchive(ctx, body, {
      onEvent: (e) => {
        if (e.type === "loaded") {
          const what = e.name ? `Loaded image: ${familiar(e.name)}` : `Loaded image ID: ${e.image.id}`;
          lines.push(JSON.stringify({ stream: `${what}\n` }));
          state.event("image", "load", e.name ? familiar(e.name) : e.image.id, { name: e.name ? familiar(e.name) : e.image.id });
        } else if (e.type === "warning" && !quiet) {
          lines.push(JSON.stringify({ stream: `WARNING: ${e.message}\n` }));
        }
      },
    });
    return new Response(lines.map((l) => `${l}\n`).join(""), { headers: { "Content-Type": "application/json" } });
  });

  app.post("/images/prune", async (c) => {
    const filters = parseFilters(c.req.query("filters"));
    checkFilterKeys(filters, ["dangling", "until", "label", "label!"]);
    for (const k of ["until", "label", "label!"]) {
      if ((filters.get(k) ?? []).length > 0) throw new SkiffError("NotImplemented", `image prune filter "${k}" is not supported by skiff yet`);
    }
    const dangling = filters.get("dangling") ?? ["true"];
    const all = dangling.some((v) => v === "false" || v === "0");
    const { pruneImages } = await import("../../images/remove.ts");
    const r = await pruneImages(ctx, { all });
    const deleted = [...r.untagged.map((u) => ({ Untagged: familiar(u) })), ...r.deleted.map((d) => ({ Deleted: d }))];
    for (const d of r.deleted) state.event("image", "delete", d, { name: d });
    return c.json({ ImagesDeleted: deleted.length > 0 ? deleted : null, SpaceReclaimed: r.reclaimed });
  });

  app.get("/images/search", () => {
    throw new SkiffError("NotImplemented", "image search is not supported by skiff yet");
  });

  app.get("/images/:name{.+}/json", (c) => c.json(inspectImage(ctx, resolveImage(ctx.images.list(), c.req.param("name")))));

  app.get("/images/:name{.+}/history", (c) => {
    const img = resolveImage(ctx.images.list(), c.req.param("name"));
    return c.json(
      imageHistory(ctx, img).map((h) => ({
        Id: h.id,
        Created: h.created ? Math.floor(Date.parse(h.created) / 1000) : 0,
        CreatedBy: h.createdBy,
        Tags: h.tags.length > 0 ? h.tags : null,
        Size: h.size,
        Comment: h.comment,
      })),
    );
  });

  app.get("/images/:name{.+}/get", (c) => save(state, [c.req.param("name")]));

  app.post("/images/:name{.+}/tag", async (c) => {
    const source = c.req.param("name");
    const repo = c.req.query("repo");
    if (!repo) throw new SkiffError("InvalidArgument", "repository name (repo) is required");
    const tag = c.req.query("tag") || "latest";
    const target = `${repo}:${tag}`;
    const { tagImage } = await import("../../images/remove.ts");
    await tagImage(ctx, source, target);
    state.event("image", "tag", target, { name: familiar(formatReference(parseReference(target))) });
    return c.body(null, 201);
  });

  app.post("/images/:name{.+}/push", async (c) => {
    const name = c.req.param("name");
    const tag = c.req.query("tag");
    const image = tag ? `${name}:${tag}` : name;
    const ref = parseReference(image);
    const { pushImage } = await import("../../images/push.ts");
    const client = clientFor(state, c.req.header("x-registry-auth"), ref.registry);
    if (!findImage(ctx.images.list(), image)) throw new SkiffError("NotFound", `no such image: ${image}`);
    return progressResponse(async (emit, started) => {
      const r = await pushImage(ctx, image, {
        client,
        onEvent: (e) => {
          emit(pushMessage(e));
          started();
        },
      });
      state.event("image", "push", familiarString(ref), { name: familiarString(ref) });
      return [{ status: `${r.tag}: digest: ${r.digest} size: ${r.size}` }, { progressDetail: {}, aux: { Tag: r.tag, Digest: r.digest, Size: r.size } }];
    });
  });

  app.delete("/images/:name{.+}", async (c) => {
    const { removeImage } = await import("../../images/remove.ts");
    const r = await removeImage(ctx, c.req.param("name"), { force: queryBool(c.req.query("force")), noPrune: queryBool(c.req.query("noprune")) });
    for (const u of r.untagged) state.event("image", "untag", u, { name: familiar(u) });
    for (const d of r.deleted) state.event("image", "delete", d, { name: d });
    return c.json([...r.untagged.map((u) => ({ Untagged: familiar(u) })), ...r.deleted.map((d) => ({ Deleted: d }))]);
  });

  app.post("/commit", async (c) => {
    const container = c.req.query("container");
    if (!container) throw new SkiffError("InvalidArgument", "container is required: ?container=NAME");
    const record = ctx.containers.resolve(container);
    const config = await jsonBody(c, ContainerConfigSchema, { emptyOk: true });
    const repo = c.req.query("repo");
    const tag = c.req.query("tag");
    const { commitContainer } = await import("../../images/commit.ts");
    const img = await commitContainer(ctx, record, {
      ...(repo ? { reference: tag ? `${repo}:${tag}` : repo } : {}),
      ...(c.req.query("comment") ? { comment: c.req.query("comment") } : {}),
      ...(c.req.query("author") ? { author: c.req.query("author") } : {}),
      changes: (c.req.queries("changes") ?? []).flatMap((ch) => ch.split("\n")).filter((ch) => ch.trim() !== ""),
      config: {
        ...(config.Cmd ? { Cmd: typeof config.Cmd === "string" ? [config.Cmd] : config.Cmd } : {}),
        ...(config.Entrypoint ? { Entrypoint: typeof config.Entrypoint === "string" ? [config.Entrypoint] : config.Entrypoint } : {}),
        ...(config.Env ? { Env: config.Env } : {}),
        ...(config.WorkingDir ? { WorkingDir: config.WorkingDir } : {}),
        ...(config.User ? { User: config.User } : {}),
        ...(config.Labels ? { Labels: config.Labels } : {}),
        ...(config.ExposedPorts ? { ExposedPorts: config.ExposedPorts } : {}),
        ...(config.Volumes ? { Volumes: config.Volumes } : {}),
        ...(config.StopSignal ? { StopSignal: config.StopSignal } : {}),
      },
    });
    state.containerEvent(record, "commit", { comment: c.req.query("comment") ?? "" });
    return c.json({ Id: img.id }, 201);
  });
}

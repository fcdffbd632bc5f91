/**
 * What the image commands do once their flags are parsed: call the engine,
 * render the result like Docker.
 */
import type { Context } from "../context.ts";
import { SkiffError } from "../errors.ts";
import type { ImageRecord } from "../images/store.ts";
import { imageHistory, imageRows, inspectImage, readImageConfig } from "../images/views.ts";
import { ExitStatus } from "./main.ts";
import { resolveImage } from "../images/resolve.ts";
import { eachName, finishBulk } from "./bulk.ts";
import type { ListOpts } from "./commands/images.ts";
import { printList, printValue, type Column } from "./output.ts";
import { humanSize, timeAgo, truncateId } from "./render.ts";
import { confirm } from "./confirm.ts";
import { writeStderr, writeStdout } from "./stdio.ts";

type ArchiveActions = typeof import("./archive-actions.ts");

export async function saveCommand(...args: Parameters<ArchiveActions["saveCommand"]>): Promise<void> {
  const m = await import("./archive-actions.ts");
  await m.saveCommand(...args);
}

export async function loadCommand(...args: Parameters<ArchiveActions["loadCommand"]>): Promise<void> {
  const m = await import("./archive-actions.ts");
  await m.loadCommand(...args);
}

export async function importCommand(...args: Parameters<ArchiveActions["importCommand"]>): Promise<void> {
  const m = await import("./archive-actions.ts");
  await m.importCommand(...args);
}

export async function pullCommand(
  ctx: Context,
  name: string,
  opts: { platform?: string; quiet?: boolean; authfile?: string; tlsVerify?: boolean },
): Promise<void> {
  const { pullImage } = await import("../images/pull.ts");
  const { parsePlatform } = await import("../images/platform.ts");
  const { parseReference, familiarString } = await import("../registry/reference.ts");
  const { progressFor } = await import("./progress.ts");
  const ref = parseReference(name);
  const progress = await progressFor({ quiet: opts.quiet ?? false });
  if (!opts.quiet) {
    const repoPath = familiarString({ ...ref, tag: undefined, digest: undefined });
    if (!ref.digest && !name.includes(":") && ref.tag === "latest") writeStdout("Using default tag: latest\n");
    writeStdout(`${ref.digest ?? ref.tag}: Pulling from ${repoPath.includes("/") || ref.registry !== "docker.io" ? ref.repository : `library/${repoPath}`}\n`);
  }
  const { registryClient } = await import("../images/registry.ts");
  const client = registryClient(ctx, { tlsVerify: opts.tlsVerify, authFile: opts.authfile });
  let result;
  try {
    result = await pullImage(ctx, name, {
      ...(opts.platform ? { platform: parsePlatform(opts.platform) } : {}),
      ...(opts.tlsVerify === false ? { tlsVerify: false } : {}),
      client,
      onEvent: (e) => progress.event(e),
    });
  } finally {
    progress.done();
  }
  const full = ref.digest ? `${ref.registry}/${ref.repository}@${ref.digest}` : `${ref.registry}/${ref.repository}:${ref.tag}`;
  (await import("./events.ts")).event(ctx, "image", "pull", familiarString(ref), { name: familiarString(ref) });
  if (!opts.quiet) {
    const fam = familiarString(ref);
    writeStdout(result.downloaded ? `Status: Downloaded newer image for ${fam}\n` : `Status: Image is up to date for ${fam}\n`);
  }
  writeStdout(`${full}\n`);
}

interface ListRow {
  ID: string;
  Repository: string;
  Tag: string;
  Digest: string;
  CreatedSince: string;
  CreatedAt: string;
  Size: string;
  VirtualSize: string;
  Containers: string;
  SharedSize: string;
  UniqueSize: string;
}

function globToRegExp(glob: string): RegExp {
  const esc = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, ".");
  return new RegExp(`^${esc}$`);
}

function matchesReference(repo: string, tag: string, pattern: string): boolean {
  const i = pattern.lastIndexOf(":");
  const hasTag = i > 0 && !pattern.slice(i).includes("/");
  const repoPat = hasTag ? pattern.slice(0, i) : pattern;
  const tagPat = hasTag ? pattern.slice(i + 1) : undefined;
  const re = globToRegExp(repoPat);
  // Docker matches the familiar name and, for library images, the short one.
  const repoOk = re.test(repo) || re.test(repo.replace(/^library\//, "")) || (repo.includes("/") && re.test(repo.split("/").pop() ?? ""));
  return repoOk && (tagPat === undefined || globToRegExp(tagPat).test(tag));
}

function parseFilters(filters: string[] = []): { key: string; value: string }[] {
  return filters.map((f) => {
    const i = f.indexOf("=");
    if (i <= 0) throw new SkiffError("InvalidArgument", `bad format of filter (expected name=value): ${f}`);
    const key = f.slice(0, i).toLowerCase();
    if (!["reference", "dangling", "before", "since", "label"].includes(key)) throw new SkiffError("InvalidArgument", `invalid filter '${key}'`);
    return { key, value: f.slice(i + 1) };
  });
}

export function listCommand(ctx: Context, reference: string | undefined, opts: ListOpts): void {
  const images = ctx.images.list();
  const filters = parseFilters(opts.filter);
  if (reference) filters.push({ key: "reference", value: reference });
  const byName = (input: string): ImageRecord => resolveImage(images, input);
  let rows = imageRows(images);
  for (const f of filters) {
    switch (f.key) {
      case "reference":
        rows = rows.filter((r) => matchesReference(r.repository, r.tag, f.value));
        break;
      case "dangling": {
        const want = f.value === "true" || f.value === "1";
        rows = rows.filter((r) => (r.image.names.length === 0) === want);
        break;
      }
      case "before": {
        const t = Date.parse(byName(f.value).created ?? "");
        rows = rows.filter((r) => Date.parse(r.image.created ?? "") < t);
        break;
      }
      case "since": {
        const t = Date.parse(byName(f.value).created ?? "");
        rows = rows.filter((r) => Date.parse(r.image.created ?? "") > t);
        break;
      }
      case "label":
        // Labels live in the config blob: read it only when asked.
        rows = rows.filter((r) => {
          const labels = readImageConfig(ctx, r.image).config?.Labels ?? {};
          const [k, v] = f.value.split("=", 2) as [string, string | undefined];
          return k in labels && (v === undefined || labels[k] === v);
        });
        break;
    }
  }
  rows.sort((a, b) => Date.parse(b.image.created ?? "0") - Date.parse(a.image.created ?? "0") || a.repository.localeCompare(b.repository));
  const noTrunc = opts.trunc === false;
  if (opts.quiet) {
    const seen = new Set<string>();
    for (const r of rows) {
      const id = truncateId(r.image.id, noTrunc);
      if (seen.has(id)) continue;
      seen.add(id);
      writeStdout(`${noTrunc ? r.image.id : id}\n`);
    }
    return;
  }
  const now = new Date();
  const view: ListRow[] = rows.map((r) => ({
    ID: noTrunc ? r.image.id : truncateId(r.image.id, false),
    Repository: r.repository,
    Tag: r.tag,
    Digest: r.digest,
    CreatedSince: r.image.created ? timeAgo(new Date(r.image.created), now) : "N/A",
    CreatedAt: r.image.created ?? "",
    Size: humanSize(r.image.size),
    VirtualSize: humanSize(r.image.size),
    Containers: "N/A",
    SharedSize: "N/A",
    UniqueSize: "N/A",
  }));
  const columns: Column<ListRow>[] = [
    { header: "REPOSITORY", field: "Repository" },
    { header: "TAG", field: "Tag" },
    ...(opts.digests ? [{ header: "DIGEST", field: "Digest" } as Column<ListRow>] : []),
    { header: "IMAGE ID", field: "ID" },
    { header: "CREATED", field: "CreatedSince" },
    { header: "SIZE", field: "Size" },
  ];
  printList(view, { format: opts.format, columns, headers: { ID: "IMAGE ID", CreatedSince: "CREATED", CreatedAt: "CREATED AT" } });
}

export function inspectCommand(ctx: Context, names: string[], opts: { format?: string }): void {
  const images = ctx.images.list();
  const out: Record<string, unknown>[] = [];
  const errors: string[] = [];
  for (const n of names) {
    try {
      out.push(inspectImage(ctx, resolveImage(images, n)));
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

export function historyCommand(ctx: Context, image: string, opts: { human: boolean; trunc?: boolean; quiet?: boolean; format?: string }): void {
  const img = resolveImage(ctx.images.list(), image);
  const entries = imageHistory(ctx, img);
  const noTrunc = opts.trunc === false;
  if (opts.quiet) {
    for (const e of entries) writeStdout(`${e.id === "<missing>" ? e.id : noTrunc ? e.id : truncateId(e.id, false)}\n`);
    return;
  }
  const now = new Date();
  const rows = entries.map((e) => ({
    ID: e.id === "<missing>" ? e.id : noTrunc ? e.id : truncateId(e.id, false),
    CreatedSince: e.created ? (opts.human ? timeAgo(new Date(e.created), now) : e.created) : "N/A",
    CreatedAt: e.created ?? "",
    CreatedBy: noTrunc || e.createdBy.length <= 45 ? e.createdBy : `${e.createdBy.slice(0, 44)}…`,
    Size: opts.human ? humanSize(e.size) : String(e.size),
    Comment: e.comment,
  }));
  printList(rows, {
    format: opts.format,
    columns: [
      { header: "IMAGE", field: "ID" },
      { header: "CREATED", field: "CreatedSince" },
      { header: "CREATED BY", field: "CreatedBy" },
      { header: "SIZE", field: "Size" },
      { header: "COMMENT", field: "Comment" },
    ],
    headers: { ID: "IMAGE", CreatedSince: "CREATED", CreatedBy: "CREATED BY" },
  });
}

export async function rmiCommand(ctx: Context, names: string[], opts: { force?: boolean; prune?: boolean }): Promise<void> {
  const { removeImage } = await import("../images/remove.ts");
  const { familiar } = await import("../images/views.ts");
  const outcomes = await eachName(names, (n) => removeImage(ctx, n, { force: opts.force ?? false, noPrune: opts.prune === false }));
  const { event } = await import("./events.ts");
  for (const o of outcomes) {
    if (!o.ok) continue;
    for (const u of o.value.untagged) {
      writeStdout(`Untagged: ${familiar(u)}\n`);
      event(ctx, "image", "untag", u, { name: familiar(u) });
    }
    for (const d of o.value.deleted) {
      writeStdout(`Deleted: ${d}\n`);
      event(ctx, "image", "delete", d, { name: d });
    }
  }
  finishBulk(outcomes, "rmi");
}


export async function pruneCommand(ctx: Context, opts: { all?: boolean; force?: boolean }): Promise<void> {
  if (!opts.force) {
    const what = opts.all ? "all images without at least one container associated to them" : "all dangling images";
    if (!(await confirm(`WARNING! This will remove ${what}.\nAre you sure you want to continue?`))) return;
  }
  const { pruneImages } = await import("../images/remove.ts");
  const { familiar } = await import("../images/views.ts");
  const r = await pruneImages(ctx, { all: opts.all ?? false });
  if (r.deleted.length > 0 || r.untagged.length > 0) {
    writeStdout("Deleted Images:\n");
    for (const u of r.untagged) writeStdout(`untagged: ${familiar(u)}\n`);
    for (const d of r.deleted) writeStdout(`deleted: ${d}\n`);
    writeStdout("\n");
  }
  writeStdout(`Total reclaimed space: ${humanSize(r.reclaimed)}\n`);
}

export async function pushCommand(
  ctx: Context,
  image: string,
  dest: string | undefined,
  opts: { quiet?: boolean; authfile?: string; tlsVerify?: boolean },
): Promise<void> {
  const { pushImage } = await import("../images/push.ts");
  const { registryClient } = await import("../images/registry.ts");
  const client = registryClient(ctx, { tlsVerify: opts.tlsVerify, authFile: opts.authfile });
  const result = await pushImage(ctx, image, {
    ...(dest ? { destination: dest } : {}),
    client,
    onEvent: (e) => {
      if (opts.quiet) return;
      if (e.type === "start") writeStdout(`The push refers to repository [${e.repository}]\n`);
      else if (e.type === "layer") writeStdout(`${e.id}: ${e.status}\n`);
    },
  });
  if (!opts.quiet) writeStdout(`${result.tag}: digest: ${result.digest} size: ${result.size}\n`);
}

export async function loginCommand(
  ctx: Context,
  server: string,
  opts: { username?: string; password?: string; passwordStdin?: boolean; authfile?: string; tlsVerify?: boolean },
): Promise<void> {
  const { login } = await import("../images/login.ts");
  let password = opts.password;
  if (opts.passwordStdin) {
    if (opts.password) throw new SkiffError("InvalidArgument", "--password and --password-stdin are mutually exclusive");
    password = (await new Response(Bun.stdin.stream()).text()).replace(/\r?\n$/, "");
  }
  let username = opts.username;
  if (!username || password === undefined) {
    if (!process.stdin.isTTY) throw new SkiffError("InvalidArgument", "username and password required: use -u and --password-stdin");
    username ??= prompt("Username:") ?? "";
    password ??= prompt("Password:") ?? "";
  }
  if (password && !opts.passwordStdin && opts.password) {
    writeStderr("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
  }
  await login(ctx, server, { username, password: password ?? "", authFile: opts.authfile, tlsVerify: opts.tlsVerify });
  writeStdout("Login Succeeded\n");
}

export async function logoutCommand(ctx: Context, server: string | undefined, opts: { all?: boolean; authfile?: string }): Promise<void> {
  const { logout } = await import("../images/login.ts");
  const removed = await logout(ctx, server ?? "docker.io", { all: opts.all ?? false, authFile: opts.authfile });
  writeStdout(opts.all ? "Removed login credentials for all registries\n" : `Removing login credentials for ${removed}\n`);
}
